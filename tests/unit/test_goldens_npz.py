"""Files read from disk are untrusted: golden .npz members are checked before decompression,
and region sidecars fail with errors naming the file and the region."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pytest_xai import Explanation, RegionError, SnapshotError
from pytest_xai.errors import XaiError, XaiTypeError, XaiValueError
from pytest_xai.explanation import read_npz
from pytest_xai.testimage import load_test_image


def golden(tmp_path: Path) -> Path:
    heat = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    segments = np.arange(256).reshape(16, 16) // 64
    exp = Explanation(heat, np.arange(4.0), segments, 0, "0", 1.0, "lime", "logit", 0, 10,
                      image=np.zeros((16, 16, 3), np.float32))
    return exp.save(tmp_path / "g.npz")


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def with_member(path: Path, name: str, data: bytes) -> None:
    """Replace (or add) one member of the .npz."""
    members = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            members[info.filename] = archive.read(info)
    members[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in members.items():
            archive.writestr(key, value)


def test_an_extra_member_is_never_decompressed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = golden(tmp_path)
    # 64 MB of zeros compress to ~64 KB: a compression bomb that reading it whole would inflate
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("bomb.npy", "w") as member:
        block = bytes(2**20)
        for _ in range(64):
            member.write(block)
    assert path.stat().st_size < 2 * 2**20
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    started = time.perf_counter()
    Explanation.load(path)
    assert time.perf_counter() - started < 1.0
    assert sorted(opened) == ["header.npy", "heatmap.npy", "image.npy", "segments.npy", "weights.npy"]


def test_a_huge_declared_heatmap_is_refused_before_reading(tmp_path: Path) -> None:
    path = golden(tmp_path)
    # a .npy header declaring a 4 GB float32 heatmap (32768 × 32768) over a few bytes of data
    header = npy(np.zeros((1, 1), np.float32)).replace(b"(1, 1)", b"(32768, 32768)")
    with_member(path, "heatmap.npy", header)
    with pytest.raises(SnapshotError, match=r"member 'heatmap' is float32 \(32768, 32768\), which a golden cannot hold"):
        read_npz(path)


def test_a_huge_declared_member_size_is_refused_unopened() -> None:
    from pytest_xai.explanation import _read_member

    class NeverOpened:
        def open(self, *args: Any) -> Any:
            raise AssertionError("the member was opened")

    info = zipfile.ZipInfo("heatmap.npy")
    info.file_size = 4 * 2**30
    with pytest.raises(SnapshotError, match=r"member 'heatmap' declares 4294967296 bytes, more than a golden can hold"):
        _read_member(NeverOpened(), info, "heatmap", "g.npz")


@pytest.mark.parametrize(("member", "array", "fragment"), [
    ("heatmap", np.array([["a", "b"], ["c", "d"]]), "member 'heatmap' is <U1 (2, 2), which a golden cannot hold"),
    ("weights", np.zeros((2, 2)), "member 'weights' is float64 (2, 2), which a golden cannot hold"),
    ("segments", np.zeros((16, 16)), "member 'segments' is float64 (16, 16)"),
    ("image", np.zeros((16, 16, 4), np.uint8), "member 'image' is uint8 (16, 16, 4)"),
    ("header", np.array([1, 2]), "member 'header' is int64 (2,)"),
    ("heatmap", np.full((16, 16), np.nan, np.float32), "NaN or infinite heatmap values"),
    ("weights", np.arange(3.0), "segments that do not match its weights"),
    ("heatmap", np.zeros((8, 8), np.float32), "inconsistent weights/segments shapes"),
])
def test_wrongly_typed_or_shaped_members_cannot_be_used(tmp_path: Path, member: str, array: np.ndarray,
                                                         fragment: str) -> None:
    path = golden(tmp_path)
    with_member(path, member + ".npy", npy(array))
    with pytest.raises(SnapshotError) as info:
        Explanation.load(path)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("header", "fragment"), [
    ({"format": "pytest_xai.explanation", "version": 1}, "has no 'target' in its header"),
    ("[" * 100_000 + "]" * 100_000, "unreadable header (RecursionError)"),
    ('{"format": "pytest_xai.explanation", "version": 1, "target": NaN}', "unreadable header"),
])
def test_bad_headers_cannot_be_used(tmp_path: Path, header: Any, fragment: str) -> None:
    path = golden(tmp_path)
    text = header if isinstance(header, str) else json.dumps(header)
    with_member(path, "header.npy", npy(np.array(text)))
    with pytest.raises(SnapshotError, match=None) as info:
        Explanation.load(path)
    assert fragment in str(info.value)


def test_header_fields_typed_wrongly_cannot_be_used(tmp_path: Path) -> None:
    path = golden(tmp_path)
    header = json.loads(str(read_npz(path)["header"]))
    header["samples"] = "many"
    with_member(path, "header.npy", npy(np.array(json.dumps(header))))
    with pytest.raises(SnapshotError, match=r"malformed header: samples='many' \(expected int, got str\)"):
        Explanation.load(path)


BAD_TYPE_TEST = """
import pytest

@pytest.mark.xai(samples=100)
def test_circle(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))
"""


def test_update_repairs_a_golden_with_a_string_heatmap(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=BAD_TYPE_TEST)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    path = xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"
    with_member(path, "heatmap.npy", npy(np.full((64, 64), "x")))
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden __xai_snapshots__/test_g/test_circle.npz cannot be used:*"
                                 "member 'heatmap' is <U1 (64, 64), which a golden cannot hold*"])
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*0 passed, 0 failed, 0 written, 1 updated*"])
    xai_pytester.runpytest().assert_outcomes(passed=1)


# -- region sidecars ------------------------------------------------------------------------------


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


def test_string_polygon_coordinates_in_code_are_a_type_error() -> None:
    from pytest_xai import Region

    with pytest.raises(XaiTypeError, match=r"polygon points .* must be numbers"):
        Region.polygon([("a", "b"), (1, 2), (3, 4)])


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
