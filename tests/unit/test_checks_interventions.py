"""Interventions against toy models with known answers: one reads a corner patch, one the object."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import explanation

from pytest_xai import (
    Classifier,
    Region,
    assert_attribution_avoids,
    assert_attribution_focus,
    assert_prediction_ignores,
    assert_region_irrelevant,
    assert_region_needed,
    explain,
)
from pytest_xai.checks.interventions import assertions, fills, measure, record, swap
from pytest_xai.errors import RegionError, XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation

SIZE = 16
COLOURS = np.eye(3, dtype=np.float32) * 0.8 + 0.1  # red, green, blue
PATCH = Region.box(0, 0, 4, 4, name="patch")  # top-left: the shortcut's cue
OBJECT = Region.box(6, 6, 11, 11, name="object")
ELSEWHERE = Region.box(12, 12, 16, 16, name="corner")  # bottom-right: plain background


class ReadsBox(torch.nn.Module):
    """Class = the dominant colour channel inside one box (logits: its centred mean, scaled)."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.box = box
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x0, y0, x1, y1 = self.box
        mean = x[:, :, y0:y1, x0:x1].mean(dim=(2, 3))
        return 20.0 * (mean - mean.mean(dim=1, keepdim=True))


def picture(patch: int, obj: int) -> np.ndarray:
    """A grey image with a ``patch``-coloured corner patch and an ``obj``-coloured object."""
    image = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    image[0:4, 0:4] = COLOURS[patch]
    image[6:11, 6:11] = COLOURS[obj]
    return image


def shortcut() -> Classifier:
    return Classifier(ReadsBox((0, 0, 4, 4)), class_names=["red", "green", "blue"], device="cpu")


def honest() -> Classifier:
    return Classifier(ReadsBox((6, 6, 11, 11)), class_names=["red", "green", "blue"], device="cpu")


IMAGE = picture(0, 0)  # a red patch and a red object: both models say "red"
DONORS = [picture(c, c) for c in (1, 2, 1, 2)]


def test_patch_reader_fails_swap_and_hide_on_the_patch() -> None:
    with pytest.raises(AssertionError, match=r"4 of 4 donors followed"):
        assert_prediction_ignores(shortcut(), IMAGE, PATCH, DONORS)
    with pytest.raises(AssertionError, match=r"hiding region 'patch' \(grey\) changes the output"):
        assert_region_irrelevant(shortcut(), IMAGE, PATCH)


def test_patch_reader_passes_elsewhere_and_object_reader_passes_on_the_patch() -> None:
    for region in (ELSEWHERE, OBJECT):
        assert_prediction_ignores(shortcut(), IMAGE, region, DONORS)
        assert_region_irrelevant(shortcut(), IMAGE, region)
    assert_prediction_ignores(honest(), IMAGE, PATCH, DONORS)
    assert_region_irrelevant(honest(), IMAGE, PATCH)


def test_region_needed_for_the_object_not_for_background() -> None:
    assert_region_needed(honest(), IMAGE, OBJECT)
    with pytest.raises(AssertionError, match=r"barely changes the output.*\n.*\n  drop 0.000 < min_drop 0.050 or margin drop 0.00 < min_logit_drop 1.00"):
        assert_region_needed(honest(), IMAGE, ELSEWHERE)
    with pytest.raises(AssertionError, match="not needed"):
        assert_region_needed(shortcut(), IMAGE, OBJECT)


def test_measured_numbers_are_the_known_answers() -> None:
    result, _ = assertions.measure_irrelevant(shortcut(), IMAGE, PATCH, fill="grey")
    # a grey patch: equal channels, zero logits, uniform softmax
    np.testing.assert_allclose(result.after[0], [1 / 3] * 3, atol=1e-6)
    assert result.value == pytest.approx(result.p_before - 1 / 3, abs=1e-6)
    assert result.margin_after[0] == pytest.approx(0.0, abs=1e-5)
    needed, _ = assertions.measure_needed(honest(), IMAGE, OBJECT, fill="grey")
    assert needed.value == pytest.approx(needed.p_before - 1 / 3, abs=1e-6)


