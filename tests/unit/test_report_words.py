"""Report words: checks, numbers and golden measures in text."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_xai.records import CheckResult, GoldenVerdict
from pytest_xai.report.words import check_words, fmt, measure_short, measure_words


def _check(kind: str, metric: str, value: float, bound: float, passed: bool, **extra: Any) -> CheckResult:
    upper = kind in ("avoid", "sanity")  # as those assertions record it: their bound is a maximum
    return CheckResult(kind, metric, value, bound, passed, upper, method="lime", **extra)


@pytest.mark.parametrize(("check", "words"), [
    (_check("avoid", "relevance_mass", 0.42, 0.1, False, region="tag"), "mass on 'tag' 0.42 is above max_mass 0.10"),
    (_check("focus", "relevance_mass", 0.02, 0.5, False, region="corner"),
     "mass on 'corner' 0.02 is below min_mass 0.50"),
    (_check("focus", "relevance_mass", 0.613, 0.5, True, region="object"), "mass on 'object' 0.613 ≥ min_mass 0.50"),
    (_check("agree", "spearman", 0.12, 0.9, False, other_method="gradient_shap"),
     "Spearman lime vs gradient_shap 0.12 is below min_spearman 0.90"),
    (_check("sanity", "spearman_abs", 0.8, 0.5, False),
     "Spearman |attribution| of lime to the randomised model's 0.80 is above max_similarity 0.50"),
    (_check("focus", "relevance_mass", float("nan"), 0.5, False, region="object"),
     "mass on 'object' is not a number; the check fails (bound min_mass 0.50)"),
    (_check("avoid", "relevance_mass", 0.00004, 0.0001, True, region="tag"), "mass on 'tag' 4e-05 ≤ max_mass 0.0001"),
    (_check("focus", "relevance_ratio", 1.2, 2.0, False, region="object"),
     "ratio on 'object' 1.20 is below min_ratio 2.00"),
])
def test_check_in_words(check: CheckResult, words: str) -> None:
    assert check_words(check) == words


@pytest.mark.parametrize(("value", "text"), [
    (0.0001, "0.0001"), (0.000123456, "0.000123"), (-0.005, "-0.005"), (0.01, "0.01"), (0.42, "0.42"),
    (0.123, "0.123"), (0.0, "0.00"), (2.0, "2.00"), (float("nan"), "NaN"), (None, "n/a"), (3, "3"),
])
def test_numbers_keep_small_values_non_zero(value: Any, text: str) -> None:
    assert fmt(value) == text


def verdict(measures: dict[str, float | None], bounds: dict[str, float]) -> GoldenVerdict:
    return GoldenVerdict("g.npz", "g.npz", "failed", "drift", "release", measures, bounds)


def test_golden_measures_against_their_bounds() -> None:
    shift, new = verdict({"evidence_shift": 0.31, "new_mass": 0.4}, {"max_evidence_shift": 0.12}).measured()
    assert (shift.name, shift.bound, shift.upper, shift.passed) == ("evidence_shift", 0.12, True, False)
    assert measure_words(shift) == "evidence shift 0.31 exceeds the bound 0.12"
    assert measure_short(shift) == "shift 0.31 > 0.12"
    assert new.bound is None and measure_words(new) == "mass in new cells 0.40"
    (passing,) = verdict({"evidence_shift": 0.04}, {"max_evidence_shift": 0.12}).measured()
    assert measure_short(passing) == "shift 0.04 ≤ 0.12" and passing.passed is True
    rho, iou = verdict({"spearman": 0.65, "top_k_iou": 0.8}, {"min_spearman": 0.7, "min_top_k_iou": 0.55}).measured()
    assert measure_words(rho) == "Spearman 0.65 is below the bound 0.70"
    assert measure_words(iou) == "top-20% IoU 0.80 is within the bound 0.55" and iou.upper is False
    (unmeasured,) = verdict({"evidence_shift": None}, {"max_evidence_shift": 0.12}).measured()
    assert unmeasured.passed is False
    assert measure_words(unmeasured) == "evidence shift is not a number; the comparison fails (bound 0.12)"
