"""Images for tests: loaded from a folder, with named regions from a validated sidecar JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai.errors import RegionError, XaiValueError
from pytest_xai.images import load_image
from pytest_xai.regions import Region

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
    """
    if not isinstance(data, dict):
        raise XaiValueError(f"{source}: the top level must be an object {{name: region}}, got {type(data).__name__}")
    regions = {}
    for name, spec in data.items():
        where = f"{source}: region {name!r}"
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise XaiValueError(f"{where} must be an object with exactly one key of {KINDS}, got {spec!r}")
        kind, value = next(iter(spec.items()))
        if kind == "box":
            if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise XaiValueError(f"{where}: box must be [x0, y0, x1, y1] numbers, got {value!r}")
            x0, y0, x1, y1 = value
            region = Region.box(x0, y0, x1, y1, name=name)
        elif kind == "mask":
            if not isinstance(value, str):
                raise XaiValueError(f"{where}: mask must be a PNG file name, got {value!r}")
            region = Region.mask(source.parent / value, name=name)
        else:
            if not (isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value)):
                raise XaiValueError(f"{where}: polygon must be [[x, y], ...], got {value!r}")
            region = Region.polygon(value, name=name)
        try:
            region.to_mask(height, width)
        except RegionError as e:
            raise RegionError(f"{source}: {e}") from e
        regions[name] = region
    return regions


def load_test_image(path: Path, size: int | tuple[int, int] | None = None) -> TestImage:
    """Load ``path`` and its ``<stem>.regions.json`` sidecar, if there is one."""
    array = load_image(path, size)
    regions: dict[str, Region] = {}
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise XaiValueError(f"{sidecar} is not valid JSON ({e}); fix or delete it") from e
        regions = parse_regions(data, sidecar, array.shape[0], array.shape[1])
    return TestImage(array, path.name, path, regions)
