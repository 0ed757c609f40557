"""Seeded rounds: how a sampled explanation grows, and when ``samples="auto"`` stops.

Round 0 of an explanation is drawn from a generator seeded with the explanation's ``seed``;
round r > 0 from one seeded with ``round_seed(seed, r)``. A round never depends on how many
rounds follow, so the first k rounds of a longer run are the same samples, and a run that
needs more extends the one it has instead of starting again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from pytest_xai._util.validation import check_int, short
from pytest_xai.defaults import (
    AUTO_FIRST_ROUNDS,
    DEFAULT_TOLERANCE,
    MAX_SAMPLES,
    MAX_SEED,
    MIN_SAMPLES,
)
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.registry import METHODS


def round_seed(seed: int, index: int) -> int:
    """The seed of round ``index`` of an explanation seeded with ``seed`` (round 0: ``seed``)."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"pytest_xai round {seed} {index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % MAX_SEED


def round_generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator for round ``index`` (the same draws on every device)."""
    return torch.Generator().manual_seed(round_seed(seed, index))


@dataclass(frozen=True)
class AutoBudget:
    """``samples="auto"``: draw ``round_size`` samples a round, at least ``first`` of them,
    and stop once the heatmap's relative error (``relative_error``) is at most ``tolerance``
    or ``cap`` samples are drawn. A check may ask for more rounds, up to ``cap``."""

    tolerance: float
    cap: int
    round_size: int
    first: int

    def rounds_for(self, samples: int) -> int:
        """The rounds that hold at least ``samples`` samples (at most the cap's)."""
        wanted = min(max(samples, self.first), self.cap)
        return -(-wanted // self.round_size)

    @property
    def max_rounds(self) -> int:
        """The rounds the cap allows."""
        return max(1, self.cap // self.round_size)


def relative_error(heatmap: np.ndarray, stderr: np.ndarray) -> float:
    """A heatmap's uncertainty relative to its total mass: Σ standard error / Σ |attribution|
    over its pixels (inf for a heatmap with no mass and some error, 0 for an exact one)."""
    error = float(np.abs(stderr).sum())
    mass = float(np.abs(heatmap).sum())
    if error == 0.0:
        return 0.0
    return error / mass if mass > 0 else float("inf")


def check_budget(
    method: str, samples: Any, tolerance: Any, max_samples: Any
) -> tuple[int, AutoBudget | None]:
    """The fixed budget, or the cap and the ``AutoBudget`` of ``samples="auto"``."""
    spec = METHODS[method]
    default = spec.default_samples
    if samples == "fixed":  # the method's own fixed budget, whatever "auto" would do
        samples = default
    auto = samples == "auto" if isinstance(samples, str) else samples is None and spec.round_size is not None
    if isinstance(samples, str) and samples != "auto":
        raise XaiTypeError(
            f"samples={samples!r} is neither 'auto', 'fixed' nor an int; use 'auto' (the default), "
            "'fixed' (each method's default budget) or e.g. 1000"
        )
    if samples == "auto" and spec.round_size is None:
        raise XaiValueError(
            f"samples='auto' needs a method that grows in rounds, but method={method!r} is "
            f"registered without round_size; pass samples=N (its budget is {default}), or "
            "register it with round_size= and a runner that honours Request.auto"
        )
    if not auto:
        for name, value in (("tolerance", tolerance), ("max_samples", max_samples)):
            if value is not None:
                raise XaiValueError(
                    f"{name}={short(value)} applies to samples='auto' only, but samples={short(samples)} "
                    f"for method={method!r}; drop {name}= or pass samples='auto'"
                )
        if samples is None:
            return default, None
        return check_int(samples, "samples", MIN_SAMPLES, MAX_SAMPLES, f"or 'auto'; default {default}"), None
    round_size = cast(int, spec.round_size)
    cap = default if max_samples is None else check_int(
        max_samples, "max_samples", round_size, MAX_SAMPLES, f"at least one round of {round_size}"
    )
    if tolerance is None:
        tol = DEFAULT_TOLERANCE
    elif isinstance(tolerance, (bool, np.bool_)) or not isinstance(tolerance, (int, float, np.number)):
        raise XaiTypeError(f"tolerance={short(tolerance)} is not a float; use e.g. {DEFAULT_TOLERANCE} (in (0, 1])")
    elif not 0 < float(tolerance) <= 1:
        raise XaiValueError(
            f"tolerance={short(tolerance)} is out of range; use a relative error in (0, 1], e.g. "
            f"{DEFAULT_TOLERANCE} (smaller is more certain and costs more samples)"
        )
    else:
        tol = float(tolerance)
    first = min(cap, AUTO_FIRST_ROUNDS * round_size)
    return cap, AutoBudget(tolerance=tol, cap=cap, round_size=round_size, first=first)


def budget_note(request: Any) -> str:
    """How the samples were chosen, in words, for the report."""
    if request.auto is not None:
        return f"auto (tolerance {request.auto.tolerance:g}, cap {request.auto.cap})"
    if request.spec.round_size is None:
        return f"fixed {request.samples}: method {request.method!r} has no rounds, so 'auto' runs its budget"
    return f"fixed {request.samples}"
