"""What a test remembers until its teardown: the explanations it made, and its snapshot fixture."""

from __future__ import annotations

from typing import Any

import pytest

# (the image as the test passed it, its Explanation), in the order the test explained them
explained_key = pytest.StashKey[list[tuple[Any, Any]]]()
# the test's one SnapshotFixture (plugin.snapshot.snapshot_for)
snapshot_key = pytest.StashKey[Any]()


def forget(item: pytest.Item) -> None:
    """Drop what the test remembered (pytest keeps every item until the session ends)."""
    for key in (explained_key, snapshot_key):
        if key in item.stash:
            del item.stash[key]
