"""Where an explanation's evidence moved between two explanations of one image: the measures
a release golden is judged by (evidence shift, support loss, cells that gained mass)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_xai.checks.metrics import NAN, all_finite, as_explanation, no_evidence, pair
from pytest_xai.defaults import EVIDENCE_SUPPORT, EVIDENCE_SUPPORT_GROW, GAINED_CELL_FRACTION
from pytest_xai.errors import XaiValueError
from pytest_xai.explanation import Explanation

EVIDENCE_GRID = 16  # cells along the longer side of the image for evidence_shift


def _check_grid(grid: Any) -> int:
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
        raise XaiValueError(f"grid={grid!r} must be a positive int (cells along the longer side)")
    return int(grid)


def evidence_grid(exp: Explanation, grid: int = EVIDENCE_GRID) -> tuple[np.ndarray, int]:
    """The positive attribution summed over square cells (``grid`` along the longer side),
    as a share of the total (all zeros without positive evidence, ``no_evidence``), and the
    cell side.
    """
    positive = as_explanation(exp).positive
    if no_evidence(exp):
        positive = np.zeros_like(positive)
    height, width = positive.shape
    cell = max(1, -(-max(height, width) // _check_grid(grid)))
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
    one side has no positive evidence (``no_evidence``) the shift is 1.0; when neither has, NaN
    (nothing to compare). NaN when either heatmap holds NaN or inf.
    """
    a, b = pair(exp_a, exp_b)
    grid = _check_grid(grid)
    if not all_finite(a, b):
        return NAN
    mass_a, cell = evidence_grid(a, grid)
    mass_b, _ = evidence_grid(b, grid)
    has_a, has_b = mass_a.sum() > 0, mass_b.sum() > 0
    if not (has_a and has_b):
        return NAN if has_a == has_b else 1.0
    if np.array_equal(mass_a, mass_b):
        return 0.0  # nothing moved (a golden re-run bit for bit): no transport problem to solve
    import ot

    rows, cols = mass_a.shape
    yy, xx = np.meshgrid(
        (np.arange(rows) + 0.5) * cell, (np.arange(cols) + 0.5) * cell, indexing="ij"
    )
    centres = np.stack([yy.ravel(), xx.ravel()], axis=1)
    wa, wb = mass_a.ravel(), mass_b.ravel()
    # only cells holding mass take part: the transport problem stays small and exact
    ia, ib = np.flatnonzero(wa), np.flatnonzero(wb)
    cost = ot.dist(centres[ia], centres[ib], metric="euclidean")
    height, width = a.heatmap.shape
    diagonal = float(np.hypot(height, width))
    distance = float(ot.emd2(wa[ia] / wa[ia].sum(), wb[ib] / wb[ib].sum(), cost))
    return min(1.0, distance / diagonal)


def support_cells(
    exp: Explanation, grid: int = EVIDENCE_GRID, support: float = EVIDENCE_SUPPORT, grow: int = 0
) -> np.ndarray:
    """The explanation's evidence support on the grid: the fewest cells that together hold at
    least ``support`` of its positive mass (``evidence_grid``), taken fullest first (ties by
    row-major position; a share reached within 1e-6 counts, as float32 maps sum with round-off),
    then grown by ``grow`` cells in every direction, diagonals included. All False without
    positive evidence."""
    if isinstance(support, bool) or not isinstance(support, (int, float)) or not 0 < support <= 1:
        raise XaiValueError(f"support={support!r} must be a share in (0, 1]")
    if isinstance(grow, bool) or not isinstance(grow, (int, np.integer)) or grow < 0:
        raise XaiValueError(f"grow={grow!r} must be an int >= 0 (cells)")
    mass, _ = evidence_grid(exp, grid)
    flat = mass.ravel()
    out = np.zeros(flat.size, dtype=bool)
    if flat.sum() > 0:
        order = np.argsort(-flat, kind="stable")
        # round-off in the running sum must not add a cell after the share was reached
        count = int(np.searchsorted(np.cumsum(flat[order]), support - 1e-6)) + 1
        out[order[: min(count, flat.size)]] = True
    cells = out.reshape(mass.shape)
    rows, cols = mass.shape
    for _ in range(int(grow)):  # one cell in all eight directions per step
        padded = np.pad(cells, 1)
        cells = np.logical_or.reduce(
            [padded[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3)]
        )
    return cells


def support_loss(
    golden: Explanation, new: Explanation, grid: int = EVIDENCE_GRID,
    support: float = EVIDENCE_SUPPORT, grow: int = EVIDENCE_SUPPORT_GROW,
) -> float:
    """The share of the new positive evidence that lies outside the golden's support: the
    fewest grid cells holding ``support`` of the golden's positive mass, grown by ``grow``
    cells in every direction (``support_cells``; the defaults: a 16-cell grid, 90%, 2 cells).

    Release mode's second criterion. The evidence shift (earth mover's distance) is small when
    a compact object's evidence spreads thinly over the background around it; this measure
    is not: it counts how much of the new evidence left the cells the golden relied on,
    unless it stays next to them: the growth forgives a harmless release that moves the evidence
    to the neighbouring superpixel. 0: all of it inside; 1: none. The golden itself scores at
    most ``1 - support``. 1.0 when only the golden has no positive evidence (``no_evidence``); NaN
    when neither has, or either heatmap holds NaN or inf.
    """
    a, b = pair(golden, new)
    grid = _check_grid(grid)
    cells = support_cells(a, grid, support, grow)  # validates support and grow first
    if not all_finite(a, b):
        return NAN
    mass_b, _ = evidence_grid(b, grid)
    has_a, has_b = bool(cells.any()), mass_b.sum() > 0
    if not (has_a and has_b):
        return NAN if has_a == has_b else 1.0
    return float(np.clip(1.0 - mass_b[cells].sum(), 0.0, 1.0))


def mass_centre(exp: Explanation) -> tuple[float, float] | None:
    """The centre of the positive attribution as (x, y) in pixels (pixel centres at +0.5);
    None when there is no positive evidence or the heatmap holds NaN."""
    if not all_finite(as_explanation(exp)):
        return None
    if no_evidence(exp):
        return None
    positive = exp.positive
    total = positive.sum()
    ys, xs = np.indices(positive.shape)
    return float((positive * (xs + 0.5)).sum() / total), float(
        (positive * (ys + 0.5)).sum() / total
    )


def gained_cells(
    golden: Explanation, new: Explanation, grid: int = EVIDENCE_GRID
) -> tuple[np.ndarray, float]:
    """Where evidence appeared: the pixel mask of grid cells where the golden held almost none
    of its positive mass and the new explanation holds a real part of its own ("almost none":
    below ``GAINED_CELL_FRACTION`` of the fullest cell, on each side), and the share of the new
    positive mass lying in those cells. Identical explanations gain nothing.

    A golden without positive evidence had almost none everywhere. NaN share on NaN heatmaps.
    """
    a, b = pair(golden, new)
    height, width = a.heatmap.shape
    if not all_finite(a, b):
        return np.zeros((height, width), dtype=bool), NAN
    mass_a, cell = evidence_grid(a, grid)
    mass_b, _ = evidence_grid(b, grid)
    gained = (mass_a < GAINED_CELL_FRACTION * mass_a.max()) | (mass_a.max() == 0)
    gained &= (mass_b >= GAINED_CELL_FRACTION * mass_b.max()) & (mass_b > 0)
    pixels = np.kron(gained, np.ones((cell, cell), dtype=bool))[:height, :width]
    return pixels, float(mass_b[gained].sum())
