"""The golden file format: a pickle-free .npz of known members and one JSON header.

Every member is checked before it is decompressed (declared size, then its .npy header), so
a corrupt, foreign or oversized file raises SnapshotError and a compression bomb stays unread.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai._util.jsonable import JSON
from pytest_xai.defaults import GOLDEN_MAX_HEADER_BYTES, GOLDEN_MAX_PIXELS
from pytest_xai.errors import SnapshotError, XaiValueError

FORMAT = "pytest_xai.explanation"


FORMAT_VERSION = 1


# What each member of a golden .npz may be: dtype kinds and number of dimensions. Anything
# else in the archive is never decompressed.
MEMBERS: dict[str, tuple[str, int]] = {
    "header": ("U", 0),
    "heatmap": ("f", 2),
    "weights": ("f", 1),
    "segments": ("iu", 2),
    "image": ("u", 3),
    # the sampling error basis (engine.uncertainty): over the weights, or over the heatmap
    "weights_error": ("f", 2),
    "heatmap_error": ("f", 3),
    # samples="auto", superpixel methods: the model output of every sample, from which a run
    # resumes (a GradientSHAP run resumes from its heatmap and heatmap_error)
    "outputs": ("f", 1),
}


_NPY_HEADER_BYTES = 4096  # room for the .npy magic and header before the data


def _max_items(name: str) -> int:
    if name == "header":
        return GOLDEN_MAX_HEADER_BYTES
    return GOLDEN_MAX_PIXELS * (3 if name == "image" else 64 if name == "heatmap_error" else 1)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read the known members of an .npz (``MEMBERS``), each checked before it is decompressed:
    its declared size, then its .npy header (dtype, shape) against what a golden can hold.

    Never unpickles and never reads unknown members (a compression bomb stays unread); a
    corrupt, foreign or oversized file raises SnapshotError.
    """

    if not path.is_file():
        raise SnapshotError(f"{str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            return {
                name: _read_member(archive, members[name + ".npy"], name, str(path))
                for name in MEMBERS
                if name + ".npy" in members
            }
    except SnapshotError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise SnapshotError(
            f"{str(path)!r} is corrupt, truncated or not an .npz ({type(e).__name__}: {e})",
            fix="delete it and regenerate it (pytest --xai-update)",
        ) from e


def _read_member(archive: Any, info: Any, name: str, source: str) -> np.ndarray:
    """One .npy member of a zip, after checking its declared size, dtype and shape."""
    kinds, ndim = MEMBERS[name]
    limit = _max_items(name) * 8 + _NPY_HEADER_BYTES
    if info.file_size > limit:
        raise SnapshotError(
            f"{source}: member {name!r} declares {info.file_size} bytes, more than a golden can "
            f"hold ({limit}); it was not read", fix="delete the file and regenerate it"
        )
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        if version not in ((1, 0), (2, 0)):
            raise SnapshotError(
                f"{source}: member {name!r} has .npy format {version}", fix="regenerate it"
            )
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(handle)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        items = count * (dtype.itemsize // 4 if dtype.kind == "U" else 1)
        if (
            dtype.kind not in kinds
            or dtype.hasobject
            or len(shape) != ndim
            or items > _max_items(name)
            or (name == "image" and shape[-1] != 3)
        ):
            raise SnapshotError(
                f"{source}: member {name!r} is {dtype} {tuple(shape)}, which a golden cannot hold "
                f"(expected {ndim}-D of kind {kinds!r})", fix="regenerate it"
            )
        data = handle.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise SnapshotError(f"{source}: member {name!r} is truncated", fix="regenerate it")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def check_members(arrays: dict[str, np.ndarray], where: str) -> None:
    """Every member within what ``read_npz`` reads back, and the float ones finite."""
    for name, values in arrays.items():
        items = len(str(values)) if name == "header" else values.size
        if items > _max_items(name):
            raise XaiValueError(
                f"{where} the {name} holds {items:,} items, over the {_max_items(name):,} that "
                "load() reads; save a smaller explanation (params and meta as small JSON)"
            )
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise XaiValueError(
                f"{where} the {name} has {bad} NaN or inf values, which load() refuses; "
                "replace them (e.g. np.nan_to_num) before saving"
            )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_header(array: np.ndarray, source: str) -> JSON:
    """The JSON header, checked to be this format and a version this code reads."""
    try:
        header = json.loads(str(array), parse_constant=_reject_constant)
    except (ValueError, TypeError, RecursionError) as e:
        raise SnapshotError(
            f"{source} has an unreadable header ({type(e).__name__})", fix="delete it and regenerate"
        ) from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError(
            f"{source} is not a pytest_xai explanation file", fix="delete it and regenerate"
        )
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SnapshotError(
            f"{source} was written by serializer version {version!r}, newer than this "
            f"pytest_xai's ({FORMAT_VERSION})", fix="upgrade pytest_xai or regenerate the file"
        )
    return header


def checked_arrays(
    arrays: dict[str, np.ndarray], source: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """heatmap, weights, segments and image, checked against one another."""
    heatmap = np.asarray(arrays["heatmap"])
    weights, segments, image = arrays.get("weights"), arrays.get("segments"), arrays.get("image")
    fixed = "delete it and regenerate it (pytest --xai-update)"
    if heatmap.ndim != 2 or heatmap.dtype.kind != "f":
        raise SnapshotError(
            f"{source} has a {heatmap.dtype} {heatmap.shape} heatmap, not 2-D floats", fix=fixed
        )
    if (weights is None) != (segments is None):
        raise SnapshotError(
            f"{source} has superpixel weights without segments or the reverse", fix=fixed
        )
    if weights is not None and segments is not None:
        if weights.ndim != 1 or weights.dtype.kind != "f" or segments.shape != heatmap.shape:
            raise SnapshotError(f"{source} has inconsistent weights/segments shapes", fix=fixed)
        if segments.dtype.kind not in "iu" or (
            segments.size and (segments.min() < 0 or segments.max() >= len(weights))
        ):
            raise SnapshotError(f"{source} has segments that do not match its weights", fix=fixed)
        if not np.isfinite(weights).all():
            raise SnapshotError(f"{source} has NaN or infinite weights", fix=fixed)
    if not np.isfinite(heatmap).all():
        raise SnapshotError(f"{source} has NaN or infinite heatmap values", fix=fixed)
    if image is not None and (image.dtype != np.uint8 or image.shape != (*heatmap.shape, 3)):
        raise SnapshotError(f"{source} has an image that does not match its heatmap", fix=fixed)
    return (
        heatmap.astype(np.float32),
        None if weights is None else weights.astype(np.float64),
        None if segments is None else segments.astype(np.int64),
        image,
    )


def checked_error(
    arrays: dict[str, np.ndarray], heatmap: np.ndarray, weights: np.ndarray | None, source: str
) -> np.ndarray | None:
    """The error basis, if stored: (K, M) over the weights or (K, H, W) over the heatmap."""
    basis = arrays.get("weights_error", arrays.get("heatmap_error"))
    if basis is None:
        return None
    features = (len(weights),) if "weights_error" in arrays and weights is not None else heatmap.shape
    if tuple(basis.shape[1:]) != tuple(features) or not np.isfinite(basis).all():
        raise SnapshotError(
            f"{source} has an error basis of shape {basis.shape} that does not match its "
            f"{'weights' if len(features) == 1 else 'heatmap'} {features}, or is not finite",
            fix="delete it and regenerate it (pytest --xai-update)",
        )
    return basis.astype(np.float32)
