"""Stand-ins for tests that judge goldens without a pytest run: the plugin's settings, and
helpers that rewrite one member of a golden .npz."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class FakeSettings:
    """The part of Settings that judge reads."""

    can_write: bool = False
    can_update: bool = False
    can_force: bool = False
    ci: bool = False
    ci_reason: str = ""
    golden_mode: str = "release"
    max_shift: float | None = None  # ini xai_max_shift unset
    min_spearman: float = 0.7
    min_top_k_iou: float = 0.55


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def with_member(path: Path, name: str, data: bytes) -> None:
    """Replace (or add) one member of the .npz."""
    members = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            members[info.filename] = archive.read(info)
    members[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in members.items():
            archive.writestr(key, value)
