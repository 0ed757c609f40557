"""The shapes model must read the object, not the corner tag, and keep explaining it the same way."""

from __future__ import annotations

import pytest

from example_project.make_images import shapes_names
from pytest_xai import (
    assert_attribution_avoids,
    assert_attribution_focus,
    assert_explanation_depends_on_model,
    assert_explanations_agree,
)

# four held-out images per class, each with its own class's tag in the top-left corner
IMAGES = shapes_names()
METHODS = ["lime", "kernel_shap", "gradient_shap"]
AVOID_MAX_MASS = {"lime": 0.25, "kernel_shap": 0.25, "gradient_shap": 0.4}


def shape_of(name: str) -> str:
    return name.removesuffix(".png").rstrip("0123456789")


@pytest.mark.parametrize("name", IMAGES)
def test_predicts_the_shape_confidently(xai_model, xai_image, name):
    prediction = xai_model.predict(xai_image(name), top_k=3)
    assert prediction.name == shape_of(name)
    assert prediction.probability >= 0.9  # softmax probability, not a raw logit


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", IMAGES)
def test_attribution_is_on_the_object(explain, xai_image, name, method):
    # The default bound: the evidence 1.1x denser on the object than off it (docs/calibrate.md);
    # for these 4-15% objects a relevance ratio of about 1.09. Clean and clean_v2 measured
    # 2.1-17.8 (benchmarks/focus_default.py); pytest --xai-calibrate suggests a bound per image.
    image = xai_image(name)
    assert_attribution_focus(explain(image, method=method), image.regions["object"])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", IMAGES)
def test_attribution_avoids_the_watermark(explain, xai_image, name, method):
    # The tag covers 2.4% of the image. GradientSHAP puts 0.17-0.35 of the clean models' mass
    # on its sharp white border (benchmarks/detection.py, seeds 0-10 and clean_v2), the
    # superpixel methods at most 0.17; each bound sits above its method's worst clean value.
    image = xai_image(name)
    bound = AVOID_MAX_MASS[method]
    assert_attribution_avoids(explain(image, method=method), image.regions["watermark"], max_mass=bound)


@pytest.mark.parametrize("name", IMAGES)
def test_lime_and_kernel_shap_agree(explain, xai_image, name):
    image = xai_image(name)
    lime, shap = explain(image, method="lime"), explain(image, method="kernel_shap")
    # With the grey fill LIME's fine ranking is noisy at 1000 samples (seed-to-seed Spearman
    # down to 0.11), so ask for a positive rank correlation and a shared top-20% region at 3.5x
    # chance (IoU ~0.11). Clean and clean_v2 measured Spearman 0.30-0.97, IoU 0.53-1.00.
    assert_explanations_agree(lime, shap, min_spearman=0.2, min_top_k_iou=0.4)


@pytest.mark.parametrize("name", IMAGES)
def test_explanations_match_goldens(explain, xai_image, xai_snapshot, name):
    image = xai_image(name)
    for method in METHODS:
        xai_snapshot.assert_match(explain(image, method=method), name=method)


@pytest.mark.parametrize("method", METHODS)
def test_explanations_depend_on_the_model(explain, xai_image, method):
    # A method that still draws the same map once the weights are random shows image structure,
    # not the model. The similarity varies by image: with every layer randomised, Kernel SHAP
    # (grey fill) kept 0.69 on circle.png, 0.22 on square.png, 0.01 on triangle.png; LIME
    # 0.32, 0.14, 0.00 (README, "Detection power").
    assert_explanation_depends_on_model(explain, xai_image("square.png"), method=method)
