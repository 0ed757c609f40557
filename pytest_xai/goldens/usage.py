"""Which goldens a run left unused, never compared, or may not touch: pure rules over plain data.

The plugin describes the run as a ``RunView`` (what was collected and selected, how each test
ended, which goldens a check judged); these functions decide from it and the store alone, so
the rules that delete goldens are tested without running pytest. Standard library only.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_xai._util.paths import rel_path
from pytest_xai.errors import SnapshotError
from pytest_xai.records import NotCompared

if TYPE_CHECKING:
    from pytest_xai.goldens.store import SnapshotStore

# a test's outcome -> why its goldens were not compared; a test that passed without comparing
# its golden is not here: that golden is unused
REASONS = {
    "failed": "its test failed before comparing it",
    "error": "its test errored (in setup, or a fixture failed)",
    "skipped": "its test was skipped",
    None: "its test did not run (the run stopped before it)",
}


@dataclass(frozen=True)
class RunView:
    """A run as the golden rules see it.

    ``modules``: test file -> test name -> node id, for every collected test; ``selected``: the
    node ids that were to run; ``restricted``: test files collected only in part (``-k``, node
    ids); ``outcomes``: node id -> "passed" / "failed" / "error" / "skipped"; ``finished``: node
    ids that ran to their teardown; ``used``: the golden paths some comparison judged.
    """

    modules: Mapping[str, Mapping[str, str]]
    selected: frozenset[str]
    rootdir: Path
    restricted: frozenset[str] = frozenset()
    outcomes: Mapping[str, str] = field(default_factory=dict)
    finished: frozenset[str] = frozenset()
    used: frozenset[str] = frozenset()

    def ran_clean(self, nodeid: str) -> bool:
        """Whether the test was selected, ran to its teardown and passed."""
        return nodeid in self.selected and nodeid in self.finished and self.outcomes.get(nodeid) == "passed"

    @property
    def complete(self) -> bool:
        """Whether every selected test ran to its teardown."""
        return all(nodeid in self.finished for nodeid in self.selected)


@dataclass
class Unused:
    """The goldens no selected test used, and what could not be looked at (as warnings)."""

    goldens: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def unused_goldens(store: SnapshotStore, run: RunView, snapshot_dir: str) -> Unused:
    """Goldens no selected test used: owned by no test, or by a test that passed without them.

    Never a golden whose owner was deselected, skipped, failed, errored or interrupted, and
    never one in a test file collected only in part, unless its owning test ran and passed.
    Goldens of test files that no longer exist (orphans) are added where the golden folder
    belongs to one folder of tests.
    """
    found = Unused()
    for module, tests in run.modules.items():
        for golden in _golden_files(store, Path(module), run.rootdir, found.warnings):
            if str(golden) in run.used:
                continue
            owner = store.owner(golden, list(tests))
            if owner is None:
                whole = module not in run.restricted
                if whole and all(run.ran_clean(n) for n in tests.values()) and not recorded_elsewhere(
                    store, golden, Path(module), run.rootdir
                ):
                    found.goldens.append(golden)
            elif run.ran_clean(tests[owner]):
                found.goldens.append(golden)
    found.goldens += _orphans(store, run, snapshot_dir, found.warnings)
    return found


def _orphans(store: SnapshotStore, run: RunView, snapshot_dir: str, warnings: list[str]) -> list[Path]:
    """Goldens of test files that no longer exist, in the golden folders beside collected test
    files; only where no ``..`` in ``snapshot_dir`` lets one folder hold the goldens of test
    files this run did not collect."""
    if ".." in Path(snapshot_dir).parts:
        return []
    orphans = []
    for folder in sorted({Path(m).parent for m in run.modules}):
        root = folder / snapshot_dir
        for module_dir in sorted(root.iterdir()) if root.is_dir() else []:
            test_file = folder / (module_dir.name + ".py")
            owned = any(folder.glob(glob.escape(module_dir.name) + ".*"))  # test_x.py, a doctest .txt
            if module_dir.is_dir() and not owned:
                orphans += [
                    g for g in _golden_files(store, test_file, run.rootdir, warnings)
                    if not recorded_elsewhere(store, g, None, run.rootdir)
                ]
    return orphans


def recorded_elsewhere(store: SnapshotStore, golden: Path, module: Path | None, rootdir: Path) -> bool:
    """Whether the golden names a test file that recorded it other than ``module`` and that
    still exists (a folder shared through ``xai_snapshot_dir``); unreadable goldens do not."""
    try:
        recorded = store.serializer.load(golden).meta.get("test_file")
    except (SnapshotError, OSError, ValueError):  # an unreadable golden names no owner
        return False
    if not isinstance(recorded, str):
        return False
    here = None if module is None else Path(rel_path(module, rootdir)).as_posix()
    return recorded != here and (rootdir / recorded).exists()


def _golden_files(store: SnapshotStore, module: Path, rootdir: Path, warnings: list[str]) -> list[Path]:
    files = []
    for path in store.goldens(module):
        if path.is_file():
            files.append(path)
        else:  # e.g. a folder named like a golden: never deleted, never read
            warnings.append(f"{rel_path(path, rootdir)} is not a file; skipped (remove or rename it)")
    return files


def not_compared(store: SnapshotStore, run: RunView) -> list[NotCompared]:
    """The golden files of the selected tests that no comparison judged in this run, by file."""
    out = []
    for module, tests in sorted(run.modules.items()):
        names = list(tests)
        for golden in store.goldens(Path(module)):
            owner = store.owner(golden, names)
            nodeid = None if owner is None else tests[owner]
            if nodeid is None or nodeid not in run.selected or str(golden) in run.used:
                continue
            outcome = run.outcomes.get(nodeid)
            if outcome in REASONS:
                out.append(NotCompared(str(golden), nodeid, outcome or "not run", REASONS[outcome]))
    return out
