"""No golden goes uncounted, through real pytest runs: goldens recorded whatever the test's other
checks do (``@pytest.mark.xai(golden=True)``), goldens no comparison judged counted as "not
compared" (summary, JSON and HTML report), ``--xai-update=force`` and the bare flag before a path."""

from __future__ import annotations

import json

import pytest
from golden_samples import with_goldens

from pytest_xai import Explanation

FAILS_FIRST = """
import pytest

@pytest.mark.xai(samples=200, golden=True)
def test_circle(explain, shape_image):
    exp = explain(shape_image)
    assert exp.probability < 0, "an earlier check that fails"
"""

PASSES = """
import pytest

@pytest.mark.xai(samples=200)
def test_circle(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))
"""

# the same test, now failing before it reaches assert_match
STOPS_BEFORE_MATCH = """
import pytest

@pytest.mark.xai(samples=200)
def test_circle(explain, xai_snapshot, shape_image):
    exp = explain(shape_image)
    assert exp.probability < 0, "an earlier check that fails"
    xai_snapshot.assert_match(exp)
"""

GOLDEN = "__xai_snapshots__/test_g/test_circle.npz"


@pytest.mark.slow
def test_an_earlier_failing_assertion_no_longer_stops_its_golden(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=FAILS_FIRST)
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(failed=1)  # the check fails, as it should ...
    result.stdout.fnmatch_lines(["*an earlier check that fails*",
                                 "*goldens: 0 passed, 0 failed, 1 written, 0 updated, 0 unused"])
    golden = Explanation.load(xai_pytester.path / GOLDEN)  # ... and the golden was recorded anyway
    assert golden.samples == 200 and golden.meta["test"] == "test_circle"
    # the next run compares it, although the test still fails before its end
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*goldens: 1 passed, 0 failed, 0 written, 0 updated, 0 unused"])
    assert "not compared" not in result.stdout.str()


@pytest.mark.slow
def test_a_golden_marker_drift_fails_a_test_that_never_calls_assert_match(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, FAILS_FIRST.replace('    assert exp.probability < 0, "an earlier check that fails"\n', ""))
    result = xai_pytester.runpytest("--xai-model", "example_project.models:shortcut", "-o", "xai_max_shift=0.12")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*explanation drifted from golden __xai_snapshots__/test_g/test_circle.npz*",
                                 "*goldens: 0 passed, 1 failed*"])


@pytest.mark.slow
def test_an_uncompared_golden_shows_in_the_summary_and_the_reports(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_goldens(xai_pytester, PASSES)
    xai_pytester.makepyfile(test_g=STOPS_BEFORE_MATCH)
    monkeypatch.setenv("CI", "true")
    result = xai_pytester.runpytest("--xai-report=run.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*goldens: 0 passed, 0 failed, 0 written, 0 updated, 0 unused, 1 not compared",
        "warning: 1 golden(s) not compared*(CI mode: this run did not gate on them)",
        f"  not compared: {GOLDEN} (its test failed before comparing it: test_g.py::test_circle)",
    ])
    report = json.loads((xai_pytester.path / "run.json").read_text())
    assert report["not_compared"] == [{"path": GOLDEN, "nodeid": "test_g.py::test_circle", "outcome": "failed",
                                       "reason": "its test failed before comparing it"}]
    result = xai_pytester.runpytest("--xai-report=run.html")
    page = (xai_pytester.path / "run.html").read_text()
    assert "0 unused, 1 not compared" in page
    # a skipped test's golden is not compared either, and says so
    xai_pytester.makepyfile(test_g=PASSES.replace("):\n", "):\n    pytest.skip('not today')\n", 1))
    result = xai_pytester.runpytest()
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"  not compared: {GOLDEN} (its test was skipped: test_g.py::test_circle)"])
    # --collect-only runs no test by design: nothing is "not compared" (its lines would read as node ids)
    listed = xai_pytester.runpytest("--collect-only", "-q")
    assert listed.ret == 0 and "not compared" not in listed.stdout.str()
    assert "test_g.py::test_circle" in listed.stdout.str()


@pytest.mark.slow
def test_update_force_rewrites_passing_goldens_and_is_refused_in_ci(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_goldens(xai_pytester, PASSES)
    npz = xai_pytester.path / GOLDEN
    first = Explanation.load(npz).meta["recorded"]
    result = xai_pytester.runpytest("--xai-update")  # a passing golden is kept by the plain flag
    result.stdout.fnmatch_lines(["*goldens: 1 passed, 0 failed, 0 written, 0 updated*"])
    monkeypatch.setenv("CI", "true")
    result = xai_pytester.runpytest("--xai-update=force")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xai: goldens read-only*--xai-update ignored in CI mode*",
                                 "*goldens: 1 passed, 0 failed, 0 written, 0 updated*"])
    assert Explanation.load(npz).meta["recorded"] == first
    monkeypatch.delenv("CI")
    result = xai_pytester.runpytest("--xai-update=force", "--xai-report=run.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xai: goldens update=force*", "*goldens: 0 passed, 0 failed, 0 written, 1 updated*"])
    verdict = json.loads((xai_pytester.path / "run.json").read_text())["tests"][0]["goldens"][0]
    assert (verdict["state"], verdict["reason"]) == ("updated", "force")
    assert "re-recorded (--xai-update=force)" in verdict["message"]


@pytest.mark.slow
def test_bare_update_flag_takes_a_path_after_it(xai_pytester: pytest.Pytester) -> None:
    tests = xai_pytester.mkdir("tests")
    (tests / "test_g.py").write_text(PASSES)
    (tests / "test_other.py").write_text("def test_x():\n    pass\n")
    result = xai_pytester.runpytest("--xai-update", "tests/test_g.py")
    result.assert_outcomes(passed=1)  # only the path given ran: it was not taken as the flag's value
    result.stdout.fnmatch_lines(["xai: goldens update=all*", "*1 written*"])
    assert (tests / GOLDEN).is_file()
    result = xai_pytester.runpytest("--xai-update=bogus", "tests")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xai-update='bogus' is not allowed; use one of all, missing, force*"])
    result = xai_pytester.runpytest("--xai-update", "missing", "tests/test_other.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xai: goldens update=missing*"])
