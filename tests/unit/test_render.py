"""Image loading, segmentation labels, Explanation persistence and the pictures it draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_xai import Explanation, explain, load_image
from pytest_xai.engine.segmentation import remap_labels, segment
from pytest_xai.vocabulary import METHODS


def test_load_image_sources_agree(tmp_path: Path, shapes_image: np.ndarray) -> None:
    u8 = np.round(shapes_image * 255).astype(np.uint8)
    Image.fromarray(u8).save(tmp_path / "a.png")
    Image.fromarray(np.dstack([u8, np.full(u8.shape[:2], 128, np.uint8)])).save(tmp_path / "rgba.png")
    reference = u8.astype(np.float32) / 255
    for source in (
        tmp_path / "a.png", str(tmp_path / "a.png"), tmp_path / "rgba.png", Image.fromarray(u8), u8,
        reference, torch.from_numpy(reference).permute(2, 0, 1),
    ):
        out = load_image(source)
        assert out.dtype == np.float32 and out.shape == (64, 64, 3)
        np.testing.assert_allclose(out, reference, atol=1e-6)
    gray = load_image(u8[..., 0])
    assert gray.shape == (64, 64, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    assert load_image(tmp_path / "a.png", size=(32, 48)).shape == (32, 48, 3)
    assert load_image(u8, size=16).shape == (16, 16, 3)


def test_segment_labels_are_always_0_to_m_minus_1(shapes_image: np.ndarray) -> None:
    for algorithm in ("slic", "quickshift", "felzenszwalb"):
        labels = segment(shapes_image, algorithm, 30)
        assert labels.dtype == np.int64 and labels.min() == 0
        assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1)), algorithm
    # SLIC's own default labels start at 1; user masks may skip values
    given = np.where(np.arange(64)[None, :] < 20, 7, 3).repeat(64, axis=0)
    remapped = segment(shapes_image, given)
    assert sorted(np.unique(remapped)) == [0, 1] and remapped[0, 0] == 1 and remapped[0, 63] == 0
    assert np.array_equal(remap_labels(np.array([[5, 5], [9, 2]])), np.array([[1, 1], [2, 0]]))


def test_save_load_roundtrip_without_pickle(tmp_path: Path, shapes_clf, shapes_image) -> None:  # type: ignore[no-untyped-def]
    exp = explain(shapes_clf, shapes_image, samples=100)
    path = exp.save(tmp_path / "e.npz")
    with np.load(path, allow_pickle=False) as data:  # loads with pickling disabled
        assert {"heatmap", "weights", "segments", "header", "image"} <= set(data.files)
    back = Explanation.load(path)
    assert np.array_equal(back.heatmap, exp.heatmap) and np.array_equal(back.weights, exp.weights)
    assert np.array_equal(back.segments, exp.segments)
    assert (back.target, back.target_name, back.method, back.seed, back.samples) == (
        exp.target, exp.target_name, exp.method, exp.seed, exp.samples)
    assert back.params == exp.params and back.meta == exp.meta
    default = METHODS["lime"].default_baseline
    expected_fill = list(default) if isinstance(default, tuple) else default
    assert (back.params["samples"], back.params["method"], back.params["baseline"]) == (100, "lime", expected_fill)
    # params hold JSON-plain values (an RGB fill is a list), so they survive the header exactly
    rgb = explain(shapes_clf, shapes_image, samples=50, baseline=(0.1, 0.2, 0.3))
    assert Explanation.load(rgb.save(tmp_path / "rgb.npz")).params["baseline"] == [0.1, 0.2, 0.3]
    assert np.abs(back.image - exp.image).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        exp.save(tmp_path / "e.png")


def test_overlay_colours_follow_sign() -> None:
    heat = np.zeros((10, 10), np.float32)
    heat[:, :5] = 1.0
    heat[:, 5:] = -1.0
    heat[0, 0] = 0.0
    exp = Explanation(heat, None, None, 0, "0", 1.0, "gradient_shap", "logit", 0, 1)
    pic = exp.overlay(np.full((10, 10, 3), 0.5, np.float32), smooth=False)
    assert pic.dtype == np.uint8 and pic.shape == (10, 10, 3)
    red, blue, zero = pic[5, 2].astype(int), pic[5, 7].astype(int), pic[0, 0].astype(int)
    assert red[0] > red[2] + 100  # positive: red
    assert blue[2] > blue[0] + 100  # negative: blue
    assert zero[0] == zero[1] == zero[2]  # zero: the greyed image, untinted


def test_boundaries_keep_lime_top_positive_superpixels(shapes_image: np.ndarray) -> None:
    segments = np.repeat(np.arange(4), 16)[None, :].repeat(64, axis=0)  # four vertical bands
    weights = np.array([0.5, -2.0, 1.0, 0.1])
    exp = Explanation(weights[segments].astype(np.float32), weights, segments, 0, "0", 1.0, "lime", "logit", 0, 1,
                      image=shapes_image)
    pic = exp.boundaries(num_features=2, positive_only=True)
    # lime sorts by |weight| (-2.0, 1.0, 0.5, 0.1), keeps the positive ones (2, 0) and takes
    # the first 2: bands 0 and 2. Their boundaries are drawn in yellow; the rest is untouched.
    yellow = (pic[..., 0] > 200) & (pic[..., 1] > 200) & (pic[..., 2] < 80)
    assert list(np.unique(np.nonzero(yellow)[1])) == [15, 16, 31, 32, 47, 48]
    untouched = np.round(shapes_image * 255).astype(np.uint8)
    assert np.array_equal(pic[:, 17:31], untouched[:, 17:31])
    assert np.array_equal(pic[:, 49:], untouched[:, 49:])
    both = exp.boundaries(num_features=2, positive_only=False)
    assert both[5, 20, 0] == 255  # band 1 (negative) tinted red
    assert both[5, 40, 1] == 255  # band 2 (positive) tinted green
    with pytest.raises(ValueError, match="pixel-level"):
        Explanation(exp.heatmap, None, None, 0, "0", 1.0, "gradient_shap", "logit", 0, 1).boundaries(shapes_image)


@pytest.mark.parametrize("positive_only", [True, False])
def test_boundaries_equal_lime_get_image_and_mask(shapes_clf, shapes_image, positive_only) -> None:  # type: ignore[no-untyped-def]
    lime_image = pytest.importorskip("lime.lime_image")
    from skimage.segmentation import mark_boundaries

    exp = explain(shapes_clf, shapes_image, samples=300)
    reference = lime_image.ImageExplanation(shapes_image.astype(np.float64), exp.segments)
    order = sorted(enumerate(exp.weights), key=lambda fw: -abs(fw[1]))
    reference.local_exp = {exp.target: order}
    temp, mask = reference.get_image_and_mask(exp.target, positive_only=positive_only, num_features=5,
                                              hide_rest=False)
    expected = np.round(np.clip(mark_boundaries(temp, mask), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(exp.boundaries(num_features=5, positive_only=positive_only), expected)


def test_weak_positive_evidence_stays_visible_beside_strong_negative() -> None:
    heat = np.zeros((10, 10), np.float32)
    heat[:, :5] = 0.08  # the evidence every check measures
    heat[:, 5:] = -0.9  # ten times stronger evidence against
    exp = Explanation(heat, None, None, 0, "0", 1.0, "gradient_shap", "logit", 0, 1)
    image = np.full((10, 10, 3), 0.5, np.float32)
    own = exp.overlay(image, smooth=False).astype(int)
    shared = exp.overlay(image, scale=0.9, smooth=False).astype(int)
    assert own[5, 2, 0] - own[5, 2, 2] > 150  # each sign on its own scale: full red
    assert shared[5, 2, 0] - shared[5, 2, 2] < 30  # one shared scale: the red all but vanishes
    assert own[5, 7, 2] - own[5, 7, 0] > 150
