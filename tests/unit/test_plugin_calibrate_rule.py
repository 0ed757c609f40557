"""The calibration rule on known answers: a suggested bound sits beyond every observed value by
the margin, in the metric's range."""

from __future__ import annotations

import math

import pytest

from pytest_xai.plugin.calibrate.rule import CalibratedCheck, suggest_bound


def test_lower_bound_is_the_minimum_divided_by_the_factor() -> None:
    assert suggest_bound([3.0, 4.5, 6.0], upper=False, metric="relevance_ratio") == (2.0, "min ÷ 1.5")
    assert suggest_bound([3.0, 4.5], upper=False, metric="relevance_ratio", factor=2) == (1.5, "min ÷ 2")


def test_upper_bound_is_the_maximum_times_the_factor() -> None:
    assert suggest_bound([0.02, 0.1], upper=True, metric="evidence_shift") == (0.15, "max × 1.5")


def test_bounded_metrics_are_clipped_to_their_range() -> None:
    bound, margin = suggest_bound([0.4, 0.8], upper=True, metric="relevance_mass")
    assert (bound, margin) == (1.0, "max × 1.5, clipped to [0, 1]")


def test_metrics_that_can_be_negative_take_an_absolute_margin() -> None:
    assert suggest_bound([0.3, 0.9], upper=False, metric="spearman") == (pytest.approx(0.1), "min - 0.2")
    assert suggest_bound([-0.95, 0.2], upper=False, metric="spearman") == (-1.0, "min - 0.2, clipped to [-1, 1]")


def test_unknown_metric_moves_away_from_the_values_on_either_sign() -> None:
    assert suggest_bound([-2.0, 1.0], upper=False, metric="custom")[0] == -3.0  # -2 × 1.5
    assert suggest_bound([-2.0, -4.0], upper=True, metric="custom")[0] == -1.3333  # -4 ÷ 1.5, rounded up


def test_rounding_keeps_the_margin() -> None:
    assert suggest_bound([1.0], upper=False, metric="relevance_ratio")[0] == 0.6666  # 0.66667 rounded down
    assert suggest_bound([0.1], upper=True, metric="evidence_shift")[0] == 0.15  # 0.15000000000000002


def test_missing_and_nan_values_are_skipped() -> None:
    assert suggest_bound([None, math.nan, 3.0], upper=False, metric="relevance_ratio")[0] == 2.0
    assert suggest_bound([None, math.nan], upper=False, metric="relevance_ratio") == (None, "no finite value observed")


def test_factor_must_exceed_one() -> None:
    with pytest.raises(ValueError, match=r"factor=1 must exceed 1"):
        suggest_bound([1.0], upper=False, metric="relevance_ratio", factor=1)


def test_a_check_settles_from_its_observed_passes() -> None:
    check = CalibratedCheck("t.py::test", "focus", "relevance_ratio", upper=False, bound=1.5, region="object")
    check.observed = {"seed 0": 4.2, "seed 1": 3.0, "v2 seed 0": None}
    check.settle()
    assert (check.suggested, check.margin) == (2.0, "min ÷ 1.5")


def test_a_lower_ratio_bound_at_or_below_chance_carries_a_warning() -> None:
    from pytest_xai.plugin.calibrate.rule import chance_warning

    assert chance_warning(0.79, upper=False, metric="relevance_ratio").startswith("suggested 0.79 is at or below chance (1")
    assert chance_warning(1.0, upper=False, metric="relevance_ratio") != ""
    assert chance_warning(1.01, upper=False, metric="relevance_ratio") == ""
    assert chance_warning(0.3, upper=False, metric="relevance_mass") == ""  # its chance depends on the area
    assert chance_warning(0.5, upper=True, metric="relevance_ratio") == ""
    check = CalibratedCheck("t.py::test", "focus", "relevance_ratio", upper=False, bound=1.5, region="object")
    check.observed = {"seed 0": 1.19, "seed 1": 1.3}
    check.settle()
    assert check.suggested == 0.7933 and "at or below chance" in check.warning
