"""The report's roll-up and its failure groups, on a 100-failure run whose answers are known
by construction (tests/report_samples.py: ``watermark_run``)."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from report_samples import watermark_run

from pytest_xai.records import ExplanationEntry, GoldenVerdict, TestRecord
from pytest_xai.records.run import RunReport
from pytest_xai.report.html import render_html
from pytest_xai.report.markup import nodeid_html
from pytest_xai.report.overview import table_note
from pytest_xai.report.rollup import check_groups, failure_groups, golden_groups, golden_method


@pytest.fixture(scope="module")
def run() -> RunReport:
    return RunReport.from_json(watermark_run())


def test_each_check_is_counted_per_kind_subject_and_method(run: RunReport) -> None:
    groups = {(g.title, g.method): g for g in check_groups(run.tests)}
    assert len(groups) == 7
    for method in ("lime", "kernel_shap"):
        tag = groups[("avoid: mass on 'tag'", method)]
        assert (tag.failed, tag.total, len(tag.failed_images), len(tag.images)) == (12, 12, 12, 12)
    assert groups[("avoid: mass on 'tag'", "gradient_shap")].failed == 0
    focus = groups[("focus: mass on 'object'", "kernel_shap")]
    assert (focus.failed, focus.total) == (4, 12)
    assert list(focus.failed_images.values()) == [f"shape{i:04d}.png" for i in range(4)]
    assert groups[("agree: Spearman lime vs kernel_shap", "lime")].failed == 12
    assert groups[("focus: ratio on 'object'", "gradient_shap")].failed == 12
    # the most failed first, the passing check last
    assert [g.failed for g in check_groups(run.tests)] == [12, 12, 12, 12, 12, 4, 0]


def test_goldens_are_counted_per_state_reason_and_method(run: RunReport) -> None:
    groups = [(g.title, g.method, len(g.tests)) for g in golden_groups(run.tests)]
    assert sorted(groups) == [("failed (drift)", m, 12) for m in ("gradient_shap", "kernel_shap", "lime")]


def test_a_golden_without_a_method_takes_its_tests_only_method() -> None:
    golden = GoldenVerdict("g.npz", "g", "failed", "drift", "release")

    def entry(method: str) -> ExplanationEntry:
        return ExplanationEntry("img", method, "logit", "circle", 0.9, 100)

    assert golden_method(golden, TestRecord("t", [entry("lime"), entry("lime")])) == "lime"
    assert golden_method(golden, TestRecord("t", [entry("lime"), entry("kernel_shap")])) is None  # which?
    assert golden_method(golden, TestRecord("t")) is None
    named = GoldenVerdict("g.npz", "g", "passed", None, "release", method="gradient_shap")
    assert golden_method(named, TestRecord("t", [entry("lime")])) == "gradient_shap"


def test_100_failures_make_9_groups_that_hold_each_failed_test_once(run: RunReport) -> None:
    tests = run.tests
    reviewed = [i for i, t in enumerate(tests) if t.outcome == "failed"]
    groups = failure_groups(tests, reviewed)
    assert len(reviewed) == 100 and len(groups) == 9
    assert sorted(i for g in groups for i in g.tests) == reviewed
    sizes = sorted((len(g.tests), "; ".join(g.what)) for g in groups)
    assert sizes[0] == (4, "focus: mass on 'object' (kernel_shap)")
    assert (12, "golden failed (drift), lime") in sizes
    assert all(n == 12 for n, _ in sizes[1:])


def test_the_page_shows_the_rollup_groups_and_the_table_note(run: RunReport) -> None:
    page = render_html(run)
    text = html.unescape(page)
    assert text.index("<h2 id='rollup'>") < text.index("<table id='tests'>")  # the roll-up comes first
    assert re.search(r"<td>avoid: mass on 'tag'</td><td>lime</td><td class='bad count'>12/12</td>"
                     r"<td><b>12/12 images</b>", text)
    assert "<td>failed (drift)</td><td>kernel_shap</td><td class='bad count'>12</td>" in text
    counts = [int(n) for n in re.findall(r"<div class='group' id='g\d+' data-count='(\d+)'>", page)]
    assert sorted(counts) == [4] + [12] * 8  # every group of 3 or more is one card
    assert len(re.findall(r"<section id='f\d+'", page)) == 100  # each failure still has its section
    assert page.count("<details class='more'>") == 9
    assert "href='#images'>each image (12)</a>" in page  # the per-image view, linked from the top
    assert ("132 tests: 120 with explanations, checks or goldens (or a failure) are in the table; 12 "
            "without any") in text
    assert "kernel_shap failed (drift): shift 0.31 &gt; 0.12" in page  # golden cells name the method
    assert "kernel_shap golden <code>" in page


def test_the_table_note_when_every_test_has_a_row() -> None:
    report = RunReport.from_json(watermark_run())
    report.outcomes = {"failed": 100, "passed": 20, "deselected": 7, "warnings": 2}
    assert table_note(report, report.tests) == "120 tests, all in the table."


def test_goldens_not_compared_show_in_the_header_and_the_rollup(run: RunReport) -> None:
    report = RunReport.from_json(watermark_run())
    report.not_compared = [SimpleNamespace(path=f"g{i}.npz", nodeid="t", outcome=o, reason="r")  # type: ignore[attr-defined]
                           for i, o in enumerate(["failed", "failed", "skipped"])]
    page = render_html(report)
    assert "0 unused, 3 not compared" in page
    assert "<td>not compared (test failed)</td><td>-</td><td class='bad count'>2</td>" in page
    assert "<td>not compared (test skipped)</td><td>-</td><td class='bad count'>1</td>" in page


@pytest.mark.parametrize(("nodeid", "pieces"), [
    ("tests/test_a.py::test_b[x-y]", ["tests/", "test_a.py::", "test_b[", "x-", "y]"]),
    ("t.py::C::test[<a>]", ["t.py::", "C::", "test[", "&lt;a&gt;]"]),
    ("plain", ["plain"]),
])
def test_ids_may_break_only_after_their_separators(nodeid: str, pieces: list[str]) -> None:
    assert nodeid_html(nodeid).split("<wbr>") == pieces + ([""] if nodeid_html(nodeid).endswith("<wbr>") else [])
