"""pytest-html extras: user names escaped, overlays shown whole, bounds never rounded to zero."""

from __future__ import annotations

import html
import re

import pytest

pytest.importorskip("pytest_html")

from pytest_xai.plugin.html_extras import check_table, extras_for
from pytest_xai.records import CheckResult, ExplanationEntry, GoldenVerdict, TestRecord

EVIL_REGION = "<img src=x onerror=alert('r')>"
EVIL_GOLDEN = '<script>alert("g")</script>'


def _record(region: str = "tag", golden: str = "g", bound: float = 0.1) -> TestRecord:
    return TestRecord(
        "t.py::test",
        explanations=[ExplanationEntry("k", "lime", "logit", "<b>circle</b>", 0.9, 100, overlay="iVBORw0KGgo=")],
        checks=[CheckResult("avoid", "relevance_mass", 0.00003, bound, True, upper=True, region=region, method="lime")],
        goldens=[GoldenVerdict("g.npz", golden, "failed'\"", "drift", "release", {"evidence_shift": 0.31},
                               {"max_evidence_shift": 0.12})],
    )


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
