"""Checks that ask for what they need: a measure's interval from the heatmaps' sampling errors,
and more rounds while the interval straddles the bound.

An explanation's error basis E (``Explanation.error_basis``) says its estimate is off by about
``z @ E``, z ~ N(0, I). A check's measure (a relevance mass, a Spearman correlation, an evidence
shift) is a nonlinear function of one or two heatmaps, so its standard error is taken from the
measure of plausible redraws of the heatmaps (a parametric bootstrap, seeded so that a verdict
never depends on the run), and the interval is the point value ± 1.96 of it: 40 redraws
estimate a standard error within about 11%, where percentiles would need hundreds (an
evidence shift solves a transport problem per redraw). While the central 95% straddles the bound, every
explanation that can grow (``samples="auto"``, below its cap) draws more rounds, doubling its
samples, and the check measures again; the explanation grows in place, so every later check
of it reads the same rounds. At the cap the point estimate decides, as a fixed budget does, and
the verdict says it was undecided.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
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

    def record(self) -> Mapping[str, Any]:
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


def redraw_values(measure: Measure, explanations: Sequence[Explanation], draws: int) -> np.ndarray | None:
    """``measure`` of ``draws`` seeded redraws (the same ones every run, the first k of a longer
    list the same), or None when no explanation carries an error estimate."""
    uncertain = [e.error_basis is not None and len(e.error_basis) > 0 for e in explanations]
    if not any(uncertain):
        return None
    rngs = [np.random.default_rng(i) for i in range(len(explanations))]
    z = [rng.standard_normal((draws, len(e.error_basis))) if u else None  # type: ignore[arg-type]
         for rng, e, u in zip(rngs, explanations, uncertain)]
    return np.array([
        measure(*(redraw(e, zs[k]) if zs is not None else e for e, zs in zip(explanations, z)))
        for k in range(draws)
    ], dtype=np.float64)


def interval(
    measure: Measure, explanations: Sequence[Explanation], draws: int = INTERVAL_DRAWS, z: float | None = None
) -> tuple[float, float] | None:
    """The ``INTERVAL_LEVEL`` interval of ``measure`` (or ± ``z`` deviations): its value ± z
    times its standard deviation over redraws of the explanations; None when none carries an
    error estimate, or the measure is not a number on most redraws."""
    values = redraw_values(measure, explanations, draws)
    point = float(measure(*explanations))
    if values is None or np.isnan(values).mean() > 0.5 or point != point:
        return None
    half = (z or _Z) * float(np.nanstd(values, ddof=1))
    return point - half, point + half


_Z = NormalDist().inv_cdf((1 + INTERVAL_LEVEL) / 2)
# A first look of QUICK_DRAWS redraws settles a check far from its bound at a wider interval
# (its standard deviation is then known within about 25%); the others take all INTERVAL_DRAWS.
QUICK_DRAWS = 10


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
        quick = interval(measure, explanations, QUICK_DRAWS, z=1.6 * _Z) if value == value else None
        if quick is not None and settled(value, *quick, bound, upper):
            return Decision(value, value - (value - quick[0]) / 1.6, value + (quick[1] - value) / 1.6, samples, False)
        found = interval(measure, explanations) if quick is not None else None
        if found is None:
            return Decision(value, None, None, samples, False)
        low, high = found
        if settled(value, low, high, bound, upper):
            return Decision(value, low, high, samples, False)
        grown = [e.grow(2 * e.samples, asked_by) for e in explanations if e.can_grow]
        if not any(grown):
            return Decision(value, low, high, samples, True)
