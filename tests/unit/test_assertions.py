"""Assertion helpers on hand-made explanations: focus by mass or by mass over area, avoidance,
agreement; a NaN measure fails every bound; each check is recorded with its value and bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from evidence_samples import OBJECT, TAG, IgnoresInput

from pytest_xai import (
    Classifier,
    Explanation,
    Region,
    assert_attribution_avoids,
    assert_attribution_focus,
    assert_explanation_depends_on_model,
    assert_explanations_agree,
    explain,
    metrics,
)
from pytest_xai.errors import XaiTypeError, XaiValueError


def exp_of(heatmap: np.ndarray) -> Explanation:
    return Explanation(np.asarray(heatmap, np.float32), None, None, 0, "0", 1.0, "gradient_shap", "logit", 0, 1)


HALF = Region.box(0, 0, 8, 16, name="half")  # the left half of a 16×16 image
CORNER = Region.box(0, 0, 4, 4, name="corner")  # 1/16 of it


def test_min_ratio_rejects_a_uniform_heatmap_that_min_mass_accepts() -> None:
    uniform = exp_of(np.ones((16, 16)))
    assert_attribution_focus(uniform, HALF, min_mass=0.5)  # a meaningless pass: mass 0.5
    with pytest.raises(AssertionError) as info:
        assert_attribution_focus(uniform, HALF, min_ratio=1.5)
    assert "relevance ratio 1.000 (mass 0.500 / area share 0.500) < min_ratio 1.500" in str(info.value)
    assert "which covers 50.0% of the image" in str(info.value)


def test_min_ratio_means_the_same_for_small_and_large_regions() -> None:
    heat = np.ones((16, 16))
    heat[:4, :4] = 5.0  # the corner holds 80 / 320 = 1/4 of the mass on 1/16 of the area: ratio 4
    assert_attribution_focus(exp_of(heat), CORNER, min_ratio=3.9)
    with pytest.raises(AssertionError, match=r"relevance ratio 4\.000"):
        assert_attribution_focus(exp_of(heat), CORNER, min_ratio=4.1)
    # the default min_mass=0.5 is not applied when only min_ratio is given; both apply when both are
    with pytest.raises(AssertionError, match=r"relevance mass 0.250 < min_mass 0.500"):
        assert_attribution_focus(exp_of(heat), CORNER, min_ratio=3.9, min_mass=0.5)
    with pytest.raises(XaiValueError, match=r"min_ratio=17 must be a number in \[0, 16\]"):
        assert_attribution_focus(exp_of(heat), CORNER, min_ratio=17)


def test_nan_fails_every_assertion() -> None:
    nan = exp_of(np.full((16, 16), np.nan))
    with pytest.raises(AssertionError, match="relevance mass nan \\(not a number"):
        assert_attribution_focus(nan, HALF, min_mass=0.0)
    with pytest.raises(AssertionError, match="relevance ratio nan"):
        assert_attribution_focus(nan, HALF, min_ratio=0.0)
    with pytest.raises(AssertionError, match=r"relevance mass nan .* fails max_mass 1\.000"):
        assert_attribution_avoids(nan, HALF, max_mass=1.0)
    with pytest.raises(AssertionError, match="Spearman nan"):
        assert_explanations_agree(nan, exp_of(np.ones((16, 16))), min_spearman=-1.0)


def test_checks_are_returned_and_recorded_json_safe(tmp_path: Path) -> None:
    import json

    from pytest_xai.checks.recorder import Recorder, recording
    from pytest_xai.records import TestRecord

    recorder = Recorder(TestRecord("t"), tmp_path)
    heat = np.ones((16, 16))
    heat[:4, :4] = 5.0
    with recording(recorder):
        returned = assert_attribution_focus(exp_of(heat), CORNER, min_mass=0.2, min_ratio=3.0)
        with pytest.raises(AssertionError):
            assert_attribution_avoids(exp_of(np.full((16, 16), np.nan)), CORNER)
    focus_mass, focus_ratio, avoid = recorder.record.checks
    assert returned == [focus_mass, focus_ratio]
    assert (focus_mass.metric, focus_mass.value, focus_mass.bound, focus_mass.upper) == ("relevance_mass", 0.25, 0.2, False)
    assert (focus_ratio.metric, focus_ratio.value, focus_ratio.passed) == ("relevance_ratio", 4.0, True)
    assert (avoid.value, avoid.passed, avoid.upper, avoid.picture is not None) == (None, False, True, True)
    json.dumps([c.to_json() for c in recorder.record.checks], allow_nan=False)


def test_helpers_return_their_checks_without_a_recorder() -> None:
    heat = np.ones((16, 16))
    heat[:4, :4] = 5.0
    (avoid,) = assert_attribution_avoids(exp_of(heat), CORNER, max_mass=0.5)
    assert (avoid.kind, avoid.metric, avoid.value, avoid.bound, avoid.passed, avoid.upper) == (
        "avoid", "relevance_mass", 0.25, 0.5, True, True)
    (rho,) = assert_explanations_agree(exp_of(heat), exp_of(heat), min_spearman=0.9)
    assert (rho.kind, rho.metric, rho.value, rho.other_method) == ("agree", "spearman", pytest.approx(1.0), "gradient_shap")


def edges(image: Any, *, classifier: Any, method: str, seed: int, samples: int | None = None) -> Explanation:
    """A "method" that ignores the model: the image's gradient magnitude (an edge map)."""
    from skimage.filters import sobel

    grey = np.asarray(image, np.float64).mean(axis=2)
    heat = sobel(grey).astype(np.float32)
    return Explanation(heat, None, None, 0, "0", 1.0, "edges", "logit", seed, 1,
                       image=np.asarray(image, np.float32))


