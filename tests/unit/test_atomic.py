"""Nothing unsafe, nothing lost: pickle-free loading, atomic writes under kill, OOM retry, fuzzing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_xai import Classifier, Explanation, Region, SnapshotError, explain, metrics
from pytest_xai._atomic import atomic_path, remove_stale_temps
from pytest_xai.errors import ModelSpecError, OutOfMemoryRetryError, XaiError
from pytest_xai.model_spec import load_model

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / "pytest_xai_pwned"


class Exploit:
    """Unpickling this would create a file: loading must never unpickle."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (MARKER.write_text, ("pwned",))


@pytest.fixture(autouse=True)
def _no_marker():  # type: ignore[no-untyped-def]
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "data executed code"


def test_golden_with_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, header=np.array([Exploit()], dtype=object), heatmap=np.zeros((8, 8)))
    with pytest.raises(SnapshotError, match=r"member 'header' is object \(1,\), which a golden cannot hold"):
        Explanation.load(path)


def test_weights_are_loaded_without_pickle_execution(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": Exploit()}, path)
    with pytest.raises(ModelSpecError, match="is not a state dict for resnet18"):
        load_model(f"torchvision:resnet18={path}")


def test_interrupted_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "g.npz"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


WRITER = """
import sys, numpy as np
from pytest_xai import Explanation
heat = np.random.default_rng(0).random((512, 512)).astype(np.float32)
i = 0
while True:
    i += 1
    Explanation(heat * i, None, None, 0, "0", 1.0, "gradient_shap", "logit", i, 10).save(sys.argv[1])
    print(i, flush=True)
"""


def test_sigkill_mid_write_leaves_the_old_golden_intact(tmp_path: Path) -> None:
    target = tmp_path / "golden.npz"
    heat = np.ones((512, 512), np.float32)
    written = np.random.default_rng(0).random((512, 512)).astype(np.float32)  # as WRITER draws it
    Explanation(heat, None, None, 0, "0", 1.0, "gradient_shap", "logit", 0, 10).save(target)
    for delay in (0.3, 0.45, 0.6, 0.75):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one complete write happened
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = Explanation.load(target)  # always a whole file: the old one or a new one
        # the writer's i-th file holds heat * i and seed i; the old one holds ones and seed 0
        expected = heat if loaded.seed == 0 else written * loaded.seed
        assert np.array_equal(loaded.heatmap, expected), f"torn or mixed file (seed {loaded.seed})"
    # a killed writer can leave a temp file beside the target (never a torn target); its owner
    # is gone, so it is provably stale and removed (runs that may write do this at the end:
    # tests/test_plugin_reliability.py)
    remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden.npz"]


class OomAbove(torch.nn.Module):
    """Raises CUDA out-of-memory for batches larger than ``limit``, else a fixed linear model."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.sizes: list[int] = []
        self.linear = torch.nn.Linear(3, 4)
        torch.nn.init.normal_(self.linear.weight, generator=torch.Generator().manual_seed(0))
        torch.nn.init.zeros_(self.linear.bias)  # both instances must be the same model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.sizes.append(len(x))
        return self.linear(x.mean(dim=(2, 3)))


def test_out_of_memory_halves_the_batch_and_retries(shapes_image: np.ndarray) -> None:
    model = OomAbove(limit=10)
    flaky = explain(Classifier(model, device="cpu", batch_size=64), shapes_image, samples=200)
    assert max(model.sizes[1:]) <= 10 and 8 in model.sizes  # 64 -> 32 -> 16 -> 8
    steady = explain(Classifier(OomAbove(limit=10**6), device="cpu", batch_size=8), shapes_image, samples=200)
    np.testing.assert_allclose(flaky.heatmap, steady.heatmap, atol=1e-6)
    model = OomAbove(limit=0)
    clf = Classifier(model, device="cpu", batch_size=8)
    with pytest.raises(OutOfMemoryRetryError, match="even with batch_size=1"):
        from pytest_xai.engine.batching import map_chunks

        map_chunks(lambda a, b: model(torch.zeros(b - a, 3, 8, 8)), 20, clf.batch_size or 8)


TINY = Classifier(
    torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 3)), device="cpu"
)


@st.composite
def image_and_region(draw: st.DrawFn) -> tuple[np.ndarray, Region]:
    h = draw(st.integers(6, 40))
    w = draw(st.integers(6, 40))
    kind = draw(st.sampled_from(["uniform", "noise", "blocks"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "uniform":
        image = np.full((h, w, 3), draw(st.floats(0, 1)), np.float32)
    elif kind == "noise":
        image = rng.random((h, w, 3)).astype(np.float32)
    else:
        image = np.kron(rng.random((2, 2, 3)), np.ones((h, w, 1)))[:h, :w].astype(np.float32)
    x0 = draw(st.integers(-2, w))
    y0 = draw(st.integers(-2, h))
    x1 = draw(st.integers(x0 - 1, w + 2))
    y1 = draw(st.integers(y0 - 1, h + 2))
    region = Region.box(0, 0, 1, 1)
    if x1 > x0 and y1 > y0:
        region = Region.box(x0, y0, x1, y1)
    if draw(st.booleans()):
        region = ~region
    return image, region


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=image_and_region(),
    method=st.sampled_from(["lime", "kernel_shap", "gradient_shap"]),
    samples=st.integers(0, 60),
    n_segments=st.integers(0, 40),
    baseline=st.sampled_from(["mean", "zero", "blur", 0.5, (0.1, 0.2, 0.3), "bogus", 3.0]),
    output=st.sampled_from(["logit", "probability", "log_probability", "odds"]),
    target=st.sampled_from([None, 0, 2, 3, -1, "x"]),
)
def test_engine_and_metrics_fail_only_with_documented_errors(
    data: tuple[np.ndarray, Region], method: str, samples: int, n_segments: int, baseline: object,
    output: str, target: object,
) -> None:
    image, region = data
    try:
        exp = explain(TINY, image, method=method, samples=samples, n_segments=n_segments,
                      baseline=baseline if method != "gradient_shap" else "mean", output=output,
                      target=target)  # type: ignore[arg-type]
    except XaiError as e:
        assert isinstance(e, (ValueError, TypeError)) and str(e)
        return
    assert exp.heatmap.shape == image.shape[:2] and np.isfinite(exp.heatmap).all()
    if exp.weights is not None:
        assert np.isfinite(exp.weights).all()
    blind = metrics.no_evidence(exp) is not None  # a uniform image, a saturated output...
    for fn in (metrics.relevance_mass, metrics.relevance_rank, metrics.pointing_game):
        try:
            value = fn(exp, region)
        except XaiError as e:
            assert isinstance(e, (ValueError, TypeError)) and str(e)
            continue
        if blind:  # no positive evidence: undefined, never a passing number
            assert value is False if fn is metrics.pointing_game else np.isnan(value)
        else:
            assert 0 <= float(value) <= 1
    # an explanation agrees perfectly with itself, unless it carries no evidence to rank
    if metrics.is_silent(exp):
        assert np.isnan(metrics.spearman(exp, exp)) and np.isnan(metrics.top_k_iou(exp, exp))
    else:
        assert metrics.spearman(exp, exp) == pytest.approx(1.0, abs=1e-12)
        assert metrics.top_k_iou(exp, exp) == 1.0
    shift = metrics.evidence_shift(exp, exp)
    assert np.isnan(shift) if blind else shift == pytest.approx(0.0, abs=1e-12)
