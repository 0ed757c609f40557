"""pytest-html integration: each test's overlays and check table land in its report extras."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

pytest.importorskip("pytest_html")

SUITE = """
import pytest
from pytest_xai import Region, assert_attribution_avoids

@pytest.mark.xai(samples=60)
def test_avoid(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 64, 64, name="everything"), max_mass=0.1)

@pytest.mark.xai(samples=60)
def test_golden(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image, method="gradient_shap"))

def test_plain():
    pass
"""


@pytest.mark.slow
def test_overlays_and_checks_in_the_pytest_html_report(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=SUITE)
    result = xai_pytester.runpytest("--html=report.html", "--self-contained-html", "--xai-update",
                                    "--xai-report=xai.json", "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    page = (xai_pytester.path / "report.html").read_text()
    data = json.loads((xai_pytester.path / "xai.json").read_text())
    overlays = {e["overlay"] for t in data["tests"] for e in t["explanations"]}
    assert len(overlays) == 2
    # pytest-html keeps its test data as escaped JSON in the page: look for each inline PNG
    blob = html.unescape(page)
    for b64 in overlays:
        assert f"data:image/png;base64,{b64}" in blob
    assert "xai lime: circle" in blob and "xai gradient_shap: circle" in blob
    assert '<table class=\\"xai-checks\\">' in blob  # the check table, as JSON in the page
    assert "relevance_mass everything" in blob and "FAIL" in blob
    assert "__xai_snapshots__/test_h/test_golden.npz" in blob and "written" in blob
    xml = (xai_pytester.path / "junit.xml").read_text()  # JUnit properties stay
    assert 'name="xai_avoid_relevance_mass[everything]"' in xml


def test_runs_without_pytest_html_are_unchanged(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=SUITE)
    result = xai_pytester.runpytest("-p", "no:html", "--xai-update")
    result.assert_outcomes(passed=2, failed=1)
    assert not (xai_pytester.path / "report.html").exists()


EVIL_REGION = "<img src=x onerror=alert('r')>"


EVIL_SUITE = f"""
import pytest
from pytest_xai import Region, assert_attribution_avoids

@pytest.mark.xai(samples=40)
def test_evil(explain, shape_image):
    region = Region.box(0, 0, 8, 8, name={EVIL_REGION!r})
    assert_attribution_avoids(explain(shape_image), region, max_mass=1.0)
"""


def _extras(page: str) -> list[dict[str, Any]]:
    """Every extra pytest-html put in its page (its test data is JSON in an attribute)."""
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob is not None
    data = json.loads(html.unescape(blob[1]))
    return [extra for results in data["tests"].values() for r in results for extra in r.get("extras", [])]


def test_pytest_html_report_escapes_region_names_and_shows_whole_overlays(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x=EVIL_SUITE)
    xai_pytester.runpytest("--html=report.html", "--self-contained-html").assert_outcomes(passed=1)
    extras = _extras((xai_pytester.path / "report.html").read_text())
    assert [e["format_type"] for e in extras] == ["html"]  # no image extra, cropped by pytest-html
    (content,) = [e["content"] for e in extras]
    assert "<img src=x" not in content and html.escape(EVIL_REGION) in content
    assert content.count("<img ") == 1 and "object-fit:contain" in content
