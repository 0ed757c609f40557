"""Resuming an auto GradientSHAP run read back from disk: the groups come back from the stored
heatmap and error basis, and the extended run is the fresh run of the same samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import noise_image

from pytest_xai import Explanation, explain
from pytest_xai.engine.resume import resume
from pytest_xai.engine.uncertainty import group_sums, mean_basis


def _fresh(clf, image, samples: int, **kwargs) -> Explanation:
    """The auto run drawn to exactly ``samples`` in one go (a tolerance it never meets)."""
    exp = explain(clf, image, method="gradient_shap", tolerance=1e-9, max_samples=samples, **kwargs)
    assert exp.samples == samples
    return exp


def _read_back(exp: Explanation, tmp_path) -> Explanation:
    loaded = Explanation.load(exp.save(tmp_path / "entry.npz"))
    assert not loaded.can_grow  # a file alone has no model to draw with
    return loaded


def test_group_sums_invert_the_batch_means_basis() -> None:
    rng = np.random.default_rng(0)
    counts = torch.tensor([20.0, 20.0, 10.0, 10.0, 5.0], dtype=torch.float64)  # merged groups and a round's
    sums = torch.from_numpy(rng.normal(size=(5, 3, 4))) * counts[:, None, None]
    mean = sums.sum(0) / counts.sum()
    basis = mean_basis(sums / counts[:, None, None])
    torch.testing.assert_close(group_sums(mean, basis, counts), sums, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("stored", "total", "smoothing"),
    [(50, 100, 0.0), (175, 400, 0.0), (50, 125, 0.1)],  # 175 and 400: groups merged, unequal counts
)
def test_an_extended_run_read_back_equals_the_fresh_run_of_its_samples(tiny_clf, tiny_img, tmp_path, stored, total, smoothing) -> None:
    live = explain(tiny_clf, tiny_img, method="gradient_shap", tolerance=1.0, max_samples=400, local_smoothing=smoothing)
    assert live.samples == 50 and (stored == 50 or live.grow(stored))
    loaded = _read_back(live, tmp_path)
    assert loaded.samples == stored and resume(tiny_clf, loaded, tiny_img) and loaded.can_grow
    assert loaded.grow(total, asked_by="a check")
    fresh = _fresh(tiny_clf, tiny_img, total, local_smoothing=smoothing)
    assert loaded.samples == total and loaded.meta["rounds"] == fresh.meta["rounds"] == total // 25
    assert loaded.meta["asked_by"] == ["a check"] and loaded.meta["evaluations"] == total
    scale = np.abs(fresh.heatmap).max()
    np.testing.assert_allclose(loaded.heatmap, fresh.heatmap, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(loaded.stderr, fresh.stderr, rtol=1e-5, atol=1e-6 * fresh.stderr.max())
    assert np.abs(loaded.heatmap - live.heatmap).max() > 1e-3 * scale  # new rounds, not the stored mean


def test_a_resumed_run_stops_at_its_cap(tiny_clf, tiny_img, tmp_path) -> None:
    live = explain(tiny_clf, tiny_img, method="gradient_shap", tolerance=1.0, max_samples=100)
    loaded = _read_back(live, tmp_path)
    assert resume(tiny_clf, loaded, tiny_img)
    assert loaded.grow(1000) and loaded.samples == 100 and not loaded.can_grow and not loaded.grow(1000)


def test_a_given_background_must_be_given_again_and_be_the_same(tiny_clf, tiny_img, tmp_path) -> None:
    background = [noise_image(16, seed=1), noise_image(16, seed=2)]
    live = explain(tiny_clf, tiny_img, method="gradient_shap", tolerance=1.0, background=background)
    assert not resume(tiny_clf, _read_back(live, tmp_path), tiny_img)  # which background is unknown
    assert not resume(tiny_clf, _read_back(live, tmp_path), tiny_img, {"background": background[::-1]})
    loaded = _read_back(live, tmp_path)
    assert resume(tiny_clf, loaded, tiny_img, {"background": background}) and loaded.grow(100)
    fresh = _fresh(tiny_clf, tiny_img, 100, background=background)
    np.testing.assert_allclose(loaded.heatmap, fresh.heatmap, rtol=1e-5, atol=1e-6 * np.abs(fresh.heatmap).max())


def test_what_cannot_resume_is_refused(tiny_clf, tiny_img, tmp_path) -> None:
    fixed = explain(tiny_clf, tiny_img, method="gradient_shap", samples=50)
    assert not resume(tiny_clf, _read_back(fixed, tmp_path), tiny_img)
    auto = explain(tiny_clf, tiny_img, method="gradient_shap", tolerance=1.0)
    without = auto.copy()
    without.error_basis = None  # as a golden stores a pixel method: no basis, so no groups
    assert not resume(tiny_clf, _read_back(without, tmp_path), tiny_img)
    other = auto.copy()
    other.error_basis = other.error_basis[:4]  # not the grouping its rounds make
    assert not resume(tiny_clf, _read_back(other, tmp_path), tiny_img)
    partial = auto.copy()
    partial.samples = 60  # not whole rounds
    assert not resume(tiny_clf, _read_back(partial, tmp_path), tiny_img)
