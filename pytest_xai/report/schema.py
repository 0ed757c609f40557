"""The JSON report's schema, checked before a shard's report is merged: every field of the
right type, ``complete`` a bool and present, named by file and field when it is not.

The records' own type hints (``pytest_xai.records``) are the schema of each entry, so a field
added to a record is checked without a change here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from pytest_xai import records
from pytest_xai.records import run as run_records
from pytest_xai.records.mutation import MutationReport

# The top level and the golden counts are flattened on write, so they are spelt out here.
TOP: dict[str, Any] = {
    "schema": int, "exitstatus": int | None, "outcomes": dict[str, int], "failed": list[str],
    "stopped": str | None, "complete": bool, "ci": bool, "totals": run_records.Totals,
    "tests": list[records.TestRecord], "run": run_records.RunInfo,
    "not_compared": list[records.NotCompared], "mutation": dict[str, Any],
}
REQUIRED = ("complete", "tests", "goldens")


def problems(data: Any) -> str | None:
    """The first field of a JSON report that breaks the schema, in words; None when it conforms."""
    if not isinstance(data, dict):
        return f"the report is a JSON {type(data).__name__}, not an object"
    for key in REQUIRED:
        if key not in data:
            return f"field {key} is missing"
    for key, hint in TOP.items():
        if key in data and not (key == "run" and data[key] is None):
            found = _check(data[key], hint, key)
            if found:
                return found
    goldens = data["goldens"]
    if not isinstance(goldens, dict):
        return f"field goldens is {_kind(goldens)}, not an object"
    for key, value in goldens.items():
        hint = {"unused": list[str], "write_errors": list[records.WriteError]}.get(key, int)
        found = _check(value, hint, f"goldens.{key}")
        if found:
            return found
    return None


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _check(value: Any, hint: Any, where: str) -> str | None:
    """Why ``value`` at ``where`` is not a ``hint`` (a type hint of the records), or None."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        if any(_check(value, arg, where) is None for arg in args):
            return None
        return f"field {where} is {_kind(value)}, not {' or '.join(_name(a) for a in args)}"
    if origin is list:
        if not isinstance(value, list):
            return f"field {where} is {_kind(value)}, not a list"
        return next((p for i, v in enumerate(value) if (p := _check(v, args[0], f"{where}[{i}]"))), None)
    if origin is dict:
        if not isinstance(value, dict):
            return f"field {where} is {_kind(value)}, not an object"
        return next((p for k, v in value.items() if (p := _check(v, args[1], _member(where, k)))), None)
    if dataclasses.is_dataclass(hint):
        return _check_record(value, hint, where)
    return _check_scalar(value, hint, where)


def _member(where: str, key: str) -> str:
    """``where.key``, or ``where['key']`` for a key that reads as a path (a golden's)."""
    return f"{where}[{key!r}]" if "/" in key or "." in key else f"{where}.{key}"


def _check_scalar(value: Any, hint: Any, where: str) -> str | None:
    if hint is type(None):
        ok = value is None
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    return None if ok else f"field {where} is {_kind(value)}, not {_name(hint)}"


def _check_record(value: Any, cls: Any, where: str) -> str | None:
    """A record's object: its required fields present, every known field of its type."""
    if not isinstance(value, dict):
        return f"field {where} is {_kind(value)}, not an object"
    if cls is MutationReport:
        return None
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name not in value:
            if required:
                return f"field {where}.{f.name} is missing"
            continue
        found = _check(value[f.name], hints[f.name], f"{where}.{f.name}")
        if found:
            return found
    return None


def _name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    names = {bool: "a bool (true or false)", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))
