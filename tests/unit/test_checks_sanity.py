"""The model-randomisation sanity check (assert_explanation_depends_on_model): a trained model
passes and is left untouched, an edge detector fails, the bound and the layers decide, bad
arguments and a silent original are refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from evidence_samples import IgnoresInput
from factories import explanation

from pytest_xai import Classifier, Explanation, assert_explanation_depends_on_model, explain
from pytest_xai.errors import XaiTypeError, XaiValueError


def edges(image: Any, *, classifier: Any, method: str, seed: int, samples: int | None = None) -> Explanation:
    """A "method" that ignores the model: the image's gradient magnitude (an edge map)."""
    from skimage.filters import sobel

    grey = np.asarray(image, np.float64).mean(axis=2)
    heat = sobel(grey).astype(np.float32)
    return explanation(heat, method="edges", seed=seed, samples=1, image=np.asarray(image, np.float32))


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


def test_the_sanity_check_refuses_a_silent_original(silent: dict[str, object]) -> None:
    with pytest.raises(AssertionError, match="the trained model's explanation carries no evidence"):
        assert_explanation_depends_on_model(explain, silent["image"], classifier=IgnoresInput(), samples=100)
