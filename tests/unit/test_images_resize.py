"""``size=`` keeps the aspect ratio (cover, then centre-crop) unless ``resize="squash"``, and the
sidecar regions follow the image pixel for pixel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.images import Fit, fit_size, load_image
from pytest_xai.plugin.testimage import load_test_image

# a 451×300 (width × height) file, as in a user's photo
HEIGHT, WIDTH = 300, 451
OBJECT = [120, 60, 360, 240]  # x0, y0, x1, y1 in the file's pixels
EDGE = [10, 10, 90, 100]  # partly left of the centre crop
CORNER = [0, 0, 50, 50]  # wholly left of it


def photo(folder: Path, regions: dict[str, dict[str, object]]) -> Path:
    """A random 451×300 RGB PNG with its sidecar; a "mask" region names a PNG written beside it."""
    rng = np.random.default_rng(7)
    path = folder / "photo.png"
    Image.fromarray(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(path)
    (folder / "photo.regions.json").write_text(json.dumps(regions))
    return path


def box_mask_png(folder: Path, box: list[int]) -> str:
    x0, y0, x1, y1 = box
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[y0:y1, x0:x1] = 255
    Image.fromarray(mask).save(folder / "object.png")
    return "object.png"


def test_geometry_matches_torchvision_resize_then_center_crop() -> None:
    # shorter side 300 -> 224; longer side int(224 * 451 / 300) = int(336.75) = 336;
    # crop left = round((336 - 224) / 2) = 56, top = 0
    assert fit_size((HEIGHT, WIDTH), (224, 224)) == Fit((300, 451), (224, 336), (0, 56), (224, 224))
    assert fit_size((WIDTH, HEIGHT), (224, 224)) == Fit((451, 300), (336, 224), (56, 0), (224, 224))
    # (height, width) = (100, 200): the width fits exactly (200 / 451 > 100 / 300 is false, so
    # scale by 200 / 451): height 300 * 200 // 451 = 133; top = round(33 / 2) = 16 (half to even,
    # as torchvision's center_crop rounds)
    assert fit_size((HEIGHT, WIDTH), (100, 200)) == Fit((300, 451), (133, 200), (16, 0), (100, 200))
    assert fit_size((HEIGHT, WIDTH), (100, 200), "squash") == Fit((300, 451), (100, 200), (0, 0), (100, 200))


def test_pixels_match_torchvision(tmp_path: Path) -> None:
    import torchvision.transforms as T

    path = photo(tmp_path, {})
    ours = load_image(path, size=224)
    with Image.open(path) as im:
        theirs = np.asarray(T.Compose([T.Resize(224), T.CenterCrop(224)])(im.convert("RGB"))) / 255.0
    assert ours.shape == theirs.shape == (224, 224, 3)
    # torchvision resizes the 8-bit image and rounds to 8 bits; this resizes in float
    np.testing.assert_allclose(ours, theirs, atol=1 / 255 + 1e-6)


def test_box_regions_are_scaled_shifted_and_clipped(tmp_path: Path) -> None:
    path = photo(tmp_path, {"object": {"box": OBJECT}, "edge": {"box": EDGE}})
    image = load_test_image(path, size=224)
    assert image.array.shape == (224, 224, 3)
    # a box edge lands on the first pixel whose centre maps back inside the box:
    # ceil(v * 336 / 451 - 1/2) - 56 across, ceil(v * 224 / 300 - 1/2) down
    #   object: x 120 -> ceil(88.90) - 56 = 33, x 360 -> ceil(267.70) - 56 = 212,
    #           y 60 -> ceil(44.30) = 45, y 240 -> ceil(178.70) = 179
    #   edge:   x 10 -> ceil(6.95) - 56 < 0 -> 0, x 90 -> ceil(66.55) - 56 = 11,
    #           y 10 -> ceil(6.97) = 7, y 100 -> ceil(74.17) = 75
    assert image.regions["object"].kind == "box" and image.regions["object"].data == (33, 45, 212, 179)
    assert image.regions["edge"].data == (0, 7, 11, 75)


def test_a_mask_equal_to_the_box_keeps_the_same_pixels(tmp_path: Path) -> None:
    regions = {"box": {"box": OBJECT}, "mask": {"mask": box_mask_png(tmp_path, OBJECT)},
               "polygon": {"polygon": [[120, 60], [360, 60], [360, 240], [120, 240]]}}
    for size in (224, (100, 200), (300, 150), 97):
        image = load_test_image(photo(tmp_path, regions), size=size)
        h, w = image.array.shape[:2]
        box = image.regions["box"].to_mask(h, w)
        assert np.array_equal(image.regions["mask"].to_mask(h, w), box), size
        assert np.array_equal(image.regions["polygon"].to_mask(h, w), box), size


def test_a_region_the_crop_removes_is_a_clear_error(tmp_path: Path) -> None:
    path = photo(tmp_path, {"corner": {"box": CORNER}})
    with pytest.raises(XaiValueError, match=(
        r"region 'corner' covers no pixel once the image is resized from 300×451 to 224×224 "
        r"\(scaled to 224×336, then centre-cropped\); use resize='squash'"
    )):
        load_test_image(path, size=224)
    assert load_test_image(path, size=224, resize="squash").regions["corner"].to_mask(224, 224).any()


def test_squash_keeps_the_old_behaviour(tmp_path: Path) -> None:
    path = photo(tmp_path, {"object": {"box": OBJECT}})
    image = load_test_image(path, size=224, resize="squash")
    # the former resize: each plane to 224×224, bilinear in float
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    old = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(rgb[:, :, c]))
                               .resize((224, 224), Image.Resampling.BILINEAR)) for c in range(3)], 2)
    np.testing.assert_array_equal(image.array, np.clip(old, 0, 1))
    # the former region resize: drawn at the file's size, then PIL's nearest neighbour
    drawn = np.zeros((HEIGHT, WIDTH), np.uint8)
    drawn[60:240, 120:360] = 255
    old_mask = np.asarray(Image.fromarray(drawn).resize((224, 224), Image.Resampling.NEAREST)) > 127
    assert np.array_equal(image.regions["object"].to_mask(224, 224), old_mask)


def test_square_images_are_the_same_either_way(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    square = rng.random((40, 40, 3), dtype=np.float32)
    np.testing.assert_array_equal(load_image(square, size=24), load_image(square, size=24, resize="squash"))


@pytest.mark.parametrize(("resize", "error", "message"), [
    ("stretch", XaiValueError, r"resize='stretch' is not a resize mode; use 'crop' .* or 'squash'"),
    ("Crop", XaiValueError, r"resize='Crop' is not a resize mode"),
    (None, XaiTypeError, r"resize=None is not a string; use one of 'crop', 'squash'"),
    (224, XaiTypeError, r"resize=224 is not a string"),
])
def test_bad_resize_values(resize: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        load_image(np.zeros((16, 16, 3)), size=8, resize=resize)  # type: ignore[arg-type]


def test_the_xai_image_fixture_crops_by_default(pytester: pytest.Pytester) -> None:
    photo(pytester.path, {"object": {"box": OBJECT}})
    pytester.makepyfile(
        """
        def test_sizes(xai_image):
            cropped = xai_image("photo.png", size=224)
            assert cropped.shape == (224, 224, 3)
            assert cropped.regions["object"].data == (33, 45, 212, 179)
            squashed = xai_image("photo.png", size=224, resize="squash")
            assert squashed.regions["object"].data != cropped.regions["object"].data
        """
    )
    pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider").assert_outcomes(passed=1)
