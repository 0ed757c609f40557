"""What a release gate reads: the report's run totals, failures without explanations, an early
stop, and JUnit properties that name their region or golden and carry bound and verdict."""

from __future__ import annotations

import html
import json
import re

import pytest

SUITE = """
import pytest
from pytest_xai import Region, assert_attribution_avoids

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

@pytest.mark.xai(samples=40)
def test_explains(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 8, 8, name="tag"), max_mass=1.0)

def test_fails_before_explaining(explain, shape_image):
    raise ValueError("no explanation yet")

def test_plain_fails():
    assert 1 == 2

def test_plain_passes():
    pass

def test_fixture_errors(broken):
    pass

@pytest.mark.skip
def test_skipped():
    pass

@pytest.mark.xfail
def test_xfails():
    assert False

@pytest.mark.xfail
def test_xpasses():
    pass
"""

FAILED = ["test_s.py::test_fails_before_explaining", "test_s.py::test_plain_fails", "test_s.py::test_fixture_errors"]


def _terminal_line(result: pytest.RunResult) -> str:
    """pytest's summary line without its time: "2 failed, 2 passed, ... 1 error"."""
    match = re.search(r"=+ (.*) in [\d.]+s", result.stdout.lines[-1])
    assert match is not None, result.stdout.lines[-1]
    return match[1]


def test_json_report_counts_every_test_of_the_run(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SUITE)
    result = xai_pytester.runpytest("--xai-report=r.json")
    result.assert_outcomes(passed=2, failed=2, errors=1, skipped=1, xfailed=1, xpassed=1)
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert data["schema"] == 2 and data["exitstatus"] == 1 and data["complete"] is True
    assert data["stopped"] is None
    assert data["outcomes"] == {"failed": 2, "passed": 2, "skipped": 1, "xfailed": 1, "xpassed": 1, "error": 1}
    assert sorted(data["failed"]) == sorted(FAILED)
    rows = {t["nodeid"]: t for t in data["tests"]}
    assert set(rows) == {"test_s.py::test_explains", *FAILED}  # failures without a record too
    assert rows["test_s.py::test_plain_fails"]["outcome"] == "failed" and not rows["test_s.py::test_plain_fails"]["checks"]
    assert rows["test_s.py::test_fixture_errors"]["outcome"] == "error"


def test_html_summary_shows_the_terminal_totals(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SUITE)
    result = xai_pytester.runpytest("--xai-report=r.html")
    page = (xai_pytester.path / "r.html").read_text().replace("<wbr>", "")  # ids may wrap at <wbr>
    card = re.search(r"<div class='card bad'><i>tests</i><b>([^<]*)</b><span>([^<]*)</span>", page)
    assert card is not None
    assert card[1] == _terminal_line(result) == "2 failed, 2 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 error"
    assert card[2].startswith("exit status 1")
    for nodeid in FAILED:  # a table row linking to its section
        assert re.search(f"<a href='#f\\d+'>{re.escape(html.escape(nodeid))}</a>", page), nodeid
    assert page.count("The test failed outside pytest_xai's checks") == 3
    assert "stopped early" not in page


def test_a_run_stopped_early_says_so(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SUITE)
    xai_pytester.runpytest("-x", "--xai-report=r.json").assert_outcomes(passed=1, failed=1)
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert (data["complete"], data["stopped"], data["exitstatus"]) == (False, "stopping after 1 failures", 1)
    assert data["failed"] == ["test_s.py::test_fails_before_explaining"]
    xai_pytester.runpytest("--maxfail=2", "--xai-report=r.html")
    page = (xai_pytester.path / "r.html").read_text()
    assert "<p class='stopped' role='alert'>The run stopped early (stopping after 2 failures)" in page


def test_without_the_terminal_the_counts_come_from_the_reports(xai_pytester: pytest.Pytester) -> None:
    """-p no:terminal: no terminal statistics; xfailed counts as skipped, xpassed as passed."""
    xai_pytester.makepyfile(test_s=SUITE)
    xai_pytester.runpytest("-p", "no:terminal", "--xai-report=r.json")
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert data["outcomes"] == {"failed": 2, "passed": 3, "skipped": 2, "error": 1}
    assert sorted(data["failed"]) == sorted(FAILED) and data["exitstatus"] == 1


XFAIL_GOLDENS = """
import pytest

@pytest.mark.xfail(reason="the model misreads this image: a known bug")
@pytest.mark.xai(samples=40, golden=True)
def test_known_bug(explain, shape_image):
    explain(shape_image)
    assert False, "the known bug"

@pytest.mark.xfail(reason="flaky elsewhere")
@pytest.mark.xai(samples=40)
def test_flaky(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))
    assert False, "flaky"
"""


def test_a_failed_golden_fails_an_xfail_test_and_the_exit_status_agrees(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x=XFAIL_GOLDENS)
    result = xai_pytester.runpytest("--xai-report=r.json")  # no goldens yet, and no --xai-update
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*xfail does not cover a golden's verdict*", "*goldens: 0 passed, 2 failed*"])
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert data["exitstatus"] == 1 and data["outcomes"] == {"failed": 2} and len(data["failed"]) == 2
    xai_pytester.runpytest("--xai-update").assert_outcomes(xfailed=2)  # written: the xfail is the test's own
    xai_pytester.runpytest().assert_outcomes(xfailed=2)
