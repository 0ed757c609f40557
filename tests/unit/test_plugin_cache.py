"""The explanation cache on disk: eviction, read-only folders and the logit check on a hit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from factories import explanation

from pytest_xai import Explanation
from pytest_xai.plugin.cache import ExplanationCache


def _explanation(value: float) -> Explanation:
    heat = np.full((16, 16), value, np.float32)
    return explanation(heat)


def test_least_recently_used_entries_are_evicted_first(tmp_path: Path) -> None:
    cache = ExplanationCache(lambda: tmp_path, read=True, write=True, max_bytes=10**9)
    for i, key in enumerate(["a" * 64, "b" * 64, "c" * 64]):
        cache.put(key, _explanation(i))
        os.utime(cache.path(key), (time.time() - 100 + i, time.time() - 100 + i))  # a is oldest
    size = cache.path("a" * 64).stat().st_size
    got = cache.get("a" * 64)  # reading a makes b the least recently used
    assert got is not None and got.heatmap[0, 0] == 0.0
    cache.max_bytes = 2 * size + size // 2
    assert cache.evict() == 1
    assert [cache.get(k) is not None for k in ("a" * 64, "b" * 64, "c" * 64)] == [True, False, True]
    cache.max_bytes = 0
    assert cache.evict() == 2 and not list(tmp_path.rglob("*.npz"))


def test_a_read_only_cache_is_read_and_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ExplanationCache(lambda: tmp_path, read=True, write=True, max_bytes=0)
    cache.put("a" * 64, _explanation(0))
    before = cache.path("a" * 64).stat().st_mtime_ns

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", read_only)
    assert cache.evict() == 0 and cache.errors == ["least recently used entries not evicted: [Errno 30] Read-only file system"]
    reader = ExplanationCache(lambda: tmp_path, read=True, write=False, max_bytes=0)  # CI mode
    assert reader.get("a" * 64) is not None
    assert cache.path("a" * 64).stat().st_mtime_ns == before  # a read-only run changes nothing


def test_a_hit_is_checked_on_its_logit_too() -> None:
    """A saturated probability hides a rescaled head; the logit does not."""
    from pytest_xai.plugin.cache import still_valid as _still_valid

    exp = _explanation(0)
    exp.target, exp.probability, exp.meta = 0, 1.0, {"logit": 30.0, "output_value": 1.0}
    assert _still_valid(exp, 0, 1.0, 30.0 + 1e-4, 1.0)
    assert not _still_valid(exp, 0, 1.0, 15.0, 1.0)
    assert not _still_valid(exp, 1, 1.0, 30.0, 1.0)
    exp.meta = {"output_value": 1.0}  # an entry from before the logit was kept: recomputed
    assert not _still_valid(exp, 0, 1.0, 30.0, 1.0)


def test_an_entry_under_another_key_or_of_another_image_is_stale(tmp_path: Path, tiny_img: np.ndarray, tiny_clf: object) -> None:
    import shutil

    from tiny_samples import SEGMENTS

    from pytest_xai import explain
    from pytest_xai.plugin.cache import CachePolicy

    cache = ExplanationCache(lambda: tmp_path, read=True, write=True, max_bytes=10**9)
    policy = CachePolicy(cache)
    lime, shap = (explain(tiny_clf, tiny_img, method=m, samples=20, segments=SEGMENTS) for m in ("lime", "kernel_shap"))
    cache.put("a" * 64, lime)
    cache.put("b" * 64, shap)
    assert policy.lookup(None, "a" * 64, tiny_img)[1] == "disk"  # type: ignore[index]
    # the same image, explained by another method: only the entry's own key tells them apart
    shutil.copy(cache.path("b" * 64), cache.path("a" * 64))
    assert policy.lookup(None, "a" * 64, tiny_img)[1] == "stale"  # type: ignore[index]
    assert policy.lookup(None, "b" * 64, tiny_img)[1] == "disk"  # type: ignore[index]
    assert policy.lookup(None, "b" * 64, tiny_img[::-1].copy())[1] == "stale"  # type: ignore[index]
