"""More hostile input: each case once crashed inside numpy/torch/PIL or was silently accepted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_xai import Classifier, Explanation, Region, explain, load_image
from pytest_xai.errors import RegionError, XaiError, XaiTypeError, XaiValueError

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
def img() -> np.ndarray:
    return np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)


@pytest.fixture
def clf() -> Classifier:
    return Classifier(net(), device="cpu")


def exp_of(img: np.ndarray, **changes: object) -> Explanation:
    heat = np.zeros(img.shape[:2], dtype=np.float32)
    heat[4:8, 4:8] = 1
    exp = Explanation(heat, None, None, 0, "0", 0.5, "gradient_shap", "logit", 0, 10, image=img)
    for name, value in changes.items():
        setattr(exp, name, value)
    return exp


# -- 1. arguments the method does not read ----------------------------------------------------


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
    clf: Classifier, img: np.ndarray, method: str, name: str, value: object, fragment: str
) -> None:
    given = img if isinstance(value, str) and value == "image" else value
    with pytest.raises(XaiValueError, match="applies to method=") as info:
        explain(clf, img, method=method, samples=10, **{name: given})  # type: ignore[arg-type]
    assert fragment in str(info.value) and len(str(info.value)) < 300


def test_unset_values_are_still_accepted(clf: Classifier, img: np.ndarray) -> None:
    exp = explain(clf, img, method="gradient_shap", samples=4, segments=None)
    assert isinstance(exp, Explanation)
    explain(clf, img, segments=SEGMENTS, samples=10, local_smoothing=np.float64(0.0))


# -- 2. gradient_shap needs a differentiable model -------------------------------------------


def _no_grad(batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return batch.mean((2, 3))


@pytest.mark.parametrize(
    "model",
    [_no_grad, lambda b: b.mean((2, 3)).detach(), lambda b: (b.mean((2, 3)) * 10).long()],
    ids=["no_grad", "detached", "integer"],
)
def test_gradient_shap_on_a_model_without_gradients(img: np.ndarray, model: object) -> None:
    clf = Classifier(model, device="cpu")  # type: ignore[arg-type]
    with pytest.raises(XaiValueError, match=r"differentiable with respect to its input.*'lime'"):
        explain(clf, img, method="gradient_shap", samples=4)
    assert isinstance(explain(clf, img, segments=SEGMENTS, samples=10), Explanation)


# -- 3. float64 / float16 models --------------------------------------------------------------


@pytest.mark.parametrize(("convert", "tolerance"), [("double", 1e-5), ("half", 0.1)])
@pytest.mark.parametrize("method", ["lime", "gradient_shap"])
def test_a_double_or_half_model_is_explained_like_the_float_one(
    img: np.ndarray, clf: Classifier, convert: str, tolerance: float, method: str
) -> None:
    other = Classifier(getattr(net(), convert)(), device="cpu")
    kwargs = {"segments": SEGMENTS} if method == "lime" else {}
    got = explain(other, img, method=method, samples=16, **kwargs)
    want = explain(clf, img, method=method, samples=16, **kwargs)
    assert isinstance(got, Explanation) and isinstance(want, Explanation)
    assert got.heatmap.dtype == np.float32 and got.target == want.target
    peak = float(np.abs(want.heatmap).max())
    np.testing.assert_allclose(got.heatmap, want.heatmap, atol=tolerance * max(peak, 1e-3))


# -- 4. devices that are not there -------------------------------------------------------------


def test_mps_is_refused_where_it_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(XaiValueError, match="device='mps' but MPS"):
        Classifier(net(), device="mps")


# -- 5, 6, 8. image sizes ----------------------------------------------------------------------


def test_a_huge_size_is_refused_before_allocating(img: np.ndarray) -> None:
    with pytest.raises(XaiValueError, match=r"size=\(100000, 100000\) is 10,000,000,000 pixels"):
        load_image(img, size=(10**5, 10**5))


def _png(path: Path, side: int) -> Path:
    Image.fromarray(np.full((side, side, 3), 200, np.uint8)).save(path)
    return path


def test_the_minimum_size_holds_for_files_and_pil_images(
    tmp_path: Path, clf: Classifier
) -> None:
    one = _png(tmp_path / "one.png", 1)
    for call in (
        lambda: load_image(one),
        lambda: explain(clf, one),
        lambda: explain(clf, str(one)),
        lambda: clf.predict(Image.new("RGB", (1, 1))),
    ):
        with pytest.raises(XaiValueError, match="is 1×1 pixels; explanations need at least 8×8"):
            call()


def test_size_enlarges_a_small_image_before_the_minimum_is_checked(tmp_path: Path) -> None:
    assert load_image(np.zeros((3, 5, 3)), size=16).shape == (16, 16, 3)
    assert load_image(_png(tmp_path / "four.png", 4), size=(8, 12)).shape == (8, 12, 3)
    with pytest.raises(XaiValueError, match="no pixels"):
        load_image(np.zeros((0, 5, 3)), size=16)


def test_resizing_keeps_16_bit_and_float_precision(tmp_path: Path) -> None:
    ramp = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 61).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    exact = load_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png", size=32), exact)
    floats = np.random.default_rng(1).random((20, 24, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_image(floats, size=(20, 24)), floats)
    half = load_image(tmp_path / "deep.png", size=16)[:, :, 0]
    # a linear ramp stays linear: away from the border each pixel is its 2×2 block's mean,
    # to float precision (the old uint8 path was off by up to 1/510)
    reference = exact[:, :, 0].reshape(16, 2, 16, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(half[1:-1, 1:-1], reference[1:-1, 1:-1], atol=1e-5)


# -- 7. save writes only what load reads -------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"probability": float("nan")}, "probability=nan is not finite"),
        ({"heatmap": np.full((16, 16), np.nan, np.float32)}, "heatmap has 256 NaN or inf"),
        ({"heatmap": np.full((16, 16), np.inf, np.float32)}, "heatmap has 256 NaN or inf"),
        ({"params": {"bad": object()}}, "JSON cannot store"),
    ],
)
def test_save_refuses_what_load_would_refuse(
    tmp_path: Path, img: np.ndarray, changes: dict[str, object], fragment: str
) -> None:
    path = tmp_path / "e.npz"
    with pytest.raises(XaiError, match=fragment):
        exp_of(img, **changes).save(path)
    assert list(tmp_path.iterdir()) == []


def test_save_turns_numpy_values_into_plain_python(tmp_path: Path, img: np.ndarray) -> None:
    params = {"alpha": np.float32(0.5), "n": np.int64(3), "rgb": np.array([0.25, 0.5])}
    exp = exp_of(img, params=params, meta={"flag": np.bool_(True)}, target=np.int64(0))
    loaded = Explanation.load(exp.save(tmp_path / "e.npz"))
    assert loaded.params == {"alpha": 0.5, "n": 3, "rgb": [0.25, 0.5]}
    assert loaded.meta == {"flag": True} and loaded.target == 0


# -- 9. numpy scalars and class names ---------------------------------------------------------


def test_numpy_scalars_are_accepted_where_numbers_are(clf: Classifier, img: np.ndarray) -> None:
    assert len(clf.predict(img, top_k=np.int64(2)).labels) == 2  # type: ignore[union-attr]
    exp = explain(clf, img, segments=SEGMENTS, samples=10)
    assert isinstance(exp, Explanation)
    assert exp.boundaries(num_features=np.int64(2)).shape == (16, 16, 3)
    assert exp.overlay(scale=np.float32(1.0)).shape == (16, 16, 3)
    box = Region.box(np.float32(1), np.int64(0), np.float64(3), np.int32(2))
    assert box.to_mask(np.int64(4), np.int64(4)).sum() == 4
    with pytest.raises(XaiTypeError, match=r"top_k=2\.0 is not an int"):
        clf.predict(img, top_k=2.0)  # type: ignore[arg-type]


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


# -- 10. regions -------------------------------------------------------------------------------


def test_a_mask_region_is_a_copy() -> None:
    array = np.zeros((8, 8), bool)
    array[2:4, 2:4] = True
    region = Region.mask(array)
    array[:] = False
    assert region.to_mask(8, 8).sum() == 4


@pytest.mark.parametrize(("height", "width"), [(-1, 5), (5, 0), (4.5, 5), (True, 5)])
def test_to_mask_refuses_a_non_positive_size(height: object, width: object) -> None:
    with pytest.raises(XaiError, match=r"must be positive|is not an int"):
        Region.box(0, 0, 1, 1).to_mask(height, width)  # type: ignore[arg-type]


@pytest.mark.parametrize("x0", [0.5, 1.5, 2.5, 3.5, 4.25, 4.75])
def test_a_unit_width_box_covers_exactly_one_column(x0: float) -> None:
    mask = Region.box(x0, 0, x0 + 1, 1).to_mask(4, 8)
    assert mask.sum() == 1 and mask[0, int(np.floor(x0 + 0.5))]


def test_a_region_unites_with_a_bool_mask() -> None:
    left = np.zeros((4, 4), bool)
    left[:, 0] = True
    box = Region.box(3, 0, 4, 4)
    assert (box | left).to_mask(4, 4).sum() == 8
    assert (left | box).to_mask(4, 4).sum() == 8
    with pytest.raises(XaiTypeError, match="not a Region"):
        box | "everything"  # type: ignore[operator]
    with pytest.raises(RegionError, match="4×4 mask but the image is 5×5"):
        (box | left).to_mask(5, 5)


# -- 11. overlay scale -------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf")])
def test_overlay_refuses_a_scale_that_draws_nothing(img: np.ndarray, scale: float) -> None:
    with pytest.raises(XaiValueError, match="must be a finite number above 0"):
        exp_of(img).overlay(scale=scale)
    with pytest.raises(XaiTypeError, match="is not a number"):
        exp_of(img).overlay(scale="1")  # type: ignore[arg-type]
