"""Engine reliability: memory flat in samples at many superpixels, per-method batch budgets,
runner output validated, and everything that decides an explanation in its cache key."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from pytest_xai.engine import sampling, solvers

ROOT = Path(__file__).resolve().parents[2]


def run_script(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter that imports this checkout; return its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# -- memory flat in samples × superpixels --------------------------------------------------------

PEAK_RSS = """
    import re, sys
    import numpy as np, torch
    from pytest_xai import Classifier, explain

    method, samples = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(4, 3),
    )
    clf = Classifier(model, device="cpu", batch_size=64)
    image = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    segments = np.kron(np.arange(256).reshape(16, 16), np.ones((2, 2), np.int64))
    explain(clf, image, method=method, samples=300, segments=segments)  # every library loaded
    explain(clf, image, method=method, samples=samples, segments=segments)
    # VmHWM, not ru_maxrss: a child keeps its parent's ru_maxrss across fork and exec
    print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
"""


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_peak_rss_is_flat_in_samples_at_256_superpixels(method: str) -> None:
    """16× the samples at 256 superpixels: at most 10% more peak RSS (the README's promise).

    Neither a solver's float64 copy of the (samples × 256) masks nor a sampler's rank matrix of
    the same size may grow with the samples.
    """
    peaks = [int(run_script(PEAK_RSS, method, str(n))) / 1024 for n in (2000, 32000)]
    print(f"{method}: {peaks[0]:.0f} MB -> {peaks[1]:.0f} MB")
    assert peaks[1] <= 1.10 * peaks[0], f"{method}: {peaks[0]:.0f} MB -> {peaks[1]:.0f} MB"


def dense_ridge(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, alpha: float) -> solvers.LinearFit:
    """The weighted ridge on the whole float64 matrix at once (the reference)."""
    x, y, w = x.double(), y.double(), w.double()
    x_mean = (w[:, None] * x).sum(0) / w.sum()
    y_mean = (w[:, None] * y).sum(0) / w.sum()
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ (w[:, None] * xc) + alpha * torch.eye(x.shape[1], dtype=x.dtype)
    coef = torch.linalg.solve(gram, xc.T @ (w[:, None] * yc)).T
    intercept = y_mean - coef @ x_mean
    pred = x @ coef.T + intercept
    score = 1 - (w[:, None] * (y - pred) ** 2).sum(0) / (w[:, None] * (y - y_mean) ** 2).sum(0)
    return solvers.LinearFit(coef, intercept, score, x[0] @ coef.T + intercept)


def dense_wls(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Kernel SHAP's constrained least squares on the whole scaled matrix (the reference)."""
    x, y, w = x.double(), y.double(), w.double()
    delta = y[0] - y[1]
    last = x[:, -1:]
    root = torch.sqrt(w)[:, None]
    solved = torch.linalg.lstsq(root * (x[:, :-1] - last), root * (y - y[1] - last * delta), driver="gelsd")
    head = solved.solution.T
    return torch.cat([head, (delta - head.sum(1))[:, None]], dim=1)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("samples", [7, 2048, 5000])
def test_blocked_ridge_matches_the_dense_solve(samples: int) -> None:
    generator = torch.Generator().manual_seed(samples)
    masks, w = sampling.lime_masks(generator, samples, 40), None
    w = torch.rand(samples, generator=generator, dtype=torch.float64)
    y = masks.double() @ torch.randn(40, 2, generator=generator, dtype=torch.float64)
    y += 0.1 * torch.randn(samples, 2, generator=generator, dtype=torch.float64)
    fit, reference = solvers.weighted_ridge(masks, y, w), dense_ridge(masks, y, w, 1.0)
    for name in ("coef", "intercept", "score", "local_prediction"):
        assert relative_error(getattr(fit, name), getattr(reference, name)) < 1e-8, name


@pytest.mark.parametrize(("samples", "m"), [(42, 40), (5000, 64), (64, 5)])
def test_blocked_kernel_shap_solve_matches_the_dense_lstsq(samples: int, m: int) -> None:
    """Many blocks, one block, and the exact enumeration (2^5 coalitions, rank-deficient
    regression rows with zero weight)."""
    generator = torch.Generator().manual_seed(m)
    masks, w = sampling.kernel_shap_masks(generator, samples, m)
    y = masks.double() @ torch.randn(m, 1, generator=generator, dtype=torch.float64)
    y += 0.05 * torch.randn(len(masks), 1, generator=generator, dtype=torch.float64)
    fit = solvers.efficient_wls(masks, y, w, f_full=y[0], f_empty=y[1])
    assert relative_error(fit.coef, dense_wls(masks, y, w)) < 1e-8


def unblocked_subsets(generator: torch.Generator, sizes: torch.Tensor, m: int) -> torch.Tensor:
    """The random subsets drawn and ranked for all rows at once (the reference)."""
    ranks = torch.rand(len(sizes), m, generator=generator).argsort(dim=1).argsort(dim=1)
    return ranks < sizes[:, None]


def test_blocked_subset_draws_equal_the_unblocked_ones() -> None:
    sizes = torch.randint(1, 128, (5000,), generator=torch.Generator().manual_seed(1))
    blocked = sampling._random_subsets(torch.Generator().manual_seed(2), sizes, 256)
    assert torch.equal(blocked, unblocked_subsets(torch.Generator().manual_seed(2), sizes, 256))
    assert torch.equal(blocked.sum(1), sizes)


# -- runner output validated at the engine boundary ---------------------------------------------


def tiny_classifier():  # type: ignore[no-untyped-def]
    from pytest_xai import Classifier

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)
    )
    return Classifier(model, device="cpu")


