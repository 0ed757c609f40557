"""Batching: the batch choice, out-of-memory retry, host synchronisation and packing images into full batches."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from pytest_xai import Classifier, explain
from pytest_xai.engine.batching import map_chunks
from pytest_xai.errors import OutOfMemoryRetryError


def test_batch_size_is_bounded_by_bytes_down_to_one_and_recorded(
    shapes_clf: Classifier, shapes_image: np.ndarray
) -> None:
    clf = Classifier(torch.nn.Flatten(), device="cpu")
    assert clf.auto_batch_size(64, 64) == 32  # the measured pixel budget
    assert clf.auto_batch_size(224, 224) == 8
    assert clf.auto_batch_size(4000, 4000) == 2  # 448 MB of buffers an image
    assert clf.auto_batch_size(10000, 10000) == 1  # 2.8 GB an image: one at a time
    exp = explain(shapes_clf, shapes_image, samples=100)
    assert exp.meta["batch_size"] == shapes_clf.auto_batch_size(64, 64)
    assert explain(shapes_clf, shapes_image, samples=100, batch_size=7).meta["batch_size"] == 7


def test_cuda_batch_is_capped_at_256_and_by_the_cards_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """256 was the best forward batch on an H200; more only grew memory with the samples."""
    from types import SimpleNamespace

    clf = Classifier(torch.nn.Flatten(), device="cpu")
    clf.device = torch.device("cuda")  # the choice only reads the device type and its memory
    card = SimpleNamespace(total_memory=80 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: card)
    assert clf.auto_batch_size(64, 64) == 256  # not 1024: flat memory from 256 samples up
    assert clf.auto_batch_size(224, 224) == 256
    assert clf.auto_batch_size(1024, 1024) == 16
    assert clf.auto_batch_size(10000, 10000) == 1  # 2.8 GB an image, 5 GB of buffers allowed
    card.total_memory = 8 * 2**30
    assert clf.auto_batch_size(1024, 1024) == 16 and clf.auto_batch_size(4000, 4000) == 1


class CpuOomAbove(torch.nn.Module):
    """Raises an allocation failure (torch's CPU text, of type ``error``) for batches above ``limit``."""

    def __init__(self, limit: int, error: type[BaseException] = RuntimeError, calls: int = 10**9) -> None:
        super().__init__()
        self.limit, self.error, self.calls, self.sizes = limit, error, calls, []
        self.linear = torch.nn.Linear(3, 4)
        torch.nn.init.normal_(self.linear.weight, generator=torch.Generator().manual_seed(0))
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > self.limit or len(self.sizes) >= self.calls:
            raise self.error(
                "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
                "memory: you tried to allocate 9663676416 bytes."
            )
        self.sizes.append(len(x))
        return self.linear(x.mean(dim=(2, 3)))


@pytest.mark.parametrize("method", ["lime", "gradient_shap"])
@pytest.mark.parametrize("error", [RuntimeError, MemoryError, torch.cuda.OutOfMemoryError])
def test_cpu_out_of_memory_retries_smaller_with_the_same_result(
    shapes_image: np.ndarray, method: str, error: type[BaseException]
) -> None:
    model = CpuOomAbove(limit=10, error=error)
    clf = Classifier(model, device="cpu", batch_size=64)
    flaky = explain(clf, shapes_image, method=method, samples=100)
    assert max(model.sizes) <= 10 and 8 in model.sizes  # 64 -> 32 -> 16 -> 8
    steady = explain(Classifier(CpuOomAbove(10**6), device="cpu", batch_size=8), shapes_image, method=method, samples=100)
    np.testing.assert_allclose(flaky.heatmap, steady.heatmap, atol=1e-6)


def test_one_image_that_cannot_fit_is_a_clear_error(shapes_image: np.ndarray) -> None:
    clf = Classifier(CpuOomAbove(limit=0), device="cpu", batch_size=16)
    with pytest.raises(OutOfMemoryRetryError, match="even with batch_size=1: one 3×64×64 image"):
        explain(clf, shapes_image, samples=50)
    # and in the perturbation loop, once the prediction has fitted
    model = CpuOomAbove(limit=10**6, calls=1)
    for method in ("lime", "gradient_shap"):
        model.sizes.clear()
        with pytest.raises(OutOfMemoryRetryError, match="one 3×64×64 image"):
            explain(Classifier(model, device="cpu", batch_size=16), shapes_image, method=method)
        assert model.sizes == [1]
    # and in the chunk loop itself, for CUDA's out-of-memory error
    model = CpuOomAbove(limit=0, error=torch.cuda.OutOfMemoryError)
    with pytest.raises(OutOfMemoryRetryError, match="even with batch_size=1"):
        map_chunks(lambda a, b: model(torch.zeros(b - a, 3, 8, 8)), 20, 8)


@pytest.fixture
def host_syncs(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Counts every call that reads a tensor's values back to the host (a CUDA sync)."""
    counts: collections.Counter[str] = collections.Counter()
    for name in ("item", "cpu", "tolist", "numpy", "__int__", "__bool__", "__float__", "__index__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lime", "kernel_shap", "gradient_shap"])
def test_no_host_synchronisation_per_chunk(
    host_syncs: collections.Counter[str], shapes_clf: Classifier, shapes_samples: list, method: str
) -> None:
    """The same call cut into 3 or into 40 chunks reads the same number of values back."""
    images = [s.image for s in shapes_samples[:2]]
    counts = []
    for batch_size in (100, 8):
        host_syncs.clear()
        explain(shapes_clf, images, method=method, samples=160, batch_size=batch_size, n_segments=20)
        counts.append(dict(host_syncs))
    assert counts[0] == counts[1]


@pytest.mark.slow
def test_gradient_shap_packs_several_images_into_full_batches(shapes_samples: list, batch_recorder) -> None:  # type: ignore[no-untyped-def]
    clf, seen = batch_recorder
    images = [s.image for s in shapes_samples]
    together = explain(clf, images, method="gradient_shap", samples=50)
    assert seen[1:] == [64, 64, 22]  # 150 rows, images sharing batches
    for image, joint in zip(images, together):
        alone = explain(clf, image, method="gradient_shap", samples=50)
        np.testing.assert_allclose(joint.heatmap, alone.heatmap, atol=1e-5, rtol=0)
