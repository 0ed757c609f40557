"""The session state every fixture reads: settings, the golden store, the explanation cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_xai._util.paths import rel_path
from pytest_xai.defaults import CACHE_DIR_NAME
from pytest_xai.goldens.store import SnapshotStore
from pytest_xai.plugin.cache import CachePolicy, ExplanationCache
from pytest_xai.plugin.settings import Settings


def _disk_cache(config: pytest.Config, settings: Settings) -> ExplanationCache | None:
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    if cache is None or settings.cache_mode == "off":
        return None
    return ExplanationCache(
        folder=lambda: cache.mkdir(CACHE_DIR_NAME),
        read=settings.cache_reads,
        write=settings.cache_writes,
        max_bytes=int(settings.cache_max_mb * 1024 * 1024),
    )


@dataclass
class XaiSession:
    """One pytest session's pytest_xai state, kept in ``config.stash``.

    Each feature that has hooks is its own plugin object (collection, results, golden
    lifecycle, run summary); this holds what the fixtures share.
    """

    config: pytest.Config
    settings: Settings
    store: SnapshotStore
    is_worker: bool
    cache: CachePolicy = field(default_factory=CachePolicy)

    @classmethod
    def from_config(cls, config: pytest.Config) -> XaiSession:
        settings = Settings.from_config(config)
        return cls(
            config=config,
            settings=settings,
            store=_store(config, settings),
            is_worker=hasattr(config, "workerinput"),
            cache=CachePolicy(_disk_cache(config, settings)),
        )

    def rel(self, path: Path) -> str:
        """``path`` relative to the rootdir, as messages show it."""
        return rel_path(path, self.config.rootpath)


def _store(config: pytest.Config, settings: Settings) -> SnapshotStore:
    """The golden store, in the file format a ``pytest_xai_golden_serializer`` hook chose."""
    from pytest_xai.goldens.store import Serializer

    serializer = config.hook.pytest_xai_golden_serializer(config=config)
    if serializer is None:
        return SnapshotStore(settings.snapshot_dir)
    if not isinstance(serializer, Serializer) or not str(getattr(serializer, "extension", "")).startswith("."):
        raise pytest.UsageError(
            f"pytest_xai_golden_serializer returned {serializer!r}; return a "
            "pytest_xai.extend.Serializer instance whose extension starts with '.', or None"
        )
    return SnapshotStore(settings.snapshot_dir, serializer=serializer)