@pytest.fixture
def registered():  # type: ignore[no-untyped-def]
    """Register methods for one test and remove them afterwards."""
    from pytest_xai.registry import METHODS, register_method

    names: list[str] = []

    def register(name: str, runner):  # type: ignore[no-untyped-def]
        names.append(name)
        register_method(name, runner, default_samples=10)

    yield register
    for name in names:
        METHODS.pop(name, None)


def constant_runner(**fields):  # type: ignore[no-untyped-def]
    from pytest_xai.engine.runners import Attribution

    def runner(request, group):  # type: ignore[no-untyped-def]
        return [Attribution(evaluations=1, **fields) for _ in group.images]

    return runner


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"heatmap": np.zeros((5, 7))}, r"method='odd' returned a heatmap of shape \(5, 7\) for a 32×48 image.*\(32, 48\)"),
        ({"heatmap": np.zeros((48, 32))}, r"shape \(48, 32\) for a 32×48 image"),
        ({"heatmap": np.zeros((32, 48, 3))}, r"shape \(32, 48, 3\)"),
        ({"heatmap": np.full((32, 48), np.nan)}, r"method='odd' returned a heatmap holding NaN or inf"),
        ({"heatmap": np.zeros((32, 48), complex)}, r"dtype complex128"),
        ({"heatmap": np.zeros((32, 48)), "segments": np.zeros((5, 7), np.int64)}, r"segments of shape \(5, 7\)"),
        ({"heatmap": np.zeros((32, 48)), "segments": np.zeros((32, 48), np.int64), "weights": np.zeros(3)}, r"weights of shape \(3,\) for 1 superpixels"),
    ],
)
def test_a_runner_returning_the_wrong_pieces_is_refused(registered, fields, message) -> None:  # type: ignore[no-untyped-def]
    """A registered method's heatmap must be one finite real value per pixel; otherwise every
    metric would measure regions on the wrong grid."""
    from pytest_xai import explain
    from pytest_xai.errors import XaiTypeError, XaiValueError

    registered("odd", constant_runner(**fields))
    image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    with pytest.raises((XaiValueError, XaiTypeError), match=message):
        explain(tiny_classifier(), image, method="odd")


def test_a_runner_returning_something_else_is_refused(registered) -> None:  # type: ignore[no-untyped-def]
    from pytest_xai import explain
    from pytest_xai.errors import XaiTypeError

    registered("odd", lambda request, group: [np.zeros((32, 48)) for _ in group.images])
    image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    with pytest.raises(XaiTypeError, match="method='odd' returned a ndarray, not an Attribution"):
        explain(tiny_classifier(), image, method="odd")


