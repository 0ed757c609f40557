"""The top of the report page, read first: the run in cards, what the table leaves out, links
to each part of the page, and the roll-up of every check and golden across the run."""

from __future__ import annotations

from typing import Any

from pytest_xai.defaults import GOLDEN_STATES
from pytest_xai.records import TestRecord
from pytest_xai.records.run import RunReport
from pytest_xai.report.markup import anchor, esc
from pytest_xai.report.rollup import (
    CheckGroup,
    FailureGroup,
    GoldenGroup,
    check_groups,
    golden_groups,
)
from pytest_xai.report.words import FAILED, count_outcomes, terminal_line

NOT_RUN = ("deselected", "warnings")  # counts on pytest's summary line that are not tests run
SHOWN_IMAGES = 4  # image links per roll-up row; the rest are counted
SHOWN_ROWS = 12  # roll-up rows before "more"


def top(report: RunReport, tests: list[TestRecord], failures: list[FailureGroup], images: dict[str, str]) -> str:
    """Cards, the note on tests left out of the table, the page's links, the roll-up."""
    return (_stopped(report) + _cards(report, tests) + _table_note(report, tests)
            + _nav(report, tests, failures, images) + rollup(report, tests))


def _card(title: str, value: str, detail: str, bad: bool = False) -> str:
    return (f"<div class='card{' bad' if bad else ''}'><i>{esc(title)}</i><b>{esc(value)}</b>"
            f"<span>{esc(detail)}</span></div>")


def _outcomes(report: RunReport, tests: list[TestRecord]) -> dict[str, int]:
    return report.outcomes or count_outcomes(t.outcome or "unknown" for t in tests)


def _cards(report: RunReport, tests: list[TestRecord]) -> str:
    """The run's outcomes as pytest counts them, goldens by state, explanations computed /
    cached, time."""
    counts, status = _outcomes(report, tests), report.exitstatus
    bad = any(counts.get(o) for o in FAILED) or status not in (0, None)
    goldens, totals = report.goldens.counts, report.totals
    states = [f"{goldens.get(s, 0)} {s}" for s in GOLDEN_STATES if goldens.get(s) or s in ("passed", "failed")]
    not_compared = list(getattr(report, "not_compared", None) or [])
    detail = f"{len(report.goldens.unused)} unused" + (f", {len(not_compared)} not compared" if not_compared else "")
    return "<div class='cards'>" + "".join([
        _card("tests", terminal_line(counts), f"exit status {status}" if status is not None else "", bad=bad),
        _card("goldens", ", ".join(states), detail, bad=bool(goldens.get("failed") or not_compared)),
        _card("explanations", f"{int(totals.computed)} computed, {totals.cached + totals.disk} cached",
              f"from cache: {totals.cached} this session, {totals.disk} from disk"),
        _card("time", f"{float(totals.seconds):.1f} s", "spent explaining"),
        *([_card("mode", "CI", "goldens read-only")] if report.ci else []),
    ]) + "</div>"


def _stopped(report: RunReport) -> str:
    """A warning when the run did not run every selected test (-x, --maxfail, an interrupt)."""
    if not report.stopped and report.complete is not False:
        return ""
    why = f"The run stopped early ({report.stopped})" if report.stopped else "The run did not complete"
    return (f"<p class='stopped' role='alert'>{esc(why)}: not every selected test ran, so this report "
            "covers only the tests that did; unused goldens were kept.</p>")


def table_note(report: RunReport, tests: list[TestRecord]) -> str:
    """Why the table holds fewer rows than the run has tests, in words ("" when it does not)."""
    ran = sum(n for key, n in _outcomes(report, tests).items() if key not in NOT_RUN)
    left = ran - len(tests)
    if left <= 0:
        return f"{len(tests)} tests, all in the table."
    return (f"{ran} tests: {len(tests)} with explanations, checks or goldens (or a failure) are in the "
            f"table; {left} without any (e.g. tests of predictions alone) passed or were skipped "
            "and are not listed.")


def _table_note(report: RunReport, tests: list[TestRecord]) -> str:
    return f"<p class='note' id='table-note'>{esc(table_note(report, tests))}</p>"


