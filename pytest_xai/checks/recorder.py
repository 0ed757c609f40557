"""The test now running's ``Recorder``: it fills the test's ``records.TestRecord``.

The plugin opens a Recorder around each test; the explain fixture, the assertion helpers and
the snapshot fixture add to its record. The record travels to the controlling process on the
test report (as JSON), so pytest-xdist runs merge like serial ones.

numpy and PIL are imported by the functions that draw or hash, never at load time: the plugin
imports this module at every pytest start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai._util.paths import safe_name
from pytest_xai._util.validation import finite_or_none
from pytest_xai.pictures.encode import png_b64
from pytest_xai.records import (
    CheckResult,
    ClassScore,
    ExplanationEntry,
    GoldenVerdict,
    ImageEntry,
    TestRecord,
)

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.explanation import Explanation
    from pytest_xai.regions import Region

_CURRENT: ContextVar[Recorder | None] = ContextVar("pytest_xai_recorder", default=None)


@dataclass
class Recorder:
    """Builds one test's record: explanations with their overlays and region masses, checks,
    golden verdicts, and fresh paths for the PNGs drawn about the test.

    ``pictures``: draw the images and overlays a report shows (off when no report or
    pytest-html page is written: they cost more than a cached explanation).
    """

    record: TestRecord
    results_dir: Path
    pictures: bool = True
    _pictures: int = 0
    _by_image: dict[str, dict[str, Explanation]] = field(default_factory=dict)  # image key -> method -> exp
    _regions: dict[str, dict[str, Region]] = field(default_factory=dict)  # image key -> name -> Region
    _checked: dict[str, Region] = field(default_factory=dict)  # name -> a region a check judged

    def add_check(self, check: CheckResult, region: Region | None = None) -> None:
        """Record a check; ``region`` the one it judged (kept in this process, so a mutation run
        knows the geometry of a region given in code, not only its name)."""
        self.record.checks.append(check)
        if region is not None:
            self._checked[region.name] = region

    def checked_regions(self) -> dict[str, Region]:
        """The regions this test's checks judged, by name."""
        return dict(self._checked)

    def add_golden(self, verdict: GoldenVerdict) -> None:
        self.record.goldens.append(verdict)

    def count(self, kind: str, n: int = 1) -> None:
        """Add ``n`` to one of the record's counts (computed, cached, disk, stale)."""
        setattr(self.record, kind, getattr(self.record, kind) + n)

    def artifact_path(self, stem: str) -> Path:
        """A fresh path for a PNG about this test under the results directory."""
        self._pictures += 1
        return self.results_dir / safe_name(self.record.nodeid) / f"{self._pictures:02d}-{safe_name(stem)}.png"

    def add_explanation(self, image: Any, exp: Explanation) -> None:
        """Record an explanation the test obtained: its overlay, with the image's named regions
        outlined, the positive mass in each region, and its agreement with the other methods'
        explanations of the same image in this test."""
        if exp.image is None:
            return
        key = image_key(exp.image)
        by_method = self._by_image.setdefault(key, {})
        if by_method.get(exp.method) is exp:
            return  # this test already recorded this very explanation
        by_method[exp.method] = exp
        regions = getattr(image, "regions", None) or {}
        self._regions.setdefault(key, {}).update(regions)
        images = self.record.images
        if key not in images:
            from pytest_xai.pictures import render

            picture = png_b64(render.to_uint8(exp.image)) if self.pictures else None
            images[key] = ImageEntry(image_name(image, exp.image, len(images) + 1), picture, sorted(regions))
        mass, overlay = _region_masses(exp, regions, self.pictures)
        boundaries = exp.boundaries() if self.pictures and exp.segments is not None else None
        entry = ExplanationEntry(
            image=key, method=exp.method, output=exp.output, target=exp.target_name,
            probability=exp.probability, samples=exp.samples, seconds=exp.meta.get("seconds"),
            mass=mass, overlay=None if overlay is None else png_b64(overlay),
            evaluations=exp.meta.get("evaluations"),
            top=[ClassScore(str(name), float(p)) for name, p in exp.meta["top"]] if exp.meta.get("top") else None,
            boundaries=None if boundaries is None else png_b64(boundaries),
        )
        _follow_budget(entry, exp)
        exp.on_grow(lambda grown: _follow_budget(entry, grown))  # a check asked for more rounds
        self.record.explanations.append(entry)
        images[key].agreement = _pairwise_agreement(by_method)

    def explained(self) -> list[tuple[str, Explanation, dict[str, Region]]]:
        """Every explanation recorded, with its image key and the image's named regions."""
        return [(key, exp, self._regions.get(key, {})) for key, by_method in self._by_image.items()
                for exp in by_method.values()]


