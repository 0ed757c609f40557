"""Release mode's fourth criterion on a model with a known answer: the golden records how far
the target's logit margin falls when each named region is hidden (``goldens.reliance``), and a
release that relies on a region more than ``max_reliance_gain`` fails, naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from factories import judged
from golden_samples import judge_release as judge

from pytest_xai import Classifier, Explanation, Region
from pytest_xai.defaults import DEFAULT_MAX_RELIANCE_GAIN
from pytest_xai.goldens import reliance
from pytest_xai.goldens.modes import Bounds, SessionBounds
from pytest_xai.goldens.previews import caption_meta

OBJECT = Region.box(16, 16, 32, 32, name="object")  # 16×16 pixels
WATERMARK = Region.box(8, 16, 16, 24, name="watermark")  # 8×8 pixels, left of the object
SHAPE = (64, 64)


class Reader(torch.nn.Module):
    """Five logits: class 0 sums the pixels under a weight map; classes 1-4 are 0, 1, 2 and 3.
    While class 0 scores above 3 the logits' interquartile range is 3 - 1 = 2 and its margin
    is its score minus 3, so hiding a region lowers the margin by its weighted pixels, and the
    reliance is half that."""

    def __init__(self, watermark_weight: float) -> None:
        super().__init__()
        weights = torch.zeros(3, *SHAPE)
        weights[:, OBJECT.to_mask(*SHAPE)] = 0.01
        weights[:, WATERMARK.to_mask(*SHAPE)] = watermark_weight
        self.register_buffer("w", weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x * self.w).sum(dim=(1, 2, 3))
        return torch.stack([score, *(torch.full_like(score, float(k)) for k in range(4))], 1)


def image() -> np.ndarray:
    array = np.zeros((*SHAPE, 3), np.float32)
    array[OBJECT.to_mask(*SHAPE)] = 1.0  # 768 weighted units at 0.01: a score of 7.68
    array[WATERMARK.to_mask(*SHAPE)] = 1.0
    return array


def explained(watermark_weight: float, evidence: Region = OBJECT) -> Explanation:
    """An explanation (evidence on ``evidence``) computed by the Reader in this process."""
    heat = np.zeros(SHAPE, np.float32)
    heat[evidence.to_mask(*SHAPE)] = 1.0
    exp = judged(heat)
    exp.image = image()
    clf = Classifier(Reader(watermark_weight), class_names=["circle", "a", "b", "c", "d"], device="cpu")
    return exp.computed_by(clf)


def golden() -> Explanation:
    """The clean Reader's explanation as the plugin writes its golden."""
    exp = explained(0.0)
    exp.meta.update(caption_meta(exp, "test_x", {"object": OBJECT, "watermark": WATERMARK}))
    exp.meta.update(reliance.record(exp))
    return exp


def test_the_golden_records_each_regions_reliance_known_answer() -> None:
    # hiding the object (grey 0.5) lowers the score by 768 · 0.5 · 0.01 = 3.84: reliance 1.92;
    # the clean Reader gives the watermark no weight: reliance 0
    recorded = golden().meta[reliance.KEY]
    assert recorded == pytest.approx({"object": 1.92, "watermark": 0.0}, abs=1e-5)


def test_a_release_relying_on_the_watermark_fails_and_names_it(tmp_path: Path) -> None:
    # the release weighs the watermark's 192 units at 0.01 too: hiding it lowers the margin by
    # 0.96, reliance 0.48; its heatmap is the golden's, so no other criterion moves
    verdict = judge(tmp_path, golden(), explained(0.01), max_reliance_gain=0.3)
    assert (verdict.state, verdict.reason, verdict.region) == ("failed", "drift", "watermark")
    assert verdict.measures["reliance_gain"] == pytest.approx(0.48, abs=1e-5)
    assert verdict.measures["region_gain"] == pytest.approx(0.0)
    assert verdict.message.splitlines()[1].strip() == (
        "reliance gained on region 'watermark' 0.480 > max_reliance_gain 0.300: hiding region 'watermark' now "
        "lowers the margin by 0.48 interquartile ranges of the logits, the golden's model by 0.00"
    )
    assert verdict.bounds["max_reliance_gain"] == 0.3
    # within the default bound, and the same model, pass; the object (rested on) is never judged
    assert judge(tmp_path / "default", golden(), explained(0.01)).state == ("passed" if DEFAULT_MAX_RELIANCE_GAIN >= 0.48 else "failed")
    same = judge(tmp_path / "same", golden(), explained(0.0), max_reliance_gain=0.0)
    assert same.state == "passed" and same.measures["reliance_gain"] == pytest.approx(0.0, abs=1e-6)


def test_reliance_that_cannot_be_measured_is_not_judged_and_says_why(tmp_path: Path) -> None:
    old = explained(0.0)
    old.meta.update(caption_meta(old, "test_x", {"object": OBJECT, "watermark": WATERMARK}))  # no reliance
    verdict = judge(tmp_path, old, explained(1.0, evidence=WATERMARK))  # fails on the evidence shift
    assert verdict.state == "failed" and verdict.measures["reliance_gain"] is None
    assert "no region reliance is recorded with this golden" in verdict.message
    loaded = explained(1.0, evidence=WATERMARK)
    loaded.source = None  # an explanation read from a file: its model is not at hand
    verdict = judge(tmp_path / "file", golden(), loaded)
    assert verdict.state == "failed" and verdict.measures["reliance_gain"] is None
    assert "the new explanation's model is not at hand" in verdict.message


def test_max_reliance_gain_is_validated() -> None:
    with pytest.raises(ValueError, match=r"max_reliance_gain=-1 must be a number in \[0, inf\]"):
        Bounds.resolve(SessionBounds(), method="lime", mode="release", max_reliance_gain=-1)
    assert Bounds.resolve(SessionBounds(), method="lime").max_reliance_gain == DEFAULT_MAX_RELIANCE_GAIN
