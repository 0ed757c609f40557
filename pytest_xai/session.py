"""Session state: settings, explanation cache, queued golden writes, merged records, summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_xai._atomic import remove_stale_temps
from pytest_xai.settings import Settings
from pytest_xai.snapshots import SnapshotStore

GOLDEN_STATES = ("passed", "failed", "written", "updated")


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
    path: Path
    explanation: Any
    state: str  # "written" or "updated"


@dataclass
class XaiSession:
    """One pytest session's pytest_xai state, kept in ``config.stash``."""

    config: pytest.Config
    settings: Settings
    store: SnapshotStore
    is_worker: bool
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    pending: list[PendingWrite] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    collection: Collection = field(default_factory=Collection)
    deselected: list[pytest.Item] = field(default_factory=list)
    unused: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    write_errors: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: pytest.Config) -> XaiSession:
        settings = Settings.from_config(config)
        return cls(
            config=config,
            settings=settings,
            store=SnapshotStore(settings.snapshot_dir),
            is_worker=hasattr(config, "workerinput"),
        )

    # -- collection -------------------------------------------------------------------------
    def collection_finished(self, session: pytest.Session) -> None:
        """Remember every collected test name per module and which ones were selected."""
        args = [str(a) for a in self.config.args]
        for item in [*session.items, *self.deselected]:
            module = str(item.path)
            self.collection.modules.setdefault(module, {})[item.name] = item.nodeid
            if any("::" in a and Path(a.split("::")[0]).resolve() == item.path for a in args):
                self.collection.restricted.add(module)
        self.collection.selected = {item.nodeid for item in session.items}

    def remove_stale_temps(self) -> None:
        """Delete temp files a killed writer left beside goldens; run when no writer is active."""
        for module in self.collection.modules:
            remove_stale_temps(self.store.module_dir(Path(module)))

    # -- records ------------------------------------------------------------------------------
    def add_report(self, report: pytest.TestReport) -> None:
        """Merge one phase's report: its outcome and, after the call, its xai record."""
        previous = self.outcomes.get(report.nodeid, "passed")
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "passed"
        rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
        self.outcomes[report.nodeid] = max(previous, outcome, key=rank.__getitem__)
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
        """Write queued goldens atomically (each on its own; one failure does not stop others)."""
        for write in self.pending:
            try:
                self.store.write(write.explanation, write.path)
            except OSError as e:
                self.write_errors.append(f"{write.path}: {e}")
        self.pending.clear()

    # -- unused goldens -----------------------------------------------------------------------
    def find_unused(self) -> list[Path]:
        """Goldens no selected test used, owned by no test or by a test that passed without them.

        Never a golden whose owner was deselected, skipped, failed or errored, and never one
        in a module collected only in part, unless its owning test ran and passed.
        """
        used = self.used_goldens()
        unused = []
        for module, tests in self.collection.modules.items():
            for golden in self.store.goldens(Path(module)):
                if str(golden) in used:
                    continue
                owner = self.store.owner(golden, list(tests))
                if owner is None:
                    whole = module not in self.collection.restricted
                    if whole and all(self._ran_clean(nodeid) for nodeid in tests.values()):
                        unused.append(golden)
                elif self._ran_clean(tests[owner]):
                    unused.append(golden)
        self.unused = unused
        return unused

    def _ran_clean(self, nodeid: str) -> bool:
        return nodeid in self.collection.selected and self.outcomes.get(nodeid) == "passed"

    def delete_unused(self) -> None:
        for golden in self.unused:
            self.store.delete(golden)
            self.deleted.append(golden)

    # -- summary ------------------------------------------------------------------------------
    def totals(self) -> dict[str, float]:
        computed = sum(r["computed"] for r in self.records.values())
        cached = sum(r["cached"] for r in self.records.values())
        seconds = sum(r["seconds"] for r in self.records.values())
        return {"computed": computed, "cached": cached, "seconds": seconds}

    def summary_lines(self) -> list[str]:
        totals = self.totals()
        counts = self.golden_counts()
        lines = [
            f"explanations: {int(totals['computed'])} computed, {int(totals['cached'])} from cache, "
            f"{totals['seconds']:.1f} s explaining",
            "goldens: " + ", ".join(f"{counts[s]} {s}" for s in GOLDEN_STATES)
            + f", {len(self.unused)} unused" + (f" ({len(self.deleted)} deleted)" if self.deleted else ""),
        ]
        for golden in self.unused:
            lines.append(f"  unused: {self._rel(golden)}" + (" (deleted)" if golden in self.deleted else ""))
        if self.settings.ci and self.settings.update is not None:
            lines.append(
                f"CI mode ({self.settings.ci_reason}): --xai-update ignored, nothing was written or deleted"
            )
        elif self.settings.ci:
            lines.append(f"CI mode ({self.settings.ci_reason}): goldens are read-only")
        if counts["failed"] and not self.settings.ci:
            lines.append("to accept the new explanations: pytest --xai-update (review the .png previews)")
        elif self.unused and self.settings.update is None and not self.settings.ci:
            lines.append("to delete unused goldens: pytest --xai-update on a full run")
        for error in self.write_errors:
            lines.append(f"write failed: {error}")
        if self.settings.report is not None:
            lines.append(f"report: {self.settings.report}")
        return lines

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.config.rootpath))
        except ValueError:
            return str(path)

    def report_data(self) -> dict[str, Any]:
        return {
            "totals": self.totals(),
            "goldens": {**self.golden_counts(), "unused": [self._rel(p) for p in self.unused]},
            "ci": self.settings.ci,
            "tests": [
                {**record, "outcome": self.outcomes.get(nodeid, "unknown")}
                for nodeid, record in self.records.items()
            ],
        }

