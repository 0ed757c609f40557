"""The persistent explanation cache: content-addressed .npz files under pytest's cache dir.

An entry's key is a sha256 over everything that decides the explanation: the classifier's
exact cache key (weights, preprocessing, output head, device type; a classifier whose key
cannot be known exactly is never persisted), the image's bytes, shape and dtype, every explain
parameter, and every library that decides the explanation (``engine.provenance.library_versions``:
pytest_xai and a digest of its engine code, torch, numpy, scikit-image, scipy). Entries live in
``.pytest_cache/d/xai-explanations/<2 hex>/<key>.npz`` (pytest's ``config.cache.mkdir``),
are written atomically (xdist workers share the folder), and reading one refreshes its mtime,
which drives least-recently-used eviction. A corrupt entry is a miss and is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai import __version__
from pytest_xai._atomic import remove_stale_temps

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.explanation import Explanation

KEY_VERSION = 2  # bump when what an entry holds changes meaning
EXTENSION = ".npz"


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python scalars, recursively through lists, tuples and
    dicts (container types kept); arrays, tensors and other objects unchanged."""
    if isinstance(value, (str, bool, int, float, type(None))):
        return value
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():  # numpy scalar or 0-d array
        with contextlib.suppress(TypeError, ValueError):
            return plain(item())
    return value


def array_digest(value: Any) -> dict[str, Any]:
    """An array's identity for a key: sha256 of its bytes, with its shape and dtype."""
    import numpy as np

    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.ascontiguousarray(np.asarray(value))
    return {"sha256": hashlib.sha256(array.tobytes()).hexdigest(), "shape": list(array.shape),
            "dtype": array.dtype.str}


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


def explanation_key(classifier_key: str, device: str, image: np.ndarray, params: dict[str, Any]) -> str:
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
            exp.save(path)
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
