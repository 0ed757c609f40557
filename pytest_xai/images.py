"""Image loading and validation: everything becomes an H×W×3 float32 array in [0, 1]."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pytest_xai._util.digest import array_sha256
from pytest_xai._util.validation import is_int, short
from pytest_xai.defaults import GOLDEN_MAX_PIXELS
from pytest_xai.errors import XaiTypeError, XaiValueError

MIN_SIDE = 8


def load_image(
    source: Any, size: int | tuple[int, int] | None = None, resize: str = "crop"
) -> np.ndarray:
    """Load an image as an H×W×3 float32 array with values in [0, 1].

    Parameters
    ----------
    source:
        A path to an image file (PNG, JPEG, TIFF, ...), a ``PIL.Image``, a uint8 array (values
        0..255), a uint16 array (0..65535), a float array (values in [0, 1]) shaped (H, W),
        (H, W, 1|3|4) or (1|3|4, H, W), or a (3, H, W) torch tensor. Grayscale is repeated to
        RGB; an alpha channel is dropped; palette, CMYK and other modes are converted to RGB.
        16-bit files are scaled by 65535; float (mode F) files must hold values in [0, 1].
        Files over PIL's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) are refused.
    size:
        The output size: ``size`` × ``size`` (an int) or ``(height, width)``; at most
        ``PIL.Image.MAX_IMAGE_PIXELS`` pixels. Bilinear, in float (16-bit and float images keep
        their precision; the image's own size changes nothing). The 8×8 minimum applies after
        resizing, so ``size`` can enlarge a smaller image.
    resize:
        How the image reaches ``size`` when its aspect ratio differs: ``"crop"`` (default)
        keeps the aspect ratio: it scales the image to cover ``size`` (an int: the shorter
        side becomes ``size``), then takes the centre, as torchvision's ``Resize(size)`` then
        ``CenterCrop(size)`` do; ``"squash"`` scales each side to ``size`` on its own (the
        aspect ratio changes, nothing is cut off). See ``fit_size`` for the exact geometry.
    """
    name = _source_name(source, "source")
    target = None if size is None else _target_size(size)  # refused before anything is read
    mode = _resize_mode(resize)
    array = _decode(source, name)
    if target is not None:
        array = _resize(array, fit_size(array.shape[:2], target, mode))
    array = _check_side(array, name, size)
    if isinstance(source, (str, os.PathLike)):
        _remember_name(array, Path(source).name)
    return array


_LOADED_NAMES: dict[str, str] = {}  # content key -> the file name an image was loaded from
MAX_LOADED_NAMES = 4096


def _content_key(array: np.ndarray) -> str:
    """The same key for an image as float in [0, 1] and as the uint8 an Explanation keeps."""
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    return array_sha256(array)


def _remember_name(array: np.ndarray, name: str) -> None:
    if len(_LOADED_NAMES) >= MAX_LOADED_NAMES:
        _LOADED_NAMES.pop(next(iter(_LOADED_NAMES)))
    _LOADED_NAMES[_content_key(array)] = name


def loaded_name(array: np.ndarray) -> str | None:
    """The file name ``load_image`` read this image from in this process, if it did: how the
    report names an image a test loaded itself rather than through ``xai_image``."""
    return _LOADED_NAMES.get(_content_key(np.asarray(array))) if _LOADED_NAMES else None


@dataclass(frozen=True)
class Fit:
    """Where a resize puts an image: scale it to ``scaled`` (height, width), then keep the
    ``target`` (height, width) window whose top-left corner is ``offset`` (top, left)."""

    source: tuple[int, int]
    scaled: tuple[int, int]
    offset: tuple[int, int]
    target: tuple[int, int]

    @property
    def identity(self) -> bool:
        return self.source == self.scaled == self.target

    def source_rows(self) -> np.ndarray:
        """For each output row, the source row whose area holds its centre (nearest neighbour)."""
        return _nearest(self.offset[0], self.target[0], self.source[0], self.scaled[0])

    def source_cols(self) -> np.ndarray:
        """For each output column, the source column whose area holds its centre."""
        return _nearest(self.offset[1], self.target[1], self.source[1], self.scaled[1])

    def edge(self, value: int, axis: int) -> int:
        """A pixel edge of the source (0 = y, 1 = x) in output pixels, clipped to the output:
        the first output pixel whose centre maps back at or after ``value``, so a box maps to
        exactly the pixels ``source_rows``/``source_cols`` sample from inside it."""
        source, scaled = self.source[axis], self.scaled[axis]
        # ceil(value * scaled / source - 1/2), in integers
        first = -((source - 2 * value * scaled) // (2 * source))
        return min(max(first - self.offset[axis], 0), self.target[axis])


def _nearest(offset: int, count: int, source: int, scaled: int) -> np.ndarray:
    """floor((offset + i + 1/2) * source / scaled) for i < count, in integers."""
    centres = 2 * (offset + np.arange(count, dtype=np.int64)) + 1
    return np.minimum((centres * source) // (2 * scaled), source - 1)


def _squash(source: tuple[int, int], target: tuple[int, int]) -> Fit:
    return Fit(source, target, (0, 0), target)


def _cover_then_centre(source: tuple[int, int], target: tuple[int, int]) -> Fit:
    """Scale to cover ``target`` keeping the aspect ratio (the side that fits exactly gets the
    target's length; the other, rounded down, is at least as long), then centre the window
    (offsets rounded as torchvision's ``center_crop`` rounds them)."""
    (height, width), (th, tw) = source, target
    scaled = (th, width * th // height) if th * width >= tw * height else (height * tw // width, tw)
    offset = (int(round((scaled[0] - th) / 2.0)), int(round((scaled[1] - tw) / 2.0)))
    return Fit(source, scaled, offset, target)


# how ``size=`` meets an image of another aspect ratio: load_image(..., resize=NAME)
RESIZE_MODES: dict[str, Callable[[tuple[int, int], tuple[int, int]], Fit]] = {
    "crop": _cover_then_centre,
    "squash": _squash,
}


def fit_size(source: tuple[int, int], target: tuple[int, int], resize: str = "crop") -> Fit:
    """The geometry that takes a ``source`` (height, width) image to ``target`` with the
    ``resize`` mode of ``RESIZE_MODES`` ("crop" or "squash")."""
    return RESIZE_MODES[_resize_mode(resize)]((int(source[0]), int(source[1])), target)


def _resize_mode(resize: Any) -> str:
    if not isinstance(resize, str):
        raise XaiTypeError(
            f"resize={short(resize)} is not a string; use one of {', '.join(map(repr, RESIZE_MODES))}"
        )
    if resize not in RESIZE_MODES:
        raise XaiValueError(
            f"resize={resize!r} is not a resize mode; use 'crop' (keep the aspect ratio, cut the "
            "edges: the default) or 'squash' (stretch to the size, keep everything)"
        )
    return resize


def _source_name(source: Any, name: str) -> str:
    """How errors name an input: a file by its path."""
    return f"{name}={str(source)!r}" if isinstance(source, (str, os.PathLike)) else name


def _decode(source: Any, name: str) -> np.ndarray:
    """Any accepted input (path, PIL image, array, tensor) as H×W×3 float32 in [0, 1]."""
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source))
    if isinstance(source, Image.Image):
        return _from_pil(source, name)
    return _from_array(source, name)


def _check_side(array: np.ndarray, name: str, size: Any = None) -> np.ndarray:
    """Refuse an image under MIN_SIDE pixels a side, whatever its source."""
    height, width = array.shape[:2]
    if height < MIN_SIDE or width < MIN_SIDE:
        fix = "" if size is not None else "; enlarge it, e.g. load_image(source, size=32)"
        raise XaiValueError(
            f"{name} is {height}×{width} pixels; explanations need at least "
            f"{MIN_SIDE}×{MIN_SIDE}{fix}"
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def _read_file(path: Path) -> np.ndarray:
    if not path.is_file():
        raise XaiValueError(f"source={str(path)!r} is not a file; pass an existing image path")
    try:
        with warnings.catch_warnings():
            # PIL only warns between its limit and twice it; both are refused here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return _from_pil(im, f"source={str(path)!r}")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        found = re.search(r"(\d+) pixels", str(e))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise XaiValueError(
            f"source={str(path)!r} has {pixels}, over PIL's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS:,}; downscale the file before testing (or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust it)"
        ) from e
    except OSError as e:
        raise XaiValueError(
            f"source={str(path)!r} could not be read as an image ({e}); pass a PNG, JPEG or "
            "TIFF file"
        ) from e


def _from_pil(im: Image.Image, name: str) -> np.ndarray:
    """A PIL image of any mode as H×W×3 float32 in [0, 1]; 16-bit and float modes scaled."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(im)
        if values.min() < 0 or values.max() > 65535:
            raise XaiValueError(
                f"{name} is a {im.mode} image with values in [{values.min()}, {values.max()}], "
                "outside the 16-bit range 0..65535; save it as 8- or 16-bit"
            )
        gray = values.astype(np.float32) / 65535.0
    elif im.mode == "F":
        gray = np.asarray(im, dtype=np.float32)
        lo, hi = float(np.nanmin(gray)), float(np.nanmax(gray))
        if not np.isfinite(gray).all() or lo < 0 or hi > 1:
            raise XaiValueError(
                f"{name} is a float (mode F) image with values in [{lo:.4g}, {hi:.4g}]; float "
                "images must hold finite values in [0, 1]: rescale it, or save it as 8/16-bit"
            )
    else:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return np.repeat(gray[:, :, None], 3, axis=2)


def _resize(array: np.ndarray, fit: Fit) -> np.ndarray:
    """Bilinear (antialiased) resize in float, channel by channel, so 16-bit and float inputs
    keep their precision; the image's own size returns it unchanged. Only the kept window is
    computed (PIL's ``box=``: the same pixels as resizing all of it, then cutting)."""
    if fit.identity:
        return array
    (height, width), (top, left) = fit.target, fit.offset
    sy, sx = fit.source[0] / fit.scaled[0], fit.source[1] / fit.scaled[1]
    box = (left * sx, top * sy, (left + width) * sx, (top + height) * sy)
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[:, :, c], dtype=np.float32))
            .resize((width, height), Image.Resampling.BILINEAR, box=box),
            dtype=np.float32,
        )
        for c in range(array.shape[2])
    ]
    return np.clip(np.stack(planes, axis=2), 0.0, 1.0)


