"""Checks that ask for what they need: intervals from the heatmap's errors, more rounds while
the interval straddles the bound, and "undecided at N samples" when the cap is reached."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_xai import assert_attribution_avoids, assert_attribution_focus, explain
from pytest_xai.checks import metrics
from pytest_xai.checks.adaptive import decide, interval
from pytest_xai.regions import Region

BOX = Region.box(16, 16, 48, 48, name="centre")


@pytest.fixture
def auto_exp(shapes_clf, shapes_image):
    return explain(shapes_clf, shapes_image, method="lime", n_segments=16, tolerance=1.0)


def test_the_interval_holds_the_point_value_and_narrows_with_samples(shapes_clf, shapes_image) -> None:
    def mass(e):
        return metrics.relevance_mass(e, BOX)

    small = explain(shapes_clf, shapes_image, method="lime", n_segments=16, samples=200)
    large = explain(shapes_clf, shapes_image, method="lime", n_segments=16, samples=2000)
    lo_s, hi_s = interval(mass, [small])
    lo_l, hi_l = interval(mass, [large])
    assert lo_s <= mass(small) <= hi_s and lo_l <= mass(large) <= hi_l
    assert hi_l - lo_l < 0.6 * (hi_s - lo_s)  # about 1/sqrt(10) of the width, with the penalty's share


def test_a_check_far_from_its_bound_does_not_grow(auto_exp) -> None:
    before = auto_exp.samples
    value = metrics.relevance_mass(auto_exp, BOX)
    decision = decide(lambda e: metrics.relevance_mass(e, BOX), [auto_exp], value / 4, upper=False, asked_by="t")
    assert not decision.undecided and decision.low > value / 4 and auto_exp.samples == before


def test_a_check_at_its_bound_grows_the_explanation_until_it_decides(auto_exp) -> None:
    before = auto_exp.samples
    value = metrics.relevance_mass(auto_exp, BOX)
    decision = decide(
        lambda e: metrics.relevance_mass(e, BOX), [auto_exp], value + 1e-4, upper=True, asked_by="avoid 'centre'"
    )
    assert auto_exp.samples > before and auto_exp.meta["asked_by"][0] == "avoid 'centre'"
    assert decision.samples == auto_exp.samples
    straddles = decision.low <= value + 1e-4 < decision.high
    assert decision.undecided == straddles  # undecided only where the interval still holds it ...
    assert not decision.undecided or auto_exp.samples == 1000  # ... at the cap


def test_checks_of_one_explanation_share_its_rounds(auto_exp) -> None:
    value = metrics.relevance_mass(auto_exp, BOX)
    decide(lambda e: metrics.relevance_mass(e, BOX), [auto_exp], value + 1e-4, upper=True, asked_by="first")
    grown = auto_exp.samples
    (check,) = assert_attribution_avoids(auto_exp, BOX, max_mass=1.0)
    assert check.samples == grown == auto_exp.samples and check.undecided is False


def test_undecided_at_a_fixed_budget_fails_by_the_point_estimate_and_says_so(shapes_clf, shapes_image) -> None:
    exp = explain(shapes_clf, shapes_image, method="lime", n_segments=16, samples=200)
    value = metrics.relevance_mass(exp, BOX)
    with pytest.raises(AssertionError, match="undecided at 200 samples") as info:
        assert_attribution_focus(exp, BOX, min_mass=min(1.0, value + 1e-4), min_ratio=None)
    assert "relevance mass" in str(info.value) and exp.samples == 200
    (check,) = assert_attribution_focus(exp, BOX, min_mass=max(0.0, value - 1e-4), min_ratio=None)
    assert check.passed and check.undecided and check.samples == 200
    assert np.isfinite(check.interval).all()


def test_a_golden_region_gain_gets_its_interval_and_grows_the_new_explanation(shapes_clf, shapes_image) -> None:
    """The release golden's region-gain criterion is decided like the others: an interval from
    the heatmaps' errors, and more rounds for the new explanation while it holds the bound."""
    from pytest_xai.goldens.modes import Bounds, SessionBounds, compare, region_gain
    from pytest_xai.goldens.previews import caption_meta

    corner = Region.box(0, 0, 24, 24, name="corner")
    golden = explain(shapes_clf, shapes_image, method="lime", n_segments=16, samples=1000)
    golden.meta.update(caption_meta(golden, "t", {"corner": corner}))
    actual = explain(shapes_clf, shapes_image, method="lime", n_segments=16, tolerance=1.0, seed=1)
    value = region_gain(golden, actual, 1.0).value
    assert value == value  # the golden names a region, so the gain is measured

    bounds = Bounds.resolve(SessionBounds(), method="lime", max_region_gain=min(max(value, 0.0) + 1e-4, 1.0))
    before = actual.samples
    result = compare(golden, actual, bounds)
    low, high = result.intervals["region_gain"]
    assert low <= result.measures["region_gain"] <= high
    assert actual.samples > before and "golden region gain" in actual.meta["asked_by"]
