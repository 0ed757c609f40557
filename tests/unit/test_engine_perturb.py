"""Memory is flat in samples: the peak of torch's allocations does not grow with the budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from pytest_xai import Classifier, explain


def peak_torch_bytes(fn) -> int:  # type: ignore[no-untyped-def]
    """The peak of live bytes allocated by torch on the CPU while ``fn`` runs, replayed from
    the profiler's allocation and free events."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()  # type: ignore[union-attr]
        if e.name() == "[memory]"
    )
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def test_the_peak_tracker_sees_allocations() -> None:
    def hold(n: int) -> None:
        kept = [torch.ones(n, 1000) for _ in range(3)]
        del kept

    assert peak_torch_bytes(lambda: hold(1000)) == 12_000_000
    assert peak_torch_bytes(lambda: hold(2000)) == 24_000_000


SMALL = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
    torch.nn.Flatten(), torch.nn.Linear(8, 3),
)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "few"), [("lime", 128), ("kernel_shap", 128), ("gradient_shap", 64)])
def test_peak_memory_is_flat_in_samples(shapes_image: np.ndarray, method: str, few: int) -> None:
    """16× the samples, at most 10% more peak memory: nothing is kept per sample.

    A 128×128 image at batch 16: the per-batch buffers are about 8 MB, so anything kept per
    sample (masks, outputs, fits) would show at 16× the samples.
    """
    clf = Classifier(SMALL, device="cpu", batch_size=16)
    image = np.kron(shapes_image, np.ones((2, 2, 1), np.float32))
    peaks = [
        peak_torch_bytes(lambda n=n: explain(clf, image, method=method, samples=n, n_segments=30))
        for n in (few, 16 * few)
    ]
    assert peaks[1] <= 1.10 * peaks[0], f"{method}: {peaks[0] / 1e6:.1f} MB -> {peaks[1] / 1e6:.1f} MB"
