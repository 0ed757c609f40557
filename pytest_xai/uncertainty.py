"""Checks that ask for what they need: a measure's interval from the heatmaps' sampling errors,
and more rounds while the interval straddles the bound.

An explanation's error basis E (``Explanation.error_basis``) says its estimate is off by about
``z @ E``, z ~ N(0, I). A check's measure (a relevance mass, a Spearman correlation, an evidence
shift) is a nonlinear function of one or two heatmaps, so its interval is taken from the
measure of ``INTERVAL_DRAWS`` plausible redraws of the heatmaps (a parametric bootstrap), seeded
so that a verdict never depends on the run. While the central 95% straddles the bound, every
explanation that can grow (``samples="auto"``, below its cap) draws more rounds, doubling its
samples, and the check measures again; the explanation grows in place, so every later check
of it reads the same rounds. At the cap the point estimate decides, as a fixed budget does, and
the verdict says it was undecided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pytest_xai.defaults import INTERVAL_DRAWS, INTERVAL_LEVEL
from pytest_xai.explanation import Explanation

Measure = Callable[..., float]


@dataclass(frozen=True)
class Decision:
    """A measure against its bound: the point ``value`` (which decides, as without intervals),
    its interval [``low``, ``high``] (None where no explanation carries an error estimate),
    the ``samples`` of the explanations it was measured on, and whether the interval still
    held the bound when nothing could grow (``undecided``)."""

    value: float
    low: float | None
    high: float | None
    samples: int
    undecided: bool

    @property
    def interval(self) -> list[float] | None:
        """[low, high] for records, or None."""
        return None if self.low is None or self.high is None else [self.low, self.high]

    def suffix(self) -> str:
        """" (undecided at N samples: ...)" to end a failure's line, or ""."""
        return f" ({self.words()})" if self.undecided else ""

    def record(self) -> dict[str, Any]:
        """The ``CheckResult`` fields of this decision: interval, samples, undecided."""
        if self.interval is None:
            return {"samples": self.samples}
        return {"interval": self.interval, "samples": self.samples, "undecided": self.undecided}

    def words(self) -> str:
        """"undecided at N samples: ..." for a message, or "" when decided."""
        if not self.undecided:
            return ""
        return (
            f"undecided at {self.samples} samples: the {INTERVAL_LEVEL:.0%} interval "
            f"[{self.low:.3f}, {self.high:.3f}] holds the bound, so the point estimate decided"
        )


def redraw(exp: Explanation, z: np.ndarray) -> Explanation:
    """``exp`` with its estimate moved by ``z @ error_basis`` (one plausible redraw)."""
    basis = np.asarray(exp.error_basis, dtype=np.float64)
    shift = z @ basis.reshape(len(basis), -1)
    if exp.weights is not None and exp.segments is not None and basis.ndim == 2:
        weights = exp.weights + shift
        return replace(exp, weights=weights, heatmap=weights[exp.segments].astype(np.float32), error_basis=None)
    heatmap = exp.heatmap + shift.reshape(exp.heatmap.shape)
    return replace(exp, heatmap=heatmap.astype(np.float32), error_basis=None)


def interval(measure: Measure, explanations: Sequence[Explanation], draws: int = INTERVAL_DRAWS) -> tuple[float, float] | None:
    """The central ``INTERVAL_LEVEL`` of ``measure`` over redraws of the explanations, or None
    when none carries an error estimate (or the measure is not a number on most redraws)."""
    uncertain = [e.error_basis is not None and len(e.error_basis) > 0 for e in explanations]
    if not any(uncertain):
        return None
    rng = np.random.default_rng(0)  # the same draws every run: a verdict does not depend on luck
    z = [rng.standard_normal((draws, len(e.error_basis))) if u else None  # type: ignore[arg-type]
         for e, u in zip(explanations, uncertain)]
    values = np.array([
        measure(*(redraw(e, zs[k]) if zs is not None else e for e, zs in zip(explanations, z)))
        for k in range(draws)
    ], dtype=np.float64)
    if np.isnan(values).mean() > 0.5:
        return None
    tail = (1 - INTERVAL_LEVEL) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def settled(value: float, low: float, high: float, bound: float, upper: bool) -> bool:
    """Whether the interval lies wholly on one side of the bound."""
    if upper:
        return high <= bound or low > bound
    return low >= bound or high < bound


def decide(
    measure: Measure, explanations: Sequence[Explanation], bound: float, *, upper: bool,
    asked_by: str,
) -> Decision:
    """Measure, and grow the explanations while the interval straddles the bound (each
    doubling its samples, up to its cap); see the module docstring."""
    while True:
        value = float(measure(*explanations))
        samples = max(e.samples for e in explanations)
        found = interval(measure, explanations) if value == value else None
        if found is None:
            return Decision(value, None, None, samples, False)
        low, high = found
        if settled(value, low, high, bound, upper):
            return Decision(value, low, high, samples, False)
        grown = [e.grow(2 * e.samples, asked_by) for e in explanations if e.can_grow]
        if not any(grown):
            return Decision(value, low, high, samples, True)
