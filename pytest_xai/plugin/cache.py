"""The explanation cache: the policy the explain fixture follows (``CachePolicy``) and the
persistent store, content-addressed .npz files under pytest's cache dir (``ExplanationCache``).

An entry's key is a sha256 over everything that decides the explanation: the classifier's
exact cache key (weights, preprocessing, output head, device type; a classifier whose key
cannot be known exactly is never persisted), the image's bytes, shape and dtype, every explain
parameter, and every library that decides the explanation (``engine.provenance.library_versions``:
pytest_xai and a digest of its engine code, torch, numpy, scikit-image, scipy). Entries live in
``.pytest_cache/d/xai-explanations/<2 hex>/<key>.npz`` (pytest's ``config.cache.mkdir``),
are written atomically (xdist workers share the folder), and reading one refreshes its mtime,
which drives least-recently-used eviction. A corrupt entry is a miss and is replaced. An entry
records its own key and the image it explains: one found under another key, or of another
image (a file copied or swapped by hand), is stale and recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai import __version__
from pytest_xai._util.atomic import remove_stale_temps
from pytest_xai._util.jsonable import JSON, plain
from pytest_xai.registry import Params

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.checks.recorder import Recorder
    from pytest_xai.explanation import Explanation

KEY_VERSION = 3  # bump when what an entry holds changes meaning
EXTENSION = ".npz"



def array_digest(value: Any) -> JSON:
    """An array's identity for a key: sha256 of its bytes, with its shape and dtype."""
    from pytest_xai._util.digest import array_record

    return array_record(value)


