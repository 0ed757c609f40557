"""An explanation without evidence never passes a check: zeros and round-off say nothing.

A model whose explained output does not vary under perturbation (it ignores its input, or its
probability is saturated at 1.0) gets a heatmap of zeros or solver round-off. Every
localisation metric is then NaN, every assertion fails saying why, and no golden is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_golden_modes import FakeSettings  # the part of Settings that judge reads

from pytest_xai import (
    Classifier,
    Region,
    assert_attribution_avoids,
    assert_attribution_focus,
    assert_explanation_depends_on_model,
    assert_explanations_agree,
    explain,
    metrics,
)
from pytest_xai.snapshots import Bounds, SnapshotStore


class IgnoresInput(torch.nn.Module):
    """Constant logits (1, 2, 3) whatever the image; the graph still reaches the input."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), 3) + 0 * x.sum(dim=(1, 2, 3))[:, None]


class Saturated(torch.nn.Module):
    """Reads the image (mean red), but its top class has probability exactly 1.0 in float32."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([1.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, 0].mean(dim=(1, 2)) * self.scale
        return torch.stack([100 + red, -100 - red, -100 + red], dim=1)


TAG = Region.box(0, 0, 16, 16, name="tag")
OBJECT = Region.box(16, 16, 64, 64, name="object")


@pytest.fixture(scope="module")
def silent() -> dict[str, object]:
    image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    constant = Classifier(IgnoresInput(), device="cpu")
    found: dict[str, object] = {
        method: explain(constant, image, method=method, samples=200) for method in ("lime", "kernel_shap", "gradient_shap")
    }
    found["saturated"] = explain(Classifier(Saturated(), device="cpu"), image, output="probability", samples=200)
    found["image"] = image
    return found


@pytest.mark.parametrize("name", ["lime", "kernel_shap", "gradient_shap", "saturated"])
def test_localisation_metrics_are_undefined_without_evidence(silent: dict[str, object], name: str) -> None:
    exp = silent[name]
    assert metrics.is_silent(exp)  # type: ignore[arg-type]
    assert metrics.no_evidence(exp).startswith("no evidence: the attributions sum to")  # type: ignore[arg-type, union-attr]
    for value in (
        metrics.relevance_mass(exp, TAG), metrics.relevance_ratio(exp, TAG),  # type: ignore[arg-type]
        metrics.relevance_rank(exp, TAG), metrics.top_k_intersection(exp, TAG, 10),  # type: ignore[arg-type]
        metrics.spearman(exp, exp), metrics.top_k_iou(exp, exp), metrics.cosine(exp, exp),  # type: ignore[arg-type]
        metrics.evidence_shift(exp, exp),  # type: ignore[arg-type]
    ):
        assert np.isnan(value)
    assert metrics.pointing_game(exp, Region.box(63, 63, 64, 64)) is False  # type: ignore[arg-type]
    assert metrics.mass_centre(exp) is None  # type: ignore[arg-type]


def test_a_saturated_probability_is_silent_but_its_logit_is_not(silent: dict[str, object]) -> None:
    logit = explain(Classifier(Saturated(), device="cpu"), silent["image"], output="logit", samples=200)
    assert metrics.no_evidence(logit) is None and not metrics.is_silent(logit)  # type: ignore[arg-type]
    assert "against its probability 1" in metrics.no_evidence(silent["saturated"])  # type: ignore[arg-type, operator]


def test_real_explanations_carry_evidence(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    for method in ("lime", "kernel_shap", "gradient_shap"):
        exp = explain(shapes_clf, shapes_image, method=method, samples=200)
        with torch.no_grad():
            logit = float(shapes_clf.logits(shapes_clf.to_batch([shapes_image]))[0, exp.target])
        assert exp.meta["output_value"] == pytest.approx(logit, rel=1e-5)
        assert metrics.no_evidence(exp) is None
        assert 0 <= metrics.relevance_mass(exp, TAG) <= 1


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


def test_no_golden_is_written_or_passed_without_evidence(silent: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "snap" / "test_x.npz"
    exp = silent["saturated"]

    def judge() -> object:
        settings = FakeSettings(can_write=True, can_update=True)
        return SnapshotStore().judge(path, exp, Bounds(), settings, rootdir=tmp_path, label="test_x",  # type: ignore[arg-type]
                                     pictures_dir=tmp_path / "pictures")

    verdict = judge()
    assert (verdict.state, verdict.reason) == ("failed", "no_evidence")  # type: ignore[attr-defined]
    assert "not written: the explanation has no evidence" in verdict.message  # type: ignore[attr-defined]
    assert not path.exists()
    exp.save(path)  # type: ignore[attr-defined]  # a golden recorded before this check existed
    before = path.read_bytes()
    verdict = judge()
    assert verdict.reason == "no_evidence" and "kept as it is" in verdict.message  # type: ignore[attr-defined]
    assert path.read_bytes() == before
