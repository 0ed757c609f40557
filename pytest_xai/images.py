"""Image loading and validation: everything becomes an H×W×3 float32 array in [0, 1]."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pytest_xai.defaults import GOLDEN_MAX_PIXELS
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.validation import is_int, short

MIN_SIDE = 8


def load_image(source: Any, size: int | tuple[int, int] | None = None) -> np.ndarray:
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
        Resize to ``size`` × ``size`` (an int) or to ``(height, width)``: bilinear, in float
        (16-bit and float images keep their precision; the image's own size changes nothing),
        at most ``PIL.Image.MAX_IMAGE_PIXELS`` pixels. The 8×8 minimum applies after resizing,
        so ``size`` can enlarge a smaller image.
    """
    name = _source_name(source, "source")
    target = None if size is None else _target_size(size)  # refused before anything is read
    array = _decode(source, name)
    if target is not None:
        array = _resize(array, target)
    return _check_side(array, name, size)


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


def _resize(array: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """Bilinear (antialiased) resize in float, channel by channel, so 16-bit and float inputs
    keep their precision; the image's own size returns it unchanged."""
    height, width = target
    if (height, width) == array.shape[:2]:
        return array
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[:, :, c], dtype=np.float32))
            .resize((width, height), Image.Resampling.BILINEAR),
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
