"""Atomic file writes: a temp file beside the target, fsynced, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".xai-tmp"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` in one rename.

    On any exception, KeyboardInterrupt included, the temp file is removed and ``target`` is
    left as it was. A process killed outright can leave a ``.*.xai-tmp`` file, never a torn
    target; ``remove_stale_temps`` clears those.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temps(folder: Path) -> int:
    """Delete temp files left in ``folder`` (recursively) by a killed writer; return how many."""
    count = 0
    if folder.is_dir():
        for stale in folder.rglob(f".*{TEMP_SUFFIX}"):
            stale.unlink(missing_ok=True)
            count += 1
    return count