def state(clf: Classifier) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in clf.model.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_trained_model_passes_and_is_not_modified(shapes_clf: Classifier, shapes_image: np.ndarray,
                                                  method: str) -> None:
    before, rng_before = state(shapes_clf), torch.random.get_rng_state()
    assert_explanation_depends_on_model(explain, shapes_image, classifier=shapes_clf, method=method, samples=300)
    after = state(shapes_clf)
    assert all(torch.equal(before[k], after[k]) for k in before)  # worked on a copy
    assert torch.equal(rng_before, torch.random.get_rng_state())  # the global RNG is untouched


def test_an_edge_detector_fails(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    with pytest.raises(AssertionError) as info:
        assert_explanation_depends_on_model(edges, shapes_image, classifier=shapes_clf, method="edges")
    text = str(info.value)
    assert text.startswith("explanation does not depend on the model: with 4 parameterised layer(s) randomised, "
                           "the edges explanation still has Spearman |attribution| 1.000 > max_similarity 0.500")
    assert "cascade (top layer first, cumulative): head 1.000, features.6 1.000, features.3 1.000, features.0 1.000" in text
    assert "overlays (trained | all randomised): " in text


@pytest.mark.slow
def test_the_bound_and_the_layers_decide(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    # randomising only the output layer leaves the features: LIME's map stays close (measured
    # 0.61-0.73 on the three shapes images at 1000 samples), so a tight bound on it fails
    with pytest.raises(AssertionError, match=r"with 1 parameterised layer\(s\) randomised"):
        assert_explanation_depends_on_model(explain, shapes_image, classifier=shapes_clf, layers=["head"],
                                            max_similarity=0.2, samples=300)
    assert_explanation_depends_on_model(explain, shapes_image, classifier=shapes_clf, layers=["head"],
                                        max_similarity=0.95, samples=300)


def test_bad_arguments_are_refused(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    opaque = Classifier(lambda x: x.mean(dim=(2, 3)), device="cpu")
    with pytest.raises(XaiTypeError, match=r"not a torch\.nn\.Module"):
        assert_explanation_depends_on_model(explain, shapes_image, classifier=opaque)
    with pytest.raises(XaiValueError, match=r"layers=9 must be in 1..4"):
        assert_explanation_depends_on_model(explain, shapes_image, classifier=shapes_clf, layers=9)
    with pytest.raises(XaiValueError, match=r"\['nope'\]; use distinct names of parameterised layers: head"):
        assert_explanation_depends_on_model(explain, shapes_image, classifier=shapes_clf, layers=["nope"])
    with pytest.raises(XaiValueError, match=r"max_similarity=nan must be a number in \[-1, 1\]"):
        assert_explanation_depends_on_model(explain, shapes_image, classifier=shapes_clf,
                                            max_similarity=float("nan"))
    with pytest.raises(XaiValueError, match="pass classifier="):
        assert_explanation_depends_on_model(explain, shapes_image)


def test_assertions_fail_without_evidence_and_say_why(silent: dict[str, object]) -> None:
    exp = silent["saturated"]
    with pytest.raises(AssertionError, match=r"relevance mass nan \(no evidence: the attributions sum to") as info:
        assert_attribution_focus(exp, OBJECT, min_mass=0.1)  # type: ignore[arg-type]
    assert "no positive attribution to place" in str(info.value)
    with pytest.raises(AssertionError, match="cannot tell whether the attribution avoids region 'tag'"):
        assert_attribution_avoids(exp, TAG, max_mass=1.0)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=r"Spearman nan \(no evidence"):
        assert_explanations_agree(silent["lime"], silent["kernel_shap"], min_spearman=-1.0)  # type: ignore[arg-type]


def test_all_negative_evidence_is_no_positive_evidence(silent: dict[str, object]) -> None:
    exp = silent["lime"]
    against = type(exp)(**{**vars(exp), "heatmap": -np.ones((64, 64), np.float32), "weights": None,  # type: ignore[arg-type]
                           "segments": None})
    assert metrics.no_evidence(against) == f"no positive evidence: every attribution argues against {exp.target_name!r}"  # type: ignore[attr-defined]
    assert not metrics.is_silent(against) and np.isnan(metrics.relevance_mass(against, TAG))


def test_the_sanity_check_refuses_a_silent_original(silent: dict[str, object]) -> None:
    with pytest.raises(AssertionError, match="the trained model's explanation carries no evidence"):
        assert_explanation_depends_on_model(explain, silent["image"], classifier=IgnoresInput(), samples=100)


@pytest.mark.parametrize("method", ["lime", "kernel_shap", "gradient_shap"])
def test_confirm_never_passes_an_explanation_without_evidence(silent: dict[str, object], method: str) -> None:
    exp = silent[method]
    for confirm in (False, True):
        with pytest.raises(AssertionError, match="cannot tell whether the attribution avoids region 'tag'") as info:
            assert_attribution_avoids(exp, TAG, confirm=confirm)  # type: ignore[arg-type]
        assert "no evidence" in str(info.value)


def _ranked_pair() -> tuple[Explanation, Explanation]:
    """Two 10×10 maps with known top-k sets: a ranks pixels 0..99 in order; b ranks 70..89
    highest, then 90..99, then 0..69 in order. Top 20%: {80..99} against {70..89}, IoU 10/30;
    top 30%: {70..99} for both, IoU 1."""
    a = np.arange(1, 101, dtype=np.float64)
    b = np.concatenate([np.arange(1, 71), np.arange(81, 101), np.arange(71, 81)]).astype(np.float64)
    return exp_of(a.reshape(10, 10)), exp_of(b.reshape(10, 10))


def test_agreement_bounds_the_top_k_iou_at_the_share_asked_for() -> None:
    a, b = _ranked_pair()
    with pytest.raises(AssertionError, match=r"top-20% IoU 0\.333 .*< min_top_k_iou 0\.400"):
        assert_explanations_agree(a, b, min_spearman=0.0, min_top_k_iou=0.4)
    _, iou = assert_explanations_agree(a, b, min_spearman=0.0, min_top_k_iou=0.99, top_k=0.3)
    assert (iou.metric, iou.value, iou.bound, iou.passed) == ("top_k_iou", pytest.approx(1.0), 0.99, True)
    assert iou.details == {"top_k_iou": 1.0, "top_k": 0.3}
    with pytest.raises(XaiValueError, match=r"top_k=0 must be a share of the pixels in \(0, 1\]"):
        assert_explanations_agree(a, b, top_k=0)


def test_agreement_records_the_top_k_iou_when_it_does_not_bound_it() -> None:
    from scipy.stats import spearmanr

    a, b = _ranked_pair()
    (rho,) = assert_explanations_agree(a, b, min_spearman=0.0)
    expected = spearmanr(a.heatmap.ravel(), b.heatmap.ravel())[0]
    assert rho.value == pytest.approx(expected)
    assert rho.details == {"top_k_iou": pytest.approx(1 / 3, abs=1e-4), "top_k": 0.2}
