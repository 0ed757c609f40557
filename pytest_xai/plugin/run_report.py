"""The run as the report shows it, read from pytest's own account and the merged records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai.plugin.shards import run_info
from pytest_xai.records import TestRecord, WriteError
from pytest_xai.records.run import GoldenSummary, RunReport, Totals
from pytest_xai.report.words import FAILED, TERMINAL_ORDER, count_outcomes

if TYPE_CHECKING:
    import pytest

    from pytest_xai.plugin.goldens import GoldenLifecycle
    from pytest_xai.plugin.results import ResultsPlugin



def run_report(config: pytest.Config, results: ResultsPlugin, goldens: GoldenLifecycle) -> RunReport:
    """The ``RunReport``: pytest's account of the run (``exitstatus``, ``outcomes``, ``failed``,
    ``stopped``), whether it was ``complete``, CI mode, ``totals``, ``goldens`` and every test
    record with its ``outcome``; a failed test without a record gets an empty one."""
    xai = goldens.xai
    session = config.pluginmanager.get_plugin("session")
    exitstatus = None if session is None else int(session.exitstatus)
    counts, failed = _counts(config, results.outcomes)
    records = {**results.records, **{n: TestRecord(n) for n in failed if n not in results.records}}
    tests = []
    for nodeid, record in records.items():
        record.outcome = results.outcomes.get(nodeid, "error")  # collection errors: no outcome
        tests.append(record)
    errors = [WriteError(xai.rel(Path(e.path)), e.state, e.error) for e in goldens.write_errors]
    return RunReport(
        exitstatus=exitstatus,
        outcomes={key: n for key, n in counts.items() if n},
        failed=failed,
        stopped=_stop_reason(session, exitstatus),
        complete=goldens.complete,
        ci=xai.settings.ci,
        totals=Totals.of(list(results.records.values())),
        goldens=GoldenSummary.count(list(results.records.values()), [xai.rel(p) for p in goldens.unused], errors),
        tests=tests,
        run=run_info(xai, goldens),
        mutation=getattr(config.pluginmanager.get_plugin("xai-mutate"), "report", None),
    )


def _counts(config: pytest.Config, outcomes: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """Counts as the terminal summary line gives them, and the failed node ids; ``outcomes``
    (node id -> passed/failed/error/skipped) stands in for the terminal reporter's statistics
    when there is none (``-p no:terminal``)."""
    stats = getattr(config.pluginmanager.get_plugin("terminalreporter"), "stats", None)
    if stats is None:
        failed = [nodeid for nodeid, outcome in outcomes.items() if outcome in FAILED]
        return count_outcomes(outcomes.values()), failed
    counts = {key: len(_counted(stats[key])) for key in _terminal_keys(stats)}
    failed = list(dict.fromkeys(r.nodeid for key in FAILED for r in _counted(stats.get(key, []))))
    return counts, failed


def _counted(reports: list[Any]) -> list[Any]:
    return [r for r in reports if getattr(r, "count_towards_summary", True)]


def _terminal_keys(stats: dict[str, list[Any]]) -> list[str]:
    return [k for k in TERMINAL_ORDER if k in stats] + [k for k in stats if k and k not in TERMINAL_ORDER]


def _stop_reason(session: Any, exitstatus: int | None) -> str | None:
    """``-x`` / ``--maxfail`` ("stopping after 1 failures"), another plugin's stop, an interrupt."""
    reason = None if session is None else session.shouldfail or session.shouldstop
    if reason:
        return reason if isinstance(reason, str) else "the run was stopped"
    return "interrupted" if exitstatus == 2 else None  # pytest.ExitCode.INTERRUPTED
