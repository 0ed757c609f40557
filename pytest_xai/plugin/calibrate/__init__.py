"""``pytest --xai-calibrate``: measure every check across seeds and models, suggest bounds.

The run itself is the first pass (the configured seed and model). After it, each item runs
again in-process (``runtestprotocol(item, log=False)``) at the other seeds, and once against
``--xai-calibrate-with=SPEC`` when given. Each pass's checks come from the test records the
assertions write before they raise, so a failing check is measured like a passing one. The
terminal summary and a JSON file list, per check, the values observed and a suggested bound
(``pytest_xai.plugin.calibrate.rule``). Test failures do not fail a calibration run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

from pytest_xai._util.atomic import atomic_path
from pytest_xai._util.jsonable import JSON
from pytest_xai.checks.recorder import Recorder, recording
from pytest_xai.plugin.calibrate.rule import MARGIN_FACTOR, CalibratedCheck
from pytest_xai.plugin.parse import CalibrationOptions
from pytest_xai.plugin.session import XaiSession
from pytest_xai.records import TestRecord

DEFAULT_PATH = ".xai-calibration.json"


class CalibratePlugin:
    """Collects each pass's checks and outcomes, runs the extra passes, writes the result."""

    def __init__(self, xai: XaiSession, recorder_key: Any, path: Path, other: str | None, seeds: int) -> None:
        self.xai, self.recorder_key, self.path, self.other = xai, recorder_key, path, other
        first = xai.settings.seed if xai.settings.seed is not None else 0
        self.seeds = [first + k for k in range(seeds)]
        self.label = f"seed {first}"
        self.checks: dict[tuple[Any, ...], CalibratedCheck] = {}
        self.outcomes: dict[str, dict[str, str]] = {}
        self.write_error: str | None = None  # why the JSON could not be written

    def passes(self) -> list[tuple[str, JSON]]:
        """The extra passes: (label, settings changes)."""
        out: list[tuple[str, JSON]] = [(f"seed {s}", {"seed": s}) for s in self.seeds[1:]]
        if self.other:
            out.append((f"{self.other} seed {self.seeds[0]}", {"seed": self.seeds[0], "model": self.other}))
        return out

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.take(self.label, [report])

    def take(self, label: str, reports: list[Any]) -> None:
        """Add one test's reports from the pass ``label``: its outcome and its record's checks."""
        outcomes = self.outcomes.setdefault(label, {})
        for report in reports:
            if report.failed or report.nodeid not in outcomes:
                outcomes[report.nodeid] = "error" if report.failed and report.when != "call" else report.outcome
            data = getattr(report, "xai_record", None)
            if report.when == "teardown" and data:
                self.observe(label, TestRecord.from_json(data))

    def observe(self, label: str, record: TestRecord) -> None:
        """Each check and golden comparison of ``record`` as a value seen in pass ``label``."""
        seen: dict[tuple[Any, ...], int] = {}
        rows = [
            (c.kind, c.metric, c.upper, c.bound, c.region, c.method or c.other_method, c.image, c.value)
            for c in record.checks
        ]
        for g in record.goldens:
            for bound_name, bound in g.bounds.items():
                metric = bound_name.split("_", 1)[1]
                rows.append(("golden", metric, bound_name.startswith("max_"), bound, g.name, None, None, g.measures.get(metric)))
        for kind, metric, upper, bound, region, method, image, value in rows:
            key = (record.nodeid, kind, metric, region, method, image)
            seen[key] = seen.get(key, 0) + 1
            full = (*key, seen[key])
            check = self.checks.setdefault(full, CalibratedCheck(
                record.nodeid, kind, metric, upper, bound, region=region, method=method, image=image
            ))
            check.observed[label] = value

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        result = yield
        original = self.xai.settings
        try:
            for label, changes in self.passes():
                self.xai.settings = replace(original, **changes)
                self.rerun(label, session.items)
        finally:
            self.xai.settings = original
        for check in self.checks.values():
            check.settle()
        try:  # the measurements are printed whatever happens; a failed write fails the run
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        except OSError as e:
            self.write_error = str(e)
        return result

    def rerun(self, label: str, items: list[pytest.Item]) -> None:
        """Every item once more under the current settings, its reports kept, not logged."""
        for i, item in enumerate(items):
            nextitem = items[i + 1] if i + 1 < len(items) else None
            recorder = Recorder(TestRecord(item.nodeid), self.xai.settings.results_dir, pictures=False)
            item.stash[self.recorder_key] = recorder
            with recording(recorder):
                reports = runtestprotocol(item, log=False, nextitem=nextitem)
            self.take(label, reports)

    def to_json(self) -> JSON:
        """The calibration as written to the JSON file."""
        return {
            "passes": [self.label, *(label for label, _ in self.passes())],
            "margin_factor": MARGIN_FACTOR,
            "checks": [vars(c) for c in self.checks.values()],
            "outcomes": self.outcomes,
        }

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED:  # calibration measures, it does not judge
            session.exitstatus = pytest.ExitCode.OK
        if self.write_error is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from pytest_xai.plugin.calibrate.section import summary_lines

        terminalreporter.write_sep("=", "xai calibration")
        lines = summary_lines(self.checks.values(), self.outcomes, self.xai.rel(self.path))
        if self.write_error is not None:
            lines[-1] = f"write failed: {self.xai.rel(self.path)}: {self.write_error}; the measurements above were not saved"
        for line in lines:
            failed = self.write_error is not None and line is lines[-1]
            terminalreporter.write_line(line, red=failed, yellow=not failed and "WARNING" in line)


def calibrate_plugin(xai: XaiSession, recorder_key: Any, options: CalibrationOptions) -> CalibratePlugin:
    """The plugin for ``--xai-calibrate[=PATH]`` (its options checked at start-up)."""
    return CalibratePlugin(xai, recorder_key, options.path, options.with_spec, options.seeds)
