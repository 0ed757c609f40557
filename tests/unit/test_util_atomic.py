"""Atomic writes: the old file survives an interrupted or killed write; only provably stale temps go; modes follow the umask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from factories import explanation

from pytest_xai import Explanation
from pytest_xai._util.atomic import TEMP_SUFFIX, atomic_path, is_stale, remove_stale_temps


def test_interrupted_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "g.npz"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


WRITER = """
import sys, numpy as np
from pytest_xai import Explanation
heat = np.random.default_rng(0).random((512, 512)).astype(np.float32)
i = 0
while True:
    i += 1
    Explanation(heat * i, None, None, 0, "0", 1.0, "gradient_shap", "logit", i, 10).save(sys.argv[1])
    print(i, flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_write_leaves_the_old_golden_intact(tmp_path: Path) -> None:
    target = tmp_path / "golden.npz"
    heat = np.ones((512, 512), np.float32)
    written = np.random.default_rng(0).random((512, 512)).astype(np.float32)  # as WRITER draws it
    explanation(heat).save(target)
    for delay in (0.3, 0.45, 0.6, 0.75):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one complete write happened
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = Explanation.load(target)  # always a whole file: the old one or a new one
        # the writer's i-th file holds heat * i and seed i; the old one holds ones and seed 0
        expected = heat if loaded.seed == 0 else written * loaded.seed
        assert np.array_equal(loaded.heatmap, expected), f"torn or mixed file (seed {loaded.seed})"
    # a killed writer can leave a temp file beside the target (never a torn target); its owner
    # is gone, so it is provably stale and removed (runs that may write do this at the end:
    # tests/test_plugin_reliability.py)
    remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden.npz"]


def test_only_provably_stale_temps_are_removed(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        from pytest_xai._util.atomic import _host

        live = tmp_path / f".g.npz.{_host()}-{sleeper.pid}-abc{TEMP_SUFFIX}"
        gone = tmp_path / f".g.npz.{_host()}-{dead.pid}-abd{TEMP_SUFFIX}"
        other_host = tmp_path / f".g.npz.00000000-{dead.pid}-abe{TEMP_SUFFIX}"
        old = tmp_path / f".g.npz.00000000-{sleeper.pid}-abf{TEMP_SUFFIX}"
        unnamed = tmp_path / f".g.npz.abc123{TEMP_SUFFIX}"
        for path in (live, gone, other_host, old, unnamed):
            path.write_bytes(b"half")
        os.utime(old, (time.time() - 7200, time.time() - 7200))
        assert remove_stale_temps(tmp_path) == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, other_host, unnamed))
        assert not is_stale(live) and is_stale(unnamed, now=time.time() + 3601)
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_cleanup_in_a_loop_never_takes_a_live_writers_temp(tmp_path: Path) -> None:
    stop = threading.Event()
    removed: list[int] = []

    def clean() -> None:
        while not stop.is_set():
            removed.append(remove_stale_temps(tmp_path))

    cleaner = threading.Thread(target=clean)
    cleaner.start()
    try:
        for i in range(300):
            with atomic_path(tmp_path / f"g{i % 7}.npz") as tmp:
                tmp.write_bytes(b"x" * 10_000)
    finally:
        stop.set()
        cleaner.join()
    assert sum(removed) == 0 and len(removed) > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"g{i}.npz" for i in range(7)]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_mode_the_umask_implies(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "g.npz") as tmp:
            tmp.write_bytes(b"golden")
    finally:
        os.umask(old)
    assert (tmp_path / "g.npz").stat().st_mode & 0o777 == mode
    (tmp_path / "g.npz").chmod(0o640)  # a rewrite keeps the mode the user chose
    with atomic_path(tmp_path / "g.npz") as tmp:
        tmp.write_bytes(b"again")
    assert (tmp_path / "g.npz").stat().st_mode & 0o777 == 0o640


def test_the_folder_is_fsynced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stat

    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    with atomic_path(tmp_path / "g.npz") as tmp:
        tmp.write_bytes(b"golden")
    assert synced == ["file", "folder"]
