"""Where goldens live: names injective over test ids, short enough for the atomic write, and
only pytest_xai goldens recognised as goldens."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from factories import explanation

from pytest_xai import Explanation
from pytest_xai._util.atomic import atomic_path
from pytest_xai.goldens.store import MAX_NAME_BYTES, SnapshotStore
from pytest_xai.plugin.collection import golden_test_name


def item(nodeid: str) -> pytest.Item:
    name = nodeid.rpartition("::")[2]
    return SimpleNamespace(nodeid=nodeid, name=name)  # type: ignore[return-value]


def golden(meta: dict[str, object] | None = None) -> Explanation:
    heat = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    return explanation(heat, meta=meta or {}, image=np.zeros((8, 8, 3), np.float32))


IDS = [
    "t.py::test_g[a::b]", "t.py::test_g[a.b]", "t.py::test_g[a:b]", "t.py::test_g[a_b]",
    "t.py::TestA::test_c", "t.py::test_g[TestA::test_c]", "t.py::test_g[x/y]",
    "t.py::test_g[x_y]", "t.py::test_g[a::b::c]", "t.py::test_g[a.b.c]",
]


def test_golden_paths_are_injective_over_test_ids(tmp_path: Path) -> None:
    store = SnapshotStore()
    paths = {store.path_for(tmp_path / "t.py", golden_test_name(item(i)), None) for i in IDS}
    assert len(paths) == len(IDS)
    assert golden_test_name(item("t.py::TestA::test_c[a::b]")) == "TestA.test_c[a::b]"
    assert store.path_for(tmp_path / "t.py", "test_g[a.b]", None).name == "test_g[a.b].npz"  # unaltered


@pytest.mark.parametrize("test, name", [("test_g[" + "p" * 200 + "]", "n" * 119), ("t" * 119, "é" * 119)])
def test_a_long_golden_name_leaves_room_for_the_atomic_temp_file(tmp_path: Path, test: str, name: str) -> None:
    store = SnapshotStore()
    path = store.path_for(tmp_path / "test_l.py", test, name)
    other = store.path_for(tmp_path / "test_l.py", test, name[:-1] + "m")
    assert len(path.name.encode()) <= MAX_NAME_BYTES == 220 and path != other
    assert store.owner(path, [test, "test_g"]) == test
    with atomic_path(path) as tmp:  # "File name too long" when the name has no room for the temp's
        assert len(tmp.name.encode()) <= 255
        tmp.write_bytes(b"x")
    assert path.read_bytes() == b"x"


def test_only_pytest_xai_goldens_are_listed(tmp_path: Path) -> None:
    store = SnapshotStore()
    folder = store.module_dir(tmp_path / "test_x.py")
    folder.mkdir(parents=True)
    golden().save(folder / "test_a.npz")
    np.savez(folder / "expected_values.npz", values=np.arange(3))
    np.savez(folder / "header_only.npz", header=np.array('{"format": "somebody.else"}'))
    (folder / "junk.npz").write_bytes(b"not a zip")
    (folder / "dir.npz").mkdir()
    assert [p.name for p in store.goldens(tmp_path / "test_x.py")] == ["dir.npz", "test_a.npz"]


def test_a_goldens_meta_and_image_hash_survive_the_file_format(tmp_path: Path) -> None:
    meta = {"image_sha256": "ab" * 32, "test_file": "tests/test_x.py", "libraries": {"numpy": "2"}}
    path = golden(meta).save(tmp_path / "g.npz")
    assert SnapshotStore().serializer.load(path).meta == meta
