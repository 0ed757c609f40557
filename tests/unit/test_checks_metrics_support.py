"""metrics.support_cells and metrics.support_loss on hand-made heatmaps with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explanation

from pytest_xai import XaiValueError
from pytest_xai.checks import metrics


def cells(values: dict[tuple[int, int], float], size: int = 64, grid: int = 16) -> np.ndarray:
    """A heatmap whose positive mass sits in whole grid cells: (row, col) -> mass per cell."""
    cell = size // grid
    heat = np.zeros((size, size), np.float32)
    for (r, c), mass in values.items():
        heat[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = mass / cell**2
    return heat


GOLDEN = cells({(5, 5): 0.5, (5, 6): 0.3, (6, 5): 0.15, (0, 0): 0.05})


def test_support_is_the_fewest_fullest_cells_reaching_the_share() -> None:
    g = explanation(GOLDEN)
    assert np.argwhere(metrics.support_cells(g, support=0.8)).tolist() == [[5, 5], [5, 6]]  # 0.5 + 0.3
    assert np.argwhere(metrics.support_cells(g, support=0.81)).tolist() == [[5, 5], [5, 6], [6, 5]]
    assert metrics.support_cells(g, support=1.0).sum() == 4
    assert not metrics.support_cells(explanation(-np.abs(GOLDEN))).any()  # no positive evidence
    # grown by one cell in all eight directions: rows 4..6, cols 4..7; by two: rows 3..7, cols 3..8
    assert metrics.support_cells(g, support=0.8, grow=1).sum() == 3 * 4
    grown = metrics.support_cells(g, support=0.8, grow=2)
    assert grown.sum() == 5 * 6 and grown[3:8, 3:9].all()


def test_support_loss_known_answers() -> None:
    g = explanation(GOLDEN)
    assert metrics.support_loss(g, g, support=0.8, grow=0) == pytest.approx(0.2)  # at most 1 - support
    assert metrics.support_loss(g, g, support=0.8, grow=1) == pytest.approx(0.05)  # (6, 5) is next to it
    assert metrics.support_loss(g, g, support=1.0) == pytest.approx(0.0)
    # a third of the new mass on the golden's two support cells, the rest spread thinly over 60
    # background cells: the earth mover's distance can stay small, the loss cannot
    spread = {(r, c): (2 / 3) / 60 for r in range(10, 16) for c in range(6, 16)}
    new = explanation(cells({(5, 5): 1 / 6, (5, 6): 1 / 6, **spread}))
    assert metrics.support_loss(g, new, support=0.8, grow=0) == pytest.approx(2 / 3, abs=1e-6)
    # the spread cells (rows 10..15) lie beyond the grown support (rows 4..6): nothing changes
    assert metrics.support_loss(g, new, support=0.8, grow=1) == pytest.approx(2 / 3, abs=1e-6)
    # everything moved into one cell the golden never had
    assert metrics.support_loss(g, explanation(cells({(15, 15): 1.0}))) == pytest.approx(1.0)
    # negative evidence takes no part
    assert metrics.support_loss(g, explanation(GOLDEN - cells({(12, 12): 5.0})), support=0.8, grow=0) == pytest.approx(0.2)


def test_support_loss_sides_without_evidence_and_nan() -> None:
    g, silent = explanation(GOLDEN), explanation(np.zeros((64, 64)))
    assert metrics.support_loss(silent, g) == 1.0  # evidence appeared from nothing
    assert metrics.support_loss(g, silent) == 1.0  # evidence vanished: none left in the support
    assert np.isnan(metrics.support_loss(silent, silent))
    nan = GOLDEN.copy()
    nan[0, 0] = np.nan
    assert np.isnan(metrics.support_loss(g, explanation(nan)))


@pytest.mark.parametrize("support", [0, -0.1, 1.5, float("nan"), True, "0.8"])
def test_support_share_is_validated(support: object) -> None:
    with pytest.raises(XaiValueError, match=r"support=.* must be a share in \(0, 1\]"):
        metrics.support_loss(explanation(GOLDEN), explanation(GOLDEN), support=support)  # type: ignore[arg-type]


@pytest.mark.parametrize("grow", [-1, 1.5, True, "1"])
def test_support_growth_is_validated(grow: object) -> None:
    with pytest.raises(XaiValueError, match=r"grow=.* must be an int >= 0 \(cells\)"):
        metrics.support_loss(explanation(GOLDEN), explanation(GOLDEN), grow=grow)  # type: ignore[arg-type]
