"""The Explanation result: heatmap, weights, provenance; saved and loaded as pickle-free .npz."""

from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai import render
from pytest_xai._atomic import atomic_path
from pytest_xai.defaults import GOLDEN_MAX_HEADER_BYTES, GOLDEN_MAX_PIXELS
from pytest_xai.errors import SnapshotError, XaiTypeError, XaiValueError
from pytest_xai.jsonable import plain
from pytest_xai.validation import positive_int

FORMAT = "pytest_xai.explanation"
FORMAT_VERSION = 1


@dataclass(eq=False)
class Explanation:
    """An attribution of one image's target output.

    Attributes
    ----------
    heatmap: H×W float32, signed. Superpixel weights painted on their pixels (lime,
        kernel_shap) or channel-summed pixel attributions (gradient_shap).
    weights: (M,) float64 superpixel weights, or None for pixel-level methods.
    segments: H×W int64 labels 0..M-1, or None for pixel-level methods.
    target, target_name: the explained class.
    probability: softmax probability of the target on the unperturbed image.
    method, output, seed, samples: how it was computed.
    score: weighted R² of the surrogate (None for gradient_shap).
    intercept, local_prediction: the surrogate's intercept and its prediction at the image.
    params: everything needed to reproduce it (method, output, seed, samples, segmentation,
        n_segments, baseline, ...).
    meta: provenance (pytest_xai and torch versions, device, model fingerprint, seconds).
    image: the explained image (H×W×3 float32), kept for pictures; stored as uint8.
    """

    heatmap: np.ndarray
    weights: np.ndarray | None
    segments: np.ndarray | None
    target: int
    target_name: str
    probability: float
    method: str
    output: str
    seed: int
    samples: int
    score: float | None = None
    intercept: float | None = None
    local_prediction: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        h, w = self.heatmap.shape
        m = "" if self.weights is None else f", M={len(self.weights)}"
        return (
            f"Explanation(method={self.method!r}, target={self.target_name!r}, "
            f"p={self.probability:.3f}, output={self.output!r}, {h}×{w}{m}, seed={self.seed})"
        )

    @property
    def positive(self) -> np.ndarray:
        """The positive part of the heatmap (evidence for the target), float64."""
        return np.clip(self.heatmap.astype(np.float64), 0.0, None)

    def overlay(self, image: Any = None, scale: float | None = None, smooth: bool = True) -> np.ndarray:
        """RGB uint8 picture of the heatmap over the greyed ``image``: red for, blue against.

        ``smooth`` draws pixel-level maps Gaussian-smoothed so a person can see where the mass
        is (``display.display_heatmap``); the stored heatmap stays exact. Superpixel maps are
        drawn as they are either way.
        """
        from pytest_xai.display import display_heatmap
        from pytest_xai.images import as_image

        if image is None:
            image = self.image
        array = None if image is None else as_image(image, "image")
        if array is not None and array.shape[:2] != self.heatmap.shape:
            raise XaiValueError(
                f"image is {array.shape[0]}×{array.shape[1]} but the explanation is "
                f"{self.heatmap.shape[0]}×{self.heatmap.shape[1]}; pass the explained image"
            )
        return render.overlay(display_heatmap(self) if smooth else self.heatmap, array, scale)

    def boundaries(
        self, image: Any = None, num_features: int = 5, positive_only: bool = True
    ) -> np.ndarray:
        """lime's ``get_image_and_mask`` + ``mark_boundaries`` picture (RGB uint8).

        Only for superpixel methods (lime, kernel_shap); use ``overlay`` for gradient_shap.
        """
        from pytest_xai.images import as_image

        if self.weights is None or self.segments is None:
            raise XaiValueError(
                f"boundaries() needs superpixel weights but method={self.method!r} is pixel-level; "
                "use overlay() instead"
            )

        num_features = positive_int(num_features, "num_features", "use e.g. 5")
        if image is None and self.image is None:
            raise XaiValueError("boundaries() needs the image; pass image=")
        array = as_image(self.image if image is None else image, "image")
        if array.shape[:2] != self.segments.shape:
            raise XaiValueError(
                f"image is {array.shape[0]}×{array.shape[1]} but the segments are "
                f"{self.segments.shape[0]}×{self.segments.shape[1]}; pass the explained image"
            )
        return render.boundaries_picture(
            array, self.segments, self.weights, num_features, positive_only
        )

    # -- serialisation -------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for a pickle-free .npz: numeric arrays plus one JSON string of metadata."""
        header = {"format": FORMAT, "version": FORMAT_VERSION}
        header.update({f.name: plain(getattr(self, f.name), json=True) for f in _header_fields()})
        try:
            text = json.dumps(header, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise XaiTypeError(
                f"the explanation's params/meta hold a value JSON cannot store ({e}); keep them "
                "to numbers, strings, lists and dicts with string keys"
            ) from e
        arrays = {"heatmap": np.asarray(self.heatmap).astype(np.float32), "header": np.array(text)}
        if self.weights is not None:
            arrays["weights"] = np.asarray(self.weights).astype(np.float64)
        if self.segments is not None:
            arrays["segments"] = np.asarray(self.segments).astype(np.int32)
        if self.image is not None:
            arrays["image"] = render.to_uint8(self.image)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "<arrays>") -> Explanation:
        """Rebuild an Explanation from ``to_arrays`` output, validating everything."""
        if "header" not in arrays or "heatmap" not in arrays:
            raise SnapshotError(
                f"{source} is not a pytest_xai file (no header/heatmap)", fix="delete it and regenerate"
            )
        header = _parse_header(arrays["header"], source)
        heatmap, weights, segments, image = _checked_arrays(arrays, source)
        values: dict[str, Any] = {}
        for f in _header_fields():
            if f.name not in header:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise SnapshotError(f"{source} has no {f.name!r} in its header", fix="regenerate it")
                continue
            try:
                values[f.name] = _CONVERTERS[str(f.type)](header[f.name])
            except (TypeError, ValueError) as e:
                raise SnapshotError(
                    f"{source} has a malformed header: {f.name}={repr(header[f.name])[:80]} ({e})", fix="regenerate it"
                ) from e
        return cls(
            heatmap=heatmap,
            weights=weights,
            segments=segments,
            image=None if image is None else image.astype(np.float32) / 255.0,
            **values,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as .npz (no pickle), atomically. Returns the path written."""
        target = Path(path)
        if target.suffix != ".npz":
            raise XaiValueError(f"path={str(path)!r} must end in .npz")
        arrays = self.to_arrays()
        _check_loadable(self, arrays, str(path))
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Explanation:
        """Load an explanation saved with ``save``; never unpickles anything."""
        return cls.from_arrays(read_npz(Path(path)), source=str(path))


# What each member of a golden .npz may be: dtype kinds and number of dimensions. Anything
# else in the archive is never decompressed.
MEMBERS: dict[str, tuple[str, int]] = {
    "header": ("U", 0),
    "heatmap": ("f", 2),
    "weights": ("f", 1),
    "segments": ("iu", 2),
    "image": ("u", 3),
}
_NPY_HEADER_BYTES = 4096  # room for the .npy magic and header before the data


def _max_items(name: str) -> int:
    if name == "header":
        return GOLDEN_MAX_HEADER_BYTES
    return GOLDEN_MAX_PIXELS * (3 if name == "image" else 1)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read the known members of an .npz (``MEMBERS``), each checked before it is decompressed:
    its declared size, then its .npy header (dtype, shape) against what a golden can hold.

    Never unpickles and never reads unknown members (a compression bomb stays unread); a
    corrupt, foreign or oversized file raises SnapshotError.
    """
    import zipfile
    import zlib

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


def _header_fields() -> list[Field[Any]]:
    """The Explanation fields stored in the JSON header: all but the arrays."""
    return [f for f in fields(Explanation) if f.name not in MEMBERS]



def _check_loadable(exp: Explanation, arrays: dict[str, np.ndarray], path: str) -> None:
    """Refuse, before anything is written, an explanation that ``load`` would reject."""
    where = f"cannot save {path!r}:"
    _check_members(arrays, where)
    for f in _header_fields():
        value = plain(getattr(exp, f.name))
        if isinstance(value, float) and not math.isfinite(value) and "None" not in str(f.type):
            raise XaiValueError(
                f"{where} {f.name}={value!r} is not finite, which load() refuses; store a finite "
                "number"
            )
    try:
        Explanation.from_arrays(arrays, source="the explanation")
    except SnapshotError as e:  # anything else load() would refuse
        message = e.problem
        raise XaiValueError(f"{where} load() would refuse it: {message}") from e


def _check_members(arrays: dict[str, np.ndarray], where: str) -> None:
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



def _strict(kind: type) -> Any:
    def convert(value: Any) -> Any:
        ok = (int, float) if kind is float else kind
        if isinstance(value, bool) or not isinstance(value, ok):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return kind(value)

    return convert


def _optional(convert: Any) -> Any:
    return lambda value: None if value is None else convert(value)


# header field annotation (a string: ``from __future__ import annotations``) -> converter
_CONVERTERS: dict[str, Any] = {
    "int": _strict(int),
    "str": _strict(str),
    "float": _strict(float),
    "float | None": _optional(_strict(float)),
    "dict[str, Any]": _strict(dict),
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_header(array: np.ndarray, source: str) -> dict[str, Any]:
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


def _checked_arrays(
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
