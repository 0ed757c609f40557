"""The logit margin in the interventions, on models whose logits are known in closed form: the
target's lead is ``base + boost × s``, where s is 1 while a red patch is there and 0 once grey.
``model`` has three classes (logits lead, 0, 0: their interquartile range is lead / 2);
``wide`` 101 (lead, fifty 0s, fifty -2s: their IQR is 2 whatever the lead)."""

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
    DEFAULT_MAX_SCALED_DROP,
    DEFAULT_MIN_LOGIT_DROP,
    assertions,
    measure,
    record,
)
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.report.words import check_cell

SIZE = 16
PATCH = Region.box(0, 0, 4, 4, name="patch")


class Lead(torch.nn.Module):
    """Logits (base + boost·s, others...) × temperature, s = (the patch's mean red − 0.5) / 0.4."""

    def __init__(self, base: float, boost: float, others: list[float], temperature: float = 1.0) -> None:
        super().__init__()
        self.base, self.boost, self.temperature = base, boost, temperature
        self.others = torch.tensor(others)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x[:, 0, 0:4, 0:4].mean(dim=(1, 2)) - 0.5) / 0.4
        lead = self.base + self.boost * s
        return torch.cat([lead[:, None], self.others.expand(len(x), -1)], dim=1) * self.temperature


def model(base: float, boost: float) -> Classifier:
    return Classifier(Lead(base, boost, [0.0, 0.0]), class_names=["red", "green", "blue"], device="cpu")


def wide(base: float, boost: float, temperature: float = 1.0) -> Classifier:
    others = [0.0] * 50 + [-2.0] * 50
    names = ["red"] + [f"c{k}" for k in range(100)]
    return Classifier(Lead(base, boost, others, temperature), class_names=names, device="cpu")


def image() -> np.ndarray:
    out = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    out[0:4, 0:4] = (0.9, 0.5, 0.5)  # s = 1
    return out


def p(margin: float) -> float:
    return math.exp(margin) / (math.exp(margin) + 2)


def p_wide(lead: float) -> float:
    return math.exp(lead) / (math.exp(lead) + 50 + 50 * math.exp(-2))


def test_a_confident_network_that_uses_the_patch_fails_on_the_scaled_margin() -> None:
    """Margin 12 -> 6 on 101 classes whose logits' IQR is 2: p moves by 0.123 only, the margin
    falls by 3 IQRs; in logits (6) it stays under the toy worlds' harmless falls (6.9)."""
    clf = wide(6.0, 6.0)
    result, _ = assertions.measure_irrelevant(clf, image(), PATCH)
    assert result.value == pytest.approx(p_wide(12) - p_wide(6), abs=1e-6) and result.value < assertions.DEFAULT_MAX_CHANGE
    assert (result.logit_metric, result.logit_bound_name) == ("scaled_margin_drop", "max_scaled_drop")
    assert result.logit_spread == pytest.approx(2.0) and result.logit_bound == DEFAULT_MAX_SCALED_DROP
    assert result.logit_value == pytest.approx(3.0, abs=1e-5)
    assert result.p_passed and result.logit_passed is False and not result.passed
    with pytest.raises(AssertionError, match=r"change 0.123 <= max_change 0.470; margin drop 6.00 / logit IQR 2.00 = "
                                             r"3.00 > max_scaled_drop 2.25"):
        assert_region_irrelevant(clf, image(), PATCH)
    assert_region_irrelevant(clf, image(), PATCH, max_scaled_drop=None)  # p alone cannot see it
    assert_region_irrelevant(clf, image(), PATCH, max_scaled_drop=3.5)
    assert_region_irrelevant(clf, image(), PATCH, max_logit_drop=7.0)  # in logits, it replaces the scaled bound
    assert_region_irrelevant(wide(9.0, 3.0), image(), PATCH)  # 12 -> 9: 1.5 IQRs


def test_the_scaled_fall_is_the_same_at_any_logit_temperature() -> None:
    """Every logit × 10: margin 120 -> 60, IQR 20; p does not move at all, the scaled fall is 3."""
    result, _ = assertions.measure_irrelevant(wide(6.0, 6.0, temperature=10.0), image(), PATCH)
    assert result.value < 1e-9 and result.logit_value == pytest.approx(3.0, abs=1e-5) and not result.passed
    cool, _ = assertions.measure_irrelevant(wide(6.0, 6.0, temperature=0.1), image(), PATCH)
    assert cool.logit_value == pytest.approx(3.0, abs=1e-4) and not cool.passed


def test_a_few_class_network_has_half_its_margin_as_spread_and_may_be_judged_in_logits() -> None:
    """Three classes, margin 12 -> 3: the IQR of (12, 0, 0) is 6, a fall of 1.5 IQRs passes;
    ``max_logit_drop`` judges the 9 logits."""
    clf = model(3.0, 9.0)
    result, _ = assertions.measure_irrelevant(clf, image(), PATCH)
    assert result.value == pytest.approx(p(12) - p(3), abs=1e-6)
    assert result.logit_spread == pytest.approx(6.0) and result.logit_value == pytest.approx(1.5, abs=1e-5)
    assert result.passed
    with pytest.raises(AssertionError, match=r"change 0.091 <= max_change 0.470; margin drop 9.00 > max_logit_drop 7.00"):
        assert_region_irrelevant(clf, image(), PATCH, max_logit_drop=7.0)
    assert_region_irrelevant(clf, image(), PATCH, max_logit_drop=9.5)


