"""The golden rules over plain data (goldens.usage, goldens.judge.WritePolicy): which goldens a
run leaves unused or never compared, with no pytest run. Goldens here are one-line text files
behind a small Serializer, the interface a new golden format implements."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_xai.goldens.judge import WritePolicy
from pytest_xai.goldens.store import Serializer, SnapshotStore
from pytest_xai.goldens.usage import RunView, not_compared, recorded_elsewhere, unused_goldens


class TextSerializer(Serializer):
    """A golden is a text file holding the test file that recorded it."""

    extension = ".gold"

    def dump(self, explanation: Any, path: Path) -> None:
        path.write_text(explanation)

    def load(self, path: Path) -> Any:
        return SimpleNamespace(meta={"test_file": path.read_text() or None})

    def is_golden(self, path: Path) -> bool:
        return path.suffix == ".gold"


@pytest.fixture
def suite(tmp_path: Path) -> tuple[SnapshotStore, Path]:
    """tests/test_a.py with goldens of test_one, test_two and of a test that is gone."""
    (tmp_path / "tests").mkdir()
    module = tmp_path / "tests" / "test_a.py"
    module.write_text("")
    store = SnapshotStore(serializer=TextSerializer())
    folder = store.module_dir(module)
    folder.mkdir(parents=True)
    for name in ("test_one", "test_two", "test_gone"):
        (folder / f"{name}.gold").write_text("tests/test_a.py")
    return store, module


def view(module: Path, root: Path, **given: Any) -> RunView:
    tests = {"test_one": "tests/test_a.py::test_one", "test_two": "tests/test_a.py::test_two"}
    ids = frozenset(tests.values())
    base: dict[str, Any] = dict(modules={str(module): tests}, selected=ids, rootdir=root,
                                outcomes={i: "passed" for i in ids}, finished=ids)
    return RunView(**{**base, **given})


def names(paths: list[Path]) -> list[str]:
    return sorted(p.stem for p in paths)


def test_a_clean_run_leaves_the_goldens_no_test_used_and_those_of_no_test(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    folder = store.module_dir(module)
    used = frozenset({str(folder / "test_one.gold")})
    found = unused_goldens(store, view(module, tmp_path, used=used), "__xai_snapshots__")
    assert names(found.goldens) == ["test_gone", "test_two"]
    assert found.warnings == []


@pytest.mark.parametrize("outcome", ["failed", "error", "skipped"])
def test_a_golden_whose_test_did_not_pass_is_never_unused(suite: tuple[SnapshotStore, Path], tmp_path: Path, outcome: str) -> None:
    store, module = suite
    run = view(module, tmp_path, outcomes={"tests/test_a.py::test_one": "passed", "tests/test_a.py::test_two": outcome})
    found = unused_goldens(store, run, "__xai_snapshots__")
    # test_two did not pass, so neither its golden nor one of no test (the run was not clean)
    assert names(found.goldens) == ["test_one"]


def test_a_file_collected_in_part_keeps_goldens_of_no_test(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    found = unused_goldens(store, view(module, tmp_path, restricted=frozenset({str(module)})), "__xai_snapshots__")
    assert names(found.goldens) == ["test_one", "test_two"]


def test_a_deselected_or_unfinished_test_keeps_its_golden(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    run = view(module, tmp_path, selected=frozenset({"tests/test_a.py::test_one"}),
               finished=frozenset({"tests/test_a.py::test_one"}))
    assert not run.complete or run.ran_clean("tests/test_a.py::test_one")
    assert names(unused_goldens(store, run, "__xai_snapshots__").goldens) == ["test_one"]


def test_goldens_of_a_test_file_that_is_gone_are_orphans(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    gone = store.module_dir(module.with_name("test_old.py"))
    gone.mkdir()
    (gone / "test_x.gold").write_text("tests/test_old.py")
    used = frozenset(str(store.module_dir(module) / f"{n}.gold") for n in ("test_one", "test_two", "test_gone"))
    run = view(module, tmp_path, used=used)
    assert names(unused_goldens(store, run, "__xai_snapshots__").goldens) == ["test_x"]
    assert unused_goldens(store, run, "../shared").goldens == []  # a shared folder: never orphans


def test_a_golden_recorded_by_another_existing_test_file_is_not_unused(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    (tmp_path / "tests" / "test_b.py").write_text("")
    golden = store.module_dir(module) / "test_gone.gold"
    golden.write_text("tests/test_b.py")
    assert recorded_elsewhere(store, golden, module, tmp_path)
    assert not recorded_elsewhere(store, store.module_dir(module) / "test_one.gold", module, tmp_path)
    used = frozenset({str(store.module_dir(module) / "test_one.gold")})
    assert names(unused_goldens(store, view(module, tmp_path, used=used), "__xai_snapshots__").goldens) == ["test_two"]


def test_a_folder_named_like_a_golden_is_a_warning_not_a_deletion(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    (store.module_dir(module) / "test_dir.gold").mkdir()
    found = unused_goldens(store, view(module, tmp_path), "__xai_snapshots__")
    assert "test_dir" not in names(found.goldens)
    assert found.warnings == ["tests/__xai_snapshots__/test_a/test_dir.gold is not a file; skipped (remove or rename it)"]


def test_not_compared_names_why_each_golden_went_unjudged(suite: tuple[SnapshotStore, Path], tmp_path: Path) -> None:
    store, module = suite
    run = view(module, tmp_path, outcomes={"tests/test_a.py::test_one": "failed"},
               used=frozenset({str(store.module_dir(module) / "test_zzz.gold")}))
    found = {Path(g.path).stem: (g.outcome, g.reason) for g in not_compared(store, run)}
    assert found == {
        "test_one": ("failed", "its test failed before comparing it"),
        "test_two": ("not run", "its test did not run (the run stopped before it)"),
    }


@pytest.mark.parametrize(("policy", "expected"), [
    (WritePolicy(), (False, False, False)),
    (WritePolicy(write=True), (True, False, False)),
    (WritePolicy(write=True, update=True), (True, True, False)),
    (WritePolicy(write=True, update=True, force=True), (True, True, True)),
    (WritePolicy(write=True, update=True, force=True, ci_reason="--xai-ci"), (False, False, False)),
])
def test_ci_mode_writes_nothing_whatever_was_asked(policy: WritePolicy, expected: tuple[bool, bool, bool]) -> None:
    assert (policy.can_write, policy.can_update, policy.can_force) == expected
