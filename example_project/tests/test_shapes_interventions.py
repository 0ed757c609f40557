"""The shapes model must not use the corner tag: checked by changing the image, not the heatmap."""

from __future__ import annotations

import pytest

from example_project.make_images import shapes_names
from pytest_xai import assert_prediction_ignores, assert_region_irrelevant

IMAGES = shapes_names()


@pytest.mark.parametrize("name", IMAGES)
def test_prediction_ignores_a_swapped_tag(explain, xai_image, name):
    # the tag pasted in from the other classes' images: a model that reads the tag follows it
    # (the shortcut model follows 8 of 8 donors on every image, clean and clean_v2 none)
    image = xai_image(name)
    donors = [xai_image(other) for other in IMAGES if other != name]
    assert_prediction_ignores(explain, image, image.regions["watermark"], donors)


@pytest.mark.parametrize("name", IMAGES)
def test_hiding_the_tag_changes_nothing(explain, xai_image, name):
    # clean and clean_v2 move p by at most 0.034; the shortcut model falls to another class on
    # squares and triangles (its tag-less images are circles, so hiding cannot show it there)
    image = xai_image(name)
    assert_region_irrelevant(explain, image, image.regions["watermark"])
