"""Metrics on hand-made heatmaps with known answers (Quantus' definitions, positive part)."""

from __future__ import annotations

import numpy as np
import pytest
from evidence_samples import TAG
from factories import explanation

from pytest_xai import (
    Region,
    RegionError,
    metrics,
)
from pytest_xai.checks import evidence

# 4×4 heatmap; the region is the left half (x in [0, 2)).
HEAT = np.array(
    [[4, 3, 0, -5], [2, 1, 0, 0], [0, 0, 1, 0], [0, -1, 0, 1]],
    dtype=np.float32,
)
LEFT = Region.box(0, 0, 2, 4)


def test_relevance_mass_known_answer():
    # positive part: left = 4+3+2+1 = 10, right = 1+1 = 2; negatives ignored
    assert metrics.relevance_mass(explanation(HEAT), LEFT) == pytest.approx(10 / 12)
    assert metrics.relevance_mass(explanation(HEAT), ~LEFT) == pytest.approx(2 / 12)
    # no positive evidence at all: no share to measure
    assert np.isnan(metrics.relevance_mass(explanation(-np.abs(HEAT)), LEFT))


def test_relevance_rank_known_answer():
    # |region| = 8. Quantus ranks by a stable ascending argsort and keeps the last 8: the zeros
    # at raster indices 13 and 14, the ones at 5, 10, 15, then 2 (4), 3 (1) and 4 (0).
    # Of those, 13, 5, 4, 1 and 0 lie in the left half: 5 / 8.
    assert metrics.relevance_rank(explanation(HEAT), LEFT) == pytest.approx(5 / 8)
    # a region holding exactly the 3 largest pixels scores 1
    top3 = Region.mask(np.isin(np.arange(16).reshape(4, 4), [0, 1, 4]))
    assert metrics.relevance_rank(explanation(HEAT), top3) == 1.0


def test_pointing_game_known_answer():
    assert metrics.pointing_game(explanation(HEAT), LEFT) is True
    assert metrics.pointing_game(explanation(HEAT), ~LEFT) is False
    # a tie for the maximum: any maximal pixel in the region is a hit (Quantus' np.any)
    tie = HEAT.copy()
    tie[3, 3] = 4
    assert metrics.pointing_game(explanation(tie), ~LEFT) is True


def test_top_k_intersection_known_answer():
    assert metrics.top_k_intersection(explanation(HEAT), LEFT, k=3) == 1.0
    # top-6 (stable ascending, last 6): the ones at 5, 10, 15 and 2, 3, 4; 5, 4, 1, 0 are left
    assert metrics.top_k_intersection(explanation(HEAT), LEFT, k=6) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="k=0"):
        metrics.top_k_intersection(explanation(HEAT), LEFT, k=0)


def test_empty_region_raises_instead_of_a_number():
    empty = Region.mask(np.zeros((4, 4), dtype=bool))
    for fn in (metrics.relevance_mass, metrics.relevance_rank, metrics.pointing_game):
        with pytest.raises(RegionError, match="covers no pixel"):
            fn(explanation(HEAT), empty)


def test_spearman_uses_weights_when_segments_are_shared():
    seg = np.repeat(np.arange(4), 4).reshape(4, 4)
    a = explanation(np.array([1, 2, 3, 4])[seg], weights=np.array([1.0, 2, 3, 4]), segments=seg)
    b = explanation(np.array([10, 20, 30, 40])[seg], weights=np.array([10.0, 20, 30, 40]), segments=seg)
    c = explanation(np.array([4, 3, 2, 1])[seg], weights=np.array([4.0, 3, 2, 1]), segments=seg)
    assert metrics.spearman(a, b) == pytest.approx(1.0)
    assert metrics.spearman(a, c) == pytest.approx(-1.0)
    # a pixel-level explanation against a superpixel one: ranks over the heatmaps
    pixel = explanation(np.array([1, 2, 3, 4])[seg] + 0.01 * np.arange(16).reshape(4, 4))
    assert metrics.spearman(a, pixel) > 0.9


