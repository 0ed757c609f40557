"""assert_attribution_focus's default (a ratio bound) and its tolerance for thin regions, on
hand-made heatmaps with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explanation

from pytest_xai import Region, assert_attribution_focus
from pytest_xai.defaults import DEFAULT_MIN_RATIO
from pytest_xai.errors import XaiTypeError, XaiValueError

BAR = Region.box(7, 0, 8, 16, name="bar")  # a 1-px column of a 16×16 image: area share 1/16


def bleeding_bar() -> np.ndarray:
    """All the evidence on the bar and the columns either side of it, evenly."""
    heat = np.zeros((16, 16))
    heat[:, 6:9] = 1.0
    return heat


def test_default_is_a_ratio_bound_not_a_mass_bound() -> None:
    heat = np.ones((16, 16))
    heat[:4, :4] = 3.0  # corner: mass 48/(48+240)=1/6 on 1/16 of the area, ratio 2.667
    results = assert_attribution_focus(explanation(heat), Region.box(0, 0, 4, 4, name="corner"))
    assert [(r.metric, r.bound) for r in results] == [("relevance_ratio", DEFAULT_MIN_RATIO)]
    assert results[0].value == pytest.approx(16 / 6)
    with pytest.raises(AssertionError, match=rf"relevance ratio 1.000 .* < min_ratio {DEFAULT_MIN_RATIO:.3f}"):
        assert_attribution_focus(explanation(np.ones((16, 16))), Region.box(0, 0, 4, 4, name="corner"))


def test_min_mass_alone_replaces_the_default() -> None:
    uniform = explanation(np.ones((16, 16)))
    results = assert_attribution_focus(uniform, Region.box(0, 0, 8, 16), min_mass=0.5)
    assert [r.metric for r in results] == ["relevance_mass"]


def test_thin_bar_fails_as_drawn_and_passes_with_a_tolerance() -> None:
    exp = explanation(bleeding_bar())
    # as drawn: mass 1/3 on 1/16 of the area, ratio 5.333
    (drawn,) = assert_attribution_focus(exp, BAR, min_ratio=5.0)
    assert drawn.value == pytest.approx(16 / 3)
    with pytest.raises(AssertionError, match=r"relevance ratio 5.333 .* < min_ratio 6.000"):
        assert_attribution_focus(exp, BAR, min_ratio=6.0)
    # grown by 1 px: columns 6-8 hold all the mass on 3/16 of the area, ratio 5.333 again but
    # the mass is now 1: a mass bound the drawn bar misses by two thirds is met
    with pytest.raises(AssertionError, match=r"relevance mass 0.333"):
        assert_attribution_focus(exp, BAR, min_mass=0.9)
    (grown,) = assert_attribution_focus(exp, BAR, min_mass=0.9, tolerance=1)
    assert grown.value == pytest.approx(1.0) and grown.region == "bar (+1 px)"


def test_superpixel_tolerance_takes_every_superpixel_the_region_touches() -> None:
    segments = np.repeat(np.arange(4), 4)[None, :].repeat(16, axis=0)  # four 4-px-wide columns
    heat = np.zeros((16, 16))
    heat[:, 4:8] = 1.0  # all evidence on segment 1 (columns 4-7); the bar is column 7
    exp = explanation(heat, segments=segments, method="lime")
    (drawn,) = assert_attribution_focus(exp, BAR, min_mass=0.2)
    assert drawn.value == pytest.approx(0.25)
    (grown,) = assert_attribution_focus(exp, BAR, min_mass=0.99, tolerance="superpixels")
    assert grown.value == pytest.approx(1.0) and grown.region == "bar (superpixels)"
    # a pixel-level explanation has no superpixels: the region stays as drawn
    (pixel,) = assert_attribution_focus(explanation(heat), BAR, min_mass=0.2, tolerance="superpixels")
    assert pixel.value == pytest.approx(0.25) and pixel.region == "bar"


def test_bad_tolerance_is_a_clear_error() -> None:
    exp = explanation(bleeding_bar())
    with pytest.raises(XaiValueError, match=r"tolerance='pixels' is not a tolerance; pass a number of pixels"):
        assert_attribution_focus(exp, BAR, tolerance="pixels")
    with pytest.raises(XaiValueError, match=r"tolerance=-1 is negative"):
        assert_attribution_focus(exp, BAR, tolerance=-1)
    with pytest.raises(XaiTypeError, match=r"tolerance=1.5 is not an int"):
        assert_attribution_focus(exp, BAR, tolerance=1.5)