def test_one_batched_forward_per_hide_and_two_per_swap() -> None:
    clf = shortcut()
    assertions.measure_irrelevant(clf, IMAGE, PATCH)
    assert clf.model.calls == 1
    assertions.measure_ignores(clf, IMAGE, PATCH, DONORS * 4)  # 16 donors: predict them, then 8 swaps
    assert clf.model.calls == 3


def test_donors_of_the_target_class_are_skipped_and_choice_is_seeded() -> None:
    same = [picture(0, 0), picture(0, 1)]
    result, _ = assertions.measure_ignores(shortcut(), IMAGE, PATCH, same + DONORS)
    assert result.donor_classes == [1, 2, 1, 2]
    many = [picture(1 + k % 2, 0) for k in range(20)]
    for k, image in enumerate(many):
        image[0, 0, 0] = k / 40  # tell the donors apart inside the pasted patch
    picks = [assertions.measure_ignores(shortcut(), IMAGE, PATCH, many, max_donors=5, seed=s)[0] for s in (3, 3, 4)]
    keys = [[float(v[0, 0, 0]) for v in p.variants] for p in picks]
    assert len(keys[0]) == 5 and keys[0] == keys[1] and keys[0] != keys[2]


def test_only_donors_of_the_target_class_is_a_clear_error() -> None:
    with pytest.raises(XaiValueError, match=r"all 2 donors are predicted as 'red'.*another class"):
        assert_prediction_ignores(shortcut(), IMAGE, PATCH, [picture(0, 1), picture(0, 2)])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_change": 1.5}, XaiValueError, r"max_change=1.5 must be a number in \[0, 1\]"),
        ({"max_change": float("nan")}, XaiValueError, r"max_change=nan"),
        ({"max_change": "0.1"}, XaiTypeError, r"max_change='0.1' is not a number"),
        ({"max_change": True}, XaiTypeError, r"max_change=True is not a number"),
        ({"fill": "paint"}, XaiValueError, r"fill='paint' is not a known fill; use one of blur, grey, inpaint"),
    ],
)
def test_bad_bounds_and_fills_name_argument_value_and_fix(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        assert_region_irrelevant(shortcut(), IMAGE, PATCH, **kwargs)


def test_numpy_scalars_are_accepted_as_bounds() -> None:
    assert_region_irrelevant(honest(), IMAGE, PATCH, max_change=np.float32(0.1))
    assert_region_needed(honest(), IMAGE, OBJECT, min_drop=np.float64(0.3))
    assert_prediction_ignores(honest(), IMAGE, PATCH, DONORS, max_flip=np.float16(0.0), max_donors=np.int64(2))


def test_bad_regions_and_donors_are_clear_errors() -> None:
    with pytest.raises(RegionError, match="covers no pixel"):
        assert_region_irrelevant(shortcut(), IMAGE, np.zeros((SIZE, SIZE), bool))
    with pytest.raises(XaiValueError, match=r"covers the whole 16×16 image.*Pass the part under test"):
        assert_region_needed(shortcut(), IMAGE, np.ones((SIZE, SIZE), bool))
    with pytest.raises(XaiValueError, match=r"donors\[1\] is 8×8 but the image is 16×16"):
        assert_prediction_ignores(shortcut(), IMAGE, PATCH, [DONORS[0], np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(XaiValueError, match="donors is empty"):
        assert_prediction_ignores(shortcut(), IMAGE, PATCH, [])
    with pytest.raises(XaiTypeError, match="donors of type int is not a list of images"):
        assert_prediction_ignores(shortcut(), IMAGE, PATCH, 3)
    with pytest.raises(XaiTypeError, match=r"explain_or_classifier=.*names no model"):
        assert_region_irrelevant(explain, IMAGE, PATCH)


def test_fills_change_only_the_region_and_inpaint_never_reads_it() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (SIZE, SIZE, 3)).astype(np.float32)
    mask = PATCH.to_mask(SIZE, SIZE) | OBJECT.to_mask(SIZE, SIZE)
    for fill in fills.FILLS:
        out = fills.hide(image, mask, fill)
        np.testing.assert_array_equal(out[~mask], image[~mask])
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    changed = image.copy()
    changed[mask] = 1.0 - changed[mask]
    np.testing.assert_array_equal(fills.hide(image, mask, "inpaint"), fills.hide(changed, mask, "inpaint"))
    assert np.all(fills.hide(image, mask, "grey")[mask] == 0.5)


def test_inpaint_continues_the_surroundings() -> None:
    flat = np.full((SIZE, SIZE, 3), 0.3, np.float32)
    mask = OBJECT.to_mask(SIZE, SIZE)
    flat[mask] = 0.9
    np.testing.assert_allclose(fills.hide(flat, mask, "inpaint")[mask], 0.3, atol=1e-6)
    ramp = np.repeat(np.linspace(0, 1, SIZE, dtype=np.float32)[None, :, None], SIZE, 0).repeat(3, 2)
    filled = fills.hide(ramp, mask, "inpaint")[..., 0]
    assert np.all(np.diff(filled[8, 6:11]) > 0)  # still rising left to right
    assert abs(float(filled[8, 8]) - float(ramp[8, 8, 0])) < 0.05


def test_register_fill_adds_a_fill_and_refuses_bad_ones() -> None:
    fills.register_fill("black", lambda image, mask: np.where(mask[..., None], 0.0, image))
    try:
        result, _ = assertions.measure_irrelevant(shortcut(), IMAGE, PATCH, fill="black")
        assert result.fill == "black" and np.all(result.variants[0][:4, :4] == 0)
    finally:
        del fills.FILLS["black"]
    with pytest.raises(XaiTypeError, match="not callable"):
        fills.register_fill("x", 3)  # type: ignore[arg-type]


def _explanation(image: np.ndarray, region: Region, target: int = 0) -> Explanation:
    """A hand-made explanation whose positive attribution lies entirely on ``region``."""
    heat = region.to_mask(SIZE, SIZE).astype(np.float32)
    return explanation(heat, target=target, target_name="red", probability=0.99, image=image)


def test_confirm_turns_a_salient_unused_avoid_failure_into_a_pass() -> None:
    exp = _explanation(IMAGE, PATCH)  # all the mass on the patch
    with pytest.raises(AssertionError, match="rests on region 'patch'"):
        assert_attribution_avoids(exp, PATCH, max_mass=0.1)
    assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm=honest())  # salient, not used
    with pytest.raises(AssertionError, match=r"rests on region 'patch'[\s\S]*the model uses it"):
        assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm=shortcut())


