"""Pictures of an explanation: overlay colours follow the sign, weak evidence stays visible, bad scales are refused."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explanation, pictured

from pytest_xai.errors import XaiTypeError, XaiValueError


def test_overlay_colours_follow_sign() -> None:
    heat = np.zeros((10, 10), np.float32)
    heat[:, :5] = 1.0
    heat[:, 5:] = -1.0
    heat[0, 0] = 0.0
    exp = explanation(heat)
    pic = exp.overlay(np.full((10, 10, 3), 0.5, np.float32), smooth=False)
    assert pic.dtype == np.uint8 and pic.shape == (10, 10, 3)
    red, blue, zero = pic[5, 2].astype(int), pic[5, 7].astype(int), pic[0, 0].astype(int)
    assert red[0] > red[2] + 100  # positive: red
    assert blue[2] > blue[0] + 100  # negative: blue
    assert zero[0] == zero[1] == zero[2]  # zero: the greyed image, untinted


def test_weak_positive_evidence_stays_visible_beside_strong_negative() -> None:
    heat = np.zeros((10, 10), np.float32)
    heat[:, :5] = 0.08  # the evidence every check measures
    heat[:, 5:] = -0.9  # ten times stronger evidence against
    exp = explanation(heat)
    image = np.full((10, 10, 3), 0.5, np.float32)
    own = exp.overlay(image, smooth=False).astype(int)
    shared = exp.overlay(image, scale=0.9, smooth=False).astype(int)
    assert own[5, 2, 0] - own[5, 2, 2] > 150  # each sign on its own scale: full red
    assert shared[5, 2, 0] - shared[5, 2, 2] < 30  # one shared scale: the red all but vanishes
    assert own[5, 7, 2] - own[5, 7, 0] > 150


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf")])
def test_overlay_refuses_a_scale_that_draws_nothing(tiny_img: np.ndarray, scale: float) -> None:
    with pytest.raises(XaiValueError, match="must be a finite number above 0"):
        pictured(tiny_img).overlay(scale=scale)
    with pytest.raises(XaiTypeError, match="is not a number"):
        pictured(tiny_img).overlay(scale="1")  # type: ignore[arg-type]
