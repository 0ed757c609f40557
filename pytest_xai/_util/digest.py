"""Content identities of arrays: one sha256 for every key, record and comparison."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from pytest_xai._util.jsonable import JSON


def array_sha256(value: Any) -> str:
    """sha256 of an array's shape, dtype and bytes (C order): its content identity. A torch
    tensor is read from its CPU copy."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.ascontiguousarray(np.asarray(value))
    digest = hashlib.sha256(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def array_record(value: Any) -> JSON:
    """A JSON-able identity of an array: sha256, shape and dtype."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    return {"sha256": array_sha256(array), "shape": list(array.shape), "dtype": array.dtype.str}
