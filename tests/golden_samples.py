"""A stand-in for the plugin's settings in tests that judge goldens without a pytest run."""

from __future__ import annotations

from dataclasses import dataclass


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
