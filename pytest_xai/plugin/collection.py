"""What was collected, per test module: enough to tell an unused golden from a deselected one."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_xai._util.jsonable import JSON
from pytest_xai.plugin.session import XaiSession


@dataclass
class Collection:
    """The collected test names per module, the selected node ids, and the modules collected
    only in part (their owner-less goldens are never deleted)."""

    modules: dict[str, dict[str, str]] = field(default_factory=dict)  # module -> {test name: nodeid}
    selected: set[str] = field(default_factory=set)  # nodeids that run
    restricted: set[str] = field(default_factory=set)  # modules collected only in part

    def to_json(self) -> JSON:
        return {"modules": self.modules, "selected": sorted(self.selected), "restricted": sorted(self.restricted)}

    @classmethod
    def from_json(cls, data: JSON) -> Collection:
        return cls(dict(data["modules"]), set(data["selected"]), set(data["restricted"]))


def golden_test_name(item: pytest.Item) -> str:
    """The test's name within its file, as its goldens are named: ``test_c[x]``, or
    ``TestA.test_c[x]`` for a method, so two classes' ``test_c`` never share a golden.

    Only the ``::`` between class and function becomes ``.`` (names there cannot hold a dot);
    the parameter id keeps its own characters, so ``test_g[a::b]`` and ``test_g[a.b]`` stay
    two names (``safe_name`` then hashes the one it alters).
    """
    _, _, within = item.nodeid.partition("::")
    head, bracket, params = within.partition("[")
    return head.replace("::", ".") + bracket + params or item.name


class CollectionPlugin:
    """Records the collection (registered as "xai-collection"); under xdist the controller
    takes a worker's (all workers collect the same tests)."""

    def __init__(self, xai: XaiSession) -> None:
        self.xai = xai
        self.collection = Collection()
        self.deselected: list[pytest.Item] = []
        self.collected_items: list[pytest.Item] = []  # before any plugin filtered them
        self.usage_error: str | None = None  # found at collection; under xdist each test reports it

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.extend(items)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None, None, None]:
        """Every item before other plugins and conftests filter them (some never report it),
        ``tryfirst`` ones included: a wrapper runs around every plain implementation."""
        self.collected_items = list(items)
        return (yield)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Remember every collected test name per module and which ones were selected; stop
        when two test files would share one golden folder.

        A module counts as collected only in part (its owner-less goldens are never deleted)
        when the run names node ids (``file::test``, ``--pyargs pkg.mod::test``), when
        ``--lf`` drops the tests that passed last time without deselecting them, or when a
        plugin or conftest removed some of its items without reporting them deselected.
        """
        config = self.xai.config
        kept = [*session.items, *self.deselected]
        partial = any("::" in str(a) for a in config.args) or bool(config.getoption("lf", False))
        kept_ids = {item.nodeid for item in kept}
        dropped = {str(item.path) for item in self.collected_items if item.nodeid not in kept_ids}
        for item in kept:
            module = str(item.path)
            self.collection.modules.setdefault(module, {})[golden_test_name(item)] = item.nodeid
            if partial or module in dropped:
                self.collection.restricted.add(module)
        self.collection.selected = {item.nodeid for item in session.items}
        users = {str(item.path) for item in kept if "xai_snapshot" in getattr(item, "fixturenames", ())}
        self.check_golden_folders(users)

    def check_golden_folders(self, users: set[str]) -> None:
        """Two test files whose goldens land in one folder (same module name, shared
        ``xai_snapshot_dir``) would each delete the other's goldens as unused.

        Only files that use goldens count (``users``: their tests request ``xai_snapshot``):
        a file that does not, beside one that does, is left out of the unused-golden search
        of that folder; two files that both do not are fine while the folder holds no golden.
        """
        folders: dict[Path, list[str]] = {}
        for module in sorted(self.collection.modules):
            folders.setdefault(self.xai.store.module_dir(Path(module)).resolve(), []).append(module)
        for folder, modules in folders.items():
            using = [m for m in modules if m in users]
            if len(modules) < 2:
                continue
            if len(using) >= 2 or (not using and self.xai.store.goldens(Path(modules[0]))):
                self._shared_folder(folder, *(using or modules)[:2])
                return
            for module in modules if using else []:  # the one user's folder: the others own nothing there
                if module not in users:
                    del self.collection.modules[module]

    def _shared_folder(self, folder: Path, other: str, module: str) -> None:
        """Stop the run (an xdist worker cannot: its tests error instead) on a shared folder."""
        rel = self.xai.rel
        self.usage_error = (
            f"{rel(Path(other))} and {rel(Path(module))} keep their goldens in one "
            f"folder, {rel(folder)} (same module name, xai_snapshot_dir="
            f"{self.xai.settings.snapshot_dir!r}); rename one of the test files, or set "
            "xai_snapshot_dir to a folder beside each test file (the default __xai_snapshots__)"
        )
        if not self.xai.is_worker:
            raise pytest.UsageError(self.usage_error)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.usage_error is not None:
            raise pytest.UsageError(self.usage_error)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: take what a worker collected."""
        output = getattr(node, "workeroutput", {})
        if output.get("xai_collection"):
            self.collection = Collection.from_json(output["xai_collection"])

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.xai.is_worker:
            session.config.workeroutput["xai_collection"] = self.collection.to_json()  # type: ignore[attr-defined]