def test_confirm_true_uses_the_model_that_explained() -> None:
    clf = shortcut()
    exp = explain(clf, IMAGE, method="kernel_shap", samples=60, segments=_grid(), seed=0)
    with pytest.raises(AssertionError, match="the model uses it"):
        assert_attribution_avoids(exp, PATCH, max_mass=0.1, confirm=True)
    with pytest.raises(XaiValueError, match="confirm=True cannot tell which model"):
        assert_attribution_avoids(_explanation(IMAGE, PATCH), PATCH, max_mass=0.1, confirm=True)


def test_confirm_on_focus_passes_only_when_the_object_is_needed() -> None:
    exp = _explanation(IMAGE, OBJECT)
    assert_attribution_focus(exp, OBJECT, min_mass=0.5, confirm=honest())
    with pytest.raises(AssertionError, match=r"focuses on region 'object'.*but hiding it.*not needed"):
        assert_attribution_focus(exp, OBJECT, min_mass=0.5, confirm=shortcut())


def test_record_entry_has_kind_intervention_and_both_numbers() -> None:
    result, _ = assertions.measure_irrelevant(shortcut(), IMAGE, PATCH, fill="grey")
    entry = record.check_entry(result, role="confirm")
    assert entry.kind == "intervention" and entry.metric == "probability_change"
    assert entry.upper and entry.bound_name == "max_change" and entry.passed is False
    assert entry.details is not None and entry.details["p_after"] == [pytest.approx(1 / 3, abs=1e-6)]
    assert entry.region == "patch" and entry.details["role"] == "confirm" and entry.target == "red"
    assert type(entry).from_json(entry.to_json()) == entry


