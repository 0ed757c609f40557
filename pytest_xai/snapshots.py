"""Golden explanations: where they live, how they are stored and how they are compared.

Storage sits behind ``Serializer``: a new format is a subclass with ``extension``, ``dump``
and ``load``. Comparison is by rank and region agreement, not raw pixels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytest

from pytest_xai import _record, metrics, render
from pytest_xai._record import safe_name
from pytest_xai.errors import SnapshotError, XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation

if TYPE_CHECKING:
    from pytest_xai.session import XaiSession

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


class SnapshotFixture:
    """``xai_snapshot.assert_match(explanation, name=None, *, min_spearman=None, min_top_k_iou=None)``.

    Compares the explanation with this test's golden by rank and region agreement, plus the
    same target class. Goldens are written only with ``--xai-update`` and never in CI mode.
    """

    def __init__(self, xai: XaiSession, item: pytest.Item, record: _record.TestRecord | None) -> None:
        self.xai = xai
        self.item = item
        self.record = record
        self.used: set[Path] = set()

    def path(self, name: str | None = None) -> Path:
        """Where the golden for ``name`` lives."""
        return self.xai.store.path_for(Path(self.item.path), self.item.name, name)

    def assert_match(
        self, explanation: Any, name: str | None = None, *,
        min_spearman: float | None = None, min_top_k_iou: float | None = None,
    ) -> None:
        """Fail unless ``explanation`` agrees with its golden (see the class docstring)."""
        __tracebackhide__ = True
        if not isinstance(explanation, Explanation):
            raise XaiTypeError(
                f"explanation of type {type(explanation).__name__} is not an Explanation; pass explain(...)'s result"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise XaiValueError(f"name={name!r} must be a non-empty string or None")
        s_bound = self.xai.settings.min_spearman if min_spearman is None else float(min_spearman)
        i_bound = self.xai.settings.min_top_k_iou if min_top_k_iou is None else float(min_top_k_iou)
        path = self.path(name)
        if path in self.used:
            raise XaiValueError(
                f"assert_match used golden {path.name} twice in one test; give each call its own name="
            )
        self.used.add(path)
        settings = self.xai.settings
        rel = self._rel(path)

        def outcome(state: str, **extra: Any) -> None:
            if self.record is not None:
                self.record.goldens.append({"path": str(path), "name": rel, "state": state, **extra})

        def rewritten(**extra: Any) -> bool:
            """With --xai-update (=all, outside CI) queue the new golden instead of failing."""
            if not settings.can_update:
                return False
            self.xai.queue_write(path, explanation, "updated")
            outcome("updated", **extra)
            return True

        if not path.exists():
            if settings.can_write:
                self.xai.queue_write(path, explanation, "written")
                outcome("written")
                return
            outcome("failed", reason="missing")
            why = f" (CI mode, {settings.ci_reason}: nothing is written)" if settings.ci else ""
            raise AssertionError(
                f"no golden for {self.item.name}{'' if name is None else f' ({name})'} at {rel}{why}\n"
                "  run pytest --xai-update to create it, then review and commit the .npz and .png"
            )
        try:
            golden = self.xai.store.serializer.load(path)
        except SnapshotError as e:
            if rewritten():
                return
            outcome("failed", reason="unreadable")
            raise AssertionError(f"golden {rel} cannot be used: {e}") from None
        differs = params_mismatch(golden, explanation)
        if differs:
            if rewritten():
                return
            outcome("failed", reason="params")
            raise AssertionError(
                f"golden {rel} was made with other parameters; comparing them would mean nothing:\n  "
                + "\n  ".join(differs)
                + "\n  fix: call explain with the golden's parameters, or run pytest --xai-update to re-record it"
            )
        result = compare(golden, explanation, s_bound, i_bound)
        metrics_entry = {"spearman": result.spearman, "top_k_iou": result.top_k_iou,
                         "min_spearman": s_bound, "min_top_k_iou": i_bound}
        if self.record is not None:
            for key in ("spearman", "top_k_iou"):
                value = metrics_entry[key]
                if value is not None:
                    self.record.properties.append((f"xai_golden_{key}", round(value, 6)))
        if result.passed:
            outcome("passed", **metrics_entry)
            return
        if rewritten(**metrics_entry):
            return
        pictures = self._mismatch_pictures(golden, explanation, path)
        outcome("failed", reason="drift", pictures={k: str(v) for k, v in pictures.items()},
                expected_png=_record.png_b64(golden.overlay()),
                actual_png=_record.png_b64(explanation.overlay()),
                diff_png=_record.png_b64(difference_picture(golden, explanation)),
                **metrics_entry)
        raise AssertionError(
            f"explanation drifted from golden {rel}:\n  "
            + "\n  ".join(result.reasons)
            + f"\n  golden: method={golden.method} target={golden.target_name!r} model={str(golden.meta.get('model'))[:12]}"
            + f"\n  now:    method={explanation.method} target={explanation.target_name!r} model={str(explanation.meta.get('model'))[:12]}"
            + f"\n  {determinism_note(golden, explanation)}"
            + "".join(f"\n  {k}: {v}" for k, v in pictures.items())
            + "\n  if the change is intended: pytest --xai-update, then review the .png preview"
        )

    def _mismatch_pictures(self, golden: Any, actual: Any, path: Path) -> dict[str, Path]:
        folder = self.xai.settings.results_dir / _record.safe_name(self.item.nodeid)
        stem = path.stem
        return {
            "expected": render.save_png(golden.overlay(), folder / f"{stem}.expected.png"),
            "actual": render.save_png(actual.overlay(), folder / f"{stem}.actual.png"),
            "difference": render.save_png(difference_picture(golden, actual), folder / f"{stem}.diff.png"),
        }

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.item.config.rootpath))
        except ValueError:
            return str(path)
