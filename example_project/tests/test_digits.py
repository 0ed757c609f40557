"""The digits model must read the ink of handwritten digits (scikit-learn's digits)."""

from __future__ import annotations

import pytest

from pytest_xai import assert_attribution_focus

IMAGES = ["digit3.png", "digit8.png"]
METHODS = ["lime", "kernel_shap", "gradient_shap"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.xai(n_segments=30)
def test_attribution_is_on_the_ink(explain, digits_model, xai_image, name, method):
    # the ink covers about half of the 32x32 image
    image = xai_image(name)
    exp = explain(image, classifier=digits_model, method=method)
    assert exp.target_name == name.removeprefix("digit").removesuffix(".png")
    assert_attribution_focus(exp, image.regions["ink"], min_mass=0.5)


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.xai(n_segments=30)
def test_explanations_match_goldens(explain, digits_model, xai_image, xai_snapshot, name):
    image = xai_image(name)
    for method in METHODS:
        xai_snapshot.assert_match(explain(image, classifier=digits_model, method=method), name=method)
