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


EVIDENCE_GRID = 16  # cells along the longer side of the image for evidence_shift


def evidence_grid(exp: Explanation, grid: int = EVIDENCE_GRID) -> tuple[np.ndarray, int]:
    """The positive attribution summed over square cells (``grid`` along the longer side),
    as a share of the total (all zeros when there is no positive evidence), and the cell side.
    """
    positive = _check(exp).positive
    height, width = positive.shape
    cell = max(1, -(-max(height, width) // grid))
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell))
    padded[:height, :width] = positive
    pooled = padded.reshape(rows, cell, cols, cell).sum(axis=(1, 3))
    total = pooled.sum()
    return (pooled / total if total > 0 else pooled), cell


def evidence_shift(exp_a: Explanation, exp_b: Explanation, grid: int = EVIDENCE_GRID) -> float:
    """How far the positive evidence moved from ``exp_a`` to ``exp_b``: the earth mover's
    distance between their positive-attribution mass maps on a coarse grid, in fractions of
    the image diagonal (0: same place; 1: from one corner to the opposite one).

    Computed exactly with POT (``ot.emd2``) over cell centres with Euclidean ground cost. When
    one side has no positive evidence at all the shift is 1.0; when neither has, 0.0.
    """
    import ot

    a, b = _pair(exp_a, exp_b)
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
        raise XaiValueError(f"grid={grid!r} must be a positive int (cells along the longer side)")
    mass_a, cell = evidence_grid(a, int(grid))
    mass_b, _ = evidence_grid(b, int(grid))
    has_a, has_b = mass_a.sum() > 0, mass_b.sum() > 0
    if not (has_a and has_b):
        return 0.0 if has_a == has_b else 1.0
    rows, cols = mass_a.shape
    yy, xx = np.meshgrid((np.arange(rows) + 0.5) * cell, (np.arange(cols) + 0.5) * cell, indexing="ij")
    centres = np.stack([yy.ravel(), xx.ravel()], axis=1)
    wa, wb = mass_a.ravel(), mass_b.ravel()
    # only cells holding mass take part: the transport problem stays small and exact
    ia, ib = np.flatnonzero(wa), np.flatnonzero(wb)
    cost = ot.dist(centres[ia], centres[ib], metric="euclidean")
    height, width = a.heatmap.shape
    diagonal = float(np.hypot(height, width))
    distance = float(ot.emd2(wa[ia] / wa[ia].sum(), wb[ib] / wb[ib].sum(), cost))
    return min(1.0, distance / diagonal)


__all__ = [
    "cosine",
    "evidence_grid",
    "evidence_shift",
    "pointing_game",
    "relevance_mass",
    "relevance_rank",
    "spearman",
    "top_k_intersection",
    "top_k_iou",
]
