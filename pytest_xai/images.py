"""Image loading and validation: everything becomes an H×W×3 float32 array in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.render import to_uint8

MIN_SIDE = 8


def load_image(source: Any, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Load an image as an H×W×3 float32 array with values in [0, 1].

    Parameters
    ----------
    source:
        A path to a PNG/JPEG file, a ``PIL.Image``, a uint8 array (values 0..255), a float
        array (values in [0, 1]) shaped (H, W), (H, W, 1|3|4) or (1|3|4, H, W), or a
        (3, H, W) torch tensor. Grayscale is repeated to RGB; an alpha channel is dropped.
    size:
        Resize to ``size`` × ``size`` (an int) or to ``(height, width)``, bilinear.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise XaiValueError(
                f"source={str(path)!r} is not a file; pass an existing PNG/JPEG path"
            )
        try:
            with Image.open(path) as im:
                pil = im.convert("RGB")
        except OSError as e:
            raise XaiValueError(
                f"source={str(path)!r} could not be read as an image ({e}); pass a PNG or JPEG file"
            ) from e
        array = np.asarray(pil, dtype=np.float32) / 255.0
    elif isinstance(source, Image.Image):
        array = np.asarray(source.convert("RGB"), dtype=np.float32) / 255.0
    else:
        array = as_image(source, "source")
    if size is not None:
        array = _resize(array, size)
    return np.ascontiguousarray(array, dtype=np.float32)


def _resize(array: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    elif (
        isinstance(size, tuple)
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) for s in size)
    ):
        height, width = int(size[0]), int(size[1])
    else:
        raise XaiTypeError(f"size={size!r} is not an int or a (height, width) tuple of ints")
    if height < MIN_SIDE or width < MIN_SIDE:
        raise XaiValueError(f"size={size!r} is too small; use at least {MIN_SIDE} pixels a side")
    pil = Image.fromarray(to_uint8(array))
    pil = pil.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(pil, dtype=np.float32) / 255.0


def as_image(value: Any, name: str = "image") -> np.ndarray:
    """Validate and convert one in-memory image to H×W×3 float32 in [0, 1].

    ``name`` is the argument name used in error messages.
    """
    if isinstance(value, (str, os.PathLike, Image.Image)):
        return load_image(value)
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
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
            "(H, W), (H, W, 3) or (3, H, W) — a batch goes in a list"
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
    if np.issubdtype(array.dtype, np.integer):
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
    height, width = array.shape[:2]
    if height < MIN_SIDE or width < MIN_SIDE:
        raise XaiValueError(
            f"{name} is {height}×{width} pixels; explanations need at least {MIN_SIDE}×{MIN_SIDE}"
        )
    return np.ascontiguousarray(array, dtype=np.float32)