def test_top_k_iou_and_cosine_known_answers():
    a = explanation(HEAT)
    assert metrics.top_k_iou(a, a, 0.25) == 1.0
    flipped = explanation(HEAT[:, ::-1].copy())
    # top-4 of HEAT: (0,0),(0,1),(1,0) and (1,1) by value 4,3,2 then the first 1 in raster order
    # flipped: the mirror images; the two sets are disjoint
    assert metrics.top_k_iou(a, flipped, 0.25) == 0.0
    assert metrics.cosine(a, a) == pytest.approx(1.0)
    assert metrics.cosine(a, explanation(-HEAT)) == pytest.approx(-1.0)
    assert np.isnan(metrics.cosine(a, explanation(np.zeros((4, 4)))))  # a silent side: undefined


def test_region_algebra_and_errors():
    box = Region.box(1, 1, 3, 3)
    assert box.to_mask(4, 4).sum() == 4
    assert (box | LEFT).to_mask(4, 4).sum() == 10
    assert (~box).to_mask(4, 4).sum() == 12
    tri = Region.polygon([(0, 0), (4, 0), (0, 4)])
    assert 6 <= tri.to_mask(4, 4).sum() <= 10
    with pytest.raises(RegionError, match="outside"):
        Region.box(0, 0, 5, 4).to_mask(4, 4)
    with pytest.raises(RegionError, match="empty"):
        Region.box(2, 2, 2, 3)
    with pytest.raises(RegionError, match="3×3 mask"):
        Region.mask(np.ones((3, 3), dtype=bool)).to_mask(4, 4)


def test_relevance_ratio_is_mass_over_area_share():
    # LEFT covers half the 4×4 image and holds 10/12 of the positive mass
    assert metrics.relevance_ratio(explanation(HEAT), LEFT) == pytest.approx((10 / 12) / 0.5)
    # a uniform heatmap has ratio 1 for any region, large or small
    uniform = explanation(np.ones((4, 4)))
    for region in (LEFT, Region.box(0, 0, 1, 1), ~Region.box(0, 0, 1, 1)):
        assert metrics.relevance_ratio(uniform, region) == pytest.approx(1.0)


def test_agreement_and_absolute_spearman():
    a = explanation(HEAT)
    found = metrics.agreement(a, explanation(HEAT * 3))
    assert (found.spearman, found.top_k_iou) == (pytest.approx(1.0), 1.0)
    flipped = metrics.agreement(a, explanation(-HEAT))
    assert flipped.spearman == pytest.approx(-1.0) and flipped.top_k_iou < 1
    # ranking |attribution|: a sign flip changes nothing
    assert metrics.spearman(a, explanation(-HEAT), absolute=True) == pytest.approx(1.0)


def test_nan_heatmaps_give_nan_never_a_passing_number():
    nan = explanation(np.where(HEAT > 0, np.nan, HEAT))
    for value in (
        metrics.relevance_mass(nan, LEFT), metrics.relevance_ratio(nan, LEFT), metrics.relevance_rank(nan, LEFT),
        metrics.top_k_intersection(nan, LEFT, 3), metrics.spearman(nan, explanation(HEAT)),
        metrics.top_k_iou(nan, explanation(HEAT)), metrics.cosine(nan, explanation(HEAT)),
        evidence.evidence_shift(nan, explanation(HEAT)), evidence.gained_cells(explanation(HEAT), nan)[1],
    ):
        assert value != value
    assert metrics.pointing_game(nan, LEFT) is False
    assert evidence.mass_centre(nan) is None


@pytest.mark.parametrize("name", ["lime", "kernel_shap", "gradient_shap", "saturated"])
def test_localisation_metrics_are_undefined_without_evidence(silent: dict[str, object], name: str) -> None:
    exp = silent[name]
    assert metrics.is_silent(exp)  # type: ignore[arg-type]
    assert metrics.no_evidence(exp).startswith("no evidence: the attributions sum to")  # type: ignore[arg-type, union-attr]
    for value in (
        metrics.relevance_mass(exp, TAG), metrics.relevance_ratio(exp, TAG),  # type: ignore[arg-type]
        metrics.relevance_rank(exp, TAG), metrics.top_k_intersection(exp, TAG, 10),  # type: ignore[arg-type]
        metrics.spearman(exp, exp), metrics.top_k_iou(exp, exp), metrics.cosine(exp, exp),  # type: ignore[arg-type]
        evidence.evidence_shift(exp, exp),  # type: ignore[arg-type]
    ):
        assert np.isnan(value)
    assert metrics.pointing_game(exp, Region.box(63, 63, 64, 64)) is False  # type: ignore[arg-type]
    assert evidence.mass_centre(exp) is None  # type: ignore[arg-type]
