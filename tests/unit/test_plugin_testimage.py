"""Test images with sidecar regions: region files are validated, confined to their folder and resized with the image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import BadInput, assert_refused, refusals, square_explanation
from PIL import Image

from pytest_xai import (
    Classifier,
    Region,
    RegionError,
    metrics,
)
from pytest_xai.errors import (
    XaiError,
    XaiValueError,
)
from pytest_xai.plugin.testimage import load_test_image, parse_regions


def test_region_mask_png_of_another_size(tmp_path: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(RegionError, match="is a 32×32 mask but the image is 64×64"):
        metrics.relevance_mass(square_explanation(img), Region.mask(tmp_path / "m.png"))
    with pytest.raises(RegionError, match="is a 32×32 mask"):
        parse_regions({"m": {"mask": "m.png"}}, tmp_path / "x.regions.json", 64, 64)


def sidecar(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(folder / "cat.png")
    (folder / "cat.regions.json").write_text(text)
    return folder / "cat.png"


@pytest.mark.parametrize(("text", "error", "fragment"), [
    ('{"tag": {"box": [0, 0, Infinity, 4]}}', RegionError, "region 'tag': box coordinates (0, 0, inf, 4) must be finite"),
    ('{"tag": {"box": [0, 0, 1e999, 4]}}', RegionError, "region 'tag': box coordinates (0, 0, inf, 4) must be finite"),
    ('{"tag": {"box": [0, 0, "4", 4]}}', XaiValueError, "region 'tag': box must be [x0, y0, x1, y1] numbers"),
    ('{"tag": {"box": [0, 0, 4, 40]}}', RegionError, "cat.regions.json: region 'tag' (x0, y0, x1, y1)=(0, 0, 4, 40) lies outside"),
    ('{"p": {"polygon": [[0, 0], [1e300, 0], [0, 5]]}}', RegionError, "cat.regions.json: region 'p' has polygon points outside"),
    ('{"p": {"polygon": [[0, 0], [' + "9" * 400 + ', 0], [0, 5]]}}', RegionError,
     "region 'p': polygon points [[0, 0], [9999"),
    ('{"p": {"polygon": [["a", "b"], [1, 0], [0, 5]]}}', XaiValueError, "region 'p': polygon must be [[x, y], ...] numbers"),
    ('{"p": {"polygon": [[0, 0], [1, 0]]}}', RegionError, "region 'p': polygon points [[0, 0], [1, 0]] must be at least three"),
    ('{"p": {"polygon": ' + "[" * 50 + "]" * 50 + "}}", XaiValueError, "region 'p': polygon must be [[x, y], ...]"),
    ("[" * 100_000 + "]" * 100_000, XaiValueError, "is not valid JSON (it is nested too deeply)"),
    ('{"m": {"mask": "../secret.png"}}', XaiValueError, "region 'm': mask='../secret.png' must be a file name relative"),
    ('{"m": {"mask": "/etc/passwd"}}', XaiValueError, "region 'm': mask='/etc/passwd' must be a file name relative"),
    ('{"m": {"mask": "sub/../../secret.png"}}', XaiValueError, "without '..' or an absolute path"),
    ('{"m": {"mask": "missing.png"}}', RegionError, "region 'm': mask path"),
    ('{"\\ud83d": {"box": [0, 0, 4, 4]}}', XaiValueError, "region '\\ud83d': the name holds a lone surrogate"),
    ('{"": {"box": [0, 0, 4, 4]}}', XaiValueError, "region '': the name is empty"),
    ('{"tag": {"box": [0, 0, 4, 4]}, "tag": {"box": [4, 4, 8, 8]}}', XaiValueError, "'tag' is given twice in one object"),
])
def test_bad_sidecars_name_the_file_and_region(tmp_path: Path, text: str, error: type[XaiError],
                                               fragment: str) -> None:
    image = sidecar(tmp_path, text)
    with pytest.raises(error) as info:
        load_test_image(image)
    message = str(info.value)
    assert str(image.with_name("cat.regions.json")) in message
    assert fragment in message
    assert message.count("region '") <= 1  # named once, not once per layer
    assert len(message) < 400  # a huge value is cut short, never dumped


def test_a_mask_linking_outside_the_folder_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(tmp_path / "secret.png")
    image = sidecar(tmp_path, '{"m": {"mask": "link.png"}, "ok": {"mask": "inside.png"}}')
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(image.parent / "inside.png")
    (image.parent / "link.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(XaiValueError, match=r"region 'm': mask='link.png' leads outside the images folder"):
        load_test_image(image)
    (image.parent / "cat.regions.json").write_text('{"ok": {"mask": "inside.png"}}')
    assert load_test_image(image).regions["ok"].to_mask(32, 32).all()


def test_regions_are_resized_with_the_image(tmp_path: Path) -> None:
    image = sidecar(tmp_path, '{"tag": {"box": [2, 2, 12, 12]}, "tri": {"polygon": [[16, 16], [31, 16], [16, 31]]}}')
    same = load_test_image(image)
    big = load_test_image(image, size=64)  # the file is 32×32: every coordinate doubles
    assert big.array.shape[:2] == (64, 64)
    tag = big.regions["tag"].to_mask(64, 64)
    assert tag.sum() == 20 * 20 and tag[4:24, 4:24].all()
    assert np.array_equal(big.regions["tri"].to_mask(64, 64)[::2, ::2], same.regions["tri"].to_mask(32, 32))
    image = sidecar(tmp_path, '{"dot": {"box": [5, 5, 6, 6]}}')
    with pytest.raises(XaiValueError, match=r"region 'dot' covers no pixel once the image is resized from 32×32 to 8×8"):
        load_test_image(image, size=8)


def test_a_small_file_with_regions_can_be_enlarged(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "tiny.png")
    (folder / "tiny.regions.json").write_text('{"corner": {"box": [0, 0, 1, 1]}}')
    image = load_test_image(folder / "tiny.png", size=16)
    assert image.regions["corner"].to_mask(16, 16).sum() == 16  # one file pixel, 4×4 now


BAD_SIDECARS: list[tuple[str, Callable[..., Any], type, str]] = [
    ("sidecar schema", lambda img, clf: parse_regions({"a": {"circle": 3}}, Path("x.json"), 64, 64), ValueError,
     "exactly one key of ('box', 'mask', 'polygon')"),
    ("sidecar box", lambda img, clf: parse_regions({"a": {"box": [0, 0, "1", 2]}}, Path("x.json"), 64, 64),
     ValueError, "box must be [x0, y0, x1, y1] numbers"),
]


@refusals(BAD_SIDECARS)
def test_bad_sidecar_regions_are_refused(bad: BadInput, img: np.ndarray, clf: Classifier) -> None:
    assert_refused(bad, img, clf)
