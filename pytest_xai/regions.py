"""Regions of an image (boxes, masks, polygons) combined with | and ~, rasterised on demand."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai._util.validation import is_finite, is_int, is_number, is_utf8, short
from pytest_xai.errors import RegionError, XaiTypeError, XaiValueError


class Region:
    """A named set of pixels, rasterised to a boolean mask with ``to_mask(height, width)``.

    Build one with ``Region.box``, ``Region.mask`` or ``Region.polygon``; combine with ``|``
    (union) and ``~`` (complement). Coordinates are pixels: x to the right, y down.
    """

    def __init__(self, kind: str, data: Any, name: str | None = None) -> None:
        self.kind = kind
        self.data = data
        self.name = _label(name, kind)

    def __repr__(self) -> str:
        return f"Region({self.name!r})"

    @classmethod
    def box(cls, x0: float, y0: float, x1: float, y1: float, name: str | None = None) -> Region:
        """The half-open box [x0, x1) × [y0, y1) in pixels."""
        given = (x0, y0, x1, y1)
        if not all(is_number(c) for c in given):
            raise XaiTypeError(f"box coordinates {short(given)} must be numbers (x0, y0, x1, y1)")
        coords: tuple[float, ...] = tuple(c.item() if isinstance(c, np.generic) else c for c in given)
        x0, y0, x1, y1 = coords
        if not all(is_finite(c) for c in coords):
            raise RegionError(f"box coordinates {short(coords)} must be finite pixel positions")
        if not (x1 > x0 and y1 > y0):
            raise RegionError(
                f"box (x0, y0, x1, y1)={coords!r} is empty; x1 must exceed x0 and y1 exceed y0"
            )
        label = _label(name, f"box({x0}, {y0}, {x1}, {y1})")
        return cls("box", tuple(_pixel_edge(c) for c in coords), label)

    @classmethod
    def mask(cls, source: Any, name: str | None = None) -> Region:
        """A boolean (H, W) array, or the path of a PNG whose non-black pixels are the region."""
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_file():
                raise RegionError(f"mask path {str(path)!r} does not exist; pass a PNG mask file")
            return cls("mask_file", path, _label(name, path.name))
        array = np.asarray(source)
        if array.ndim != 2:
            raise RegionError(f"mask has shape {array.shape}; pass a 2-D (H, W) boolean array")
        if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
            raise XaiTypeError(
                f"mask has dtype {array.dtype} with values other than 0/1; pass a bool array"
            )
        # a copy, always: changing the caller's array later must not change the region
        return cls("mask", array.astype(bool, copy=True), _label(name, "mask"))

    @classmethod
    def polygon(cls, points: Sequence[Sequence[float]], name: str | None = None) -> Region:
        """The polygon through ``points`` [(x, y), ...], at least three of them."""
        if isinstance(points, np.ndarray):
            points = points.tolist()
        if not (
            isinstance(points, Sequence)
            and len(points) >= 3
            and all(isinstance(p, (Sequence, np.ndarray)) and len(p) == 2 for p in points)
        ):
            raise RegionError(f"polygon points {short(points)} must be at least three (x, y) pairs")
        if not all(is_number(c) for p in points for c in p):
            raise XaiTypeError(f"polygon points {short(points)} must be numbers (x, y)")
        if not all(is_finite(c) for p in points for c in p):
            raise RegionError(f"polygon points {short(points)} must be finite pixel positions")
        pts = np.asarray(points, dtype=np.float64)
        return cls("polygon", pts, _label(name, "polygon"))

    # numpy defers ``mask | region`` to ``Region.__ror__`` instead of looping over the mask
    __array_ufunc__ = None

    def __or__(self, other: Any) -> Region:
        """The union with another Region or a boolean (H, W) mask."""
        other = as_region(other, "the right operand of |")
        return Region("union", (self, other), f"{self.name} | {other.name}")

    def __ror__(self, other: Any) -> Region:
        return as_region(other, "the left operand of |") | self

    def __invert__(self) -> Region:
        return Region("not", self, f"~{self.name}")

    def _raster(self, height: int, width: int) -> np.ndarray:
        if self.kind == "box":
            x0, y0, x1, y1 = self.data
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                raise RegionError(
                    f"region {self.name!r} (x0, y0, x1, y1)={self.data} lies outside the "
                    f"{height}×{width} image (x in [0, {width}], y in [0, {height}]); fix the box"
                )
            out = np.zeros((height, width), dtype=bool)
            out[y0:y1, x0:x1] = True
            return out
        if self.kind in ("mask", "mask_file"):
            array = self.data if self.kind == "mask" else _read_mask_png(self.data)
            if array.shape != (height, width):
                raise RegionError(
                    f"region {self.name!r} is a {array.shape[0]}×{array.shape[1]} mask but the "
                    f"image is {height}×{width}; pass a mask of the image's size"
                )
            return array.copy()
        if self.kind == "polygon":
            from skimage.draw import polygon2mask

            xs, ys = self.data[:, 0], self.data[:, 1]
            if xs.min() < 0 or ys.min() < 0 or xs.max() > width or ys.max() > height:
                raise RegionError(
                    f"region {self.name!r} has polygon points outside the {height}×{width} image"
                )
            # pixel (i, j) covers [j, j+1) × [i, i+1): its centre is at index coordinates + 0.5
            return polygon2mask((height, width), np.stack([ys - 0.5, xs - 0.5], axis=1))
        if self.kind == "union":
            a, b = self.data
            return a._raster(height, width) | b._raster(height, width)
        return ~self.data._raster(height, width)

    def to_mask(self, height: int, width: int) -> np.ndarray:
        """The region as an (height, width) boolean mask; an empty region raises RegionError."""
        from pytest_xai._util.validation import positive_int

        fix = "pass the image's (height, width)"
        height, width = positive_int(height, "height", fix), positive_int(width, "width", fix)
        out = self._raster(height, width)
        if not out.any():
            raise RegionError(
                f"region {self.name!r} covers no pixel of the {height}×{width} image; "
                "a metric over an empty region has no meaning — fix the region"
            )
        return out



def _pixel_edge(value: float) -> int:
    """A coordinate rounded half up (floor(x + 0.5)), so a unit-width box covers exactly one
    pixel wherever it lies (Python's round() rounds halves to even: 1.5 and 2.5 both go to 2)."""
    return int(math.floor(value + 0.5))




def _read_mask_png(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L")) > 0
    except (OSError, Image.DecompressionBombError) as e:
        raise RegionError(f"mask file {str(path)!r} could not be read as an image ({e})") from e


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a region (reports write it as UTF-8 text), or None."""
    if not isinstance(name, str):
        return f"the name is of type {type(name).__name__}, not str"
    if not name.strip():
        return "the name is empty"
    if not is_utf8(name):
        return "the name holds a lone surrogate, which no report can write"
    return None


def _label(name: Any, default: str) -> str:
    if name is None:
        return default
    if problem := name_problem(name):
        raise RegionError(f"region name={short(name)}: {problem}; pass a readable name, or none")
    return str(name)


def as_region(region: Any, name: str = "region") -> Region:
    """Accept a Region or a boolean mask array."""
    if isinstance(region, Region):
        return region
    if isinstance(region, np.ndarray):
        return Region.mask(region)
    raise XaiTypeError(
        f"{name} of type {type(region).__name__} is not a Region; use Region.box(...), "
        "Region.mask(...), a boolean (H, W) array or an image's .regions[...]"
    )


def dilate_mask(mask: Any, pixels: int) -> np.ndarray:
    """``mask`` grown by ``pixels`` in every direction (a (2·pixels+1)-square structuring
    element: a pixel joins when some region pixel lies within ``pixels`` rows and columns)."""
    if not is_int(pixels):
        raise XaiTypeError(f"tolerance={short(pixels)} is not an int; pass a whole number of pixels, e.g. 2")
    if pixels < 0:
        raise XaiValueError(f"tolerance={pixels!r} is negative; pass 0 (the region as drawn) or more pixels")
    out = np.asarray(mask, dtype=bool).copy()
    if out.ndim != 2:
        raise RegionError(f"mask has shape {out.shape}; pass a 2-D (H, W) boolean array")
    for _ in range(pixels):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        step = grown.copy()
        step[:, 1:] |= grown[:, :-1]
        step[:, :-1] |= grown[:, 1:]
        out = step
    return out


def touching_segments(mask: Any, segments: Any) -> np.ndarray:
    """Every pixel of the superpixels (``segments``: (H, W) integer labels) that share at least
    one pixel with ``mask``: the region as the explanation's superpixels can see it."""
    mask = np.asarray(mask, dtype=bool)
    labels = np.asarray(segments)
    if labels.shape != mask.shape:
        raise RegionError(
            f"segments have shape {labels.shape} but the mask {mask.shape}; pass the "
            "explanation's own segments"
        )
    return np.isin(labels, np.unique(labels[mask]))


def grown_region(region: Region, shape: tuple[int, int], tolerance: Any, segments: Any = None) -> Region:
    """``region`` grown by ``tolerance``: a number of pixels (``dilate_mask``), or
    ``"superpixels"`` (``touching_segments``; with no ``segments`` the region as drawn)."""
    if is_int(tolerance) and tolerance == 0:
        return region
    mask = region.to_mask(*shape)
    if tolerance == "superpixels":
        if segments is None:
            return region
        return Region.mask(touching_segments(mask, segments), f"{region.name} (superpixels)")
    if isinstance(tolerance, str):
        raise XaiValueError(
            f"tolerance={tolerance!r} is not a tolerance; pass a number of pixels (e.g. 2) or 'superpixels'"
        )
    return Region.mask(dilate_mask(mask, tolerance), f"{region.name} (+{tolerance} px)")
