"""One input normaliser for every entry point, and image files of every depth and size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_xai import (
    Classifier,
    explain,
    load_image,
)
from pytest_xai.errors import (
    XaiError,
    XaiValueError,
)
from pytest_xai.images import as_images

# -- image files --------------------------------------------------------------------------------


def test_16_bit_png_is_scaled_by_65535(tmp_path: Path) -> None:
    values = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (16, 1))
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    image = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(image[..., 0], values / 65535.0, atol=1e-6)
    assert np.array_equal(image[..., 0], image[..., 2])
    grey = np.full((16, 16), 32768, np.uint16)  # the mid-grey: was saturated to 0.998
    Image.fromarray(grey).save(tmp_path / "mid.png")
    assert load_image(tmp_path / "mid.png").mean() == pytest.approx(0.5, abs=1e-4)


def test_float_tiff_in_range_is_read_as_is_and_out_of_range_refused(tmp_path: Path) -> None:
    values = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    Image.fromarray(values).save(tmp_path / "f.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "f.tif")[..., 1], values)
    Image.fromarray(values * 255).save(tmp_path / "f255.tif")
    with pytest.raises(XaiValueError, match=r"float \(mode F\) image with values in \[0, 255\]"):
        load_image(tmp_path / "f255.tif")
    Image.fromarray(np.full((16, 16), 2.0, np.float32)).save(tmp_path / "f2.tif")
    with pytest.raises(XaiValueError, match=r"'.*f2\.tif' is a float"):
        load_image(tmp_path / "f2.tif")


@pytest.mark.parametrize("mode", ["P", "LA", "CMYK", "RGBA", "L", "1"])
def test_other_modes_convert_like_pil(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    source = rgb.convert(mode)
    source.save(tmp_path / "x.tif")
    expected = np.asarray(Image.open(tmp_path / "x.tif").convert("RGB"), np.float32) / 255
    np.testing.assert_array_equal(load_image(tmp_path / "x.tif"), expected)


@pytest.mark.slow
def test_decompression_bomb_is_a_clear_error(tmp_path: Path) -> None:
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")  # a few kB on disk
    with pytest.raises(XaiValueError, match=r"has 400,000,000 pixels, over PIL's decompression"):
        load_image(tmp_path / "bomb.png")
    Image.new("L", (12000, 12000)).save(tmp_path / "big.png")  # 144 Mpx: PIL would only warn
    with pytest.raises(XaiValueError, match="has 144,000,000 pixels"):
        load_image(tmp_path / "big.png")


# -- one normaliser -----------------------------------------------------------------------------


def _forms(image: np.ndarray) -> dict[str, object]:
    u8 = (image * 255).round().astype(np.uint8)
    return {
        "float HWC": u8 / 255.0,
        "uint8 HWC": u8,
        "uint8 CHW tensor": torch.from_numpy(u8).permute(2, 0, 1),
        "float CHW tensor": torch.from_numpy(u8 / np.float32(255)).permute(2, 0, 1),
        "PIL": Image.fromarray(u8),
    }


def test_every_single_form_gives_the_same_array(shapes_image: np.ndarray) -> None:
    expected = (shapes_image * 255).round().astype(np.uint8) / np.float32(255)
    for name, form in _forms(shapes_image).items():
        arrays, single = as_images(form)
        assert single, name
        np.testing.assert_allclose(arrays[0], expected, atol=1e-6, err_msg=name)


def test_lists_and_4d_batches(shapes_samples: list) -> None:
    images = [s.image for s in shapes_samples]
    batch_hwc = np.stack(images)
    batch_chw = torch.from_numpy(batch_hwc).permute(0, 3, 1, 2)
    for value in (images, tuple(images), batch_hwc, batch_chw):
        arrays, single = as_images(value)
        assert not single and len(arrays) == 3
        for got, want in zip(arrays, images):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(XaiValueError, match="images is empty"):
        as_images(np.zeros((0, 8, 8, 3)))
    half, _ = as_images(batch_chw.bfloat16())  # numpy has no bfloat16: read as float32
    np.testing.assert_allclose(half[0], images[0], atol=2**-8)


@pytest.mark.slow
def test_explain_and_predict_accept_every_form(shapes_clf: Classifier, shapes_samples: list) -> None:
    image = shapes_samples[1].image
    reference = explain(shapes_clf, (image * 255).round().astype(np.uint8) / 255.0, samples=60)
    for name, form in _forms(image).items():
        exp = explain(shapes_clf, form, samples=60)
        np.testing.assert_allclose(exp.heatmap, reference.heatmap, atol=1e-5, err_msg=name)
        assert shapes_clf.predict(form).label == reference.target, name
    batch = torch.from_numpy(np.stack([s.image for s in shapes_samples])).permute(0, 3, 1, 2)
    predictions = shapes_clf.predict(batch)
    assert isinstance(predictions, list) and [p.label for p in predictions] == [0, 1, 2]
    exps = explain(shapes_clf, batch, samples=60)
    assert isinstance(exps, list) and [e.target for e in exps] == [0, 1, 2]


# -- classifier keys ----------------------------------------------------------------------------


def _png(path: Path, side: int) -> Path:
    Image.fromarray(np.full((side, side, 3), 200, np.uint8)).save(path)
    return path


def test_a_huge_size_is_refused_before_allocating(tiny_img: np.ndarray) -> None:
    with pytest.raises(XaiValueError, match=r"size=\(100000, 100000\) is 10,000,000,000 pixels"):
        load_image(tiny_img, size=(10**5, 10**5))


def test_the_minimum_size_holds_for_files_and_pil_images(
    tmp_path: Path, tiny_clf: Classifier
) -> None:
    one = _png(tmp_path / "one.png", 1)
    for call in (
        lambda: load_image(one),
        lambda: explain(tiny_clf, one),
        lambda: explain(tiny_clf, str(one)),
        lambda: tiny_clf.predict(Image.new("RGB", (1, 1))),
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


def test_load_image_sources_agree(tmp_path: Path, shapes_image: np.ndarray) -> None:
    u8 = np.round(shapes_image * 255).astype(np.uint8)
    Image.fromarray(u8).save(tmp_path / "a.png")
    Image.fromarray(np.dstack([u8, np.full(u8.shape[:2], 128, np.uint8)])).save(tmp_path / "rgba.png")
    reference = u8.astype(np.float32) / 255
    for source in (
        tmp_path / "a.png", str(tmp_path / "a.png"), tmp_path / "rgba.png", Image.fromarray(u8), u8,
        reference, torch.from_numpy(reference).permute(2, 0, 1),
    ):
        out = load_image(source)
        assert out.dtype == np.float32 and out.shape == (64, 64, 3)
        np.testing.assert_allclose(out, reference, atol=1e-6)
    gray = load_image(u8[..., 0])
    assert gray.shape == (64, 64, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    assert load_image(tmp_path / "a.png", size=(32, 48)).shape == (32, 48, 3)
    assert load_image(u8, size=16).shape == (16, 16, 3)


BAD_IMAGES: list[tuple[str, Callable[..., Any], type, str]] = [
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
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), BAD_IMAGES, ids=[c[0] for c in BAD_IMAGES])
def test_bad_images_are_refused(case: str, call: Callable[..., Any], error: type, fragment: str, img: np.ndarray,
                   clf: Classifier) -> None:
    with pytest.raises(error) as info:
        call(img, clf)
    assert isinstance(info.value, XaiError)
    assert fragment in str(info.value), str(info.value)


def test_the_report_names_an_image_by_the_file_it_was_loaded_from(tmp_path: Path) -> None:
    from pytest_xai.checks.recorder import image_name

    picture = np.random.default_rng(5).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "street.png")
    loaded = load_image(tmp_path / "street.png")
    assert image_name(loaded, loaded, 1) == "street.png"
    assert image_name(None, render_uint8(loaded), 1) == "street.png"  # as an Explanation keeps it
    made = np.random.default_rng(6).random((20, 30, 3)).astype(np.float32)
    assert image_name(made, made, 3) == "image 3 (20×30)"  # made in the test: no file, no hash


def render_uint8(image: np.ndarray) -> np.ndarray:
    from pytest_xai.pictures.render import to_uint8

    return to_uint8(image)
