"""assert_attribution_focus's default (a ratio bound) and its tolerance for thin regions, on
hand-made heatmaps with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explanation

from pytest_xai import Region, assert_attribution_focus
from pytest_xai.defaults import DEFAULT_MIN_DENSITY, default_min_ratio
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
    bound = DEFAULT_MIN_DENSITY / (1 + (DEFAULT_MIN_DENSITY - 1) / 16)
    assert [(r.metric, r.bound) for r in results] == [("relevance_ratio", pytest.approx(bound, abs=1e-4))]
    assert results[0].value == pytest.approx(16 / 6)
    with pytest.raises(AssertionError, match=rf"relevance ratio 1.000 .* < min_ratio {round(bound, 4):.3f} \(the default for"):
        assert_attribution_focus(explanation(np.ones((16, 16))), Region.box(0, 0, 4, 4, name="corner"))


def test_default_bound_is_an_evidence_density_so_it_fits_large_regions() -> None:
    """A region covering 3/4 of the image caps the ratio at 4/3; the default asks the evidence
    to be DEFAULT_MIN_DENSITY times denser inside than outside, whatever the area."""
    big = Region.box(0, 0, 16, 12, name="big")  # area 0.75
    for density, passes in ((DEFAULT_MIN_DENSITY * 1.05, True), (DEFAULT_MIN_DENSITY * 0.95, False)):
        heat = np.ones((16, 16))
        heat[:12] = density  # inside density / outside density = density
        mass = density * 0.75 / (density * 0.75 + 0.25)
        if passes:
            (result,) = assert_attribution_focus(explanation(heat), big)
            assert result.value == pytest.approx(mass / 0.75) and result.value < 4 / 3
            assert result.bound == pytest.approx(default_min_ratio(0.75), abs=1e-4)
        else:
            with pytest.raises(AssertionError, match="does not focus on region 'big'"):
                assert_attribution_focus(explanation(heat), big)
    assert default_min_ratio(0.0) == DEFAULT_MIN_DENSITY and default_min_ratio(1.0) == 1.0
    assert all(default_min_ratio(a) < 1 / a for a in (0.05, 0.5, 0.65, 0.95))


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
