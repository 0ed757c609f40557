"""Check failures in a real run: messages name region, bound and overlay; checks are recorded through the fixture."""

from __future__ import annotations

import json

import pytest
from report_samples import HELPERS


@pytest.mark.slow
def test_helper_failure_messages(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=HELPERS)
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines([
        "*def test_focus(explain, shape_image):",
        ">*assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name=\"corner\"), min_mass=0.5)",
        "E*attribution does not focus on region 'corner': relevance mass 0.0* < min_mass 0.500",
        "E*method=lime target='circle' (p=*) output=logit seed=0 samples=200",
        "E*overlay (heatmap, region outlined): .xai-results*focus-corner.png",
    ])
    result.stdout.fnmatch_lines([
        "E*attribution rests on region 'everything': relevance mass 1.000 > max_mass 0.100",
    ])
    result.stdout.fnmatch_lines([
        "E*explanations disagree: Spearman * < min_spearman 0.900; top-20% IoU * < min_top_k_iou 0.900",
        "E*a: method=lime*", "E*b: method=gradient_shap*", "E*overlays (a | b): .xai-results*",
    ])
    pictures = sorted(p.name for p in (xai_pytester.path / ".xai-results").rglob("*.png"))
    assert pictures == ["01-agree-lime-gradient_shap.png", "01-avoid-everything.png", "01-focus-corner.png"]
    # the helper's own frames are hidden: the user's line is what pytest shows
    assert "assertions.py" not in result.stdout.str()


SANITY_TEST = """
import numpy as np
from pytest_xai import Explanation, assert_explanation_depends_on_model


def edges(image, *, classifier, method, seed, samples=None):
    heat = np.abs(np.diff(np.asarray(image).mean(axis=2), axis=1, append=0)).astype(np.float32)
    return Explanation(heat, None, None, 0, "0", 1.0, "edges", "logit", seed, 1, image=np.asarray(image))


def test_lime_depends_on_the_model(explain, shape_image):
    assert_explanation_depends_on_model(explain, shape_image, method="lime", samples=200, layers=2,
                                        max_similarity=0.9)


def test_edges_do_not(xai_model, shape_image):
    assert_explanation_depends_on_model(edges, shape_image, classifier=xai_model, method="edges", layers=2)
"""


@pytest.mark.slow
def test_checks_are_recorded_through_the_fixture(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SANITY_TEST)
    result = xai_pytester.runpytest("--xai-report=r.json")
    result.assert_outcomes(passed=1, failed=1)
    report = json.loads((xai_pytester.path / "r.json").read_text(), parse_constant=lambda c: 1 / 0)
    checks = {t["nodeid"].split("::")[1]: t["checks"] for t in report["tests"]}
    ok, bad = checks["test_lime_depends_on_the_model"][0], checks["test_edges_do_not"][0]
    assert (ok["kind"], ok["metric"], ok["passed"], ok["bound"]) == ("sanity", "spearman_abs", True, 0.9)
    assert [step["layer"] for step in ok["cascade"]] == ["head", "features.6"]
    assert ok["value"] == ok["cascade"][-1]["similarity"] <= 0.9
    assert (bad["passed"], bad["value"], bad["picture"] is not None) == (False, 1.0, True)
    # only the trained model's explanation is shown as the test's explanation
    shown = {t["nodeid"].split("::")[1]: t["explanations"] for t in report["tests"]}
    assert len(shown["test_lime_depends_on_the_model"]) == 1