def test_a_runner_returning_the_right_shape_is_accepted(registered) -> None:  # type: ignore[no-untyped-def]
    from pytest_xai import explain

    heatmap = np.arange(32 * 48, dtype=np.float64).reshape(32, 48)
    registered("good", constant_runner(heatmap=heatmap))
    image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    exp = explain(tiny_classifier(), image, method="good")
    np.testing.assert_array_equal(exp.heatmap, heatmap.astype(np.float32))


# -- everything that decides an explanation is in its key and its record ------------------------


def test_a_scikit_image_upgrade_changes_the_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy
    import skimage

    from pytest_xai.plugin.cache import explanation_key

    image = np.zeros((8, 8, 3), np.float32)
    before = explanation_key("clf", "cpu", image, {"method": "lime"})
    assert explanation_key("clf", "cpu", image, {"method": "lime"}) == before
    monkeypatch.setattr(skimage, "__version__", "99.0.0")
    upgraded = explanation_key("clf", "cpu", image, {"method": "lime"})
    assert upgraded != before
    monkeypatch.setattr(scipy, "__version__", "99.0.0")
    assert explanation_key("clf", "cpu", image, {"method": "lime"}) not in (before, upgraded)
    monkeypatch.setattr(np, "__version__", "99.0.0")
    assert explanation_key("clf", "cpu", image, {"method": "lime"}) != upgraded


def test_an_explanation_records_its_libraries_and_image(shapes_image: np.ndarray) -> None:
    import scipy
    import skimage

    from pytest_xai import explain
    from pytest_xai.engine.provenance import array_sha256, image_changed

    exp = explain(tiny_classifier(), shapes_image, method="lime", samples=20)
    libraries = exp.meta["libraries"]
    assert libraries["scikit-image"] == skimage.__version__
    assert libraries["scipy"] == scipy.__version__
    assert libraries["numpy"] == np.__version__
    assert libraries["torch"] == torch.__version__
    assert len(libraries["engine"]) == 16
    assert exp.meta["image_sha256"] == array_sha256(shapes_image)
    assert image_changed(exp.meta, shapes_image) is False
    changed = shapes_image.copy()
    changed[0, 0, 0] = 1 - changed[0, 0, 0]
    assert image_changed(exp.meta, changed) is True
    assert image_changed({}, changed) is None  # no image hash recorded: unknown


def test_a_given_background_is_recorded_by_content(shapes_image: np.ndarray) -> None:
    from pytest_xai import explain
    from pytest_xai.engine.provenance import array_sha256

    clf = tiny_classifier()
    grey = np.full_like(shapes_image, 0.5)
    black = np.zeros_like(shapes_image)
    params = [
        explain(clf, shapes_image, method="gradient_shap", samples=4, background=b).params["background"]
        for b in ([grey], [black], [grey, black])
    ]
    assert params[0] == {"sha256": array_sha256(grey[None]), "shape": [1, *grey.shape], "dtype": "<f4"}
    assert params[1]["sha256"] == array_sha256(black[None])
    assert params[2]["sha256"] == array_sha256(np.stack([grey, black]))
    assert len({p["sha256"] for p in params}) == 3
    assert explain(clf, shapes_image, method="gradient_shap", samples=4).params["background"] == "default"


UPGRADE_PLUGIN = """
import skimage
from skimage import segmentation

saved = {}

def pytest_configure(config):
    # scikit-image "upgraded": a new version, and a SLIC that segments differently
    saved["version"], saved["slic"] = skimage.__version__, segmentation.slic
    skimage.__version__ = "99.0.0"
    segmentation.slic = lambda image, **kw: saved["slic"](image, **{**kw, "n_segments": 6})

def pytest_unconfigure(config):
    skimage.__version__, segmentation.slic = saved["version"], saved["slic"]
"""

SEGMENTS_TEST = """
import numpy as np
import numpy as np
import pytest
from skimage import segmentation

@pytest.mark.xai(samples=20)
def test_segments(explain, shape_image):
    exp = explain(shape_image, method="lime")
    now = segmentation.slic(shape_image, n_segments=50, compactness=10, sigma=1, start_label=0,
                            channel_axis=-1)
    assert exp.segments.max() + 1 == len(np.unique(now))
"""