def key_part(value: Any) -> Any:
    """A JSON-able, content-based stand-in for a parameter value (arrays by their digest)."""
    value = plain(value)
    if isinstance(value, (str, bool, int, float, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, *(key_part(v) for v in value)]
    if isinstance(value, dict):
        return {str(k): key_part(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return {"array": array_digest(value)}
    raise TypeError(f"{type(value).__name__} has no content key")


def explanation_key(classifier_key: str, device: str, image: np.ndarray, params: Params) -> str:
    """The sha256 content address of one explanation (see the module docstring)."""
    import torch

    from pytest_xai.engine.provenance import library_versions

    content = {
        "version": KEY_VERSION,
        "classifier": classifier_key,
        "device": device,
        "image": array_digest(image),
        "params": key_part(params),
        "torch": torch.__version__,
        "pytest_xai": __version__,
        "libraries": library_versions(),  # scikit-image's SLIC is invisible to a forward check
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass
class ExplanationCache:
    """Explanations on disk, shared by runs and xdist workers; least recently used go first.

    ``folder`` is called on first use (pytest's ``config.cache.mkdir``). ``read`` and ``write``
    follow ``--xai-cache``.
    """

    folder: Callable[[], Path]
    read: bool
    write: bool
    max_bytes: int
    hits: int = 0
    stored: int = 0
    errors: list[str] = field(default_factory=list)
    _root: Path | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = self.folder()
        return self._root

    def _unusable(self, error: OSError) -> None:
        """The folder cannot be made or used (a file in its place, no permission): the cache
        is off for this run, with a warning; explanations are computed as without one."""
        self.read = self.write = False
        self.errors.append(f"the cache folder cannot be used, so it is off for this run: {error}")

    def path(self, key: str) -> Path:
        return self.root / key[:2] / (key + EXTENSION)

    def get(self, key: str) -> Explanation | None:
        """The cached explanation, or None (a corrupt entry is removed and counts as a miss)."""
        from pytest_xai.errors import SnapshotError
        from pytest_xai.explanation import Explanation

        if not self.read:
            return None
        try:
            path = self.path(key)
        except OSError as e:
            self._unusable(e)
            return None
        if not path.is_file():
            return None
        try:
            exp = Explanation.load(path)
        except (SnapshotError, OSError, ValueError):
            if self.write:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)  # replaced by the next write
            return None
        if self.write:  # a read-only run leaves the cache as it found it
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: evicted last
        self.hits += 1
        return exp

    def put(self, key: str, exp: Explanation) -> None:
        """Store ``exp`` atomically; a failure is remembered, never raised (a cache is optional)."""
        if not self.write:
            return
        try:
            path = self.path(key)
        except OSError as e:
            self._unusable(e)
            return
        try:
            stored = exp.copy()
            stored.meta[OWN_KEY] = key
            stored.save(path)
            self.stored += 1
        except (OSError, ValueError, TypeError) as e:
            self.errors.append(f"{path} not stored, so it is recomputed next time: {e}")

    def evict(self) -> int:
        """Delete least recently used entries until the cache fits ``max_bytes``; return how
        many went. Also clears temp files of killed writers."""
        if not self.write:
            return 0
        try:
            return self._evict()
        except OSError as e:  # a read-only or vanished folder: the entries stay, the run goes on
            self.errors.append(f"least recently used entries not evicted: {e}")
            return 0

    def _evict(self) -> int:
        remove_stale_temps(self.root)
        entries = []
        for path in self.root.glob(f"*/*{EXTENSION}"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries, key=lambda e: (e[0], str(e[2]))):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed


VERIFY_TOLERANCE = 1e-4  # a cache hit's probability and value must match a fresh forward this well
Keys = tuple[tuple[Any, ...] | None, str | None]  # (session memo key, persistent cache key)


@dataclass
class CachePolicy:
    """How the explain fixture reuses explanations: this session's memo, then the disk cache,
    each hit verified with one forward pass, the classifier re-keyed when a hit is stale, and
    every miss computed in one call (so misses share batches), then memoised and stored.

    ``memo`` holds this session's explanations (by content key, or by classifier object where
    its content cannot be known); ``disk`` is the persistent cache shared between runs (None
    when off).
    """

    disk: ExplanationCache | None = None
    memo: dict[tuple[Any, ...], Explanation] = field(default_factory=dict)

    def explain(
        self, clf: Any, arrays: list[np.ndarray], per_image: list[Params], recorder: Recorder | None
    ) -> list[Explanation]:
        """The explanation of each image with its parameters: memo → disk → verify → compute."""
        keys = [self.keys(clf, array, p) for array, p in zip(arrays, per_image)]
        looked = [self.lookup(memo, disk, array) for (memo, disk), array in zip(keys, arrays)]
        found = self.verified(clf, arrays, per_image, looked, recorder)
        for (memo, disk), hit, kept, image, params in zip(keys, looked, found, arrays, per_image):
            if kept is not None and hit is not None and hit[1] == "disk":
                self.resumed(clf, kept, image, params, disk)
                if memo is not None:
                    self.memo[memo] = kept  # read from disk once per session
        stale = [i for i, (hit, kept) in enumerate(zip(looked, found)) if hit is not None and kept is None]
        if stale and hasattr(clf, "refresh"):  # weights may have changed in place: key them anew
            clf.refresh()
            for i in stale:
                keys[i] = self.keys(clf, arrays[i], per_image[i])
        results = self.compute_missing(clf, arrays, per_image, keys, found, recorder)
        for exp in results:
            exp.computed_by(clf)  # confirm=True runs its intervention on this model
            # shared by every test that asks again: no test may change it
            for array in (exp.heatmap, exp.weights, exp.segments):
                if array is not None:
                    array.setflags(write=False)
        return results

    def resumed(self, clf: Any, exp: Explanation, array: np.ndarray, params: Params, disk: str | None) -> None:
        """An auto explanation read from disk (any method with rounds): able to draw more rounds
        again, its longer run stored back under the same key (a later run that needs more
        extends the entry). ``params`` are the explain call's (a given background, batch size)."""
        from pytest_xai.classifier import Classifier
        from pytest_xai.engine.resume import resume

        if isinstance(clf, Classifier) and resume(clf, exp, array, params) and disk is not None and self.disk is not None:
            exp.on_grow(lambda grown, key=disk, store=self.disk: store.put(key, grown))

    @staticmethod
    def keys(clf: Any, array: np.ndarray, params: Params) -> Keys:
        """The session memo key and the persistent cache key; None where it must not cache.

        A classifier whose content cannot be known exactly (``cache_key`` None) is memoised
        under its ``session_key``, unique to the object, and never persisted; a parameter
        without a content key (an arbitrary object) is not cached at all."""
        content = getattr(clf, "cache_key", None)
        device = str(getattr(clf, "device", ""))
        try:
            param_key = repr(key_part(params))
        except TypeError:
            return None, None
        memo = (getattr(clf, "session_key", None) or content, device, repr(array_digest(array)), param_key)
        disk = None if content is None else explanation_key(content, device, array, params)
        return (memo if memo[0] is not None else None), disk

    def lookup(self, memo: tuple[Any, ...] | None, disk: str | None, array: np.ndarray) -> tuple[Explanation, str] | None:
        """A cached explanation and where it came from ("cached": this session, "disk")."""
        hit = None if memo is None else self.memo.get(memo)
        if hit is not None:
            return hit, "cached"
        if disk is None or self.disk is None:
            return None
        hit = self.disk.get(disk)
        if hit is None:
            return None
        own = belongs(hit, disk, array)
        hit.meta.pop(OWN_KEY, None)
        hit.image = array  # the stored picture is uint8; keep the exact input
        return hit, "disk" if own else "stale"

    @staticmethod
    def verified(
        clf: Any, arrays: list[np.ndarray], per_image: list[Params],
        looked: list[tuple[Explanation, str] | None], recorder: Recorder | None,
    ) -> list[Explanation | None]:
        """Cache hits that the model still stands behind; the others become misses.

        A key cannot see everything that changes a model (a changed ``forward``, a module-level
        setting its preprocess reads, weights changed in place after the fingerprint was taken),
        so each hit is checked with one forward pass of its image: the target, its probability
        and the explained output's value must match the cached explanation's.
        """
        from pytest_xai.engine.explain import predict

        hits = [i for i, found in enumerate(looked) if found is not None]
        if not hits:
            return [None] * len(looked)
        output = looked[hits[0]][0].output  # type: ignore[index]
        predicted = predict(clf, [arrays[i] for i in hits], [per_image[i].get("target") for i in hits], output)
        found: list[Explanation | None] = [None] * len(looked)
        for i, row in zip(hits, predicted.rows()):
            hit, kind = looked[i]  # type: ignore[misc]
            valid = kind != "stale" and still_valid(hit, *row)
            found[i] = hit if valid else None
            if recorder is not None:
                recorder.count(kind if valid else "stale")
        return found

    def compute_missing(
        self, clf: Any, arrays: list[np.ndarray], per_image: list[Params],
        keys: list[Keys], found: list[Explanation | None], recorder: Recorder | None,
    ) -> list[Explanation]:
        """``found`` completed: every image without a cached result explained in one call,
        memoised and, where the key is exact, stored on disk."""
        from pytest_xai.engine.explain import explain

        missing = [i for i, r in enumerate(found) if r is None]
        if not missing:
            return [r for r in found if r is not None]
        params = dict(per_image[missing[0]])
        if len(missing) > 1 and "target" in params:
            params["target"] = [per_image[i]["target"] for i in missing]
        started = time.perf_counter()
        computed = explain(clf, [arrays[i] for i in missing], **params)
        if recorder is not None:
            recorder.count("computed", len(missing))
            recorder.record.seconds += time.perf_counter() - started
        results = list(found)
        for i, exp in zip(missing, computed if isinstance(computed, list) else [computed]):
            results[i] = exp
            memo, disk = keys[i]
            if memo is not None:
                self.memo[memo] = exp
            if disk is not None and self.disk is not None:
                self.disk.put(disk, exp)
                exp.on_grow(lambda grown, key=disk, store=self.disk: store.put(key, grown))  # the longer run
        return [r for r in results if r is not None]


OWN_KEY = "cache_key"  # the meta entry where a stored explanation keeps its own key


def belongs(hit: Explanation, key: str, array: np.ndarray) -> bool:
    """Whether a disk entry is the one its key names: it records that key, and both its image
    hash and its stored picture are of ``array`` (a file swapped with another image's is not)."""
    from pytest_xai.engine.provenance import image_changed
    from pytest_xai.pictures import render

    if hit.meta.get(OWN_KEY) != key or image_changed(hit.meta, array) is not False:
        return False
    import numpy as np

    return hit.image is None or bool(np.array_equal(render.to_uint8(hit.image), render.to_uint8(array)))


def still_valid(hit: Explanation, target: int, probability: float, logit: float, value: float) -> bool:
    """Whether the model, run now, gives the cached explanation's target, probability, logit
    and explained value (within float32 noise between batch compositions). The logit sees what
    a saturated probability hides (a rescaled head)."""

    def close(cached: Any, now: float) -> bool:
        return isinstance(cached, float) and abs(cached - now) <= VERIFY_TOLERANCE * max(1.0, abs(now))

    return (
        hit.target == target
        and abs(hit.probability - probability) <= VERIFY_TOLERANCE
        and close(hit.meta.get("logit"), logit)
        and close(hit.meta.get("output_value"), value)
    )
