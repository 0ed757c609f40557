"""Every bad input gets a ValueError/TypeError naming the argument, the value and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pytest_xai import (
    Classifier,
    Explanation,
    Region,
    RegionError,
    explain,
    load_image,
    metrics,
)
from pytest_xai.errors import (
    ModelOutputError,
    ModelSpecError,
    XaiError,
    XaiTypeError,
    XaiValueError,
)
from pytest_xai.model_spec import load_model
from pytest_xai.testimage import parse_regions


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    from example_project.data import make_shape

    return make_shape(np.random.default_rng(0), 0).image


@pytest.fixture(scope="module")
def clf() -> Classifier:
    from example_project.models import clean

    return clean(device="cpu")


def returning(fn: Callable[[torch.Tensor], Any]) -> Classifier:
    return Classifier(fn, device="cpu")


def exp_of(img: np.ndarray) -> Explanation:
    heat = np.zeros(img.shape[:2], dtype=np.float32)
    heat[10:20, 10:20] = 1
    return Explanation(heat, None, None, 0, "0", 1.0, "gradient_shap", "logit", 0, 10)


CASES: list[tuple[str, Callable[..., Any], type, str]] = [
    # images
    ("rank", lambda img, clf: explain(clf, np.zeros((2, 2, 64, 64, 3))), ValueError, "rank 5"),
    ("channels", lambda img, clf: explain(clf, np.zeros((64, 64, 5))), ValueError, "5 channels"),
    ("dtype bool", lambda img, clf: explain(clf, np.zeros((64, 64, 3), bool)), TypeError, "dtype bool"),
    ("dtype str", lambda img, clf: load_image(np.full((64, 64, 3), "a")), TypeError, "dtype <U1"),
    ("range 0..255 float", lambda img, clf: explain(clf, img * 255), ValueError, "divide by 255"),
    ("negative", lambda img, clf: explain(clf, img - 0.5), ValueError, "outside [0, 1]"),
    ("int out of range", lambda img, clf: load_image(np.full((9, 9), 300)), ValueError, "0..255"),
    ("nan", lambda img, clf: explain(clf, np.where(img > 0.5, np.nan, img)), ValueError, "NaN or inf"),
    ("inf", lambda img, clf: explain(clf, np.where(img > 0.5, np.inf, img)), ValueError, "NaN or inf"),
    ("too small", lambda img, clf: explain(clf, img[:4, :4]), ValueError, "at least 8×8"),
    ("too small for segments", lambda img, clf: explain(clf, img[:12, :12], n_segments=50), ValueError,
     "n_segments=50 is out of range for a 12×12 image"),
    ("not an image", lambda img, clf: explain(clf, {"a": 1}), TypeError, "not an image"),
    ("missing file", lambda img, clf: load_image("/no/such.png"), ValueError, "is not a file"),
    # the model
    ("model shape", lambda img, clf: explain(returning(lambda x: x.mean((1, 2, 3))), img), ModelOutputError,
     "returned shape (1,)"),
    ("model nan", lambda img, clf: explain(returning(lambda x: torch.full((len(x), 3), float("nan"))), img),
     ModelOutputError, "NaN or inf logits"),
    ("model not tensor", lambda img, clf: explain(returning(lambda x: [1, 2]), img), ModelOutputError,
     "returned list, not a tensor"),
    ("not a model", lambda img, clf: explain(42, img), TypeError, "not a Classifier or a model"),
    ("device", lambda img, clf: Classifier(torch.nn.Identity(), device="tpu"), ValueError, "device='tpu'"),
    # parameters
    ("target range", lambda img, clf: explain(clf, img, target=7), ValueError, "target=7 is out of range"),
    ("target name", lambda img, clf: explain(clf, img, target="dog"), ValueError, "target='dog' is not a class name"),
    ("target type", lambda img, clf: explain(clf, img, target=1.5), TypeError, "target=1.5"),
    ("samples < 2", lambda img, clf: explain(clf, img, samples=1), ValueError, "samples=1 is out of range"),
    ("samples huge", lambda img, clf: explain(clf, img, samples=10**9), ValueError, "samples=1000000000"),
    ("samples type", lambda img, clf: explain(clf, img, samples="many"), TypeError, "samples='many'"),
    ("single segment", lambda img, clf: explain(clf, img, segments=np.zeros((64, 64), int)), ValueError,
     "single segment"),
    ("segments shape", lambda img, clf: explain(clf, img, segments=np.zeros((8, 8), int)), ValueError,
     "segments has shape (8, 8)"),
    ("segments name", lambda img, clf: explain(clf, img, segments="watershed"), ValueError, "segments='watershed'"),
    ("method", lambda img, clf: explain(clf, img, method="gradcam"), ValueError, "method='gradcam'"),
    ("output", lambda img, clf: explain(clf, img, output="softmax"), ValueError, "output='softmax'"),
    ("baseline name", lambda img, clf: explain(clf, img, baseline="noise"), ValueError, "baseline='noise'"),
    ("baseline range", lambda img, clf: explain(clf, img, baseline=2.0), ValueError, "baseline=2.0"),
    ("baseline shape", lambda img, clf: explain(clf, img, baseline=(1, 2)), TypeError, "baseline=(1, 2)"),
    ("kernel_shap too few", lambda img, clf: explain(clf, img, method="kernel_shap", samples=10), ValueError,
     "samples=10 is too few"),
    ("background size", lambda img, clf: explain(clf, img, method="gradient_shap", background=[img[:32]]),
     ValueError, "background[0] is 32×64"),
    ("background for lime", lambda img, clf: explain(clf, img, background=[img]), ValueError,
     "applies to method='gradient_shap', not 'lime'"),
    ("batch_size", lambda img, clf: explain(clf, img, batch_size=0), ValueError, "batch_size=0"),
    ("seed", lambda img, clf: explain(clf, img, seed=-1), ValueError, "seed=-1"),
    ("precision name", lambda img, clf: explain(clf, img, precision="fp8"), ValueError, "precision='fp8' is not known"),
    ("float16 on cpu", lambda img, clf: explain(clf, img, precision="float16"), ValueError,
     "precision='float16' is not supported on the CPU"),
    ("n_segments type", lambda img, clf: explain(clf, img, n_segments=2.5), TypeError, "n_segments=2.5 is not an int"),
    ("local_smoothing type", lambda img, clf: explain(clf, img, method="gradient_shap", local_smoothing="x"),
     TypeError, "local_smoothing='x'"),
    ("local_smoothing range", lambda img, clf: explain(clf, img, method="gradient_shap", local_smoothing=11),
     ValueError, "local_smoothing=11 must be a float in [0, 10)"),
    ("smoothing for lime", lambda img, clf: explain(clf, img, local_smoothing=0.1), ValueError,
     "local_smoothing=0.1 applies to method='gradient_shap', not 'lime'"),
    ("method type", lambda img, clf: explain(clf, img, method=None), ValueError, "method=None is not known"),
    ("targets per image", lambda img, clf: explain(clf, [img, img], target=[0]), ValueError,
     "target has 1 entries for 2 images"),
    ("empty list", lambda img, clf: explain(clf, []), ValueError, "images is empty"),
    ("empty batch", lambda img, clf: explain(clf, np.zeros((0, 64, 64, 3))), ValueError, "images is empty"),
    ("bad item in list", lambda img, clf: explain(clf, [img, img[:4]]), ValueError, "images[1] is 4×64 pixels"),
    ("int16 image", lambda img, clf: explain(clf, np.full((64, 64, 3), 1000, np.int16)), ValueError,
     "pass uint8 values in 0..255"),
    ("top_k", lambda img, clf: clf.predict(img, top_k=0), ValueError, "top_k=0"),
    # regions
    ("empty box", lambda img, clf: Region.box(5, 5, 5, 9), RegionError, "is empty"),
    ("empty mask", lambda img, clf: metrics.relevance_mass(exp_of(img), Region.mask(np.zeros((64, 64), bool))),
     RegionError, "covers no pixel"),
    ("outside", lambda img, clf: metrics.relevance_mass(exp_of(img), Region.box(60, 60, 70, 70)), RegionError,
     "lies outside the 64×64 image"),
    ("mask shape", lambda img, clf: metrics.relevance_mass(exp_of(img), Region.mask(np.ones((32, 32), bool))),
     RegionError, "is a 32×32 mask but the image is 64×64"),
    ("region type", lambda img, clf: metrics.relevance_mass(exp_of(img), (0, 0, 4, 4)), TypeError, "not a Region"),
    ("empty complement", lambda img, clf: metrics.pointing_game(exp_of(img), ~Region.box(0, 0, 64, 64)),
     RegionError, "covers no pixel"),
    ("sidecar schema", lambda img, clf: parse_regions({"a": {"circle": 3}}, Path("x.json"), 64, 64), ValueError,
     "exactly one key of ('box', 'mask', 'polygon')"),
    ("sidecar box", lambda img, clf: parse_regions({"a": {"box": [0, 0, "1", 2]}}, Path("x.json"), 64, 64),
     ValueError, "box must be [x0, y0, x1, y1] numbers"),
    # configuration
    ("model spec import", lambda img, clf: load_model("nope.nothing:factory"), ModelSpecError, "cannot be imported"),
    ("model spec form", lambda img, clf: load_model("just-a-name"), ModelSpecError, "is not understood"),
    ("model spec attr", lambda img, clf: load_model("example_project.models:nothing"), ModelSpecError,
     "has no callable 'nothing'"),
    ("torchvision get_model", lambda img, clf: load_model("torchvision:get_model=w.pth"), ModelSpecError,
     "torchvision.models has no model 'get_model'"),
    ("torchvision class", lambda img, clf: load_model("torchvision:ResNet=w.pth"), ModelSpecError,
     "torchvision.models has no model 'ResNet'"),
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(case: str, call: Callable[..., Any], error: type, fragment: str, img: np.ndarray,
                   clf: Classifier) -> None:
    with pytest.raises(error) as info:
        call(img, clf)
    assert isinstance(info.value, XaiError)
    assert fragment in str(info.value), str(info.value)


def test_a_float_tiff_out_of_range_and_a_bomb_are_refused(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.full((16, 16), 2.0, np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(XaiValueError, match=r"'.*f\.tif' is a float"):
        load_image(tmp_path / "f.tif")
    Image.new("L", (12000, 12000)).save(tmp_path / "big.png")  # 144 Mpx: PIL would only warn
    with pytest.raises(XaiValueError, match="has 144,000,000 pixels"):
        load_image(tmp_path / "big.png")


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


@pytest.mark.parametrize(
    ("method", "name", "value", "fragment"),
    [
        ("kernel_shap", "background", "image", "background=<ndarray shape (16, 16, 3) float32>"),
        ("lime", "local_smoothing", np.array([0.1, 0.2]), "local_smoothing=<ndarray shape (2,)"),
        ("gradient_shap", "segments", SEGMENTS, "applies to method='lime' or 'kernel_shap'"),
        ("gradient_shap", "segments", "quickshift", "segments='quickshift' applies to"),
    ],
)
def test_an_argument_the_method_does_not_read_is_refused_shortly(
    tiny_clf: Classifier, tiny_img: np.ndarray, method: str, name: str, value: object, fragment: str
) -> None:
    given = tiny_img if isinstance(value, str) and value == "image" else value
    with pytest.raises(XaiValueError, match="applies to method=") as info:
        explain(tiny_clf, tiny_img, method=method, samples=10, **{name: given})  # type: ignore[arg-type]
    assert fragment in str(info.value) and len(str(info.value)) < 300


def test_unset_values_are_still_accepted(tiny_clf: Classifier, tiny_img: np.ndarray) -> None:
    exp = explain(tiny_clf, tiny_img, method="gradient_shap", samples=4, segments=None)
    assert isinstance(exp, Explanation)
    explain(tiny_clf, tiny_img, segments=SEGMENTS, samples=10, local_smoothing=np.float64(0.0))


def test_numpy_scalars_are_accepted_where_numbers_are(tiny_clf: Classifier, tiny_img: np.ndarray) -> None:
    assert len(tiny_clf.predict(tiny_img, top_k=np.int64(2)).labels) == 2  # type: ignore[union-attr]
    exp = explain(tiny_clf, tiny_img, segments=SEGMENTS, samples=10)
    assert isinstance(exp, Explanation)
    assert exp.boundaries(num_features=np.int64(2)).shape == (16, 16, 3)
    assert exp.overlay(scale=np.float32(1.0)).shape == (16, 16, 3)
    box = Region.box(np.float32(1), np.int64(0), np.float64(3), np.int32(2))
    assert box.to_mask(np.int64(4), np.int64(4)).sum() == 4
    with pytest.raises(XaiTypeError, match=r"top_k=2\.0 is not an int"):
        tiny_clf.predict(tiny_img, top_k=2.0)  # type: ignore[arg-type]
