"""numpy scalars are numbers: every bound, count and parameter accepts them."""

from __future__ import annotations

import pytest


def test_numpy_scalars_are_accepted_as_bounds_everywhere(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_np="""
import numpy as np
import pytest
from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus, assert_explanations_agree

def test_bounds(explain, shape_image, xai_snapshot):
    e = explain(shape_image, samples=np.int64(40), seed=np.int32(2), n_segments=np.int16(20))
    assert (e.samples, e.seed, type(e.samples), type(e.seed)) == (40, 2, int, int)
    everything = Region.box(0, 0, 64, 64, name="all")
    assert_attribution_focus(e, everything, min_mass=np.float32(0.5))
    assert_attribution_focus(e, everything, min_mass=None, min_ratio=np.int64(0))
    assert_attribution_avoids(e, Region.box(np.int64(0), 0, 2, 2, name="dot"), max_mass=np.float32(0.5))
    assert_explanations_agree(e, e, min_spearman=np.float64(0.9), min_top_k_iou=np.float32(0.9))
    xai_snapshot.assert_match(e, max_shift=np.float32(0.2))
    xai_snapshot.assert_match(e, name="strict", mode="strict", min_spearman=np.float16(0.5),
                              min_top_k_iou=np.float32(0.5))
    with pytest.raises(ValueError, match="max_mass=np.True_ must be a number"):
        assert_attribution_avoids(e, everything, max_mass=np.bool_(True))
""")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    xai_pytester.runpytest().assert_outcomes(passed=1)
