"""The session state every fixture reads: settings, the golden store, the explanation cache."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_xai._util.paths import rel_path
from pytest_xai.defaults import CACHE_DIR_NAME
from pytest_xai.goldens.store import SnapshotStore
from pytest_xai.plugin.cache import CachePolicy, ExplanationCache
from pytest_xai.plugin.settings import Settings

GOLDEN_EXTENSION = re.compile(r"\.[A-Za-z0-9][A-Za-z0-9_-]*")  # a file suffix, no folder


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
    if not isinstance(serializer, Serializer):
        raise pytest.UsageError(
            f"pytest_xai_golden_serializer returned {serializer!r}; return a "
            "pytest_xai.extend.Serializer instance, or None for .npz goldens"
        )
    extension = getattr(serializer, "extension", None)
    if not isinstance(extension, str) or not GOLDEN_EXTENSION.fullmatch(extension) or extension.lower() == ".png":
        raise pytest.UsageError(
            f"pytest_xai_golden_serializer returned a {type(serializer).__name__} with extension={extension!r}; "
            "use a dot and letters or digits, such as '.golden' ('.png' is the golden's preview)"
        )
    return SnapshotStore(settings.snapshot_dir, serializer=serializer)
