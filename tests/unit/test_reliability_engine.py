"""Engine reliability: memory flat in samples at many superpixels, per-method batch budgets,
runner output validated, and everything that decides an explanation in its cache key."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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

    The solvers once made several float64 copies of the (samples × 256) masks, and Kernel
    SHAP's sampler float and int64 rank matrices of the same size: +33% (LIME) and +44%
    (Kernel SHAP) from 2,000 to 32,000 samples.
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
