"""Seeded rounds and the error basis: a longer run extends a shorter one, a fixed budget is
drawn as before, and the 95% interval covers the large-budget value about 95% of the time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_xai import explain
from pytest_xai.engine.methods import KERNEL_SHAP, LIME, SuperpixelRun
from pytest_xai.engine.sampling import kernel_shap_masks, lime_masks
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.registry import METHODS, register_method


@pytest.mark.parametrize("method", [LIME, KERNEL_SHAP])
def test_the_first_rounds_of_a_longer_run_are_the_same_samples(method) -> None:
    seg = torch.arange(12).repeat_interleave(4).reshape(6, 8)
    short, long = (SuperpixelRun.start(method, seg, 7, 100) for _ in range(2))
    for _ in range(2):
        short.draw_round(100)
    for _ in range(5):
        long.draw_round(100)
    assert torch.equal(long.masks[: short.samples], short.masks)
    assert torch.equal(long.units[: short.samples], short.units)
    assert long.samples == 600 and long.rounds == 6
    other = SuperpixelRun.start(method, seg, 8, 100)
    other.draw_round(100)
    assert not torch.equal(other.masks[100:], long.masks[100:200])  # rounds follow the seed


def test_a_fixed_budget_is_round_zero_drawn_exactly_as_before() -> None:
    seg = torch.arange(12).repeat_interleave(4).reshape(6, 8)
    lime = SuperpixelRun.start(LIME, seg, 3, 500)
    assert torch.equal(lime.masks, lime_masks(torch.Generator().manual_seed(3), 500, 12))
    shap = SuperpixelRun.start(KERNEL_SHAP, seg, 3, 500)
    assert torch.equal(shap.masks, kernel_shap_masks(torch.Generator().manual_seed(3), 500, 12)[0])


def test_kernel_shap_rounds_keep_pairs_and_weights_sum_to_the_kernel_mass() -> None:
    seg = torch.arange(12).repeat_interleave(4).reshape(6, 8)
    run = SuperpixelRun.start(KERNEL_SHAP, seg, 0, 100)
    before = KERNEL_SHAP.sampler.weights(run.masks, 100).sum()
    run.draw_round(100)
    added = run.masks[100:]
    assert torch.equal(added[:50], ~added[50:])  # each coalition with its complement
    weights = KERNEL_SHAP.sampler.weights(run.masks, 100)
    assert float(weights.sum()) == pytest.approx(float(before))


def test_auto_stops_under_the_tolerance_and_grows_in_place(shapes_clf, shapes_image) -> None:
    exp = explain(shapes_clf, shapes_image, method="kernel_shap", n_segments=16, tolerance=0.2)
    assert exp.params["samples"] == "auto" and exp.samples < 1000
    assert exp.relative_error <= 0.2 or exp.samples >= 1000
    fixed = explain(shapes_clf, shapes_image, method="kernel_shap", n_segments=16, samples=2000)
    close = np.abs(exp.weights - fixed.weights) <= 4 * np.sqrt((exp.error_basis.astype(float) ** 2).sum(0)) + 1e-6
    assert close.all()
    heat = exp.heatmap.copy()
    exp.lock()
    assert exp.grow(exp.samples + 300, asked_by="a test")
    assert exp.samples >= 500 and exp.meta["asked_by"] == ["a test"] and not np.array_equal(heat, exp.heatmap)
    longer = explain(shapes_clf, shapes_image, method="kernel_shap", n_segments=16, tolerance=1e-6, max_samples=exp.samples)
    np.testing.assert_allclose(longer.heatmap, exp.heatmap, rtol=1e-5, atol=1e-7)  # extended, not restarted


def test_a_fixed_budget_never_grows(shapes_clf, shapes_image) -> None:
    exp = explain(shapes_clf, shapes_image, method="lime", n_segments=16, samples=200)
    assert not exp.can_grow and not exp.grow(400)
    assert exp.samples == 200 and exp.stderr is not None and exp.stderr.shape == exp.heatmap.shape


def test_gradient_shap_grows_in_rounds(shapes_clf, shapes_image) -> None:
    exp = explain(shapes_clf, shapes_image, method="gradient_shap", tolerance=1e-6, max_samples=100)
    assert exp.samples == 100 and exp.meta["rounds"] == 4
    first = explain(shapes_clf, shapes_image, method="gradient_shap", tolerance=1.0, max_samples=100)
    assert first.samples == 50  # the first two rounds, then certain enough
    assert first.grow(100) and first.samples == 100
    assert not first.grow(200)  # at its cap
    np.testing.assert_allclose(first.heatmap, exp.heatmap, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"tolerance": 0.0}, XaiValueError, "tolerance=0.0 is out of range"),
        ({"tolerance": 2}, XaiValueError, "tolerance=2 is out of range"),
        ({"tolerance": "small"}, XaiTypeError, "tolerance='small' is not a float"),
        ({"max_samples": 10}, XaiValueError, "max_samples=10 is out of range"),
        ({"samples": 300, "tolerance": 0.1}, XaiValueError, "tolerance=0.1 applies to samples='auto' only"),
        ({"samples": "lots"}, XaiTypeError, "samples='lots' is neither 'auto', 'fixed' nor an int"),
    ],
)
def test_bad_budgets_are_refused(tiny_clf, tiny_img, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment.replace("(", r"\(")):
        explain(tiny_clf, tiny_img, **kwargs)


def test_a_method_without_rounds_runs_its_budget_and_refuses_forced_auto(tiny_clf, tiny_img) -> None:
    register_method("occlusion_rounds_test", "tiny_samples:occlusion", default_samples=5)
    try:
        exp = explain(tiny_clf, tiny_img, method="occlusion_rounds_test")
        assert exp.samples == 5 and "has no rounds" in exp.meta["budget"]
        with pytest.raises(XaiValueError, match="samples='auto' needs a method that grows in rounds"):
            explain(tiny_clf, tiny_img, method="occlusion_rounds_test", samples="auto")
    finally:
        del METHODS["occlusion_rounds_test"]


def _coverage(clf, image, method: str, samples: int, truth_samples: int, seeds: int) -> float:
    """Share of (seed, feature) whose 95% interval holds the large-budget value."""
    truth = explain(clf, image, method=method, samples=truth_samples, n_segments=16)
    inside = []
    for seed in range(1, seeds + 1):
        exp = explain(clf, image, method=method, samples=samples, seed=seed, n_segments=16)
        if exp.weights is not None:
            se = np.sqrt((exp.error_basis.astype(np.float64) ** 2).sum(0))
            error = exp.weights - truth.weights
        else:
            se, error = exp.stderr, exp.heatmap - truth.heatmap
        inside.append(np.mean(np.abs(error) <= 1.96 * se + 1e-9))
    return float(np.mean(inside))


@pytest.mark.slow
def test_kernel_shap_intervals_cover_the_exact_shapley_values(shapes_clf, shapes_image) -> None:
    # 12 superpixels: 4096 samples enumerate every coalition, so the truth is exact
    assert 0.88 <= _coverage(shapes_clf, shapes_image, "kernel_shap", 200, 4096, 20) <= 0.99


@pytest.mark.slow
def test_gradient_shap_intervals_cover_the_large_budget_heatmap(shapes_clf, shapes_image) -> None:
    assert 0.88 <= _coverage(shapes_clf, shapes_image, "gradient_shap", 100, 3000, 20) <= 0.99


@pytest.mark.slow
def test_lime_intervals_cover_the_large_budget_weights(shapes_clf, shapes_image) -> None:
    # the interval also spans the ridge penalty's budget-dependent shrinkage, so it is wider
    assert 0.9 <= _coverage(shapes_clf, shapes_image, "lime", 200, 20000, 15) <= 1.0


def test_a_run_read_back_from_disk_resumes_and_extends(shapes_clf, shapes_image, tmp_path) -> None:
    from pytest_xai.engine.resume import resume
    from pytest_xai.explanation import Explanation

    kwargs = {"method": "lime", "n_segments": 16, "tolerance": 1.0}
    live = explain(shapes_clf, shapes_image, **kwargs)
    loaded = Explanation.load(live.save(tmp_path / "entry.npz"))
    assert not loaded.can_grow and resume(shapes_clf, loaded, shapes_image) and loaded.can_grow
    assert live.grow(500) and loaded.grow(500)
    assert loaded.samples == live.samples == 500
    np.testing.assert_allclose(loaded.weights, live.weights, rtol=1e-6, atol=1e-9)  # extended, not redrawn
    fixed = explain(shapes_clf, shapes_image, method="lime", n_segments=16, samples=300)
    assert not resume(shapes_clf, fixed, shapes_image)
