"""The one normaliser from user values (numpy scalars, arrays, tuples) to plain data.

Standard library only: numpy values are recognised by their ``item``/``tolist`` methods.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

JSON = dict[str, Any]  # one JSON object, as ``json`` reads and writes it


def plain(value: Any, *, json: bool = False) -> Any:
    """``value`` with numpy scalars as Python scalars, recursively through lists, tuples and dicts.

    By default container types are kept and arrays, tensors and other objects are returned
    unchanged (explain parameters, cache keys). With ``json=True`` the result is strict JSON
    data: tuples and sets become lists, arrays become nested lists, dict keys strings, and
    floats that are not finite None; other objects are left for the JSON encoder to refuse.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if json and not math.isfinite(value) else value
    if isinstance(value, dict):
        return {(str(k) if json else k): plain(v, json=json) for k, v in value.items()}
    if isinstance(value, list) or (json and isinstance(value, (tuple, set, frozenset))):
        return [plain(v, json=json) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        with contextlib.suppress(TypeError, ValueError):  # numpy scalar or 0-d array
            return plain(value.item(), json=json)
    if json and callable(getattr(value, "tolist", None)):  # a numpy array
        return plain(value.tolist(), json=True)
    return value
