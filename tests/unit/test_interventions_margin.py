"""The logit margin in the interventions, on a model whose logits are known in closed form: its
target's lead is ``base + boost × s``, where s is 1 while a red patch is there and 0 once grey."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pytest_xai import (
    Classifier,
    Explanation,
    Region,
    assert_attribution_avoids,
    assert_attribution_focus,
    assert_region_irrelevant,
    assert_region_needed,
)
from pytest_xai.checks.interventions import (
    DEFAULT_MAX_LOGIT_DROP,
    DEFAULT_MIN_LOGIT_DROP,
    checks,
    record,
)
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.report.words import check_cell

SIZE = 16
PATCH = Region.box(0, 0, 4, 4, name="patch")


class Lead(torch.nn.Module):
    """Logits (base + boost·s, 0, 0), s = (the patch's mean red − 0.5) / 0.4."""

    def __init__(self, base: float, boost: float) -> None:
        super().__init__()
        self.base, self.boost = base, boost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x[:, 0, 0:4, 0:4].mean(dim=(1, 2)) - 0.5) / 0.4
        lead = self.base + self.boost * s
        return torch.stack([lead, torch.zeros_like(lead), torch.zeros_like(lead)], dim=1)


def model(base: float, boost: float) -> Classifier:
    return Classifier(Lead(base, boost), class_names=["red", "green", "blue"], device="cpu")


def image() -> np.ndarray:
    out = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    out[0:4, 0:4] = (0.9, 0.5, 0.5)  # s = 1
    return out


def p(margin: float) -> float:
    return math.exp(margin) / (math.exp(margin) + 2)


def test_a_confident_model_that_uses_the_patch_fails_on_the_margin_alone() -> None:
    """Margin 12 -> 3 when the patch is hidden: p moves by 0.091 only, the margin falls by 9."""
    clf = model(3.0, 9.0)
    result, _ = checks.measure_irrelevant(clf, image(), PATCH)
    assert result.value == pytest.approx(p(12) - p(3), abs=1e-6) and result.value < checks.DEFAULT_MAX_CHANGE
    assert (result.logit_metric, result.logit_bound_name) == ("margin_drop", "max_logit_drop")
    assert result.logit_value == pytest.approx(9.0, abs=1e-5) and result.logit_bound == DEFAULT_MAX_LOGIT_DROP
    assert result.p_passed and result.logit_passed is False and not result.passed
    with pytest.raises(AssertionError, match=r"change 0.091 <= max_change 0.470; margin drop 9.00 > max_logit_drop 7.00"):
        assert_region_irrelevant(clf, image(), PATCH)
    assert_region_irrelevant(clf, image(), PATCH, max_logit_drop=None)  # p alone cannot see it
    assert_region_irrelevant(clf, image(), PATCH, max_logit_drop=9.5)


def test_a_rise_of_the_margin_is_left_to_p_unless_max_logit_change_is_given() -> None:
    """Margin 3 -> 12: the patch held counter-evidence; p moves by 0.091."""
    clf = model(12.0, -9.0)
    result, _ = checks.measure_irrelevant(clf, image(), PATCH)
    assert result.logit_value == pytest.approx(-9.0, abs=1e-5) and result.passed
    with pytest.raises(AssertionError, match=r"margin change 9.00 > max_logit_change 5.00"):
        assert_region_irrelevant(clf, image(), PATCH, max_logit_change=5.0)


def test_needed_passes_on_a_margin_drop_when_p_is_saturated() -> None:
    """Margin 15 -> 12: p stays 1.000 (a drop of 1e-5), the margin drops by 3 >= 1."""
    clf = model(12.0, 3.0)
    result, _ = checks.measure_needed(clf, image(), PATCH, fill="grey")
    assert result.value < 1e-4 and result.logit_value == pytest.approx(3.0, abs=1e-5)
    assert not result.p_passed and result.logit_passed and result.passed
    assert_region_needed(clf, image(), PATCH, fill="grey")
    with pytest.raises(AssertionError, match=r"drop 0.000 < min_drop 0.050 or margin drop 3.00 < min_logit_drop 4.00"):
        assert_region_needed(clf, image(), PATCH, fill="grey", min_logit_drop=4.0)
    with pytest.raises(AssertionError, match="barely changes the output"):
        assert_region_needed(clf, image(), PATCH, fill="grey", min_logit_drop=None)
    assert DEFAULT_MIN_LOGIT_DROP < 3.0


def test_the_record_and_the_report_cell_carry_both_numbers() -> None:
    result, _ = checks.measure_irrelevant(model(3.0, 9.0), image(), PATCH)
    entry = record.check_entry(result)
    assert not entry.passed and entry.value == pytest.approx(0.091, abs=1e-3)
    details = entry.details or {}
    assert details["logit_metric"] == "margin_drop" and details["logit_value"] == pytest.approx(9.0, abs=1e-4)
    assert details["logit_bound"] == DEFAULT_MAX_LOGIT_DROP and details["logit_passed"] is False
    assert check_cell(entry) == "probability change 0.091 ≤ 0.47; margin drop 9.00 > 7.00"


def _explanation() -> Explanation:
    heat = PATCH.to_mask(SIZE, SIZE).astype(np.float32)  # all the evidence on the patch
    return Explanation(heat, None, None, 0, "red", 0.99, "gradient_shap", "logit", 0, 10, image=image())


def test_confirm_takes_the_interventions_bounds() -> None:
    clf, exp = model(3.0, 9.0), _explanation()
    with pytest.raises(AssertionError, match=r"rests on region 'patch'[\s\S]*margin drop 9.00 > max_logit_drop 7.00"):
        assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm=clf)
    assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm={"model": clf, "max_logit_drop": 9.5})
    assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm={"model": clf, "max_logit_drop": None, "fill": "blur"})
    assert_attribution_focus(exp, PATCH, min_mass=0.5, confirm={"model": clf, "fill": "grey", "min_logit_drop": 8.0})
    with pytest.raises(AssertionError, match=r"not needed \(drop 0.091 < min_drop 0.500 or margin drop 9.00 < min_logit_drop 9.50\)"):
        assert_attribution_focus(exp, PATCH, min_mass=0.5,
                                 confirm={"model": clf, "fill": "grey", "min_drop": 0.5, "min_logit_drop": 9.5})


def test_confirm_refuses_keys_and_bounds_it_does_not_take() -> None:
    clf, exp = model(3.0, 9.0), _explanation()
    with pytest.raises(XaiTypeError, match=r"unknown key\(s\) 'min_drop' \('min_drop' bounds the focus check's "
                                           r"intervention\); the avoid check's intervention \(assert_region_irrelevant\) takes"):
        assert_attribution_avoids(exp, PATCH, confirm={"model": clf, "min_drop": 0.1})
    with pytest.raises(XaiTypeError, match=r"unknown key\(s\) 'max_logit'"):
        assert_attribution_focus(exp, PATCH, confirm={"model": clf, "max_logit": 2})
    with pytest.raises(XaiValueError, match=r"max_logit_drop=-1 must be a number of logits >= 0 or None"):
        assert_attribution_avoids(exp, PATCH, confirm={"model": clf, "max_logit_drop": -1})
    with pytest.raises(XaiTypeError, match=r"min_logit_drop='2' is not a number"):
        assert_region_needed(clf, image(), PATCH, min_logit_drop="2")  # type: ignore[arg-type]
    with pytest.raises(XaiValueError, match=r"max_logit_change=nan must be a number of logits"):
        assert_region_irrelevant(clf, image(), PATCH, max_logit_change=float("nan"))
