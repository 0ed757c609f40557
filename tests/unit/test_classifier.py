"""Classifier: bad models and outputs are refused; dtypes, devices and class names are checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from factories import BadInput, assert_refused, refusals
from tiny_samples import SEGMENTS, net

from pytest_xai import (
    Classifier,
    Explanation,
    explain,
)
from pytest_xai.errors import (
    ModelOutputError,
    XaiTypeError,
    XaiValueError,
)


@pytest.mark.parametrize(("convert", "tolerance"), [("double", 1e-5), ("half", 0.1)])
@pytest.mark.parametrize("method", ["lime", "gradient_shap"])
def test_a_double_or_half_model_is_explained_like_the_float_one(
    tiny_img: np.ndarray, tiny_clf: Classifier, convert: str, tolerance: float, method: str
) -> None:
    other = Classifier(getattr(net(), convert)(), device="cpu")
    kwargs = {"segments": SEGMENTS} if method == "lime" else {}
    got = explain(other, tiny_img, method=method, samples=16, **kwargs)
    want = explain(tiny_clf, tiny_img, method=method, samples=16, **kwargs)
    assert isinstance(got, Explanation) and isinstance(want, Explanation)
    assert got.heatmap.dtype == np.float32 and got.target == want.target
    peak = float(np.abs(want.heatmap).max())
    np.testing.assert_allclose(got.heatmap, want.heatmap, atol=tolerance * max(peak, 1e-3))


def test_mps_is_refused_where_it_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(XaiValueError, match="device='mps' but MPS"):
        Classifier(net(), device="mps")


@pytest.mark.parametrize(
    ("names", "error", "fragment"),
    [
        ("cat", XaiTypeError, "class_names='cat' is not a list of names"),
        (["cat", "dog", "cat"], XaiValueError, "class_names repeats ['cat']"),
        (["cat", "\ud83d"], XaiValueError, "which has a lone surrogate"),
        (["cat", 1, "dog"], XaiTypeError, "must hold only strings"),
    ],
)
def test_bad_class_names(names: object, error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Classifier(net(), class_names=names, device="cpu")  # type: ignore[arg-type]


def returning(fn: Callable[[torch.Tensor], Any]) -> Classifier:
    return Classifier(fn, device="cpu")


BAD_MODELS: list[tuple[str, Callable[..., Any], type, str]] = [
    ("model shape", lambda img, clf: explain(returning(lambda x: x.mean((1, 2, 3))), img), ModelOutputError,
     "returned shape (1,)"),
    ("model nan", lambda img, clf: explain(returning(lambda x: torch.full((len(x), 3), float("nan"))), img),
     ModelOutputError, "NaN or inf logits"),
    ("model not tensor", lambda img, clf: explain(returning(lambda x: [1, 2]), img), ModelOutputError,
     "returned list, not a tensor"),
    ("not a model", lambda img, clf: explain(42, img), TypeError, "not a Classifier or a model"),
    ("device", lambda img, clf: Classifier(torch.nn.Identity(), device="tpu"), ValueError, "device='tpu'"),
]


@refusals(BAD_MODELS)
def test_bad_models_and_outputs_are_refused(bad: BadInput, img: np.ndarray, clf: Classifier) -> None:
    assert_refused(bad, img, clf)


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_a_model_that_returns_probabilities_is_explained_on_them_not_softmaxed_again(method: str) -> None:
    from tiny_samples import Corner, corner_image

    from pytest_xai import explain

    image = corner_image()
    of_probabilities = explain(Classifier(Corner(True), device="cpu"), image, method=method, output="probability",
                               samples=60, n_segments=4)
    of_logits = explain(Classifier(Corner(False), device="cpu"), image, method=method, output="probability",
                        samples=60, n_segments=4)
    assert of_probabilities.probability == pytest.approx(of_logits.probability, abs=1e-6) and of_logits.probability > 0.999
    np.testing.assert_allclose(of_probabilities.heatmap, of_logits.heatmap, atol=1e-4)
    assert np.abs(of_logits.heatmap).max() > 0.01
    rows = Classifier(Corner(True), device="cpu").predict(image, top_k=2)
    assert rows.probabilities[0] > 0.999  # not softmax([1, 0]) = 0.731
