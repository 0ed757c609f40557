"""Every test's outcome and record, merged in the controlling process (xdist workers' too)."""

from __future__ import annotations

import pytest

from pytest_xai.plugin.session import XaiSession
from pytest_xai.records import TestRecord

_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


class ResultsPlugin:
    """Receives every test report in the controlling process (registered as "xai-results")."""

    def __init__(self, xai: XaiSession) -> None:
        self.xai = xai
        self.records: dict[str, TestRecord] = {}
        self.outcomes: dict[str, str] = {}
        self.finished: set[str] = set()  # nodeids whose teardown was reported

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Merge one phase's report: its outcome and, after the teardown, its xai record."""
        if self.xai.is_worker:
            return
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "passed"
        previous = self.outcomes.get(report.nodeid, "passed")
        self.outcomes[report.nodeid] = max(previous, outcome, key=_RANK.__getitem__)
        if report.when == "teardown":
            self.finished.add(report.nodeid)
        data = getattr(report, "xai_record", None)
        if data:
            self.records[report.nodeid] = TestRecord.from_json(data)

    def used_goldens(self) -> set[str]:
        return {g.path for r in self.records.values() for g in r.goldens}

    def ran_clean(self, nodeid: str, selected: set[str]) -> bool:
        """Whether the test was selected, ran to its teardown and passed."""
        return nodeid in selected and nodeid in self.finished and self.outcomes.get(nodeid) == "passed"
