"""Every test's outcome and record, merged in the controlling process (xdist workers' too),
and the results folders of tests that no longer exist."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_xai._util.paths import safe_name
from pytest_xai.plugin.collection import CollectionPlugin
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


PICTURE = re.compile(r"[^/\\]+\.png")  # what the plugin writes in a test's results folder
TEST_FOLDER = re.compile(r".*\.py_.+")  # safe_name("path/test_x.py::test_y")


class StaleResults:
    """Removes the ``--xai-results`` folders of tests that no longer exist (registered as
    "xai-stale-results").

    Only after a complete run of the whole suite (no paths or node ids named, no ``--lf``,
    nothing dropped unreported, every module collected, every selected test ran to its teardown), only folders directly
    inside the results folder, named as a Python test's folder, and holding nothing but
    pictures: a mistyped ``--xai-results`` that names a project folder deletes nothing else.
    """

    def __init__(self, xai: XaiSession, collected: CollectionPlugin, complete: Callable[[], bool]) -> None:
        self.xai = xai
        self.collected = collected
        self.complete = complete
        self.removed: list[Path] = []
        self.collection_failed = False  # a module that did not collect: its tests are unknown

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True

    def full_run(self, session: pytest.Session) -> bool:
        config = session.config
        return (
            not self.xai.is_worker
            and config.args_source != pytest.Config.ArgsSource.ARGS
            and not config.getoption("collectonly")
            and not self.collection_failed
            and not self.collected.collection.restricted
            and bool(self.collected.collection.modules)
            and self.complete()
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.full_run(session):
            tests = self.collected.collection.modules.values()
            known = {safe_name(nodeid) for names in tests for nodeid in names.values()}
            self.removed = remove_stale_results(self.xai.settings.results_dir, known)


def remove_stale_results(folder: Path, known: set[str]) -> list[Path]:
    """Delete the folders directly in ``folder`` not named in ``known``, named as a test's,
    that hold only pictures (no symlink followed, nothing else touched); returns them."""
    removed: list[Path] = []
    try:
        children = [
            c for c in folder.iterdir()
            if c.name not in known and TEST_FOLDER.fullmatch(c.name) and c.is_dir() and not c.is_symlink()
        ]
    except OSError:
        return removed
    for child in children:
        try:
            entries = list(child.iterdir())
            ours = bool(entries) and all(
                PICTURE.fullmatch(e.name) and e.is_file() and not e.is_symlink() for e in entries
            )
            if ours:
                for entry in entries:
                    entry.unlink()
                child.rmdir()
                removed.append(child)
        except OSError:  # a folder that cannot be cleaned is left as it is
            continue
    return removed
