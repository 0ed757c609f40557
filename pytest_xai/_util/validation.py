"""The small checks every layer shares: what counts as a number, a bound, a value in a message.

Standard library only (numpy scalars are recognised through ``numbers``), so the plugin can
use it at start-up.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from pytest_xai.errors import XaiTypeError, XaiValueError

SHORT_LIMIT = 80  # characters of a value's repr an error message shows


def is_number(value: Any) -> bool:
    """A real number: int, float or a numpy integer/floating scalar; never a bool (numpy's
    ``np.bool_`` included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """A number that is neither NaN nor infinite (an int too large for a float is not)."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (a lone surrogate cannot: no report could hold it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def finite_or_none(value: Any, digits: int | None = None) -> float | None:
    """``value`` as a float for a record, rounded to ``digits`` when given; None where it is
    missing or not finite (records are strict JSON)."""
    if not is_finite(value):
        return None
    return float(value) if digits is None else round(float(value), digits)


def check_bound(value: Any, name: str, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` as a float when it is a number in [low, high]; else an error naming it."""
    if not is_number(value) or not low <= value <= high:  # NaN fails the comparison
        raise XaiValueError(f"{name}={value!r} must be a number in [{low:g}, {high:g}]")
    return float(value)


def short(value: Any, limit: int = SHORT_LIMIT) -> str:
    """``value`` for an error message: arrays and tensors as their shape and dtype, anything
    else as its repr cut to about ``limit`` characters (a long value must not flood it)."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if isinstance(shape, tuple) and shape and dtype is not None:
        return f"<{type(value).__name__} shape {tuple(shape)} {dtype}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_int(value: Any) -> bool:
    """A Python or numpy integer; never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value: Any, name: str, fix: str) -> int:
    """``value`` as an int if it is a positive (Python or numpy) int; else a clear error."""
    if not is_int(value):
        raise XaiTypeError(f"{name}={short(value)} is not an int; {fix}")
    if value < 1:
        raise XaiValueError(f"{name}={short(value)} must be positive; {fix}")
    return int(value)


def check_int(value: Any, name: str, low: int, high: int, fix: str) -> int:
    """Validate an int (numpy ints accepted, returned as int) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # numpy ints are Integral
        raise XaiTypeError(f"{name}={short(value)} is not an int; use {low}..{high} ({fix})")
    if not low <= int(value) <= high:
        raise XaiValueError(f"{name}={short(value)} is out of range; use {low}..{high} ({fix})")
    return int(value)
