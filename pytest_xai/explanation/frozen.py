"""Read-only views of an explanation's arrays and records, so a shared explanation (a cached
one, a golden) cannot be changed by the test that reads it."""

from __future__ import annotations

from typing import Any

import numpy as np


def read_only_array(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` backed by immutable bytes: ``setflags(write=True)`` is refused."""
    return np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=array.dtype).reshape(array.shape)


class ReadOnlyDict(dict):
    """A dict that refuses every change (a locked explanation's ``params`` and ``meta``)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this explanation's params/meta are read-only; change a copy (exp.copy())")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> Any:  # copies and pickles are plain, writable dicts
        return (dict, (writable(self),))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return writable(self)


class ReadOnlyList(list):
    """A list that refuses every change (inside a locked explanation's ``params``/``meta``)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this explanation's params/meta are read-only; change a copy (exp.copy())")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __reduce__(self) -> Any:
        return (list, (writable(self),))

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return writable(self)


def read_only(value: Any) -> Any:
    """``value`` with every dict and list in it read-only, recursively (arrays too)."""
    if isinstance(value, dict):
        return ReadOnlyDict({k: read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return ReadOnlyList(read_only(v) for v in value)
    if isinstance(value, tuple):
        return tuple(read_only(v) for v in value)
    if isinstance(value, np.ndarray):
        return read_only_array(value)
    return value


def writable(value: Any) -> Any:
    """A writable deep copy of ``read_only`` output: plain dicts, lists and arrays."""
    if isinstance(value, dict):
        return {k: writable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [writable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(writable(v) for v in value)
    if isinstance(value, np.ndarray):
        return np.array(value)
    return value
