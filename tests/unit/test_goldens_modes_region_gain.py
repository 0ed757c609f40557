"""Release mode's third criterion on hand-made explanations with known answers: the positive
mass a named region recorded with the golden gained (``metrics.region_gains``), its bound
``max_region_gain``, and the failure naming the region."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from factories import judged
from golden_samples import judge_release as judge

from pytest_xai import Explanation, Region
from pytest_xai.checks import metrics
from pytest_xai.defaults import DEFAULT_MAX_REGION_GAIN, DEFAULT_MAX_REGION_GAIN_BY_METHOD
from pytest_xai.goldens.modes import Bounds, SessionBounds
from pytest_xai.goldens.previews import caption_meta

OBJECT = Region.box(16, 16, 32, 32, name="object")  # 16×16 pixels
WATERMARK = Region.box(8, 16, 16, 24, name="watermark")  # 8×8 pixels, left of the object


def heat(*blocks: tuple[Region, float], shape: tuple[int, int] = (64, 64)) -> Explanation:
    """An explanation whose positive evidence is ``value`` per pixel of each block."""
    values = np.zeros(shape, np.float32)
    for region, value in blocks:
        values[region.to_mask(*shape)] += value
    values[shape[0] - 1, shape[1] - 1] = -0.5  # negative evidence takes no part
    return judged(values)


def recorded(exp: Explanation, **regions: Region) -> Explanation:
    """``exp`` as a golden written from a test image with these named regions."""
    exp.meta.update(caption_meta(exp, "test_x", regions))
    return exp


def test_region_gains_known_answer() -> None:
    # golden: all 256 units in the object; new: the object's 256 and 128 more in the
    # watermark (64 pixels at 2): the watermark holds 1/3, the object 2/3
    golden, new = heat((OBJECT, 1.0)), heat((OBJECT, 1.0), (WATERMARK, 2.0))
    gains = metrics.region_gains(golden, new, {"object": OBJECT, "watermark": WATERMARK})
    assert gains == pytest.approx({"object": -1 / 3, "watermark": 1 / 3})
    assert metrics.region_gains(golden, golden, {"object": OBJECT}) == {"object": 0.0}


def test_a_region_that_gained_fails_alone_and_is_named(tmp_path: Path) -> None:
    golden = recorded(heat((OBJECT, 1.0)), object=OBJECT, watermark=WATERMARK)
    verdict = judge(tmp_path, golden, heat((OBJECT, 1.0), (WATERMARK, 2.0)))
    assert (verdict.state, verdict.reason) == ("failed", "drift")
    assert verdict.region == "watermark"
    assert verdict.measures["region_gain"] == pytest.approx(1 / 3)
    assert verdict.bounds["max_region_gain"] == DEFAULT_MAX_REGION_GAIN_BY_METHOD["gradient_shap"]
    # the other criteria pass: the watermark lies beside the object, inside its grown support
    assert verdict.measures["support_loss"] == 0.0
    assert verdict.measures["evidence_shift"] is not None and verdict.measures["evidence_shift"] < 0.12
    first = verdict.message.splitlines()[1].strip()
    bound = DEFAULT_MAX_REGION_GAIN_BY_METHOD["gradient_shap"]
    assert first == (
        f"mass gained in region 'watermark' 0.333 > max_region_gain {bound:.3f}: region 'watermark' holds 33% "
        "of the positive mass, the golden 0%; 'object' -33% (rested on, not judged)"
    )
    assert json.loads(json.dumps(verdict.to_json(), allow_nan=False))["region"] == "watermark"


def test_a_gain_within_the_bound_passes_and_is_recorded(tmp_path: Path) -> None:
    # 16 of 272 units move into the watermark: a gain of 1/17 = 0.059
    golden = recorded(heat((OBJECT, 1.0)), object=OBJECT, watermark=WATERMARK)
    verdict = judge(tmp_path, golden, heat((OBJECT, 1.0), (WATERMARK, 0.25)), max_region_gain=0.1)
    assert verdict.state == "passed" and verdict.region == "watermark"
    assert verdict.measures["region_gain"] == pytest.approx(1 / 17)
    assert "mass gained in region 'watermark' 0.059 <= max_region_gain 0.100" in verdict.message
    # the same gain fails a tighter bound given on the call
    tight = judge(tmp_path / "tight", golden, heat((OBJECT, 1.0), (WATERMARK, 0.25)), max_region_gain=0.05)
    assert tight.state == "failed" and tight.bounds["max_region_gain"] == 0.05


def test_a_golden_without_named_regions_is_not_judged_on_them_and_says_so(tmp_path: Path) -> None:
    verdict = judge(tmp_path, heat((OBJECT, 1.0)), heat((OBJECT, 1.0), (WATERMARK, 2.0)))
    assert verdict.state == "passed" and verdict.region is None
    assert verdict.measures["region_gain"] is None
    assert "region" not in verdict.to_json()
    # a failure for another reason says the regions were not judged
    far = judge(tmp_path / "far", heat((OBJECT, 1.0)), heat((Region.box(56, 56, 64, 63), 1.0)))
    assert far.state == "failed"
    assert "no named regions are recorded with this golden" in far.message
    assert "reliance" not in far.message and far.measures["reliance_gain"] is None  # said once, by the gain


def test_the_region_that_gained_most_is_named_among_several(tmp_path: Path) -> None:
    corner = Region.box(40, 40, 48, 48, name="corner")
    golden = recorded(heat((OBJECT, 1.0)), object=OBJECT, watermark=WATERMARK, corner=corner)
    # 64 units into the corner, 128 into the watermark: the watermark gained most (128 / 448)
    verdict = judge(tmp_path, golden, heat((OBJECT, 1.0), (WATERMARK, 2.0), (corner, 1.0)), max_shift=1.0,
                    max_support_loss=1.0)
    assert verdict.region == "watermark" and verdict.measures["region_gain"] == pytest.approx(128 / 448)
    assert "'corner' +14%" in verdict.message and "'object' -43% (rested on, not judged)" in verdict.message


def test_the_region_the_golden_rests_on_may_gain(tmp_path: Path) -> None:
    # golden: object 256 units, corner 192 (the object holds the most); new: the object doubles
    # to 512: it gains 512/704 - 256/448 = +0.156 (not judged), the corner loses as much
    corner = Region.box(40, 40, 48, 48, name="corner")
    golden = recorded(heat((OBJECT, 1.0), (corner, 3.0)), object=OBJECT, corner=corner)
    verdict = judge(tmp_path, golden, heat((OBJECT, 2.0), (corner, 3.0)), max_region_gain=0.1, max_shift=1.0,
                    max_support_loss=1.0)
    assert verdict.state == "passed" and verdict.region == "corner"
    assert verdict.measures["region_gain"] == pytest.approx(192 / 704 - 192 / 448)
    # a single named region is judged even where the golden rests on it
    only = judge(tmp_path / "only", recorded(heat((OBJECT, 1.0), (corner, 3.0)), object=OBJECT),
                 heat((OBJECT, 2.0), (corner, 3.0)), max_region_gain=0.1, max_shift=1.0, max_support_loss=1.0)
    assert only.state == "failed" and only.region == "object"
    assert only.measures["region_gain"] == pytest.approx(512 / 704 - 256 / 448)


def test_max_region_gain_is_validated_and_belongs_to_release_mode() -> None:
    with pytest.raises(ValueError, match="max_region_gain"):
        Bounds.resolve(SessionBounds(), mode="release", max_region_gain=1.5)
    with pytest.raises(ValueError, match=re.escape("max_region_gain=0.1 bounds mode='release'")):
        Bounds.resolve(SessionBounds(), mode="strict", max_region_gain=0.1)
    assert Bounds.resolve(SessionBounds(), method="my_method").max_region_gain == DEFAULT_MAX_REGION_GAIN
