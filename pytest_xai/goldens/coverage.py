"""Goldens no test compared: every golden file of a selected test that this run did not judge,
with the reason (its test failed before comparing it, was skipped, errored, did not run).

Without this, a run whose tests failed before ``assert_match`` reads ``goldens: 0 passed, 0
failed`` while every golden went unchecked. Standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pytest_xai.records import NotCompared

if TYPE_CHECKING:
    from pytest_xai.goldens.store import SnapshotStore
    from pytest_xai.plugin.collection import Collection
    from pytest_xai.plugin.results import ResultsPlugin

# a test's outcome -> why its goldens were not compared; a test that passed without comparing
# its golden is not here: that golden is unused (goldens.lifecycle)
REASONS = {
    "failed": "its test failed before comparing it",
    "error": "its test errored (in setup, or a fixture failed)",
    "skipped": "its test was skipped",
    None: "its test did not run (the run stopped before it)",
}


def not_compared(store: SnapshotStore, collection: Collection, results: ResultsPlugin) -> list[NotCompared]:
    """The golden files of the selected tests that no test judged in this run, by file."""
    used = results.used_goldens()
    out = []
    for module, tests in sorted(collection.modules.items()):
        names = list(tests)
        for golden in store.goldens(Path(module)):
            owner = store.owner(golden, names)
            nodeid = None if owner is None else tests[owner]
            if nodeid is None or nodeid not in collection.selected or str(golden) in used:
                continue
            outcome = results.outcomes.get(nodeid)
            if outcome in REASONS:
                out.append(NotCompared(str(golden), nodeid, outcome or "not run", REASONS[outcome]))
    return out
