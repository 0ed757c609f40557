"""Localisation and agreement metrics on Explanations.

Localisation metrics follow Quantus' definitions (RelevanceMassAccuracy,
RelevanceRankAccuracy, PointingGame, TopKIntersection) applied to the positive part of the
heatmap: evidence for the target. Unlike Quantus, an empty region raises instead of
returning NaN (or True, in its batched PointingGame).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.regions import as_region


def _check(exp: Any, name: str = "explanation") -> Explanation:
    if not isinstance(exp, Explanation):
        raise XaiTypeError(
            f"{name} of type {type(exp).__name__} is not an Explanation; pass the result of explain()"
        )
    return exp


def region_mask(exp: Explanation, region: Any) -> np.ndarray:
    """The region rasterised at the explanation's size (empty or outside raises)."""
    height, width = _check(exp).heatmap.shape
    return as_region(region).to_mask(height, width)


def relevance_mass(exp: Explanation, region: Any) -> float:
    """Share of the positive attribution that falls inside ``region`` (0 when there is none)."""
    mask = region_mask(exp, region)
    positive = exp.positive
    total = positive.sum()
    return float(positive[mask].sum() / total) if total > 0 else 0.0


def relevance_rank(exp: Explanation, region: Any) -> float:
    """Share of the region's pixels among the top-|region| pixels by positive attribution."""
    mask = region_mask(exp, region).ravel()
    k = int(mask.sum())
    order = np.argsort(exp.positive.ravel(), kind="stable")
    return float(mask[order[-k:]].sum() / k)


def pointing_game(exp: Explanation, region: Any) -> bool:
    """Whether a pixel of maximal attribution lies inside the region."""
    mask = region_mask(exp, region)
    positive = exp.positive
    return bool(np.any(mask & (positive == positive.max())))


def top_k_intersection(exp: Explanation, region: Any, k: int) -> float:
    """Share of the k most attributed pixels that lie inside the region."""
    mask = region_mask(exp, region).ravel()
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= mask.size:
        raise XaiValueError(f"k={k!r} must be an int in 1..{mask.size} (the pixel count)")
    order = np.argsort(exp.positive.ravel(), kind="stable")
    return float(mask[order[-int(k) :]].sum() / k)


def _pair(a: Any, b: Any) -> tuple[Explanation, Explanation]:
    a, b = _check(a, "exp_a"), _check(b, "exp_b")
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


def _rank(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values)


def spearman(exp_a: Explanation, exp_b: Explanation) -> float:
    """Spearman rank correlation: on superpixel weights when both share segments, else heatmaps.

    A constant side has no ranking: the result is 1.0 if both are constant, else 0.0.
    """
    a, b = _pair(exp_a, exp_b)
    if shares_segments(a, b):
        x, y = np.asarray(a.weights), np.asarray(b.weights)
    else:
        x, y = a.heatmap.ravel().astype(np.float64), b.heatmap.ravel().astype(np.float64)
    rx, ry = _rank(x), _rank(y)
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return 1.0 if sx == sy else 0.0
    return float(np.clip(np.corrcoef(rx, ry)[0, 1], -1.0, 1.0))


def top_k_mask(exp: Explanation, fraction: float) -> np.ndarray:
    """The ``fraction`` of pixels with the highest attribution (ties broken by position)."""
    flat = exp.heatmap.ravel()
    k = max(1, int(round(fraction * flat.size)))
    out = np.zeros(flat.size, dtype=bool)
    out[np.argsort(-flat.astype(np.float64), kind="stable")[:k]] = True
    return out.reshape(exp.heatmap.shape)


def top_k_iou(exp_a: Explanation, exp_b: Explanation, fraction: float = 0.2) -> float:
    """IoU of the two explanations' top-``fraction`` most attributed pixel sets."""
    a, b = _pair(exp_a, exp_b)
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise XaiValueError(f"fraction={fraction!r} must be in (0, 1]")
    ma, mb = top_k_mask(a, fraction), top_k_mask(b, fraction)
    return float((ma & mb).sum() / (ma | mb).sum())


def cosine(exp_a: Explanation, exp_b: Explanation) -> float:
    """Cosine similarity of the two heatmaps (0 when either is all zeros)."""
    a, b = _pair(exp_a, exp_b)
    x, y = a.heatmap.ravel().astype(np.float64), b.heatmap.ravel().astype(np.float64)
    denom = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / denom) if denom > 0 else 0.0


__all__ = [
    "cosine",
    "pointing_game",
    "relevance_mass",
    "relevance_rank",
    "spearman",
    "top_k_intersection",
    "top_k_iou",
]