def test_the_fixture_recomputes_after_a_scikit_image_upgrade(xai_pytester: pytest.Pytester) -> None:
    """The one-forward check of a cache hit cannot see a segmentation change: the key must."""
    xai_pytester.makepyfile(test_seg=SEGMENTS_TEST, upgrade=UPGRADE_PLUGIN)
    xai_pytester.syspathinsert()
    xai_pytester.runpytest().assert_outcomes(passed=1)
    assert list((xai_pytester.path / ".pytest_cache/d/xai-explanations").glob("*/*.npz"))
    xai_pytester.runpytest("-p", "upgrade").assert_outcomes(passed=1)
    xai_pytester.runpytest().assert_outcomes(passed=1)  # and back: the first entry again


# -- each method's automatic batch is budgeted by what it allocates -----------------------------


def peak_torch_bytes(fn) -> int:  # type: ignore[no-untyped-def]
    """The peak of live bytes torch allocates on the CPU while ``fn`` runs (profiler replay)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    live = peak = 0
    for _, nbytes in sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()  # type: ignore[union-attr]
        if e.name() == "[memory]"
    ):
        live += nbytes
        peak = max(peak, live)
    return peak


def test_gradient_shap_automatic_batch_stays_within_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 600×600 image under a 64 MiB budget (1 GiB scaled down): the automatic batch's real
    allocation stays within it. Budgeted at the superpixel methods' 28 bytes a pixel, 6 images
    of about 72 bytes a pixel went into each batch (156 MB)."""
    from pytest_xai import Classifier, classifier, explain

    budget = 64 * 2**20
    monkeypatch.setattr(classifier, "_CPU_BATCH_BYTES", budget)
    image = np.random.default_rng(0).random((600, 600, 3), dtype=np.float32)

    def small(batch_size: int | None) -> Classifier:
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(8, 3),
        )  # fmt: skip
        return Classifier(model, device="cpu", batch_size=batch_size, channels_last=True)

    def peak(batch_size: int | None) -> int:
        clf = small(batch_size)
        return peak_torch_bytes(lambda: explain(clf, image, method="gradient_shap", samples=12))

    auto = explain(small(None), image, method="gradient_shap", samples=2).meta["batch_size"]
    assert auto > 1  # a batch, not a single image, is what is budgeted here
    one, two = peak(1), peak(2)
    per_image = two - one  # what one more batch image allocates
    fixed = one - per_image  # the call's own buffers: image, backgrounds, sums
    batch = peak(None) - fixed
    assert per_image > 0.7 * 600 * 600 * 40  # the measurement sees the per-image buffers
    print(f"gradient_shap batch of {auto}: {batch / 2**20:.0f} MiB, {per_image / 360000:.1f} B/px")
    assert batch <= budget, f"batch of {auto}: {batch / 2**20:.0f} MiB against {budget / 2**20:.0f} MiB"


def test_register_method_refuses_a_bad_bytes_per_pixel() -> None:
    from pytest_xai.errors import XaiValueError
    from pytest_xai.registry import register_method

    with pytest.raises(XaiValueError, match=r"bytes_per_pixel=0 is not a positive int"):
        register_method("x", "m:f", default_samples=10, bytes_per_pixel=0)


class NaNWhenDark(torch.nn.Module):
    """Logits from the mean colour, NaN for an image darker than 0.45 on average; counts those."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, 2)
        self.nan_rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colour = x.mean(dim=(2, 3))
        dark = colour.mean(dim=1) < 0.45
        self.nan_rows += int(dark.sum())
        return torch.where(dark[:, None], torch.nan, self.head(colour))


def test_the_nan_output_message_counts_the_images_that_gave_nan() -> None:
    from pytest_xai import Classifier, explain
    from pytest_xai.errors import ModelOutputError

    model = NaNWhenDark()
    image = np.full((16, 16, 3), 0.5, np.float32)
    image[:, :8] = 0.0  # hiding the bright half darkens the image below 0.45
    image[:, 8:] = 1.0
    with pytest.raises(ModelOutputError) as info:
        explain(Classifier(model, device="cpu"), image, method="lime", samples=40, n_segments=4, baseline="zero")
    assert 0 < model.nan_rows < 40
    assert f"NaN or inf logits for {model.nan_rows} of the 40 perturbed images" in str(info.value)