def _nav(report: RunReport, tests: list[TestRecord], failures: list[FailureGroup], images: dict[str, str]) -> str:
    """Links to each part of the page."""
    reviewed = sum(len(g.tests) for g in failures)
    links = [("rollup", "roll-up"), ("tests", f"tests ({len(tests)})")]
    if failures:
        links.append(("failures", f"failures and changed goldens ({reviewed} tests in {len(failures)} "
                                  f"group{'s' if len(failures) != 1 else ''})"))
    if images:
        links.append(("images", f"each image ({len(images)})"))
    if report.goldens.unused:
        links.append(("unused", f"unused goldens ({len(report.goldens.unused)})"))
    return "<nav id='toc'>" + " · ".join(f"<a href='#{key}'>{esc(text)}</a>" for key, text in links) + "</nav>"


def rollup(report: RunReport, tests: list[TestRecord]) -> str:
    """Two tables: each check (kind, subject, method) with failed / total and the images it
    failed on; each golden state with its reason and method."""
    checks, goldens = check_groups(tests), golden_groups(tests)
    not_compared = list(getattr(report, "not_compared", None) or [])
    if not (checks or goldens or not_compared):
        return ""
    return ("<h2 id='rollup'>Roll-up</h2><div class='rollup'>"
            + _check_table(checks) + _golden_table(goldens, not_compared) + "</div>")


def _rows(rows: list[str], head: str) -> str:
    more = ""
    if len(rows) > SHOWN_ROWS:
        more = (f"<details><summary>{len(rows) - SHOWN_ROWS} more</summary><table>{head}"
                f"{''.join(rows[SHOWN_ROWS:])}</table></details>")
    return f"<div><table>{head}{''.join(rows[:SHOWN_ROWS])}</table>{more}</div>"


def _check_table(groups: list[CheckGroup]) -> str:
    if not groups:
        return ""
    head = "<tr><th>check</th><th>method</th><th>failed / checked</th><th>failed on images</th></tr>"
    return _rows([_check_row(g) for g in groups], head)


def _check_row(group: CheckGroup) -> str:
    failed = group.failed > 0
    first = f" · <a href='#f{group.tests[0]}'>first failure</a>" if group.tests else ""
    images = f"{len(group.images)} images, all passed" if group.images else "-"
    if group.images and failed:
        shown = [f"<a href='#img-{anchor(k)}'>{esc(v)}</a>" for k, v in list(group.failed_images.items())[:SHOWN_IMAGES]]
        rest = len(group.failed_images) - len(shown)
        images = (f"<b>{len(group.failed_images)}/{len(group.images)} images</b>" + (": " if shown else "")
                  + ", ".join(shown) + (f" and {rest} more" if rest > 0 else ""))
    return (f"<tr class='{'bad-row' if failed else 'ok-row'}'><td>{esc(group.title)}</td><td>{esc(group.method or '-')}</td>"
            f"<td class='{'bad' if failed else 'ok'} count'>{group.failed}/{group.total}</td><td>{images}{first}</td></tr>")


def _golden_table(groups: list[GoldenGroup], not_compared: list[Any]) -> str:
    if not (groups or not_compared):
        return ""
    head = "<tr><th>golden</th><th>method</th><th>goldens</th><th>tests</th></tr>"
    rows = [
        f"<tr class='{'bad-row' if g.state == 'failed' else 'ok-row'}'><td>{esc(g.title)}</td>"
        f"<td>{esc(g.method or '-')}</td><td class='{'bad' if g.state == 'failed' else ''} count'>{len(g.tests)}</td>"
        f"<td><a href='#{'f' if g.state in ('failed', 'updated') else 't'}{g.tests[0]}'>first</a></td></tr>"
        for g in groups
    ]
    outcomes = count_outcomes(str(getattr(n, "outcome", "")) for n in not_compared)
    rows += [f"<tr class='bad-row'><td>not compared (test {esc(o)})</td><td>-</td><td class='bad count'>{n}</td>"
             "<td>-</td></tr>" for o, n in outcomes.items()]
    return _rows(rows, head)
