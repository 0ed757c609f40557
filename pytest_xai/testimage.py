"""Images for tests: loaded from a folder, with named regions from a validated sidecar JSON."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from pytest_xai.errors import XaiError, XaiValueError
from pytest_xai.images import load_image
from pytest_xai.regions import Region
from pytest_xai.validation import is_number, short

KINDS = ("box", "mask", "polygon")


@dataclass(eq=False)
class TestImage:
    """An image (H×W×3 float32 in [0, 1]) with its name, path and named ``regions``.

    It behaves as an array (``np.asarray(image)``) and can be passed to ``explain`` as is.
    """

    __test__ = False

    array: np.ndarray
    name: str
    path: Path | None = None
    regions: dict[str, Region] = field(default_factory=dict)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def __repr__(self) -> str:
        return f"TestImage({self.name!r}, {self.array.shape[0]}×{self.array.shape[1]}, regions={list(self.regions)})"


def sidecar_path(image_path: Path) -> Path:
    return image_path.with_name(image_path.stem + ".regions.json")


def parse_regions(data: Any, source: Path, height: int, width: int) -> dict[str, Region]:
    """Validate a sidecar document and build its regions (each rasterised once to check it).

    Schema: ``{name: {"box": [x0, y0, x1, y1]} | {"mask": "file.png"} | {"polygon": [[x, y], ...]}}``.
    Every error names the file and the region; a mask file must lie inside the sidecar's folder.
    """
    if not isinstance(data, dict):
        raise XaiValueError(f"{source}: the top level must be an object {{name: region}}, got {type(data).__name__}")
    regions = {}
    for name, spec in data.items():
        where = f"{source}: region {name!r}"
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise XaiValueError(f"{where} must be an object with exactly one key of {KINDS}, got {short(spec)}")
        kind, value = next(iter(spec.items()))
        try:
            region = _build(kind, value, name, source.parent)
            region.to_mask(height, width)
        except XaiError as e:
            named = str(e).startswith(f"region {name!r}")  # Region's own errors name it already
            raise type(e)(f"{source}: {e}" if named else f"{where}: {e}") from e
        regions[name] = region
    return regions


def _build(kind: str, value: Any, name: str, folder: Path) -> Region:
    """One region of a sidecar from its kind and JSON value."""
    if kind == "box":
        if not (isinstance(value, list) and len(value) == 4 and all(is_number(v) for v in value)):
            raise XaiValueError(f"box must be [x0, y0, x1, y1] numbers, got {short(value)}")
        x0, y0, x1, y1 = value
        return Region.box(x0, y0, x1, y1, name=name)
    if kind == "mask":
        if not isinstance(value, str) or not value:
            raise XaiValueError(f"mask must be a PNG file name, got {short(value)}")
        return Region.mask(_inside(folder, value), name=name)
    if not (
        isinstance(value, list)
        and all(isinstance(p, list) and len(p) == 2 and all(is_number(c) for c in p) for p in value)
    ):
        raise XaiValueError(f"polygon must be [[x, y], ...] numbers, got {short(value)}")
    return Region.polygon(value, name=name)


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused unless it stays inside ``folder`` (no ``..``, no absolute
    path, no link leading out): a sidecar must not read files elsewhere on the machine."""
    relative = PurePath(name)
    if relative.is_absolute() or os.path.isabs(name) or ".." in relative.parts:
        raise XaiValueError(
            f"mask={name!r} must be a file name relative to the images folder {str(folder)!r}, "
            "without '..' or an absolute path"
        )
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):
        raise XaiValueError(f"mask={name!r} leads outside the images folder {str(folder)!r} (a link?)")
    return path




def load_test_image(path: Path, size: int | tuple[int, int] | None = None) -> TestImage:
    """Load ``path`` and its ``<stem>.regions.json`` sidecar, if there is one.

    Sidecar coordinates are in the file's own pixels; with ``size`` the image is resized and
    each region is rasterised at the file's size and resized with it (nearest neighbour).
    """
    array = load_image(path, size)
    regions: dict[str, Region] = {}
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text())
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
            why = "it is nested too deeply" if isinstance(e, RecursionError) else str(e)
            raise XaiValueError(f"{sidecar} is not valid JSON ({why}); fix or delete it") from e
        height, width = _file_size(path) if size is not None else array.shape[:2]
        regions = parse_regions(data, sidecar, height, width)
        if (height, width) != array.shape[:2]:
            regions = {name: _resized(region, (height, width), array.shape[:2], sidecar)
                       for name, region in regions.items()}
    return TestImage(array, path.name, path, regions)


def _file_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header."""
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width


def _resized(region: Region, source: tuple[int, int], target: tuple[int, int], sidecar: Path) -> Region:
    """``region`` drawn at the ``source`` size, as a mask at the ``target`` size."""
    from PIL import Image

    mask = Image.fromarray(region.to_mask(*source).astype(np.uint8) * 255)
    resized = np.asarray(mask.resize((target[1], target[0]), Image.Resampling.NEAREST)) > 127
    if not resized.any():
        raise XaiValueError(
            f"{sidecar}: region {region.name!r} covers no pixel once the image is resized from "
            f"{source[0]}×{source[1]} to {target[0]}×{target[1]}; use a larger size= or a larger region"
        )
    return Region.mask(resized, name=region.name)
