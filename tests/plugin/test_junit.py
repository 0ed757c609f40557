"""JUnit XML: every check of a test is a property carrying its value, bound and verdict."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from report_samples import HELPERS


@pytest.mark.slow
def test_junit_xml_gets_metrics(xai_pytester: pytest.Pytester) -> None:
    """Each check is a property "value op bound verdict" on its own test case, and the verdict
    agrees with the value, the bound and the test's outcome."""
    xai_pytester.makepyfile(test_h=HELPERS)
    xai_pytester.runpytest("--junitxml", "junit.xml")
    root = ET.fromstring((xai_pytester.path / "junit.xml").read_text())
    cases = {case.get("name"): case for case in root.iter("testcase")}
    expected = {
        "test_focus": ("xai_focus_relevance_mass[corner]", ">=", 0.5),
        "test_avoid": ("xai_avoid_relevance_mass[everything]", "<=", 0.1),
        "test_agree": ("xai_agree_spearman[lime vs gradient_shap]", ">=", 0.9),
        "test_passes": ("xai_avoid_relevance_mass[tiny]", "<=", 0.5),
    }
    for test, (name, op, bound) in expected.items():
        case = cases[test]
        props = {p.get("name"): str(p.get("value")) for p in case.iter("property")}
        match = re.fullmatch(r"(-?[\d.e+-]+) (<=|>=) ([\d.e+-]+) (passed|failed)", props[name])
        assert match is not None, props[name]
        value, verdict = float(match[1]), match[4]
        assert (match[2], float(match[3])) == (op, bound)
        holds = value >= bound if op == ">=" else value <= bound
        assert verdict == ("passed" if holds else "failed"), props[name]
        failed = case.find("failure") is not None
        assert failed == (verdict == "failed"), (test, props[name])
    everything = cases["test_avoid"].find("properties/property[@name='xai_avoid_relevance_mass[everything]']")
    assert everything is not None
    assert float(str(everything.get("value")).split()[0]) == pytest.approx(1.0, abs=1e-3)  # all the mass


PROPERTIES = """
import pytest
from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus, assert_explanations_agree

@pytest.mark.xai(samples=40)
def test_props(explain, shape_image, xai_snapshot):
    lime = explain(shape_image)
    assert_attribution_avoids(lime, Region.box(0, 0, 8, 8, name="tag"), max_mass=0.9)
    assert_attribution_avoids(lime, Region.box(56, 56, 64, 64, name="corner"), max_mass=0.9)
    assert_attribution_avoids(lime, Region.box(56, 56, 64, 64, name="corner"), max_mass=0.95)
    assert_attribution_focus(lime, Region.box(0, 0, 64, 64, name="all"), min_mass=0.5)
    shap = explain(shape_image, method="kernel_shap", samples=60)
    assert_explanations_agree(lime, shap, min_spearman=-1.0)
    xai_snapshot.assert_match(lime, "a")
    xai_snapshot.assert_match(lime, "b")
"""


def _properties(xml: str) -> dict[str, str]:
    props = [(p.get("name"), p.get("value")) for p in ET.fromstring(xml).iter("property")]
    names = [name for name, _ in props]
    assert len(names) == len(set(names)), names  # each property name once per test
    return {str(name): str(value) for name, value in props}


def test_junit_properties_name_their_region_or_golden_and_carry_bound_and_verdict(
    xai_pytester: pytest.Pytester,
) -> None:
    xai_pytester.makepyfile(test_p=PROPERTIES)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    xai_pytester.runpytest("--junitxml=j.xml").assert_outcomes(passed=1)
    props = _properties((xai_pytester.path / "j.xml").read_text())
    verdict = re.compile(r"-?[\d.e-]+ (<=|>=) [\d.e-]+ (passed|failed)$")
    assert re.match(r"[\d.e-]+ <= 0.9 passed$", props["xai_avoid_relevance_mass[tag]"])
    assert props["xai_avoid_relevance_mass[corner]"].endswith(" <= 0.9 passed")
    assert props["xai_avoid_relevance_mass[corner]#2"].endswith(" <= 0.95 passed")
    assert re.match(r"[\d.e-]+ >= 0.5 passed$", props["xai_focus_relevance_mass[all]"])
    assert verdict.match(props["xai_agree_spearman[lime vs kernel_shap]"])
    for golden in ("a", "b"):
        name = f"__xai_snapshots__/test_p/test_props.{golden}.npz"
        assert props[f"xai_golden[{name}]"] == "passed"
        assert re.match(r"[\d.e-]+ <= [\d.e-]+ passed$", props[f"xai_golden_evidence_shift[{name}]"])


def test_control_characters_in_names_never_break_the_junit_xml(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_ctl="""
import pytest
from pytest_xai import Region, assert_attribution_avoids

@pytest.mark.xai(samples=40)
def test_ctl(explain, shape_image):
    e = explain(shape_image)
    for name in ("tag\\x01", "tag#x01", "bell\\x07\\x1b[31m", "ok\\ttab", "del\\x7f", "\\ufffe"):
        assert_attribution_avoids(e, Region.box(0, 0, 4, 4, name=name), max_mass=1.0)
""")
    xai_pytester.runpytest("--junitxml", "junit.xml").assert_outcomes(passed=1)
    root = ET.fromstring((xai_pytester.path / "junit.xml").read_bytes())  # it parses
    names = [str(p.get("name")) for p in root.iter("property")]
    assert names == [
        "xai_avoid_relevance_mass[tag#x01]", "xai_avoid_relevance_mass[tag#x01]#2",
        "xai_avoid_relevance_mass[bell#x07#x1B[31m]", "xai_avoid_relevance_mass[ok\ttab]",
        "xai_avoid_relevance_mass[del#x7F]", "xai_avoid_relevance_mass[#xFFFE]",
    ]
