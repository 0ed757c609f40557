"""Display maps: superpixel maps kept, pixel maps smoothed to show where the mass is."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation

from example_project.data import Sample
from pytest_xai import explain
from pytest_xai.pictures import render
from pytest_xai.pictures.display import display_heatmap


def _red_share(heat: np.ndarray, image: np.ndarray, where: np.ndarray) -> float:
    """The share of ``where`` that the overlay draws clearly red."""
    picture = render.overlay(heat, image).astype(int)
    return float((picture[..., 0] - picture[..., 2] > 40)[where].mean())


def test_display_keeps_superpixel_maps() -> None:
    rng = np.random.default_rng(0)
    segments = np.repeat(np.arange(8), 8)[None, :].repeat(64, axis=0)
    weights = rng.normal(size=8)
    exp = SimpleNamespace(heatmap=weights[segments].astype(np.float32), segments=segments)
    assert np.array_equal(display_heatmap(exp), exp.heatmap)


def test_display_smooths_pixel_maps_to_show_where_the_mass_is() -> None:
    """Speckle of both signs with a positive bias on a disc: the displayed map is positive on
    the disc and near zero elsewhere, scaled so its 99th percentile |value| is 1."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    disc = (yy - 40) ** 2 + (xx - 24) ** 2 < 10**2
    heat = rng.choice([-1.0, 1.0], size=(64, 64)) + 0.6 * disc
    shown = display_heatmap(SimpleNamespace(heatmap=heat, segments=None))
    inner = binary_dilation(~disc, iterations=3)  # pixels the blur may mix with the outside
    assert (heat[disc] > 0).mean() < 0.85 and (shown[disc & ~inner] > 0).all()
    assert np.abs(shown[~binary_dilation(disc, iterations=4)]).mean() < 0.25
    assert 0.005 <= (np.abs(shown) == 1.0).mean() <= 0.011  # the top 1% drawn at full colour


def test_gradient_shap_overlay_shows_the_object(shapes_clf: Any, shapes_samples: list[Sample]) -> None:
    """GradientSHAP's mass lies on the object in a few strong pixels, which a raw overlay leaves
    all but blank; drawn from display_heatmap, a visible share of the object's surroundings is red."""
    for sample in shapes_samples:
        exp = explain(shapes_clf, sample.image, method="gradient_shap", samples=64)
        near = binary_dilation(sample.mask, iterations=2)
        shown = _red_share(display_heatmap(exp), sample.image, near)
        raw = _red_share(exp.heatmap, sample.image, near)
        assert shown >= 0.2 and shown >= 2.5 * raw, (shown, raw)
        assert _red_share(display_heatmap(exp), sample.image, ~near) < 0.02  # nothing far from it
