"""Golden helpers: a stand-in for the plugin's settings (goldens judged without a pytest run),
rewriting one member of a golden .npz, and a pytester project whose goldens are written."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pytest_xai import Explanation
from pytest_xai.records import GoldenVerdict


def judge_release(tmp_path: Path, golden: Explanation, new: Explanation, **bounds: float) -> GoldenVerdict:
    """``new`` judged against ``golden`` (saved under ``tmp_path``) in release mode, with the
    method's default bounds but those given."""
    from pytest_xai.goldens.judge import WritePolicy, judge
    from pytest_xai.goldens.modes import Bounds, SessionBounds
    from pytest_xai.goldens.store import SnapshotStore

    path = tmp_path / "snap" / "test_x.npz"
    golden.save(path)
    resolved = Bounds.resolve(SessionBounds(), method=new.method, mode="release", **bounds)
    return judge(SnapshotStore(), path, new, resolved, WritePolicy(),
                 rootdir=tmp_path, label="test_x", pictures_dir=tmp_path / "pictures")

def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def with_member(path: Path, name: str, data: bytes) -> None:
    """Replace (or add) one member of the .npz."""
    members = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            members[info.filename] = archive.read(info)
    members[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in members.items():
            archive.writestr(key, value)


def with_goldens(pytester: pytest.Pytester, source: str) -> None:
    """test_g.py holding ``source`` (one test), and its goldens as a passing --xai-update run wrote them."""
    __tracebackhide__ = True
    pytester.makepyfile(test_g=source)
    pytester.runpytest("--xai-update").assert_outcomes(passed=1)
