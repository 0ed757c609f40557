"""The evidence measures golden comparisons use (evidence shift, mass centre, support cells and
support loss) on hand-made heatmaps with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explanation

from pytest_xai import Explanation, XaiValueError
from pytest_xai.checks import evidence


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
    assert np.argwhere(evidence.support_cells(g, support=0.8)).tolist() == [[5, 5], [5, 6]]  # 0.5 + 0.3
    assert np.argwhere(evidence.support_cells(g, support=0.81)).tolist() == [[5, 5], [5, 6], [6, 5]]
    assert evidence.support_cells(g, support=1.0).sum() == 4
    assert not evidence.support_cells(explanation(-np.abs(GOLDEN))).any()  # no positive evidence
    # grown by one cell in all eight directions: rows 4..6, cols 4..7; by two: rows 3..7, cols 3..8
    assert evidence.support_cells(g, support=0.8, grow=1).sum() == 3 * 4
    grown = evidence.support_cells(g, support=0.8, grow=2)
    assert grown.sum() == 5 * 6 and grown[3:8, 3:9].all()


def test_support_loss_known_answers() -> None:
    g = explanation(GOLDEN)
    assert evidence.support_loss(g, g, support=0.8, grow=0) == pytest.approx(0.2)  # at most 1 - support
    assert evidence.support_loss(g, g, support=0.8, grow=1) == pytest.approx(0.05)  # (6, 5) is next to it
    assert evidence.support_loss(g, g, support=1.0) == pytest.approx(0.0)
    # a third of the new mass on the golden's two support cells, the rest spread thinly over 60
    # background cells: the earth mover's distance can stay small, the loss cannot
    spread = {(r, c): (2 / 3) / 60 for r in range(10, 16) for c in range(6, 16)}
    new = explanation(cells({(5, 5): 1 / 6, (5, 6): 1 / 6, **spread}))
    assert evidence.support_loss(g, new, support=0.8, grow=0) == pytest.approx(2 / 3, abs=1e-6)
    # the spread cells (rows 10..15) lie beyond the grown support (rows 4..6): nothing changes
    assert evidence.support_loss(g, new, support=0.8, grow=1) == pytest.approx(2 / 3, abs=1e-6)
    # everything moved into one cell the golden never had
    assert evidence.support_loss(g, explanation(cells({(15, 15): 1.0}))) == pytest.approx(1.0)
    # negative evidence takes no part
    assert evidence.support_loss(g, explanation(GOLDEN - cells({(12, 12): 5.0})), support=0.8, grow=0) == pytest.approx(0.2)


def test_support_loss_sides_without_evidence_and_nan() -> None:
    g, silent = explanation(GOLDEN), explanation(np.zeros((64, 64)))
    assert evidence.support_loss(silent, g) == 1.0  # evidence appeared from nothing
    assert evidence.support_loss(g, silent) == 1.0  # evidence vanished: none left in the support
    assert np.isnan(evidence.support_loss(silent, silent))
    nan = GOLDEN.copy()
    nan[0, 0] = np.nan
    assert np.isnan(evidence.support_loss(g, explanation(nan)))


@pytest.mark.parametrize("support", [0, -0.1, 1.5, float("nan"), True, "0.8"])
def test_support_share_is_validated(support: object) -> None:
    with pytest.raises(XaiValueError, match=r"support=.* must be a share in \(0, 1\]"):
        evidence.support_loss(explanation(GOLDEN), explanation(GOLDEN), support=support)  # type: ignore[arg-type]


@pytest.mark.parametrize("grow", [-1, 1.5, True, "1"])
def test_support_growth_is_validated(grow: object) -> None:
    with pytest.raises(XaiValueError, match=r"grow=.* must be an int >= 0 \(cells\)"):
        evidence.support_loss(explanation(GOLDEN), explanation(GOLDEN), grow=grow)  # type: ignore[arg-type]


def test_evidence_shift_known_answers():
    def dot(y: int, x: int, shape: tuple[int, int] = (32, 32)) -> Explanation:
        heat = np.zeros(shape)
        heat[y, x] = 1.0
        return explanation(heat)

    # 32 px, grid 16: 2-px cells; pixel (1, 1) lies in cell (0, 0) centred at (1, 1), pixel
    # (31, 31) in cell (15, 15) centred at (31, 31): 30·√2 over the 32·√2 diagonal
    assert evidence.evidence_shift(dot(1, 1), dot(31, 31)) == pytest.approx(30 / 32)
    assert evidence.evidence_shift(dot(1, 1), dot(1, 1)) == 0.0
    # half the mass moves 8 cells (16 px) to the right: EMD = 0.5 · 16 / diagonal
    half = explanation(np.where(np.isin(np.arange(32 * 32).reshape(32, 32), [33, 33 + 16]), 1.0, 0.0))
    assert evidence.evidence_shift(dot(1, 1), half) == pytest.approx(0.5 * 16 / np.hypot(32, 32))
    assert evidence.evidence_shift(dot(1, 1), half) == pytest.approx(evidence.evidence_shift(half, dot(1, 1)))
    # no positive evidence on one side: as far as it gets; on neither: NaN, nothing to compare
    assert evidence.evidence_shift(dot(1, 1), explanation(-np.ones((32, 32)))) == 1.0
    assert np.isnan(evidence.evidence_shift(explanation(np.zeros((32, 32))), explanation(-np.ones((32, 32)))))


def test_mass_centre_known_answer():
    heat = np.zeros((4, 8))
    heat[0, 0] = 1.0  # pixel centre (0.5, 0.5)
    heat[3, 7] = 3.0  # pixel centre (7.5, 3.5)
    assert evidence.mass_centre(explanation(heat)) == pytest.approx(((0.5 + 3 * 7.5) / 4, (0.5 + 3 * 3.5) / 4))
    assert evidence.mass_centre(explanation(-np.ones((4, 8)))) is None


def test_an_unmoved_explanation_needs_no_transport_solver() -> None:
    """A golden re-run bit for bit (the usual cached run) never pays POT's import."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from pytest_xai import Explanation\nfrom pytest_xai.checks import evidence\n"
        "heat = np.random.default_rng(0).random((32, 32)).astype(np.float32)\n"
        "exp = Explanation(heat, None, None, 0, '0', 1.0, 'gradient_shap', 'logit', 0, 10)\n"
        "assert evidence.evidence_shift(exp, exp) == 0.0\n"
        "print('ot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
