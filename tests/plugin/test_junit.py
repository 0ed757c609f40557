"""TODO DOCSTRING"""

from __future__ import annotations

import pytest

HELPERS = """
import pytest
from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus, assert_explanations_agree

@pytest.mark.xai(samples=200)
def test_focus(explain, shape_image):
    assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name="corner"), min_mass=0.5)

@pytest.mark.xai(samples=200)
def test_avoid(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 64, 64, name="everything"), max_mass=0.1)

@pytest.mark.xai(samples=200)
def test_agree(explain, shape_image):
    assert_explanations_agree(explain(shape_image), explain(shape_image, method="gradient_shap"),
                              min_spearman=0.9, min_top_k_iou=0.9)

@pytest.mark.xai(samples=200)
def test_passes(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 4, 4, name="tiny"), max_mass=0.5)
"""


def test_junit_xml_gets_metrics(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=HELPERS)
    xai_pytester.runpytest("--junitxml", "junit.xml")
    xml = (xai_pytester.path / "junit.xml").read_text()
    assert 'name="xai_focus_relevance_mass[' in xml
    assert 'name="xai_agree_spearman[' in xml
