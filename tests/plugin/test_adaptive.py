"""samples="auto" through pytest: the default budget, checks that ask for more rounds, the
record and JSON report that say so, --xai-samples=fixed / N keeping a fixed budget, and a
cached entry that a later run extends."""

from __future__ import annotations

import json

import pytest

from pytest_xai import Explanation

CLOSE_CALL = """
from pytest_xai import Region, assert_attribution_avoids
from pytest_xai.checks import metrics

BOX = Region.box(16, 16, 48, 48, name="centre")

def test_close_call(explain, shape_image):
    exp = explain(shape_image, {how})
    value = metrics.relevance_mass(exp, BOX)
    assert_attribution_avoids(exp, BOX, max_mass=min(1.0, value + 1e-4))
"""

TEST = CLOSE_CALL.format(how='method="lime", n_segments=16') + """
def test_far_call(explain, shape_image):
    exp = explain(shape_image, method="lime", n_segments=16)
    assert_attribution_avoids(exp, BOX, max_mass=1.0)
"""


@pytest.mark.slow
def test_auto_is_the_default_and_reports_who_asked_for_more(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_auto=TEST)
    result = xai_pytester.runpytest("--xai-report=report.json", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2
    report = json.loads((xai_pytester.path / "report.json").read_text())
    close, far = report["tests"]
    (entry,) = far["explanations"]
    assert entry["budget"].startswith("auto") and entry["fixed_budget"] == 1000
    assert entry["asked_by"] == ["avoid 'centre'"]  # the first test's check grew the shared one
    assert entry["samples"] > 200 and 0 < entry["relative_error"] < 1
    (check,) = close["checks"]
    assert check["samples"] == entry["samples"] and len(check["interval"]) == 2
    assert (close["outcome"] == "failed") == (check["value"] > check["bound"])
    if check["undecided"]:
        assert entry["samples"] == 1000
    totals = report["totals"]
    assert totals["samples"] == entry["samples"] and totals["fixed_samples"] == 1000
    result.stdout.fnmatch_lines([f"samples: {entry['samples']} model evaluations, *of the 1000 the fixed budgets would use"])


@pytest.mark.slow
@pytest.mark.parametrize(("option", "samples"), [("fixed", 1000), ("300", 300)])
def test_a_fixed_budget_is_kept_and_undecided_checks_say_so(xai_pytester: pytest.Pytester, option: str, samples: int) -> None:
    xai_pytester.makepyfile(test_fixed=TEST)
    result = xai_pytester.runpytest(f"--xai-samples={option}", "--xai-report=report.json")
    report = json.loads((xai_pytester.path / "report.json").read_text())
    entries = [e for t in report["tests"] for e in t["explanations"]]
    assert {e["samples"] for e in entries} == {samples} and {e["budget"] for e in entries} == {f"fixed {samples}"}
    (check,) = report["tests"][0]["checks"]
    assert check["samples"] == samples
    if check["undecided"] and not check["passed"]:
        result.stdout.fnmatch_lines([f"*undecided at {samples} samples*"])


FIRST_RUN = """
def test_explain(explain, shape_image):
    assert explain(shape_image, method="gradient_shap", tolerance=1.0).samples == 50
"""

CLOSE_GRADIENT = CLOSE_CALL.format(how='method="gradient_shap", tolerance=1.0')


@pytest.mark.slow
def test_a_cached_gradient_shap_entry_grows_by_the_rounds_a_check_asks_for(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_xai.engine import gradient

    drawn: list[int] = []  # gradient samples evaluated, over all images of each call
    evaluate = gradient.expected_gradients

    def counted(forward, images, draws, output, samples, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(len(images) * samples)
        return evaluate(forward, images, draws, output, samples, *args, **kwargs)

    monkeypatch.setattr(gradient, "expected_gradients", counted)
    xai_pytester.makepyfile(test_first=FIRST_RUN)
    xai_pytester.runpytest().assert_outcomes(passed=1)
    (path,) = sorted((xai_pytester.path / ".pytest_cache/d/xai-explanations").glob("*/*.npz"))
    assert sum(drawn) == Explanation.load(path).samples == 50
    drawn.clear()
    (xai_pytester.path / "test_first.py").unlink()
    xai_pytester.makepyfile(test_close=CLOSE_GRADIENT)
    xai_pytester.runpytest("--xai-report=report.json", "-p", "no:randomly")
    report = json.loads((xai_pytester.path / "report.json").read_text())
    assert (report["totals"]["computed"], report["totals"]["disk"]) == (0, 1)  # read back, not recomputed
    ((entry,), (check,)) = (report["tests"][0]["explanations"], report["tests"][0]["checks"])
    assert entry["asked_by"] and set(entry["asked_by"]) == {"avoid 'centre'"} and entry["budget"].startswith("auto")
    assert 50 < entry["samples"] == entry["evaluations"] == check["samples"] <= 200
    assert sum(drawn) == entry["samples"] - 50  # only the rounds past the stored 50 were evaluated
    assert report["totals"]["samples"] == entry["samples"] and report["totals"]["fixed_samples"] == 200
    stored = Explanation.load(path)  # the entry on disk is the longer run, under the same key
    assert stored.samples == entry["samples"] and stored.meta["asked_by"] == entry["asked_by"]
