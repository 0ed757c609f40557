"""pytest-html extras: user names escaped, overlays shown whole, bounds never rounded to zero."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

pytest.importorskip("pytest_html")

from pytest_xai.html_extras import check_table, extras_for

EVIL_REGION = "<img src=x onerror=alert('r')>"
EVIL_GOLDEN = '<script>alert("g")</script>'


def _record(region: str = "tag", golden: str = "g", bound: float = 0.1) -> dict[str, Any]:
    return {
        "explanations": [{"method": "lime", "target": "<b>circle</b>", "overlay": "iVBORw0KGgo="}],
        "checks": [{"kind": "avoid", "metric": "relevance_mass", "value": 0.00003, "bound": bound,
                    "passed": True, "region": region, "method": "lime"}],
        "goldens": [{"name": golden, "state": "failed'\"", "measures": {"evidence_shift": 0.31},
                     "bounds": {"max_evidence_shift": 0.12}}],
    }


def test_user_names_are_escaped() -> None:
    content = "".join(e["content"] for e in extras_for(_record(EVIL_REGION, EVIL_GOLDEN)))
    assert "<img src=x" not in content and "<script>" not in content and "<b>" not in content
    assert html.escape(EVIL_REGION) in content and html.escape(EVIL_GOLDEN) in content
    assert html.escape("failed'\"") in content  # the state too


def test_overlays_are_whole_images_in_an_html_extra() -> None:
    """pytest-html crops image extras to 320×200 (object-fit: cover): the overlays come as
    <img> tags that keep their aspect ratio, embedded as data URIs."""
    (extra,) = extras_for(_record())
    assert extra["format_type"] == "html"
    (img,) = re.findall(r"<img [^>]*>", extra["content"])
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in img
    assert "object-fit:contain" in img and "height:auto" in img


def test_small_bounds_and_values_are_not_rounded_to_zero() -> None:
    table = check_table(_record(bound=0.0001))
    assert "<td>max_mass 0.0001</td>" in table and "<td>3e-05</td>" in table
    assert "max_evidence_shift 0.12" in table


SUITE = f"""
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
    xai_pytester.makepyfile(test_x=SUITE)
    xai_pytester.runpytest("--html=report.html", "--self-contained-html").assert_outcomes(passed=1)
    extras = _extras((xai_pytester.path / "report.html").read_text())
    assert [e["format_type"] for e in extras] == ["html"]  # no image extra, cropped by pytest-html
    (content,) = [e["content"] for e in extras]
    assert "<img src=x" not in content and html.escape(EVIL_REGION) in content
    assert content.count("<img ") == 1 and "object-fit:contain" in content
