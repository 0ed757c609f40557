"""Session state: settings, explanation caches, queued golden writes, merged records, summary."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_xai._atomic import remove_stale_temps
from pytest_xai._record import TestRecord, rel_path
from pytest_xai.cache import ExplanationCache
from pytest_xai.defaults import CACHE_DIR_NAME, GOLDEN_STATES
from pytest_xai.errors import SnapshotError
from pytest_xai.settings import Settings
from pytest_xai.snapshots import SnapshotStore, golden_test_name

_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


@dataclass
class Collection:
    """What was collected, per test module: enough to tell an unused golden from a deselected one."""

    modules: dict[str, dict[str, str]] = field(default_factory=dict)  # module -> {test name: nodeid}
    selected: set[str] = field(default_factory=set)  # nodeids that run
    restricted: set[str] = field(default_factory=set)  # modules collected only in part (node ids)

    def to_json(self) -> dict[str, Any]:
        return {"modules": self.modules, "selected": sorted(self.selected), "restricted": sorted(self.restricted)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Collection:
        return cls(dict(data["modules"]), set(data["selected"]), set(data["restricted"]))


@dataclass
class PendingWrite:
    """A golden a test asked to write at session end; ``state`` is "written" or "updated", or
    "preview" for a passing golden whose .png preview is missing (``explanation`` None)."""

    path: Path
    explanation: Any
    state: str


def _disk_cache(config: pytest.Config, settings: Settings) -> ExplanationCache | None:
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    if cache is None or settings.cache_mode == "off":
        return None
    return ExplanationCache(
        folder=lambda: cache.mkdir(CACHE_DIR_NAME),
        read=settings.cache_reads,
        write=settings.cache_writes,
        max_bytes=int(settings.cache_max_mb * 1024 * 1024),
    )


@dataclass
class XaiSession:
    """One pytest session's pytest_xai state, kept in ``config.stash``.

    ``memo`` holds this session's explanations (by content key, or by classifier object where
    its content cannot be known); ``disk`` is the persistent cache shared between runs.
    """

    config: pytest.Config
    settings: Settings
    store: SnapshotStore
    is_worker: bool
    disk: ExplanationCache | None = None
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    pending: list[PendingWrite] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)  # nodeids whose teardown was reported
    collection: Collection = field(default_factory=Collection)
    deselected: list[pytest.Item] = field(default_factory=list)
    collected_items: list[pytest.Item] = field(default_factory=list)  # before any plugin filtered them
    unused: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    write_errors: list[dict[str, str]] = field(default_factory=list)  # {"path", "state", "error"}
    warnings: list[str] = field(default_factory=list)
    complete: bool = False  # every selected test ran to its teardown, and nothing stopped the run
    usage_error: str | None = None  # found at collection; under xdist each test reports it

    @classmethod
    def from_config(cls, config: pytest.Config) -> XaiSession:
        settings = Settings.from_config(config)
        return cls(
            config=config,
            settings=settings,
            store=SnapshotStore(settings.snapshot_dir),
            is_worker=hasattr(config, "workerinput"),
            disk=_disk_cache(config, settings),
        )

    def rel(self, path: Path) -> str:
        return rel_path(path, self.config.rootpath)

    # -- collection -------------------------------------------------------------------------
    def collection_finished(self, session: pytest.Session) -> None:
        """Remember every collected test name per module and which ones were selected; stop
        when two test files would share one golden folder.

        A module counts as collected only in part (its owner-less goldens are never deleted)
        when the run names node ids (``file::test``, ``--pyargs pkg.mod::test``), when
        ``--lf`` drops the tests that passed last time without deselecting them, or when a
        plugin or conftest removed some of its items without reporting them deselected.
        """
        kept = [*session.items, *self.deselected]
        partial = any("::" in str(a) for a in self.config.args) or bool(self.config.getoption("lf", False))
        kept_ids = {item.nodeid for item in kept}
        dropped = {str(item.path) for item in self.collected_items if item.nodeid not in kept_ids}
        for item in kept:
            module = str(item.path)
            self.collection.modules.setdefault(module, {})[golden_test_name(item)] = item.nodeid
            if partial or module in dropped:
                self.collection.restricted.add(module)
        self.collection.selected = {item.nodeid for item in session.items}
        self.check_golden_folders()

    def check_golden_folders(self) -> None:
        """Two test files whose goldens land in one folder (same module name, shared
        ``xai_snapshot_dir``) would each delete the other's goldens as unused."""
        owners: dict[Path, str] = {}
        for module in sorted(self.collection.modules):
            folder = self.store.module_dir(Path(module)).resolve()
            other = owners.setdefault(folder, module)
            if other != module:
                self.usage_error = (
                    f"{self.rel(Path(other))} and {self.rel(Path(module))} keep their goldens in one "
                    f"folder, {self.rel(folder)} (same module name, xai_snapshot_dir="
                    f"{self.settings.snapshot_dir!r}); rename one of the test files, or set "
                    "xai_snapshot_dir to a folder beside each test file (the default __xai_snapshots__)"
                )
                if not self.is_worker:  # an xdist worker cannot stop the run: its tests error instead
                    raise pytest.UsageError(self.usage_error)
                return

    # -- records ------------------------------------------------------------------------------
    def add_report(self, report: pytest.TestReport) -> None:
        """Merge one phase's report: its outcome and, after the call, its xai record."""
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
        record = getattr(report, "xai_record", None)
        if record:
            self.records[report.nodeid] = record

    def golden_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(GOLDEN_STATES, 0)
        for record in self.records.values():
            for golden in record["goldens"]:
                counts[golden["state"]] += 1
        return counts

    def used_goldens(self) -> set[str]:
        return {g["path"] for r in self.records.values() for g in r["goldens"]}

    # -- golden writes ------------------------------------------------------------------------
    def queue_write(self, path: Path, explanation: Any, state: str) -> None:
        self.pending.append(PendingWrite(path, explanation, state))

    def flush_writes(self) -> None:
        """Write queued goldens atomically, each on its own: one failure never stops the others."""
        for write in self.pending:
            try:
                if write.explanation is None:
                    self.store.write_preview(write.path)
                else:
                    self.store.write(write.explanation, write.path)
            except Exception as e:  # any failure is reported and fails the run
                self.write_failed(write.path, write.state, e)
        self.pending.clear()

    def write_failed(self, path: Path, state: str, error: Exception) -> None:
        """Record a golden or report that could not be written (the run will fail on it)."""
        text = str(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
        self.write_errors.append({"path": str(path), "state": state, "error": text})

    def write_report(self, session: pytest.Session, path: Path) -> None:
        """Write the --xai-report file; one that cannot be written fails the run, never hides
        the summary."""
        from pytest_xai.report import write_report

        try:
            write_report(self.report_data(), path)
        except Exception as e:
            self.write_failed(path, "report", e)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def mark_failed_writes(self) -> None:
        """Goldens whose write failed are failures, not "written"/"updated" (records and counts)."""
        errors = {e["path"]: e for e in self.write_errors}
        for record in self.records.values():
            for golden in record["goldens"]:
                error = errors.get(golden["path"])
                if error is not None and golden["state"] in ("written", "updated"):
                    golden.update(state="failed", reason="write",
                                  message=f"could not write golden {self.rel(Path(error['path']))}: {error['error']}")

    # -- end of session -----------------------------------------------------------------------
    def session_finished(self, session: pytest.Session, exitstatus: int) -> None:
        """Controller-side end of session: clean up debris, find unused goldens, delete them
        only when the whole selected suite ran to completion, fail the run on write errors."""
        self.complete = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and all(
            nodeid in self.finished for nodeid in self.collection.selected
        )
        if self.settings.can_write and not self.config.getoption("collectonly"):
            self.remove_stale_temps()
        self.mark_failed_writes()
        self.find_unused()
        if self.settings.can_update and self.complete:
            self.delete_unused()
        if self.disk is not None and self.totals()["computed"]:
            self.disk.evict()
        if self.write_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def remove_stale_temps(self) -> None:
        """Delete temp files that killed writers left beside goldens (never a live writer's)."""
        for module in self.collection.modules:
            remove_stale_temps(self.store.module_dir(Path(module)))

    # -- unused goldens -----------------------------------------------------------------------
    def find_unused(self) -> list[Path]:
        """Goldens no selected test used, owned by no test or by a test that passed without them.

        Never a golden whose owner was deselected, skipped, failed, errored or interrupted, and
        never one in a module collected only in part, unless its owning test ran and passed.
        """
        used = self.used_goldens()
        unused = []
        for module, tests in self.collection.modules.items():
            for golden in self._golden_files(Path(module)):
                if str(golden) in used:
                    continue
                owner = self.store.owner(golden, list(tests))
                if owner is None:
                    whole = module not in self.collection.restricted
                    ran = whole and all(self._ran_clean(nodeid) for nodeid in tests.values())
                    if ran and not self._recorded_elsewhere(golden, Path(module)):
                        unused.append(golden)
                elif self._ran_clean(tests[owner]):
                    unused.append(golden)
        self.unused = unused + self._orphans()
        return self.unused

    def _orphans(self) -> list[Path]:
        """Goldens of test files that no longer exist (deleted or renamed), in the golden
        folders beside collected test files. Only where that folder belongs to one directory
        of tests (no ``..`` in ``xai_snapshot_dir``): a shared folder may hold the goldens of
        test files this run did not collect."""
        if ".." in Path(self.settings.snapshot_dir).parts:
            return []
        orphans = []
        for folder in sorted({Path(m).parent for m in self.collection.modules}):
            root = folder / self.settings.snapshot_dir
            for module_dir in sorted(root.iterdir()) if root.is_dir() else []:
                test_file = folder / (module_dir.name + ".py")
                owned = any(folder.glob(glob.escape(module_dir.name) + ".*"))  # test_x.py, a doctest .txt
                if module_dir.is_dir() and not owned:
                    orphans += [g for g in self._golden_files(test_file) if not self._recorded_elsewhere(g, None)]
        return orphans

    def _recorded_elsewhere(self, golden: Path, module: Path | None) -> bool:
        """Whether the golden names a test file that recorded it other than ``module`` and that
        still exists (a folder shared through ``xai_snapshot_dir``); unreadable goldens do not."""
        try:
            recorded = self.store.serializer.load(golden).meta.get("test_file")
        except (SnapshotError, OSError, ValueError):  # an unreadable golden names no owner
            return False
        if not isinstance(recorded, str):
            return False
        here = None if module is None else Path(rel_path(module, self.config.rootpath)).as_posix()
        return recorded != here and (self.config.rootpath / recorded).exists()

    def _golden_files(self, module: Path) -> list[Path]:
        files = []
        for path in self.store.goldens(module):
            if path.is_file():
                files.append(path)
            else:  # e.g. a folder named like a golden: never deleted, never read
                self.warnings.append(f"{self.rel(path)} is not a file; skipped (remove or rename it)")
        return files

    def _ran_clean(self, nodeid: str) -> bool:
        return (
            nodeid in self.collection.selected
            and nodeid in self.finished
            and self.outcomes.get(nodeid) == "passed"
        )

    def delete_unused(self) -> None:
        for golden in self.unused:
            self.store.delete(golden)
            self.deleted.append(golden)

    # -- summary ------------------------------------------------------------------------------
    def totals(self) -> dict[str, float]:
        """Explanations computed, from this session's memo (cached), from the disk cache, and
        seconds spent computing."""
        return {
            key: sum(r.get(key, 0) for r in self.records.values())
            for key in ("computed", "cached", "disk", "stale", "seconds")
        }

    def summary_lines(self) -> list[str]:
        totals = self.totals()
        counts = self.golden_counts()
        lines = [
            f"explanations: {int(totals['computed'])} computed, {int(totals['cached'])} from cache, "
            f"{int(totals['disk'])} from disk cache, {totals['seconds']:.1f} s explaining",
            "goldens: " + ", ".join(f"{counts[s]} {s}" for s in GOLDEN_STATES)
            + f", {len(self.unused)} unused" + (f" ({len(self.deleted)} deleted)" if self.deleted else ""),
        ]
        lines += [f"  unused: {self.rel(g)}" + (" (deleted)" if g in self.deleted else "") for g in self.unused]
        lines += self._advice(counts)
        lines += [f"warning: {w}" for w in self.warnings]
        if totals["stale"]:
            kept = "; in read mode they stay stale on disk (run once with --xai-cache=on or --cache-clear)"
            lines.append(
                f"warning: {int(totals['stale'])} cached explanation(s) were stale and recomputed: the "
                "model's output on the image changed while its fingerprint did not (edited code, a "
                "setting its preprocess reads, or weights changed in place)"
                + (kept if self.disk is not None and not self.disk.write else "")
            )
        if self.disk is not None and self.disk.errors:
            more = len(self.disk.errors) - 1
            lines.append(f"warning: explanation cache: {self.disk.errors[0]}" + (f" (and {more} more)" if more else ""))
        lines += [f"write failed: {self.rel(Path(e['path']))}: {e['error']}" for e in self.write_errors]
        if self.settings.report is not None:
            lines.append(f"report: {self.settings.report}")
        return lines

    def _advice(self, counts: dict[str, int]) -> list[str]:
        s = self.settings
        if s.ci:
            done = "--xai-update ignored, nothing was written or deleted" if s.update is not None else "goldens are read-only"
            return [f"CI mode ({s.ci_reason}): {done}"]
        if s.can_update and self.unused and not self.complete:
            return ["unused goldens kept: the run did not complete (interrupted, stopped early, or a test "
                    "did not finish); rerun the full suite with --xai-update to delete them"]
        if counts["failed"]:
            return ["to accept the new explanations: pytest --xai-update (review the .png previews)"]
        if self.unused and s.update is None:
            return ["to delete unused goldens: pytest --xai-update on a full run"]
        return []

    def report_data(self) -> dict[str, Any]:
        """What the HTML/JSON report shows (its fields: pytest_xai.report's docstring): the
        run as pytest counts it (``outcomes``, ``exitstatus``, ``failed``, ``stopped``),
        ``totals``, ``goldens``, ``ci``, ``complete`` and ``tests``: each test's record with its
        ``outcome``, and a row without checks for each failed test that has no record."""
        from pytest_xai.report import SCHEMA, run_summary

        run = run_summary(self.config, self.outcomes)
        bare = {  # the record of a test that recorded nothing: every list empty, every count 0
            nodeid: TestRecord(nodeid, self.settings.results_dir).to_json()
            for nodeid in run["failed"] if nodeid not in self.records
        }
        return {
            "schema": SCHEMA,
            **run,
            "complete": self.complete,
            "ci": self.settings.ci,
            "totals": self.totals(),
            "goldens": {
                **self.golden_counts(),
                "unused": [self.rel(p) for p in self.unused],
                "write_errors": [{**e, "path": self.rel(Path(e["path"]))} for e in self.write_errors],
            },
            "tests": [
                {**record, "outcome": self.outcomes.get(nodeid, "error")}  # collection errors: no outcome
                for nodeid, record in {**self.records, **bare}.items()
            ],
        }
