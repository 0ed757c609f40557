"""Golden explanations: where they live, how they are stored and how they are compared.

Storage sits behind ``Serializer``: a new format is a subclass with ``extension``, ``dump``
and ``load``. Comparison is by rank and region agreement, not raw pixels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from pytest_xai import metrics, render
from pytest_xai._record import safe_name
from pytest_xai.explanation import Explanation

# Defaults measured with benchmarks/golden_tolerance.py (README, "Choosing tolerances"): the
# clean model re-explained with 5 other seeds gave Spearman >= 0.82 and top-20% IoU >= 0.70
# (worst of 3 images x 3 methods; a golden keeps its seed, so real run-to-run variation is
# far smaller), while the shortcut model gave at most 0.44 and 0.46.
DEFAULT_MIN_SPEARMAN = 0.7
DEFAULT_MIN_TOP_K_IOU = 0.55
COMPARED_PARAMS = ("method", "output", "samples", "segmentation", "n_segments", "baseline", "local_smoothing")


class Serializer(ABC):
    """Reads and writes one golden explanation."""

    extension: ClassVar[str]

    @abstractmethod
    def dump(self, explanation: Explanation, path: Path) -> None:
        """Write ``explanation`` to ``path`` atomically."""

    @abstractmethod
    def load(self, path: Path) -> Explanation:
        """Read an explanation; raise SnapshotError if the file is not a valid golden."""


class NpzSerializer(Serializer):
    """Compressed .npz, loaded with ``allow_pickle=False``."""

    extension = ".npz"

    def dump(self, explanation: Explanation, path: Path) -> None:
        explanation.save(path)

    def load(self, path: Path) -> Explanation:
        return Explanation.load(path)


@dataclass
class SnapshotStore:
    """Locates goldens beside the tests: ``<dir>/<module>/<test>[params][.<name>].npz``."""

    dirname: str = "__xai_snapshots__"
    serializer: Serializer = field(default_factory=NpzSerializer)

    def module_dir(self, test_file: Path) -> Path:
        return test_file.parent / self.dirname / test_file.stem

    def path_for(self, test_file: Path, test_name: str, name: str | None) -> Path:
        stem = safe_name(test_name) + ("" if name is None else "." + safe_name(name))
        return self.module_dir(test_file) / (stem + self.serializer.extension)

    def goldens(self, test_file: Path) -> list[Path]:
        folder = self.module_dir(test_file)
        return sorted(folder.glob("*" + self.serializer.extension)) if folder.is_dir() else []

    def owner(self, golden: Path, test_names: list[str]) -> str | None:
        """The test (by name) a golden file belongs to, if any; the longest match wins."""
        stem = golden.name[: -len(self.serializer.extension)]
        best = None
        for test in test_names:
            safe = safe_name(test)
            if (stem == safe or stem.startswith(safe + ".")) and (best is None or len(test) > len(best)):
                best = test
        return best

    def write(self, explanation: Explanation, path: Path) -> None:
        """Write the golden and its .png preview (image | overlay | lime boundaries)."""
        self.serializer.dump(explanation, path)
        render.save_png(preview(explanation), path.with_suffix(".png"))

    def delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        path.with_suffix(".png").unlink(missing_ok=True)


def preview(exp: Explanation) -> np.ndarray:
    """The picture reviewed in code review: the image, the overlay, and lime's boundaries."""
    pictures = [exp.overlay()]
    if exp.image is not None:
        pictures.insert(0, render.to_uint8(exp.image))
        if exp.weights is not None:
            pictures.append(exp.boundaries())
    return render.side_by_side(pictures)


def params_mismatch(golden: Explanation, actual: Explanation) -> list[str]:
    """The reproduction parameters that differ between a golden and a new explanation."""
    out = []
    for key in COMPARED_PARAMS:
        g, a = golden.params.get(key), actual.params.get(key)
        if isinstance(g, list):
            g = tuple(g)
        if isinstance(a, list):
            a = tuple(a)
        if g != a:
            out.append(f"{key}: golden {g!r}, now {a!r}")
    if golden.heatmap.shape != actual.heatmap.shape:
        out.append(f"image size: golden {golden.heatmap.shape}, now {actual.heatmap.shape}")
    return out


@dataclass
class Comparison:
    """The outcome of comparing an explanation with its golden."""

    passed: bool
    reasons: list[str]
    spearman: float | None = None
    top_k_iou: float | None = None


def compare(golden: Explanation, actual: Explanation, min_spearman: float, min_top_k_iou: float) -> Comparison:
    """Same target class, Spearman ≥ ``min_spearman`` and top-20% IoU ≥ ``min_top_k_iou``."""
    if golden.target != actual.target:
        return Comparison(False, [
            f"prediction changed: golden explains {golden.target_name!r} (p={golden.probability:.3f}), "
            f"now {actual.target_name!r} (p={actual.probability:.3f})"
        ])
    rho, iou, reasons = agreement(golden, actual, min_spearman, min_top_k_iou)
    return Comparison(not reasons, reasons, rho, iou)


def agreement(
    a: Explanation, b: Explanation, min_spearman: float, min_top_k_iou: float | None
) -> tuple[float, float | None, list[str]]:
    """Spearman and (when bounded) top-20% IoU of two explanations, and the bounds they miss."""
    rho = metrics.spearman(a, b)
    iou = None if min_top_k_iou is None else metrics.top_k_iou(a, b, 0.2)
    reasons = []
    if rho < min_spearman:
        reasons.append(f"Spearman {rho:.3f} < min_spearman {min_spearman:.3f}")
    if iou is not None and min_top_k_iou is not None and iou < min_top_k_iou:
        reasons.append(f"top-20% IoU {iou:.3f} < min_top_k_iou {min_top_k_iou:.3f}")
    return rho, iou, reasons


def determinism_note(golden: Explanation, actual: Explanation) -> str:
    """Say whether the two runs should be bit-exact or only within tolerance."""
    keys = ("device", "torch", "pytest_xai")
    g = {k: golden.meta.get(k) for k in keys}
    a = {k: actual.meta.get(k) for k in keys}
    if g == a and str(a["device"]).startswith("cpu"):
        same = ", ".join(f"{k} {v}" for k, v in a.items())
        return f"golden and run share {same}: CPU results are bit-exact, so this is real drift"
    changed = ", ".join(f"{k} {g[k]} -> {a[k]}" for k in keys if g[k] != a[k]) or "a GPU device"
    return f"environment differs ({changed}): small differences are expected, beyond tolerance is drift"


def difference_picture(golden: Explanation, actual: Explanation) -> np.ndarray:
    """Actual minus expected, each scaled to its largest |value|, as an overlay."""
    def unit(h: np.ndarray) -> np.ndarray:
        peak = float(np.abs(h).max())
        return h / peak if peak > 0 else h

    diff = unit(actual.heatmap.astype(np.float64)) - unit(golden.heatmap.astype(np.float64))
    return render.overlay(diff, actual.image, scale=2.0)
