"""Fills: what a hidden region becomes (grey, blur, inpaint from its surroundings), a registry.

Every fill is a pure function ``fill(image, mask) -> image``: an H×W×3 float32 image in [0, 1]
and an H×W bool mask give a new image equal to ``image`` outside the mask. Add one with
``register_fill(name, function)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.registry import Registry

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]
FILLS: Registry[Fill] = Registry("fill")
GREY = 0.5


def register_fill(name: str, function: Fill) -> None:
    """Make ``fill=name`` hide a region with ``function(image, mask) -> image``."""
    if not isinstance(name, str) or not name:
        raise XaiTypeError(f"name={name!r} must be a non-empty string, e.g. 'noise'")
    if not callable(function):
        raise XaiTypeError(f"function={function!r} is not callable; pass f(image, mask) -> image")
    FILLS.add(name, function)


def check_fill(fill: object) -> str:
    """A registered fill name; a clear error naming the known ones otherwise."""
    if not isinstance(fill, str) or fill not in FILLS:
        raise XaiValueError(
            f"fill={fill!r} is not a known fill; use one of {', '.join(sorted(FILLS))} "
            "or add one with pytest_xai.checks.interventions.register_fill"
        )
    return fill


def hide(image: np.ndarray, mask: np.ndarray, fill: str) -> np.ndarray:
    """``image`` with the ``mask`` pixels replaced by ``fill``; exact outside the mask."""
    out = np.asarray(FILLS[check_fill(fill)](image, mask), dtype=np.float32)
    if out.shape != image.shape:
        raise XaiValueError(
            f"fill {fill!r} returned shape {out.shape} for an image of shape {image.shape}; "
            "a fill must return an image of the input's shape"
        )
    return np.where(mask[..., None], np.clip(out, 0.0, 1.0), image).astype(np.float32)


def grey(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mid grey (0.5 in every channel)."""
    out = image.copy()
    out[mask] = GREY
    return out


def region_radius(mask: np.ndarray) -> float:
    """The radius of a disc of the region's area: the scale a fill must reach across."""
    return math.sqrt(float(mask.sum()) / math.pi)


def blur(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A Gaussian blur of the image (sigma: the region's equivalent radius, at least 1 pixel).

    The region's own content leaks into the blur at lower contrast: it hides shape and
    texture, not colour.
    """
    from scipy.ndimage import gaussian_filter

    sigma = max(1.0, region_radius(mask))
    return gaussian_filter(image, sigma=(sigma, sigma, 0), mode="nearest")


def inpaint(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The region filled from its surroundings only, by normalised convolution.

    Each hidden pixel becomes the Gaussian-weighted mean of the visible pixels (Knutsson &
    Westin 1993), with a scale that grows with its distance to the nearest visible pixel, so
    the border continues the nearby colours and the centre takes a wider average. None of the
    region's own pixels is read. The slowest fill at 224² (benchmarks/results/interventions.md).
    """
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    if mask.all():
        raise XaiValueError("cannot inpaint a region that covers the whole image: nothing is visible")
    visible = (~mask).astype(np.float64)
    distance = distance_transform_edt(mask)
    out = image.astype(np.float64).copy()
    todo = mask.copy()
    sigma = 1.0
    while todo.any():
        weight = gaussian_filter(visible, sigma, mode="constant")
        values = gaussian_filter(image * visible[..., None], (sigma, sigma, 0), mode="constant")
        ready = todo & (distance <= 2.0 * sigma) & (weight > 1e-6)
        out[ready] = values[ready] / weight[ready][:, None]
        todo &= ~ready
        sigma *= 2.0
    return out.astype(np.float32)


for _name, _function in (("grey", grey), ("blur", blur), ("inpaint", inpaint)):
    register_fill(_name, _function)