def test_the_spread_is_the_iqr_or_the_std_where_half_the_logits_tie() -> None:
    assert measure.logit_spread(np.array([12.0, 0.0, 0.0])) == pytest.approx(6.0)
    assert measure.logit_spread(np.array([4.0, 0.0, 0.0, 0.0, 0.0])) == pytest.approx(1.6)  # IQR 0: std
    assert measure.logit_spread(np.ones(7)) == 0.0
    assert measure.scaled(3.0, 0.0) == math.inf and measure.scaled(0.0, 0.0) == 0.0 and measure.scaled(-1.0, 0.0) == 0.0
    assert measure.scaled(3.0, 2.0) == 1.5


def test_a_rise_of_the_margin_is_left_to_p_unless_max_logit_change_is_given() -> None:
    """Margin 3 -> 12: the patch held counter-evidence; p moves by 0.091."""
    clf = model(12.0, -9.0)
    result, _ = assertions.measure_irrelevant(clf, image(), PATCH)
    assert result.logit_value == pytest.approx(-9.0 / 1.5, abs=1e-5) and result.passed
    with pytest.raises(AssertionError, match=r"margin change 9.00 > max_logit_change 5.00"):
        assert_region_irrelevant(clf, image(), PATCH, max_logit_change=5.0)


def test_needed_passes_on_a_margin_drop_when_p_is_saturated() -> None:
    """Margin 15 -> 12: p stays 1.000 (a drop of 1e-5), the margin drops by 3 >= 1."""
    clf = model(12.0, 3.0)
    result, _ = assertions.measure_needed(clf, image(), PATCH, fill="grey")
    assert result.value < 1e-4 and result.logit_value == pytest.approx(3.0, abs=1e-5)
    assert not result.p_passed and result.logit_passed and result.passed
    assert_region_needed(clf, image(), PATCH, fill="grey")
    with pytest.raises(AssertionError, match=r"drop 0.000 < min_drop 0.050 or margin drop 3.00 < min_logit_drop 4.00"):
        assert_region_needed(clf, image(), PATCH, fill="grey", min_logit_drop=4.0)
    with pytest.raises(AssertionError, match="barely changes the output"):
        assert_region_needed(clf, image(), PATCH, fill="grey", min_logit_drop=None)
    assert DEFAULT_MIN_LOGIT_DROP < 3.0


def test_the_record_and_the_report_cell_carry_both_numbers() -> None:
    result, _ = assertions.measure_irrelevant(wide(6.0, 6.0), image(), PATCH)
    entry = record.check_entry(result)
    assert not entry.passed and entry.value == pytest.approx(0.123, abs=1e-3)
    details = entry.details or {}
    assert details["logit_metric"] == "scaled_margin_drop" and details["logit_value"] == pytest.approx(3.0, abs=1e-4)
    assert details["logit_bound"] == DEFAULT_MAX_SCALED_DROP and details["logit_bound_name"] == "max_scaled_drop"
    assert details["logit_spread"] == pytest.approx(2.0) and details["logit_passed"] is False
    assert check_cell(entry) == "probability change 0.123 ≤ 0.47; margin drop in logit IQRs 3.00 > 2.25"


def _explanation() -> Explanation:
    heat = PATCH.to_mask(SIZE, SIZE).astype(np.float32)  # all the evidence on the patch
    return Explanation(heat, None, None, 0, "red", 0.99, "gradient_shap", "logit", 0, 10, image=image())


def test_confirm_takes_the_interventions_bounds() -> None:
    clf, exp = wide(6.0, 6.0), _explanation()
    with pytest.raises(AssertionError, match=r"rests on region 'patch'[\s\S]*margin drop 6.00 / logit IQR 2.00 = 3.00 > "
                                             r"max_scaled_drop 2.25"):
        assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm=clf)
    assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm={"model": clf, "max_scaled_drop": 3.5})
    assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm={"model": clf, "max_logit_drop": 7.0})
    assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm={"model": clf, "max_scaled_drop": None, "fill": "blur"})
    few = model(3.0, 9.0)
    assert_attribution_focus(exp, PATCH, min_mass=0.5, confirm={"model": few, "fill": "grey", "min_logit_drop": 8.0})
    with pytest.raises(AssertionError, match=r"not needed \(drop 0.091 < min_drop 0.500 or margin drop 9.00 < min_logit_drop 9.50\)"):
        assert_attribution_focus(exp, PATCH, min_mass=0.5,
                                 confirm={"model": few, "fill": "grey", "min_drop": 0.5, "min_logit_drop": 9.5})


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
    with pytest.raises(XaiValueError, match=r"max_scaled_drop=-1 must be a number of interquartile ranges >= 0 or None"):
        assert_region_irrelevant(clf, image(), PATCH, max_scaled_drop=-1)
    with pytest.raises(XaiValueError, match=r"max_logit_change=nan must be a number of logits"):
        assert_region_irrelevant(clf, image(), PATCH, max_logit_change=float("nan"))