def max_pixels() -> int:
    """The most pixels an image may have: PIL's decompression-bomb limit (files over it are
    refused too), or the golden limit when PIL's is switched off."""
    return int(Image.MAX_IMAGE_PIXELS or GOLDEN_MAX_PIXELS)


def _target_size(size: Any) -> tuple[int, int]:
    """``size`` as (height, width): an int or a pair of ints, each at least MIN_SIDE, at most
    ``max_pixels()`` in all."""
    pair = size if isinstance(size, tuple) and len(size) == 2 else (size, size)
    if not all(is_int(s) for s in pair):
        raise XaiTypeError(
            f"size={short(size)} is not an int or a (height, width) tuple of ints; use e.g. 64"
        )
    height, width = int(pair[0]), int(pair[1])
    if height < MIN_SIDE or width < MIN_SIDE:
        raise XaiValueError(f"size={size!r} is too small; use at least {MIN_SIDE} pixels a side")
    if height * width > max_pixels():
        raise XaiValueError(
            f"size={size!r} is {height * width:,} pixels, over the limit of {max_pixels():,} "
            "(PIL.Image.MAX_IMAGE_PIXELS); use a smaller size"
        )
    return height, width





def as_images(value: Any, name: str = "images") -> tuple[list[np.ndarray], bool]:
    """Normalise one image, a list/tuple of images or a 4-D batch to H×W×3 float32 arrays.

    Returns the arrays and whether a single image (not a list or batch) was given. A batch is
    a 4-D array or tensor, (N, H, W, C) or (N, C, H, W); every image is checked by ``as_image``
    and named ``name[i]`` in errors.
    """
    if isinstance(value, (list, tuple)) or (_is_array(value) and getattr(value, "ndim", 0) == 4):
        if len(value) == 0:
            raise XaiValueError(f"{name} is empty; pass at least one image")
        return [as_image(item, f"{name}[{i}]") for i, item in enumerate(value)], False
    return [as_image(value, name)], True


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


