"""Localisation and agreement metrics on Explanations.

Localisation metrics follow Quantus' definitions (RelevanceMassAccuracy,
RelevanceRankAccuracy, PointingGame, TopKIntersection) applied to the positive part of the
heatmap: evidence for the target. Unlike Quantus, an empty region raises instead of
returning NaN (or True, in its batched PointingGame). A heatmap holding NaN or inf gives NaN,
never a number that could pass a bound. So does an explanation without evidence (see
``no_evidence``): a map of zeros or round-off says nothing about where the model looks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_xai.defaults import (
    EVIDENCE_ATOL,
    EVIDENCE_RTOL,
    TOP_K_FRACTION,
)
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.regions import as_region

NAN = float("nan")


def as_explanation(exp: Any, name: str = "explanation") -> Explanation:
    if not isinstance(exp, Explanation):
        raise XaiTypeError(
            f"{name} of type {type(exp).__name__} is not an Explanation; pass the result of explain()"
        )
    return exp


def all_finite(*exps: Explanation) -> bool:
    return all(bool(np.isfinite(e.heatmap).all()) for e in exps)


def _attributions(exp: Explanation) -> np.ndarray:
    """Per-feature attributions: superpixel weights, else the pixel heatmap (float64)."""
    return np.asarray(exp.heatmap if exp.weights is None else exp.weights, dtype=np.float64)


def _floor(exp: Explanation) -> float:
    """Attribution totals at or below this are round-off: ``EVIDENCE_RTOL`` of the explained
    output's value on the image (``meta["output_value"]``), else exactly zero."""
    value = exp.meta.get("output_value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        return 0.0
    return EVIDENCE_RTOL * abs(float(value)) + EVIDENCE_ATOL


def is_silent(exp: Explanation) -> bool:
    """Whether the explanation carries no evidence at all, for or against: the summed
    |attribution| is round-off against the explained output (NaN maps are not silent)."""
    values = _attributions(as_explanation(exp))
    return bool(np.isfinite(values).all()) and float(np.abs(values).sum()) <= _floor(exp)


def no_evidence(exp: Explanation) -> str | None:
    """Why an explanation carries no positive evidence, in words; None when it does.

    No evidence at all: the model's explained output did not vary when the image was
    perturbed (a probability saturated at 1.0, a model that ignores its input, a background
    equal to the image), so every attribution is zero or round-off. No positive evidence: every
    attribution argues against the target. Either way no region can hold the evidence.
    """
    values = _attributions(as_explanation(exp))
    if not np.isfinite(values).all():
        return None
    floor, value = _floor(exp), exp.meta.get("output_value")
    if float(np.abs(values).sum()) <= floor:
        against = f" against its {exp.output} {value:.4g}" if floor > 0 else ""
        return (
            f"no evidence: the attributions sum to {np.abs(values).sum():.3g} in absolute value{against}, "
            "so the model's output did not vary when the image was perturbed (a saturated "
            "probability, a model that ignores its input, a background equal to the image); "
            "explain output='logit', or check the model"
        )
    if float(np.clip(values, 0, None).sum()) <= floor:
        return f"no positive evidence: every attribution argues against {exp.target_name!r}"
    return None


def region_mask(exp: Explanation, region: Any) -> np.ndarray:
    """The region rasterised at the explanation's size (empty or outside raises)."""
    height, width = as_explanation(exp).heatmap.shape
    return as_region(region).to_mask(height, width)


def relevance_mass(exp: Explanation, region: Any) -> float:
    """Share of the positive attribution that falls inside ``region`` (NaN when there is none)."""
    mask = region_mask(exp, region)
    if not all_finite(exp) or no_evidence(exp):
        return NAN
    positive = exp.positive
    return float(positive[mask].sum() / positive.sum())


def region_gains(golden: Explanation, new: Explanation, regions: Mapping[str, Any]) -> dict[str, float]:
    """The share of the positive mass each named region gained from ``golden`` to ``new``:
    ``relevance_mass`` in ``new`` minus in ``golden`` (a loss is negative; NaN without evidence)."""
    a, b = pair(golden, new)
    return {str(name): relevance_mass(b, region) - relevance_mass(a, region) for name, region in regions.items()}


def relevance_ratio(exp: Explanation, region: Any) -> float:
    """Relevance mass divided by the region's share of the image area.

    A uniform heatmap scores 1 for any region; 3 means the region holds three times the
    evidence its size alone would give it. Unlike the mass, a bound on it means the same for
    a small tag and for an object covering half the image.
    """
    mask = region_mask(exp, region)
    return relevance_mass(exp, region) / (float(mask.sum()) / mask.size)


def relevance_rank(exp: Explanation, region: Any) -> float:
    """Share of the region's pixels among the top-|region| pixels by positive attribution."""
    mask = region_mask(exp, region).ravel()
    if not all_finite(exp) or no_evidence(exp):
        return NAN
    k = int(mask.sum())
    order = np.argsort(exp.positive.ravel(), kind="stable")
    return float(mask[order[-k:]].sum() / k)


def pointing_game(exp: Explanation, region: Any) -> bool:
    """Whether a pixel of maximal attribution lies inside the region (False on NaN maps and
    without positive evidence)."""
    mask = region_mask(exp, region)
    if not all_finite(exp) or no_evidence(exp):
        return False
    positive = exp.positive
    return bool(np.any(mask & (positive == positive.max())))


def top_k_intersection(exp: Explanation, region: Any, k: int) -> float:
    """Share of the k most attributed pixels that lie inside the region."""
    mask = region_mask(exp, region).ravel()
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= mask.size:
        raise XaiValueError(f"k={k!r} must be an int in 1..{mask.size} (the pixel count)")
    if not all_finite(exp) or no_evidence(exp):
        return NAN
    order = np.argsort(exp.positive.ravel(), kind="stable")
    return float(mask[order[-int(k) :]].sum() / k)


def pair(a: Any, b: Any) -> tuple[Explanation, Explanation]:
    a, b = as_explanation(a, "exp_a"), as_explanation(b, "exp_b")
    if a.heatmap.shape != b.heatmap.shape:
        raise XaiValueError(
            f"exp_a is {a.heatmap.shape} and exp_b is {b.heatmap.shape}; compare explanations "
            "of the same image"
        )
    return a, b


def shares_segments(a: Explanation, b: Explanation) -> bool:
    """Whether both explanations have superpixel weights over the same segmentation."""
    return (
        a.weights is not None
        and b.weights is not None
        and a.segments is not None
        and b.segments is not None
        and a.segments.shape == b.segments.shape
        and bool(np.array_equal(a.segments, b.segments))
    )


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of two vectors: NaN when either holds NaN/inf; a constant side has no
    ranking, so 1.0 if both are constant, else 0.0."""
    from scipy.stats import rankdata

    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return NAN
    rx, ry = rankdata(x), rankdata(y)
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return 1.0 if sx == sy else 0.0
    return float(np.clip(np.corrcoef(rx, ry)[0, 1], -1.0, 1.0))


def spearman(exp_a: Explanation, exp_b: Explanation, *, absolute: bool = False) -> float:
    """Spearman rank correlation: on superpixel weights when both share segments, else heatmaps.

    ``absolute`` ranks |attribution| (Adebayo et al.'s sanity checks: the sign of an
    attribution may flip without it saying anything else). NaN when either side holds NaN or
    is silent (``is_silent``: zeros or round-off have no ranking).
    """
    a, b = pair(exp_a, exp_b)
    if is_silent(a) or is_silent(b):
        return NAN
    if shares_segments(a, b):
        x, y = np.asarray(a.weights, np.float64), np.asarray(b.weights, np.float64)
    else:
        x, y = a.heatmap.ravel().astype(np.float64), b.heatmap.ravel().astype(np.float64)
    return _rank_correlation(np.abs(x), np.abs(y)) if absolute else _rank_correlation(x, y)


def top_k_mask(exp: Explanation, fraction: float) -> np.ndarray:
    """The ``fraction`` of pixels with the highest attribution (ties broken by position)."""
    flat = exp.heatmap.ravel()
    k = max(1, int(round(fraction * flat.size)))
    out = np.zeros(flat.size, dtype=bool)
    out[np.argsort(-flat.astype(np.float64), kind="stable")[:k]] = True
    return out.reshape(exp.heatmap.shape)


def top_k_iou(exp_a: Explanation, exp_b: Explanation, fraction: float = TOP_K_FRACTION) -> float:
    """IoU of the two explanations' top-``fraction`` most attributed pixel sets (NaN when
    either holds NaN or is silent)."""
    a, b = pair(exp_a, exp_b)
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 < fraction <= 1
    ):
        raise XaiValueError(f"fraction={fraction!r} must be in (0, 1]")
    if not all_finite(a, b) or is_silent(a) or is_silent(b):
        return NAN
    ma, mb = top_k_mask(a, fraction), top_k_mask(b, fraction)
    return float((ma & mb).sum() / (ma | mb).sum())


@dataclass(frozen=True)
class Agreement:
    """How alike two explanations rank the evidence: Spearman and top-k IoU (NaN if undefined)."""

    spearman: float
    top_k_iou: float


def agreement(
    exp_a: Explanation, exp_b: Explanation, fraction: float = TOP_K_FRACTION
) -> Agreement:
    """Spearman (``spearman``) and top-``fraction`` IoU (``top_k_iou``) of two explanations."""
    return Agreement(spearman(exp_a, exp_b), top_k_iou(exp_a, exp_b, fraction))


def cosine(exp_a: Explanation, exp_b: Explanation) -> float:
    """Cosine similarity of the two heatmaps (NaN when either holds NaN or is silent)."""
    a, b = pair(exp_a, exp_b)
    if not all_finite(a, b) or is_silent(a) or is_silent(b):
        return NAN
    x, y = a.heatmap.ravel().astype(np.float64), b.heatmap.ravel().astype(np.float64)
    denom = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / denom) if denom > 0 else 0.0


# -- where the evidence is ------------------------------------------------------------------


__all__ = [
    "Agreement",
    "agreement",
    "cosine",
    "is_silent",
    "no_evidence",
    "pointing_game",
    "region_gains",
    "relevance_mass",
    "relevance_rank",
    "relevance_ratio",
    "spearman",
    "top_k_intersection",
    "top_k_iou",
]