def test_swap_paste_and_eligible_are_pure() -> None:
    mask = PATCH.to_mask(SIZE, SIZE)
    out = swap.paste(IMAGE, DONORS[0], mask)
    np.testing.assert_array_equal(out[mask], DONORS[0][mask])
    np.testing.assert_array_equal(out[~mask], IMAGE[~mask])
    assert swap.eligible([0, 1, 2, 0], 0, ["a", "b", "c"], 8, 0) == [1, 2]
    assert measure.margin(np.array([[1.0, 3.0, 2.0]]), 1)[0] == pytest.approx(1.0)


def _grid() -> np.ndarray:
    """Sixteen 4×4 superpixels, so the patch is one of them."""
    return (np.arange(SIZE)[:, None] // 4) * 4 + np.arange(SIZE)[None, :] // 4


class ReadsSpotAnywhere(torch.nn.Module):
    """Class = the colour of the most saturated pixel anywhere (a spot at any position)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deviation = x - x.mean(dim=1, keepdim=True)
        return 20.0 * deviation.amax(dim=(2, 3))


def _spot_image(colour: int, x: int, y: int) -> tuple[np.ndarray, Region]:
    image = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    image[y : y + 3, x : x + 3] = COLOURS[colour]
    return image, Region.box(x, y, x + 3, y + 3, name="spot")


def test_a_donor_with_its_own_region_gives_its_content_at_another_position() -> None:
    from pytest_xai.plugin.testimage import TestImage

    clf = Classifier(ReadsSpotAnywhere(), class_names=["red", "green", "blue"], device="cpu")
    image, spot = _spot_image(0, 2, 9)
    donors = []
    for colour, (x, y) in zip((1, 2), ((10, 1), (6, 12))):
        array, region = _spot_image(colour, x, y)
        donors.append(TestImage(array, f"d{colour}", None, {"spot": region}))
    result, _ = assertions.measure_ignores(clf, image, spot, donors)
    assert [int(np.argmax(row)) for row in result.after] == [1, 2]  # the donors' spots moved in
    np.testing.assert_allclose(result.variants[0][9:12, 2:5], np.broadcast_to(COLOURS[1], (3, 3, 3)), atol=1e-6)
    assert np.allclose(result.variants[0][1:4, 10:13], 0.5)  # nothing else of the donor came along
    plain, _ = assertions.measure_ignores(clf, image, spot, [np.asarray(d) for d in donors])
    assert [int(np.argmax(row)) for row in plain.after] == [0, 0] or np.allclose(plain.after, 1 / 3)


def test_a_model_that_returns_probabilities_is_judged_on_them_not_softmaxed_again() -> None:
    from tiny_samples import Corner, corner_image

    corner = Region.box(0, 0, 16, 16, name="corner")
    for probabilities in (False, True):
        clf = Classifier(Corner(probabilities), device="cpu")
        with pytest.raises(AssertionError, match=r"1\.000 -> 0\.500"):  # hiding the white corner
            assert_region_irrelevant(clf, corner_image(), corner)
        result, _ = assertions.measure_irrelevant(clf, corner_image(), corner, fill="grey", max_change=0.47, max_logit_change=None, target=None)
        assert result.p_before == pytest.approx(1.0, abs=1e-6) and result.p_after[0] == pytest.approx(0.5, abs=1e-6)
