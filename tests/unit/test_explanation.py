"""Explanation objects: superpixel boundaries and whether an explanation carries evidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from evidence_samples import TAG, Saturated
from factories import explanation

from pytest_xai import (
    Classifier,
    explain,
    metrics,
)


def test_boundaries_keep_lime_top_positive_superpixels(shapes_image: np.ndarray) -> None:
    segments = np.repeat(np.arange(4), 16)[None, :].repeat(64, axis=0)  # four vertical bands
    weights = np.array([0.5, -2.0, 1.0, 0.1])
    exp = explanation(weights[segments], weights=weights, segments=segments, method="lime", image=shapes_image)
    pic = exp.boundaries(num_features=2, positive_only=True)
    # lime sorts by |weight| (-2.0, 1.0, 0.5, 0.1), keeps the positive ones (2, 0) and takes
    # the first 2: bands 0 and 2. Their boundaries are drawn in yellow; the rest is untouched.
    yellow = (pic[..., 0] > 200) & (pic[..., 1] > 200) & (pic[..., 2] < 80)
    assert list(np.unique(np.nonzero(yellow)[1])) == [15, 16, 31, 32, 47, 48]
    untouched = np.round(shapes_image * 255).astype(np.uint8)
    assert np.array_equal(pic[:, 17:31], untouched[:, 17:31])
    assert np.array_equal(pic[:, 49:], untouched[:, 49:])
    both = exp.boundaries(num_features=2, positive_only=False)
    assert both[5, 20, 0] == 255  # band 1 (negative) tinted red
    assert both[5, 40, 1] == 255  # band 2 (positive) tinted green
    with pytest.raises(ValueError, match="pixel-level"):
        explanation(exp.heatmap).boundaries(shapes_image)


def test_a_saturated_probability_is_silent_but_its_logit_is_not(silent: dict[str, object]) -> None:
    logit = explain(Classifier(Saturated(), device="cpu"), silent["image"], output="logit", samples=200)
    assert metrics.no_evidence(logit) is None and not metrics.is_silent(logit)  # type: ignore[arg-type]
    assert "against its probability 1" in metrics.no_evidence(silent["saturated"])  # type: ignore[arg-type, operator]


@pytest.mark.slow
def test_real_explanations_carry_evidence(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    for method in ("lime", "kernel_shap", "gradient_shap"):
        exp = explain(shapes_clf, shapes_image, method=method, samples=200)
        with torch.no_grad():
            logit = float(shapes_clf.logits(shapes_clf.to_batch([shapes_image]))[0, exp.target])
        assert exp.meta["output_value"] == pytest.approx(logit, rel=1e-5)
        assert metrics.no_evidence(exp) is None
        assert 0 <= metrics.relevance_mass(exp, TAG) <= 1
