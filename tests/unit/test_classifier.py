"""TODO DOCSTRING"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_xai import Classifier, Explanation, explain
from pytest_xai.errors import XaiTypeError, XaiValueError

SEGMENTS = np.repeat(np.arange(4), 64).reshape(16, 16)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    )


@pytest.fixture
def tiny_img() -> np.ndarray:
    return np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)


@pytest.fixture
def tiny_clf() -> Classifier:
    return Classifier(net(), device="cpu")


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
        (["cat", 1, "dog"], XaiTypeError, "must hold only strings"),
    ],
)
def test_bad_class_names(names: object, error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Classifier(net(), class_names=names, device="cpu")  # type: ignore[arg-type]
