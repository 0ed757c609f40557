"""Report files: an unusable path stops the run at start; a failed write fails the run."""

from __future__ import annotations

import json

import pytest


def test_an_unusable_report_path_stops_the_run_at_start(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x="def test_x():\n    pass\n")
    (xai_pytester.path / "taken.html").mkdir()
    (xai_pytester.path / "afile").write_text("")
    for path, message in [
        ("taken.html", "*--xai-report='taken.html' is an existing directory*"),
        ("afile/r.html", "*--xai-report='afile/r.html': its folder cannot be created*"),
        ("r.txt", "*--xai-report='r.txt' must end in .html or .json*"),
    ]:
        result = xai_pytester.runpytest(f"--xai-report={path}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])
        assert "passed" not in result.stdout.str()  # stopped before running anything
    xai_pytester.runpytest("--xai-report=new/sub/r.html").assert_outcomes(passed=1)
    assert (xai_pytester.path / "new/sub/r.html").is_file()  # a missing folder is created


def test_a_report_that_cannot_be_written_at_the_end_fails_the_run(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_r="""
import pathlib
import json

import pytest

@pytest.mark.xai(samples=60)
def test_r(explain, shape_image):
    explain(shape_image)
    pathlib.Path("r.json").mkdir()  # fine at start-up, a folder by the time the report is written
""")
    result = xai_pytester.runpytest("--xai-report=r.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["explanations: 1 computed*", "write failed: r.json: *"])


def test_html_and_json_reports_in_one_run(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x="def test_ok():\n    pass\n\ndef test_no():\n    assert False\n")
    result = xai_pytester.runpytest("--xai-report=out/run.html", "--xai-report=run.json")
    result.assert_outcomes(passed=1, failed=1)
    data = json.loads((xai_pytester.path / "run.json").read_text())
    assert data["failed"] == ["test_x.py::test_no"] and data["outcomes"] == {"failed": 1, "passed": 1}
    page = (xai_pytester.path / "out" / "run.html").read_text()
    assert page.startswith("<!doctype html>") and "test_x.py::test_no" in page.replace("<wbr>", "")


def test_every_report_path_is_checked_and_one_file_is_named_once(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x="def test_x():\n    pass\n")
    for args, message in [
        (["--xai-report=r.html", "--xai-report=r.txt"], "*--xai-report='r.txt' must end in .html or .json*"),
        (["--xai-report=r.json", "--xai-report=./r.json"],
         "*--xai-report='./r.json' names the same file as --xai-report='r.json'; give each report its own path*"),
    ]:
        result = xai_pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])
        assert not (xai_pytester.path / "r.html").exists() and not (xai_pytester.path / "r.json").exists()


def test_a_report_that_fails_names_no_file_and_the_json_agrees_with_the_exit_status(xai_pytester: pytest.Pytester) -> None:
    # the JSON is written first, then the HTML cannot be
    xai_pytester.makepyfile(test_r="""
import pathlib

import pytest

@pytest.mark.xai(samples=40)
def test_r(explain, shape_image):
    explain(shape_image)
    pathlib.Path("r.html").mkdir()  # the path was fine at start-up, not any more
""")
    result = xai_pytester.runpytest("--xai-report=r.json", "--xai-report=r.html")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["write failed: r.html: *", "report: r.json"])
    result.stdout.no_fnmatch_line("report: r.html")
    assert (xai_pytester.path / "r.html").is_dir()
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert data["exitstatus"] == 1 and [e["path"] for e in data["goldens"]["write_errors"]] == ["r.html"]


def test_a_report_path_that_is_a_link_is_written_through_it(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x="def test_x():\n    pass\n")
    (xai_pytester.path / "kept").mkdir()
    (xai_pytester.path / "r.json").symlink_to(xai_pytester.path / "kept" / "run.json")
    xai_pytester.runpytest("--xai-report=r.json").assert_outcomes(passed=1)
    assert (xai_pytester.path / "r.json").is_symlink()
    assert json.loads((xai_pytester.path / "kept" / "run.json").read_text())["outcomes"] == {"passed": 1}
