"""Atomic file writes: a temp file beside the target, fsynced, renamed over it, folder fsynced.

Temp files are named ``.<target>.<host>-<pid>-<random>.xai-tmp``, so a later run can tell a
temp whose writer is gone (debris of a killed run) from one another live run is writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_xai.defaults import STALE_TEMP_SECONDS

TEMP_SUFFIX = ".xai-tmp"
_OWNER = re.compile(r"\.([0-9a-f]{8})-(\d+)-[^.]*" + re.escape(TEMP_SUFFIX) + "$")


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _file_mode(target: Path) -> int:
    """The mode a new file gets from the umask (as ``open`` gives it), or the target's own."""
    with contextlib.suppress(OSError):
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` in one rename.

    The new file gets the mode the umask implies (or keeps the mode of the file it replaces),
    not ``mkstemp``'s 0600. On any exception, KeyboardInterrupt included, the temp file is
    removed and ``target`` is left as it was. A process killed outright can leave a
    ``.*.xai-tmp`` file, never a torn target; ``remove_stale_temps`` clears those.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.{_host()}-{os.getpid()}-"
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(target))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def is_stale(temp: Path, now: float | None = None) -> bool:
    """Whether a temp file is provably debris: older than STALE_TEMP_SECONDS, or written by a
    process of this host that no longer exists. Anything else may belong to a live writer."""
    try:
        age = (time.time() if now is None else now) - temp.stat().st_mtime
    except OSError:
        return False  # gone already
    if age > STALE_TEMP_SECONDS:
        return True
    owner = _OWNER.search(temp.name)
    if owner is None or owner.group(1) != _host():
        return False  # another host's writer, or an unknown name: only age can tell
    return not _process_exists(int(owner.group(2)))


def _process_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":
        return True  # os.kill(pid, 0) would terminate it there; rely on the age rule
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user (EPERM)
    return True


def remove_stale_temps(folder: Path) -> int:
    """Delete provably stale temp files in ``folder`` (recursively); return how many."""
    count = 0
    if folder.is_dir():
        for temp in folder.rglob(f".*{TEMP_SUFFIX}"):
            if temp.is_file() and is_stale(temp):
                temp.unlink(missing_ok=True)
                count += 1
    return count