def _follow_budget(entry: ExplanationEntry, exp: Explanation) -> None:
    """The entry's samples, evaluations, budget, relative error and the checks that asked for more."""
    from pytest_xai._util.validation import finite_or_none

    entry.samples = exp.samples
    entry.evaluations = exp.meta.get("evaluations")
    entry.budget = exp.meta.get("budget")
    entry.fixed_budget = exp.meta.get("fixed_budget")
    entry.relative_error = finite_or_none(exp.relative_error, 4) if exp.relative_error is not None else None
    entry.asked_by = list(exp.meta.get("asked_by", [])) or None


def _region_masses(
    exp: Explanation, regions: dict[str, Any], draw: bool
) -> tuple[dict[str, float | None], np.ndarray | None]:
    """Positive mass per named region, and (``draw``) the overlay with those regions outlined."""
    from pytest_xai.checks import metrics
    from pytest_xai.errors import RegionError
    from pytest_xai.pictures import render

    mass: dict[str, float | None] = {}
    overlay = exp.overlay() if draw else None  # pixel-level maps smoothed for the eye
    for name, region in regions.items():
        try:
            value = metrics.relevance_mass(exp, region)
            if overlay is not None:
                overlay = render.draw_outline(overlay, metrics.region_mask(exp, region))
        except RegionError:
            continue  # a region that does not fit this image: nothing to measure
        mass[name] = finite_or_none(value, 4)  # JSON has no NaN
    return mass, overlay


def _pairwise_agreement(by_method: dict[str, Explanation]) -> dict[str, dict[str, float | None]]:
    """Spearman and top-k IoU between each pair of methods that explained one image."""
    from pytest_xai.checks import metrics

    rows = {}
    methods = sorted(by_method)
    for i, a in enumerate(methods):
        for b in methods[i + 1 :]:
            found = metrics.agreement(by_method[a], by_method[b])
            rows[f"{a} vs {b}"] = {"spearman": finite_or_none(found.spearman, 4), "top_k_iou": finite_or_none(found.top_k_iou, 4)}
    return rows


def picture_path(stem: str) -> Path:
    """Where a failure picture goes: the running test's results folder, else numbered files in
    the default results folder."""
    from pytest_xai.defaults import DEFAULT_RESULTS_DIR

    recorder = current()
    if recorder is not None:
        return recorder.artifact_path(stem)
    folder = Path(DEFAULT_RESULTS_DIR)
    index = len(list(folder.glob("*.png"))) + 1 if folder.is_dir() else 1
    return folder / f"{index:02d}-{safe_name(stem)}.png"


def current() -> Recorder | None:
    """The record of the test now running, if the plugin is active."""
    return _CURRENT.get()


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    token = _CURRENT.set(recorder)
    try:
        yield recorder
    finally:
        _CURRENT.reset(token)



def image_key(image: np.ndarray) -> str:
    """A content hash of an image, used to group a test's explanations by image."""
    from pytest_xai._util.digest import array_sha256

    return array_sha256(image)[:12]


def file_name(array: np.ndarray) -> str | None:
    """The file ``load_image`` (or ``xai_image``) read this image from in this process, if any."""
    from pytest_xai.images import loaded_name

    return loaded_name(array)


def image_name(image: Any, array: np.ndarray, index: int) -> str:
    """What the report calls an image: its file name (a test image's, or the file
    ``load_image`` read it from), else "image k (H×W)" for an array made in the test."""
    name = getattr(image, "name", None) or file_name(array)
    return str(name) if name else f"image {index} ({array.shape[0]}×{array.shape[1]})"
