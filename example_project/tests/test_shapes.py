"""The shapes model must read the object, not the corner tag, and keep explaining it the same way."""

from __future__ import annotations

import pytest

from pytest_xai import (
    assert_attribution_avoids,
    assert_attribution_focus,
    assert_explanations_agree,
)

IMAGES = ["circle.png", "square.png", "triangle.png"]
METHODS = ["lime", "kernel_shap", "gradient_shap"]


@pytest.mark.parametrize("name", IMAGES)
def test_predicts_the_shape_confidently(xai_model, xai_image, name):
    prediction = xai_model.predict(xai_image(name), top_k=3)
    assert prediction.name == name.removesuffix(".png")
    assert prediction.probability >= 0.9  # softmax probability, not a raw logit


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", IMAGES)
def test_attribution_is_on_the_object(explain, xai_image, name, method):
    # the object covers about 9% of the image: a quarter of the evidence is 3x chance
    image = xai_image(name)
    assert_attribution_focus(explain(image, method=method), image.regions["object"], min_mass=0.25)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", IMAGES)
def test_attribution_avoids_the_watermark(explain, xai_image, name, method):
    image = xai_image(name)
    assert_attribution_avoids(explain(image, method=method), image.regions["watermark"], max_mass=0.25)


@pytest.mark.parametrize("name", IMAGES)
def test_lime_and_kernel_shap_agree(explain, xai_image, name):
    image = xai_image(name)
    lime, shap = explain(image, method="lime"), explain(image, method="kernel_shap")
    assert_explanations_agree(lime, shap, min_spearman=0.7)


@pytest.mark.parametrize("name", IMAGES)
def test_explanations_match_goldens(explain, xai_image, xai_snapshot, name):
    image = xai_image(name)
    for method in METHODS:
        xai_snapshot.assert_match(explain(image, method=method), name=method)
