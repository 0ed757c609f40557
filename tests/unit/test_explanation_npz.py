"""The golden .npz format: round trip without pickle; untrusted members checked before decompression."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import PickleBomb, explanation, pictured, square_explanation
from golden_samples import npy, with_member

from pytest_xai import (
    Explanation,
    SnapshotError,
    explain,
)
from pytest_xai.errors import (
    XaiError,
)
from pytest_xai.explanation.npz import read_npz
from pytest_xai.registry import METHODS


def golden(tmp_path: Path) -> Path:
    heat = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    segments = np.arange(256).reshape(16, 16) // 64
    exp = explanation(heat, weights=np.arange(4.0), segments=segments, method="lime",
                      image=np.zeros((16, 16, 3), np.float32))
    return exp.save(tmp_path / "g.npz")


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
    Explanation.load(path)
    assert sorted(opened) == ["header.npy", "heatmap.npy", "image.npy", "segments.npy", "weights.npy"]


def test_a_huge_declared_heatmap_is_refused_before_reading(tmp_path: Path) -> None:
    path = golden(tmp_path)
    # a .npy header declaring a 4 GB float32 heatmap (32768 × 32768) over a few bytes of data
    header = npy(np.zeros((1, 1), np.float32)).replace(b"(1, 1)", b"(32768, 32768)")
    with_member(path, "heatmap.npy", header)
    with pytest.raises(SnapshotError, match=r"member 'heatmap' is float32 \(32768, 32768\), which a golden cannot hold"):
        read_npz(path)


def test_a_huge_declared_member_size_is_refused_unopened() -> None:
    from pytest_xai.explanation.npz import _read_member

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


# -- region sidecars ------------------------------------------------------------------------------


def saved(img: np.ndarray, tmp_path: Path) -> Path:
    return square_explanation(img).save(tmp_path / "g.npz")


GOLDEN_CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("truncated", lambda p: p.write_bytes(p.read_bytes()[:200]), "corrupt, truncated or not an .npz"),
    ("garbage", lambda p: p.write_bytes(b"not a zip at all"), "corrupt, truncated or not an .npz"),
    ("empty", lambda p: p.write_bytes(b""), "corrupt, truncated or not an .npz"),
    ("foreign", lambda p: np.savez(p, weights=np.zeros(3)), "is not a pytest_xai file"),
    ("newer", lambda p: _rewrite_header(p, version=99), "serializer version 99, newer than"),
    ("other format", lambda p: _rewrite_header(p, format="something.else"), "not a pytest_xai explanation file"),
    ("bad header", lambda p: _rewrite_header(p, target="x"), "malformed header"),
]


def _rewrite_header(path: Path, **changes: Any) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    header.update(changes)
    arrays["header"] = np.array(json.dumps(header))
    np.savez(path, **arrays)


@pytest.mark.parametrize(("case", "damage", "fragment"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_bad_golden_file(case: str, damage: Callable[[Path], None], fragment: str, img: np.ndarray,
                         tmp_path: Path) -> None:
    path = saved(img, tmp_path)
    damage(path)
    with pytest.raises(SnapshotError) as info:
        Explanation.load(path)
    assert fragment in str(info.value)


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
    tmp_path: Path, tiny_img: np.ndarray, changes: dict[str, object], fragment: str
) -> None:
    path = tmp_path / "e.npz"
    with pytest.raises(XaiError, match=fragment):
        pictured(tiny_img, **changes).save(path)
    assert list(tmp_path.iterdir()) == []


def test_save_turns_numpy_values_into_plain_python(tmp_path: Path, tiny_img: np.ndarray) -> None:
    params = {"alpha": np.float32(0.5), "n": np.int64(3), "rgb": np.array([0.25, 0.5])}
    exp = pictured(tiny_img, params=params, meta={"flag": np.bool_(True)}, target=np.int64(0))
    loaded = Explanation.load(exp.save(tmp_path / "e.npz"))
    assert loaded.params == {"alpha": 0.5, "n": 3, "rgb": [0.25, 0.5]}
    assert loaded.meta == {"flag": True} and loaded.target == 0


def test_golden_with_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, header=np.array([PickleBomb()], dtype=object), heatmap=np.zeros((8, 8)))
    with pytest.raises(SnapshotError, match=r"member 'header' is object \(1,\), which a golden cannot hold"):
        Explanation.load(path)


def test_save_load_roundtrip_without_pickle(tmp_path: Path, shapes_clf, shapes_image) -> None:  # type: ignore[no-untyped-def]
    exp = explain(shapes_clf, shapes_image, samples=100)
    path = exp.save(tmp_path / "e.npz")
    with np.load(path, allow_pickle=False) as data:  # loads with pickling disabled
        assert {"heatmap", "weights", "segments", "header", "image"} <= set(data.files)
    back = Explanation.load(path)
    assert np.array_equal(back.heatmap, exp.heatmap) and np.array_equal(back.weights, exp.weights)
    assert np.array_equal(back.segments, exp.segments)
    assert (back.target, back.target_name, back.method, back.seed, back.samples) == (
        exp.target, exp.target_name, exp.method, exp.seed, exp.samples)
    assert back.params == exp.params and back.meta == exp.meta
    default = METHODS["lime"].default_baseline
    expected_fill = list(default) if isinstance(default, tuple) else default
    assert (back.params["samples"], back.params["method"], back.params["baseline"]) == (100, "lime", expected_fill)
    # params hold JSON-plain values (an RGB fill is a list), so they survive the header exactly
    rgb = explain(shapes_clf, shapes_image, samples=50, baseline=(0.1, 0.2, 0.3))
    assert Explanation.load(rgb.save(tmp_path / "rgb.npz")).params["baseline"] == [0.1, 0.2, 0.3]
    assert np.abs(back.image - exp.image).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        exp.save(tmp_path / "e.png")
