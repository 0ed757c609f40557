"""Suggested bounds from observed values: the rule ``pytest --xai-calibrate`` applies.

Pure functions and typed records, no pytest: the calibrate plugin (``plugin/calibrate/__init__.py``)
collects each check's values across seeds and models, and this module turns them into a bound.

The rule, per check: a lower bound (focus ratio, agreement) sits below the smallest value
observed, an upper bound (avoid mass, golden shift, sanity similarity) above the largest. The
margin is a factor (``MARGIN_FACTOR``: divide the minimum, multiply the maximum) or, for
metrics that can be negative (Spearman), an absolute step. The result is clipped to the
metric's range. A suggested lower bound at or below what a uniform heatmap scores carries a
warning (``chance_warning``): it would pass an explanation that ignores the region.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MARGIN_FACTOR = 1.5


@dataclass(frozen=True)
class MetricRange:
    """The values a metric can take, the absolute margin used instead of the factor
    (``None``: the factor), and what a uniform heatmap scores (``chance``; None where it
    depends on the region)."""

    low: float = 0.0
    high: float = math.inf
    absolute: float | None = None
    chance: float | None = None


# metric name -> its range; a metric not listed is taken as unbounded with the factor margin
METRIC_RANGES: dict[str, MetricRange] = {
    "relevance_ratio": MetricRange(0.0, math.inf, chance=1.0),
    "relevance_mass": MetricRange(0.0, 1.0),
    "relevance_rank": MetricRange(0.0, 1.0),
    "top_k_iou": MetricRange(0.0, 1.0),
    "spearman": MetricRange(-1.0, 1.0, absolute=0.2),
    "cosine": MetricRange(-1.0, 1.0, absolute=0.2),
    "evidence_shift": MetricRange(0.0, 1.0),
    "support_loss": MetricRange(0.0, 1.0),
    "similarity": MetricRange(-1.0, 1.0, absolute=0.2),
}


def metric_range(metric: str) -> MetricRange:
    """The range registered for ``metric``, or an unbounded one."""
    return METRIC_RANGES.get(metric, MetricRange(-math.inf, math.inf))


def chance_warning(suggested: float | None, *, upper: bool, metric: str) -> str:
    """Why a suggested lower bound at or below chance proves nothing, or "" when it is above.

    A uniform heatmap scores ``chance`` (1 for the relevance ratio), so such a bound passes an
    explanation that ignores the region; it comes from a pass where the evidence sat elsewhere.
    """
    chance = metric_range(metric).chance
    if upper or chance is None or suggested is None or suggested > chance:
        return ""
    return (
        f"suggested {suggested:g} is at or below chance ({chance:g}: a uniform heatmap passes it), so it "
        "checks nothing; a pass put less evidence on the region than its area gives it: check the "
        "region (drawn where the model reads?) and the model, or bound focus another way "
        "(assert_region_needed)"
    )


def suggest_bound(values: list[float | None], *, upper: bool, metric: str, factor: float = MARGIN_FACTOR) -> tuple[float | None, str]:
    """A bound every observed value passes with a margin, and the margin in words.

    values: the check's measures across seeds and models (None and NaN are skipped).
    upper: True when the check's bound is a maximum (the value must stay below it).
    Returns (None, reason) when no finite value was observed.
    """
    if not factor > 1:
        raise ValueError(f"factor={factor!r} must exceed 1; pass e.g. 1.5")
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, "no finite value observed"
    rng = metric_range(metric)
    edge = max(finite) if upper else min(finite)
    if rng.absolute is not None:
        bound = edge + rng.absolute if upper else edge - rng.absolute
        margin = f"{'max +' if upper else 'min -'} {rng.absolute:g}"
    else:
        grow = factor if (edge >= 0) == upper else 1 / factor  # away from the observed values
        bound = edge * grow
        margin = f"{'max' if upper else 'min'} {'×' if grow > 1 else '÷'} {factor:g}"
    clipped = min(max(bound, rng.low), rng.high)
    if clipped != bound:
        margin += f", clipped to [{rng.low:g}, {rng.high:g}]"
    # four decimals, rounded away from the observed values so the margin is kept
    scaled = round(clipped * 1e4, 6)
    return (math.ceil(scaled) if upper else math.floor(scaled)) / 1e4, margin


@dataclass
class CalibratedCheck:
    """One check across the calibration runs: what it judges, its current bound, the value
    observed in each run (keyed by the run's label, None when not a number or not reached),
    and the suggested bound with its margin."""

    test: str
    kind: str
    metric: str
    upper: bool
    bound: float | None
    region: str | None = None
    method: str | None = None
    image: str | None = None
    observed: dict[str, float | None] = field(default_factory=dict)
    suggested: float | None = None
    margin: str = ""
    warning: str = ""  # set when the suggestion proves nothing (``chance_warning``)

    def settle(self, factor: float = MARGIN_FACTOR) -> None:
        """Fill ``suggested``, ``margin`` and ``warning`` from ``observed``."""
        self.suggested, self.margin = suggest_bound(list(self.observed.values()), upper=self.upper, metric=self.metric, factor=factor)
        self.warning = chance_warning(self.suggested, upper=self.upper, metric=self.metric)

    @property
    def key(self) -> tuple[str | None, ...]:
        return (self.test, self.kind, self.metric, self.region, self.method, self.image)
