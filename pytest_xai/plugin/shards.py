"""What a shard's report carries so that several shards merge into one verdict: the settings
its verdict depends on, the model's fingerprint, and every golden file it saw
(``records.RunInfo``; ``python -m pytest_xai.report merge`` reads them)."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai.goldens.usage import recorded_elsewhere
from pytest_xai.records.run import GoldenSeen, RunInfo

if TYPE_CHECKING:
    from pytest_xai.plugin.goldens import GoldenLifecycle
    from pytest_xai.plugin.session import XaiSession


class ShardPlugin:
    """Remembers the fingerprint of the ``xai_model`` fixture's model, an xdist worker's too
    (registered as "xai-shards")."""

    def __init__(self, xai: XaiSession) -> None:
        self.xai = xai
        self.model_fingerprint: str | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
        result = yield
        if fixturedef.argname == "xai_model" and self.model_fingerprint is None:
            fingerprint = getattr(result, "fingerprint", None)
            self.model_fingerprint = fingerprint if isinstance(fingerprint, str) else None
        return result

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.xai.is_worker:
            session.config.workeroutput["xai_model_fingerprint"] = self.model_fingerprint  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: the fingerprint a worker's model had."""
        fingerprint = getattr(node, "workeroutput", {}).get("xai_model_fingerprint")
        if fingerprint and self.model_fingerprint is None:
            self.model_fingerprint = fingerprint


def verdict_settings(xai: XaiSession, fingerprint: str | None) -> dict[str, str | float | int | bool | None]:
    """The settings a verdict depends on; two shards' reports merge only when these agree."""
    s = xai.settings
    return {
        "model_fingerprint": fingerprint, "golden_mode": s.golden_mode, "max_shift": s.max_shift,
        "min_spearman": s.min_spearman, "min_top_k_iou": s.min_top_k_iou, "seed": s.seed,
        "samples": s.samples, "method": s.method, "precision": s.precision, "ci": s.ci,
    }


def run_info(xai: XaiSession, goldens: GoldenLifecycle) -> RunInfo:
    """The report's ``run`` block: version, verdict settings, tests collected, goldens seen."""
    from pytest_xai import __version__

    shards = xai.config.pluginmanager.get_plugin("xai-shards")
    fingerprint = getattr(shards, "model_fingerprint", None)
    collection = goldens.collected.collection
    collected = sum(len(tests) for tests in collection.modules.values())
    splits, group = split_group(xai.config)
    return RunInfo(__version__, verdict_settings(xai, fingerprint), collected, goldens_seen(xai, goldens),
                   run_id=uuid.uuid4().hex, splits=splits, group=group)


def split_group(config: pytest.Config) -> tuple[int | None, int | None]:
    """pytest-split's ``--splits`` and ``--group`` when this run is one of its groups."""
    splits, group = getattr(config.option, "splits", None), getattr(config.option, "group", None)
    if isinstance(splits, int) and isinstance(group, int):
        return splits, group
    return None, None


def goldens_seen(xai: XaiSession, goldens: GoldenLifecycle) -> dict[str, GoldenSeen]:
    """Every golden file beside the collected test modules, with what decides, across shards,
    whether it is unused (the rule of ``GoldenLifecycle.find_unused``, spread over shards)."""
    collection, results = goldens.collected.collection, goldens.results
    used = results.used_goldens()
    seen: dict[str, GoldenSeen] = {}
    for module, tests in collection.modules.items():
        for golden in xai.store.goldens(Path(module)):
            if not golden.is_file():
                continue
            owner = xai.store.owner(golden, list(tests))
            needs = list(tests.values()) if owner is None else [tests[owner]]
            kept = owner is None and (
                module in collection.restricted or recorded_elsewhere(goldens.xai.store, golden, Path(module), goldens.xai.config.rootpath)
            )
            cleared = [n for n in needs if results.ran_clean(n, collection.selected)]
            failed_here = any(n in collection.selected and n not in cleared for n in needs)
            seen[xai.rel(golden)] = GoldenSeen(str(golden) in used, kept or failed_here, needs, cleared)
    for orphan in goldens.unused:  # goldens of test files that no longer exist
        seen.setdefault(xai.rel(orphan), GoldenSeen())
    return seen
