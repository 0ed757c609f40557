"""Images for tests: loaded from a folder, with named regions from a validated sidecar JSON."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from pytest_xai._util.validation import is_number, short
from pytest_xai.errors import XaiError, XaiValueError
from pytest_xai.images import Fit, fit_size, load_image
from pytest_xai.regions import Region, name_problem

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
        problem = name_problem(name)
        if problem:
            raise XaiValueError(f"{where}: {problem}; rename it in the sidecar")
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


class _Twice(ValueError):
    """A key given twice in one JSON object (``json`` would silently keep the last)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Twice(key)
        found[key] = value
    return found


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




def load_test_image(
    path: Path, size: int | tuple[int, int] | None = None, resize: str = "crop"
) -> TestImage:
    """Load ``path`` and its ``<stem>.regions.json`` sidecar, if there is one.

    ``size`` and ``resize`` are ``load_image``'s: by default the image is scaled to cover
    ``size`` keeping its aspect ratio, then centre-cropped. Sidecar coordinates are in the
    file's own pixels, and the regions follow the image exactly: a box is scaled, shifted by
    the crop and clipped to it (it stays a box); a mask or polygon is drawn at the file's size
    and resampled to the image's pixels (nearest neighbour: each output pixel takes the file
    pixel under its centre, the rule that also places a box's edges, so a mask equal to a box
    keeps the box's pixels). A region that the crop leaves no pixel of is an error.
    """
    array = load_image(path, size, resize)
    regions: dict[str, Region] = {}
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text(), object_pairs_hook=_no_duplicates)
        except _Twice as e:
            raise XaiValueError(
                f"{sidecar}: {e.args[0]!r} is given twice in one object (JSON would keep only the "
                "last); give each region its own name, and each region one shape"
            ) from None
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
            why = "it is nested too deeply" if isinstance(e, RecursionError) else str(e)
            raise XaiValueError(f"{sidecar} is not valid JSON ({why}); fix or delete it") from e
        height, width = _file_size(path) if size is not None else array.shape[:2]
        regions = parse_regions(data, sidecar, height, width)
        fit = fit_size((height, width), array.shape[:2], resize)
        if not fit.identity:
            regions = {name: _fitted(region, fit, sidecar) for name, region in regions.items()}
    return TestImage(array, path.name, path, regions)


def _file_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header."""
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width


def _fitted(region: Region, fit: Fit, sidecar: Path) -> Region:
    """``region``, drawn at the file's size, moved onto the resized image's pixels."""
    (height, width), (th, tw) = fit.source, fit.target
    if region.kind == "box":
        x0, y0, x1, y1 = region.data
        edges = (fit.edge(x0, 1), fit.edge(y0, 0), fit.edge(x1, 1), fit.edge(y1, 0))
        empty = not (edges[2] > edges[0] and edges[3] > edges[1])
        moved = None if empty else Region.box(*edges, name=region.name)
    else:
        mask = region.to_mask(height, width)[np.ix_(fit.source_rows(), fit.source_cols())]
        moved = Region.mask(mask, name=region.name) if mask.any() else None
    if moved is None:
        cropped = fit.scaled != fit.target
        how = f" (scaled to {fit.scaled[0]}×{fit.scaled[1]}, then centre-cropped)" if cropped else ""
        fix = "resize='squash' to keep the whole image, " if cropped else ""
        raise XaiValueError(
            f"{sidecar}: region {region.name!r} covers no pixel once the image is resized from "
            f"{height}×{width} to {th}×{tw}{how}; use {fix}a larger size= or a larger region"
        )
    return moved
