"""A golden's life after the comparison: queued writes flushed at session end, unused and
orphaned goldens found (and deleted on a complete ``--xai-update`` run), stale temp files of
killed writers removed. One plugin object, registered in ``pytest_configure`` (syrupy's
``SnapshotReport``; pytest's ``LFPlugin``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai._util.atomic import remove_stale_temps
from pytest_xai.goldens.usage import RunView, unused_goldens
from pytest_xai.records import WriteError

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation
    from pytest_xai.plugin.collection import CollectionPlugin
    from pytest_xai.plugin.results import ResultsPlugin
    from pytest_xai.plugin.session import XaiSession


@dataclass
class PendingWrite:
    """A golden a test asked to write at session end; ``state`` is "written" or "updated", or
    "preview" for a passing golden whose .png preview is missing (``explanation`` None)."""

    path: Path
    explanation: Explanation | None
    state: str


class GoldenLifecycle:
    """Writes, unused goldens and debris (registered as "xai-goldens")."""

    def __init__(self, xai: XaiSession, collected: CollectionPlugin, results: ResultsPlugin) -> None:
        self.xai = xai
        self.collected = collected
        self.results = results
        self.pending: list[PendingWrite] = []
        self.write_errors: list[WriteError] = []
        self.unused: list[Path] = []
        self.deleted: list[Path] = []
        self.warnings: list[str] = []
        self.written: set[str] = set()  # goldens whose write went through, xdist workers' included
        self.complete = False  # every selected test ran to its teardown, and nothing stopped the run

    # -- writes ---------------------------------------------------------------------------------
    def queue_write(self, path: Path, explanation: Explanation | None, state: str) -> None:
        self.pending.append(PendingWrite(path, explanation, state))

    def flush_writes(self) -> None:
        """Write queued goldens atomically, each on its own: one failure never stops the others."""
        store = self.xai.store
        for write in self.pending:
            try:
                if write.explanation is None:
                    store.write_preview(write.path)
                else:
                    store.write(write.explanation, write.path)
                    self.written.add(str(write.path))
            except Exception as e:  # any failure is reported and fails the run
                self.write_failed(write.path, write.state, e)
        self.pending.clear()

    def write_failed(self, path: Path, state: str, error: Exception) -> None:
        """Record a golden or report that could not be written (the run will fail on it)."""
        text = str(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
        self.write_errors.append(WriteError(str(path), state, text))

    def mark_failed_writes(self) -> None:
        """Goldens whose write failed are failures, not "written"/"updated" (records and counts),
        and so is one queued by a process that ended before writing it (a crashed xdist worker)."""
        errors = {e.path: e for e in self.write_errors}
        for record in self.results.records.values():
            for golden in record.goldens:
                if golden.state in ("written", "updated") and golden.path not in self.written | set(errors):
                    lost = RuntimeError("the process that queued it ended before writing it (a crashed xdist worker?)")
                    self.write_failed(Path(golden.path), golden.state, lost)
                    errors[golden.path] = self.write_errors[-1]
                error = errors.get(golden.path)
                if error is not None and golden.state in ("written", "updated"):
                    golden.state, golden.reason = "failed", "write"
                    golden.message = f"could not write golden {self.xai.rel(Path(error.path))}: {error.error}"

    # -- hooks ----------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Flush the writes; in the controller, clean up debris, find unused goldens, delete
        them only when the whole selected suite ran to completion, fail the run on write errors."""
        self.flush_writes()
        if self.xai.is_worker:
            output = session.config.workeroutput  # type: ignore[attr-defined]
            output["xai_write_errors"] = [e.to_json() for e in self.write_errors]
            output["xai_written"] = sorted(self.written)
            return
        collection, settings = self.collected.collection, self.xai.settings
        self.complete = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and self.run_view().complete
        if settings.write_policy.can_write and not session.config.getoption("collectonly"):
            for module in collection.modules:  # temp files killed writers left beside goldens
                folder = self.xai.store.module_dir(Path(module))
                self.tolerate(partial(remove_stale_temps, folder), folder, "clean temp files in")
        self.mark_failed_writes()
        self.tolerate(self.find_unused, None, "look for unused goldens in")
        if settings.write_policy.can_update and self.complete:
            for golden in self.unused:
                self.tolerate(partial(self.xai.store.delete, golden), golden, "delete unused golden")
                if not golden.exists():
                    self.deleted.append(golden)
        if self.write_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def tolerate(self, action: Callable[[], object], path: Path | None, what: str) -> None:
        """Run one clean-up step; a file-system error is a warning in the summary, so the
        summary and the report are still written."""
        try:
            action()
        except OSError as e:
            where = self.xai.rel(Path(e.filename)) if e.filename else (self.xai.rel(path) if path else "the golden folders")
            self.warnings.append(f"could not {what} {where}: {e.strerror or e}; kept (check its permissions)")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: a worker's failed and completed golden writes (a crashed worker sends none)."""
        output = getattr(node, "workeroutput", {})
        for e in output.get("xai_write_errors", []):
            self.write_errors.append(WriteError.from_json(e))
        self.written.update(output.get("xai_written", []))

    # -- unused goldens -------------------------------------------------------------------------
    def run_view(self) -> RunView:
        """This run as the golden rules in ``goldens.usage`` see it."""
        collection, results = self.collected.collection, self.results
        return RunView(
            modules=collection.modules, selected=frozenset(collection.selected),
            rootdir=self.xai.config.rootpath, restricted=frozenset(collection.restricted),
            outcomes=results.outcomes,
            finished=frozenset(results.finished), used=frozenset(results.used_goldens()),
        )

    def find_unused(self) -> list[Path]:
        """Goldens no selected test used (``goldens.usage.unused_goldens``)."""
        found = unused_goldens(self.xai.store, self.run_view(), self.xai.settings.snapshot_dir)
        self.warnings += found.warnings
        self.unused = found.goldens
        return self.unused
