"""Regions: construction, algebra, masks and the errors bad regions raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from factories import BadInput, assert_refused, refusals, square_explanation

from pytest_xai import (
    Classifier,
    Region,
    RegionError,
    metrics,
)
from pytest_xai.errors import (
    XaiError,
    XaiTypeError,
)


def test_a_mask_region_is_a_copy() -> None:
    array = np.zeros((8, 8), bool)
    array[2:4, 2:4] = True
    region = Region.mask(array)
    array[:] = False
    assert region.to_mask(8, 8).sum() == 4


@pytest.mark.parametrize(("height", "width"), [(-1, 5), (5, 0), (4.5, 5), (True, 5)])
def test_to_mask_refuses_a_non_positive_size(height: object, width: object) -> None:
    with pytest.raises(XaiError, match=r"must be positive|is not an int"):
        Region.box(0, 0, 1, 1).to_mask(height, width)  # type: ignore[arg-type]


@pytest.mark.parametrize("x0", [0.5, 1.5, 2.5, 3.5, 4.25, 4.75])
def test_a_unit_width_box_covers_exactly_one_column(x0: float) -> None:
    mask = Region.box(x0, 0, x0 + 1, 1).to_mask(4, 8)
    assert mask.sum() == 1 and mask[0, int(np.floor(x0 + 0.5))]


def test_a_region_unites_with_a_bool_mask() -> None:
    left = np.zeros((4, 4), bool)
    left[:, 0] = True
    box = Region.box(3, 0, 4, 4)
    assert (box | left).to_mask(4, 4).sum() == 8
    assert (left | box).to_mask(4, 4).sum() == 8
    with pytest.raises(XaiTypeError, match="not a Region"):
        box | "everything"  # type: ignore[operator]
    with pytest.raises(RegionError, match="4×4 mask but the image is 5×5"):
        (box | left).to_mask(5, 5)


def test_string_polygon_coordinates_in_code_are_a_type_error() -> None:
    from pytest_xai import Region

    with pytest.raises(XaiTypeError, match=r"polygon points .* must be numbers"):
        Region.polygon([("a", "b"), (1, 2), (3, 4)])


BAD_REGIONS: list[tuple[str, Callable[..., Any], type, str]] = [
    ("empty box", lambda img, clf: Region.box(5, 5, 5, 9), RegionError, "is empty"),
    ("empty mask", lambda img, clf: metrics.relevance_mass(square_explanation(img), Region.mask(np.zeros((64, 64), bool))),
     RegionError, "covers no pixel"),
    ("outside", lambda img, clf: metrics.relevance_mass(square_explanation(img), Region.box(60, 60, 70, 70)), RegionError,
     "lies outside the 64×64 image"),
    ("mask shape", lambda img, clf: metrics.relevance_mass(square_explanation(img), Region.mask(np.ones((32, 32), bool))),
     RegionError, "is a 32×32 mask but the image is 64×64"),
    ("region type", lambda img, clf: metrics.relevance_mass(square_explanation(img), (0, 0, 4, 4)), TypeError, "not a Region"),
    ("empty complement", lambda img, clf: metrics.pointing_game(square_explanation(img), ~Region.box(0, 0, 64, 64)),
     RegionError, "covers no pixel"),
    ("empty name", lambda img, clf: Region.box(0, 0, 4, 4, name=" "), RegionError, "region name=' ': the name is empty"),
    ("surrogate name", lambda img, clf: Region.polygon([(0, 0), (4, 0), (0, 4)], name="tag\ud83d"), RegionError,
     "the name holds a lone surrogate"),
    ("name type", lambda img, clf: Region.mask(np.ones((4, 4), bool), name=3), RegionError, "the name is of type int, not str"),
]


@refusals(BAD_REGIONS)
def test_bad_regions_are_refused(bad: BadInput, img: np.ndarray, clf: Classifier) -> None:
    assert_refused(bad, img, clf)


# -- growing a region ----------------------------------------------------------------------------

def test_dilate_mask_grows_a_pixel_into_a_square_clipped_at_the_edges() -> None:
    from pytest_xai.regions import dilate_mask

    mask = np.zeros((7, 7), bool)
    mask[3, 3] = True
    assert dilate_mask(mask, 0).sum() == 1
    assert np.array_equal(np.argwhere(dilate_mask(mask, 1)).min(0), [2, 2]) and dilate_mask(mask, 1).sum() == 9
    assert dilate_mask(mask, 2).sum() == 25
    assert dilate_mask(mask, 5).all()  # clipped to the 7×7 image
    corner = np.zeros((5, 5), bool)
    corner[0, 0] = True
    assert np.array_equal(dilate_mask(corner, 1), np.pad(np.ones((2, 2), bool), ((0, 3), (0, 3))))
    assert mask.sum() == 1  # the input is not changed


def test_dilate_mask_widens_a_thin_bar_by_twice_the_tolerance() -> None:
    from pytest_xai.regions import dilate_mask

    bar = np.zeros((10, 10), bool)
    bar[2:8, 5] = True  # 6 rows, 1 column
    grown = dilate_mask(bar, 2)
    assert grown.sum() == 10 * 5  # rows 0-9, columns 3-7
    assert grown[:, 3:8].all() and not grown[:, :3].any() and not grown[:, 8:].any()


def test_touching_segments_takes_whole_superpixels() -> None:
    from pytest_xai.regions import touching_segments

    segments = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True  # one pixel of segment 0
    mask[2, 2] = True  # one pixel of segment 3
    assert np.array_equal(touching_segments(mask, segments), np.isin(segments, [0, 3]))
    with pytest.raises(RegionError, match=r"segments have shape \(2, 2\) but the mask \(4, 4\)"):
        touching_segments(mask, segments[:2, :2])
