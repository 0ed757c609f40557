"""The engine and metrics raise only the documented errors, whatever the input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_xai import Classifier, Region, explain
from pytest_xai.checks import evidence, metrics
from pytest_xai.errors import XaiError

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
    shift = evidence.evidence_shift(exp, exp)
    assert np.isnan(shift) if blind else shift == pytest.approx(0.0, abs=1e-12)
