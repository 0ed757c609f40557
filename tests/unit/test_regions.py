"""TODO DOCSTRING"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_xai import (
    Region,
    RegionError,
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