def as_image(value: Any, name: str = "image") -> np.ndarray:
    """Validate and convert one in-memory image to H×W×3 float32 in [0, 1].

    ``name`` is the argument name used in error messages.
    """
    return _check_side(_decode(value, _source_name(value, name)), _source_name(value, name))


def _from_array(value: Any, name: str) -> np.ndarray:
    """An array, tensor or nested list as H×W×3 float32 in [0, 1] (any size)."""
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu()
        if value.is_floating_point() and value.element_size() < 4:  # numpy has no bfloat16
            value = value.float()
        value = value.numpy()
    if not hasattr(value, "__array__") and not isinstance(value, (list, tuple)):
        raise XaiTypeError(
            f"{name} of type {type(value).__name__} is not an image; pass a path, a PIL image, "
            "an H×W×3 array or a (3, H, W) tensor"
        )
    array = np.asarray(value)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise XaiTypeError(
            f"{name} has dtype {array.dtype}; pass uint8 values in 0..255 or floats in [0, 1]"
        )
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise XaiValueError(
            f"{name} has shape {array.shape} (rank {array.ndim}); pass one image shaped "
            "(H, W), (H, W, 3) or (3, H, W); a batch goes in a list or a 4-D array"
        )
    if array.shape[-1] not in (1, 3, 4) and array.shape[0] in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    channels = array.shape[-1]
    if channels not in (1, 3, 4):
        raise XaiValueError(
            f"{name} has shape {array.shape}: {channels} channels; pass 1 (gray), 3 (RGB) or 4 (RGBA)"
        )
    if channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif channels == 4:
        array = array[..., :3]
    if array.size == 0:
        raise XaiValueError(f"{name} has shape {array.shape}: no pixels; pass a non-empty image")
    return np.ascontiguousarray(_unit_range(array, name), dtype=np.float32)


def _unit_range(array: np.ndarray, name: str) -> np.ndarray:
    """Integer (uint8 0..255, uint16 0..65535) or float ([0, 1]) values as float32 in [0, 1]."""
    if array.dtype == np.uint16:
        array = array.astype(np.float32) / 65535.0
    elif np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise XaiValueError(
                f"{name} has integer values in [{array.min()}, {array.max()}]; pass uint8 values in 0..255"
            )
        array = array.astype(np.float32) / 255.0
    else:
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise XaiValueError(
                f"{name} has {bad} NaN or inf values; clean the image before explaining"
            )
        lo, hi = float(array.min()), float(array.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            hint = "divide by 255" if hi <= 255 and lo >= 0 else "rescale it to [0, 1]"
            raise XaiValueError(
                f"{name} has float values in [{lo:.4g}, {hi:.4g}], outside [0, 1]; {hint} "
                "(normalisation such as ImageNet's belongs in Classifier(preprocess=...))"
            )
        array = np.clip(array, 0.0, 1.0)
    return array
