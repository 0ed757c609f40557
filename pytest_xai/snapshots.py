"""Golden explanations: where they live, how they are stored, and how a new explanation is
judged against its golden.

Storage sits behind ``Serializer``: a new format is a subclass with ``extension``, ``dump``
and ``load``. ``SnapshotStore.judge`` runs the whole missing / unreadable / parameters-differ /
compare / update flow once and returns a ``GoldenVerdict``; the fixture records it, queues the
write it asks for and raises with its message (pytest-regressions' perform_regression_check,
syrupy's AssertionResult).

Two comparison modes. "release" (default) asks whether the evidence is still where it was:
same target class and an evidence shift (earth mover's distance of the positive mass) within
``max_shift``; a retrained model that reads the same object passes, one that moved to a tag
fails. "strict" asks whether one and the same model still explains the same way (a new GPU, a
torch upgrade): Spearman and top-20% IoU of the ranking.

The plugin imports the store's path logic at start-up: numpy, PIL and the metrics are imported
inside the functions that compare or draw, never at load time.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_xai import vocabulary as vocab
from pytest_xai._record import rel_path, safe_name
from pytest_xai.errors import SnapshotError, XaiTypeError, XaiValueError

if TYPE_CHECKING:
    import numpy as np
    import pytest

    from pytest_xai._record import TestRecord
    from pytest_xai.explanation import Explanation
    from pytest_xai.session import XaiSession
    from pytest_xai.settings import Settings

COMPARED_PARAMS = ("method", "output", "samples", "segmentation", "n_segments", "baseline", "local_smoothing")
UPDATE_HINT = "if the change is intended: pytest --xai-update, then review the .png preview"


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
    """Compressed .npz, loaded with ``allow_pickle=False``, known members only."""

    extension = ".npz"

    def dump(self, explanation: Explanation, path: Path) -> None:
        explanation.save(path)

    def load(self, path: Path) -> Explanation:
        from pytest_xai.explanation import Explanation

        return Explanation.load(path)


# -- what a comparison is judged by -------------------------------------------------------------


def _bound(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise XaiValueError(f"{name}={value!r} must be a number in [{low:g}, {high:g}]")  # NaN too
    return float(value)


@dataclass(frozen=True)
class Bounds:
    """The comparison mode and its bounds (only the mode's own bounds are used)."""

    mode: str = vocab.DEFAULT_GOLDEN_MODE
    max_shift: float = vocab.DEFAULT_MAX_SHIFT
    min_spearman: float = vocab.DEFAULT_MIN_SPEARMAN
    min_top_k_iou: float = vocab.DEFAULT_MIN_TOP_K_IOU
    max_support_loss: float = vocab.DEFAULT_MAX_SUPPORT_LOSS

    @classmethod
    def resolve(
        cls, settings: Any, *, method: str | None = None, mode: Any = None, max_shift: Any = None,
        min_spearman: Any = None, min_top_k_iou: Any = None, max_support_loss: Any = None,
    ) -> Bounds:
        """The call's mode and bounds over the session's (ini ``xai_golden_mode``,
        ``xai_max_shift``, ...) over the defaults (per ``method`` for ``max_shift``), validated.
        A bound of the other mode is an error, not ignored."""
        chosen = settings.golden_mode if mode is None else mode
        if chosen not in vocab.GOLDEN_MODES:
            raise XaiValueError(
                f"mode={chosen!r} is not a golden mode; use 'release' (where the evidence is, "
                "for a new model) or 'strict' (rank agreement, for the same model elsewhere)"
            )
        given = {"max_shift": max_shift, "min_spearman": min_spearman, "min_top_k_iou": min_top_k_iou,
                 "max_support_loss": max_support_loss}
        foreign = ("min_spearman", "min_top_k_iou") if chosen == "release" else ("max_shift", "max_support_loss")
        for key in foreign:
            if given[key] is not None:
                other = "strict" if chosen == "release" else "release"
                raise XaiValueError(
                    f"{key}={given[key]!r} bounds mode={other!r}, but this golden is compared in "
                    f"mode={chosen!r}; pass mode={other!r} too, or drop {key}"
                )
        defaults = {
            "max_shift": default_max_shift(settings, method),
            "max_support_loss": vocab.DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD.get(method or "", vocab.DEFAULT_MAX_SUPPORT_LOSS),
            "min_spearman": settings.min_spearman,
            "min_top_k_iou": settings.min_top_k_iou,
        }

        def pick(key: str, low: float) -> float:
            return _bound(defaults[key] if given[key] is None else given[key], key, low, 1.0)

        return cls(chosen, pick("max_shift", 0.0), pick("min_spearman", -1.0), pick("min_top_k_iou", 0.0),
                   pick("max_support_loss", 0.0))

    def as_dict(self) -> dict[str, float]:
        """The bounds this mode checks, named after their measure (``max_``/``min_`` + measure)."""
        if self.mode == "release":
            return {"max_evidence_shift": self.max_shift, "max_support_loss": self.max_support_loss}
        return {"min_spearman": self.min_spearman, "min_top_k_iou": self.min_top_k_iou}


def default_max_shift(settings: Any, method: str | None) -> float:
    """ini ``xai_max_shift`` when set, else the method's measured default, else the global one."""
    if settings.max_shift is not None:
        return float(settings.max_shift)
    return vocab.DEFAULT_MAX_SHIFT_BY_METHOD.get(method or "", vocab.DEFAULT_MAX_SHIFT)


@dataclass
class GoldenVerdict:
    """What one golden comparison decided and why; the test record, the report and the
    failure message all come from it.

    ``state`` is one of ``vocabulary.GOLDEN_STATES``. ``reason`` says why a golden failed or
    was (re)written: "missing", "unreadable", "owner" (recorded by another test file sharing the
    folder), "params", "no_evidence" (the new explanation
    carries no positive evidence, ``metrics.no_evidence``), "prediction" or "drift"; None when
    it passed. ``measures`` (e.g. ``evidence_shift``, ``new_mass``) hold None where a value was not
    measured or not a number, so the record is strict JSON; ``bounds`` are keyed ``max_`` or
    ``min_`` + the measure. ``message`` is the failure text, or a one-line summary.
    ``pictures`` are the expected / actual / difference PNGs written on drift.
    """

    path: str
    name: str
    state: str
    reason: str | None
    mode: str
    measures: dict[str, float | None] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    message: str = ""
    pictures: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    def to_record(self) -> dict[str, Any]:
        """The JSON-safe record entry (``asdict``)."""
        return asdict(self)


# -- comparing a golden with a new explanation ---------------------------------------------------


def params_mismatch(golden: Explanation, actual: Explanation) -> list[str]:
    """The reproduction parameters that differ between a golden and a new explanation.

    Precision is not among them: a golden made at another precision is compared like one made
    on another device (see ``determinism_note``).
    """
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
    """The outcome of comparing an explanation with its golden under one mode."""

    reason: str | None  # None (within bounds), "prediction" or "drift"
    measures: dict[str, float | None]
    findings: list[str]  # what was measured against what, in words
    summary: str = ""  # the measures against their bounds, on one line

    @property
    def passed(self) -> bool:
        return self.reason is None


def _number(value: float | None) -> float | None:
    """A measure for the record: None when missing or not finite (strict JSON)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _within(value: float, bound: float, upper: bool) -> bool:
    """``value`` within ``bound``; NaN never is."""
    return value <= bound if upper else value >= bound


def compare(golden: Explanation, actual: Explanation, bounds: Bounds) -> Comparison:
    """Same target class, then the mode's measures against their bounds."""
    if golden.target != actual.target or golden.target_name != actual.target_name:
        empty: dict[str, float | None] = dict.fromkeys(_measure_names(bounds.mode))
        changed = (
            f"prediction changed: golden explains {golden.target_name!r} (p={golden.probability:.3f}), "
            f"now {actual.target_name!r} (p={actual.probability:.3f})"
        )
        return Comparison("prediction", empty, [changed], changed)
    if bounds.mode == "release":
        return compare_release(golden, actual, bounds.max_shift, bounds.max_support_loss)
    return compare_strict(golden, actual, bounds.min_spearman, bounds.min_top_k_iou)


def _measure_names(mode: str) -> tuple[str, ...]:
    return ("evidence_shift", "support_loss", "new_mass") if mode == "release" else ("spearman", "top_k_iou")


def compare_strict(golden: Explanation, actual: Explanation, min_spearman: float, min_top_k_iou: float) -> Comparison:
    """Spearman ≥ ``min_spearman`` and top-20% IoU ≥ ``min_top_k_iou`` (NaN fails)."""
    from pytest_xai import metrics

    found = metrics.agreement(golden, actual)
    why = _why_undefined(golden, actual)
    findings = [
        _compared("Spearman", found.spearman, "min_spearman", min_spearman, upper=False, why=why),
        _compared(f"top-{vocab.TOP_K_FRACTION:.0%} IoU", found.top_k_iou, "min_top_k_iou", min_top_k_iou,
                  upper=False, why=why),
    ]
    ok = _within(found.spearman, min_spearman, False) and _within(found.top_k_iou, min_top_k_iou, False)
    measures = {"spearman": _number(found.spearman), "top_k_iou": _number(found.top_k_iou)}
    return Comparison(None if ok else "drift", measures, findings, "; ".join(findings))


def _why_undefined(golden: Explanation, actual: Explanation) -> str:
    """Why a measure of the two is NaN: a side without evidence, else NaN or inf values."""
    from pytest_xai import metrics

    sides = [
        f"{side} has {why}" for side, exp in (("the golden", golden), ("the new explanation", actual))
        if (why := metrics.no_evidence(exp))
    ]
    return "; ".join(sides) or "a heatmap holds NaN or inf"


def _compared(label: str, value: float, bound_name: str, bound: float, upper: bool, why: str = "") -> str:
    if value != value:
        return f"{label} is not a number ({why or 'a heatmap holds NaN or inf'}): it cannot meet {bound_name} {bound:.3f}"
    ok = _within(value, bound, upper)
    sign = {(True, True): "<=", (True, False): ">", (False, True): ">=", (False, False): "<"}[(upper, ok)]
    return f"{label} {value:.3f} {sign} {bound_name} {bound:.3f}"


def compare_release(
    golden: Explanation, actual: Explanation, max_shift: float, max_support_loss: float = vocab.DEFAULT_MAX_SUPPORT_LOSS
) -> Comparison:
    """Evidence shift ≤ ``max_shift`` and support loss ≤ ``max_support_loss`` (NaN fails either);
    the findings say which failed and where the evidence went."""
    from pytest_xai import metrics

    shift = metrics.evidence_shift(golden, actual)
    loss = metrics.support_loss(golden, actual)
    _, new_mass = metrics.gained_cells(golden, actual)
    why = _why_undefined(golden, actual)
    shift_text = _compared("evidence shift", shift, "max_shift", max_shift, upper=True, why=why)
    loss_text = _compared("support loss", loss, "max_support_loss", max_support_loss, upper=True, why=why)
    summary = f"{shift_text}; {loss_text}"
    findings = [shift_text]
    if shift == shift:
        findings[0] += (
            f": the positive evidence moved {shift:.0%} of the image diagonal (earth mover's "
            f"distance on a {metrics.EVIDENCE_GRID}-cell grid)"
        )
        if metrics.no_evidence(golden) or metrics.no_evidence(actual):
            findings[0] += f" because {why}"
    if loss == loss:
        loss_text += (
            f": {loss:.0%} of the new positive mass lies outside the cells holding "
            f"{vocab.EVIDENCE_SUPPORT:.0%} of the golden's"
        )
    findings.append(loss_text)
    findings.append(_centre_move(golden, actual))
    if new_mass == new_mass:
        findings.append(
            f"{new_mass:.0%} of the new positive mass lies in cells where the golden had almost none "
            f"(< {vocab.GAINED_CELL_FRACTION:.0%} of its fullest cell; outlined in the difference picture)"
        )
    ok = _within(shift, max_shift, True) and _within(loss, max_support_loss, True)
    measures = {"evidence_shift": _number(shift), "support_loss": _number(loss), "new_mass": _number(new_mass)}
    return Comparison(None if ok else "drift", measures, findings, summary)


def _centre_move(golden: Explanation, actual: Explanation) -> str:
    """Where the positive mass centre went, as pixel positions and in words."""
    from pytest_xai import metrics

    height, width = golden.heatmap.shape
    before, after = metrics.mass_centre(golden), metrics.mass_centre(actual)
    if before is None or after is None:
        which = "the golden" if before is None else "the new explanation"
        return f"{which} has no positive evidence, so it has no mass centre"
    (x0, y0), (x1, y1) = before, after
    move = (
        f"its mass centre moved from (x, y) = ({x0:.0f}, {y0:.0f}) to ({x1:.0f}, {y1:.0f}) px, "
        f"{direction(x1 - x0, y1 - y0, width, height)}"
    )
    return move + f"; it now lies in the {area(x1, y1, width, height)} of the {width}×{height} image"


def direction(dx: float, dy: float, width: int, height: int) -> str:
    """A move in image coordinates (y down) in words: "to the right", "towards the top-left
    corner", ...; "a negligible move" below 2% of the diagonal."""
    if math.hypot(dx, dy) < 0.02 * math.hypot(width, height):
        return "a negligible move (the mass changed shape, not place)"
    sector = round(math.degrees(math.atan2(-dy, dx)) / 45) % 8  # 0 = right, counter-clockwise
    return (
        "to the right", "towards the top-right corner", "upwards", "towards the top-left corner",
        "to the left", "towards the bottom-left corner", "downwards", "towards the bottom-right corner",
    )[sector]


def area(x: float, y: float, width: int, height: int) -> str:
    """Which ninth of the image a point lies in: "top left", "centre", "bottom", ..."""
    row = ("top", "middle", "bottom")[min(2, int(3 * y / height))]
    col = ("left", "centre", "right")[min(2, int(3 * x / width))]
    if row == "middle":
        return "centre" if col == "centre" else f"{col} side"
    return row if col == "centre" else f"{row} {col}"


def determinism_note(golden: Explanation, actual: Explanation) -> str:
    """Say whether the two runs should be bit-exact or only within tolerance.

    Another seed draws other perturbations; another precision is treated like another device:
    differences are expected either way.
    """
    g_model, a_model = golden.meta.get("model"), actual.meta.get("model")
    if g_model and a_model and g_model != a_model:
        return (f"the model changed (fingerprint {str(g_model)[:12]} -> {str(a_model)[:12]}): "
                "a new model is expected to explain differently; beyond tolerance is drift")
    g_seed, a_seed = golden.params.get("seed"), actual.params.get("seed")
    if g_seed is not None and a_seed is not None and g_seed != a_seed:
        return (f"golden made at seed {g_seed}, now seed {a_seed}: another seed draws other "
                f"perturbations, so the fine ranking moves; run at seed {g_seed} to compare like with like")
    keys = ("device", "torch", "pytest_xai")
    g = {k: golden.meta.get(k) for k in keys}
    a = {k: actual.meta.get(k) for k in keys}
    g_precision = golden.params.get("precision") or "float32"  # goldens from before precision
    a_precision = actual.params.get("precision") or "float32"
    changed = ", ".join(f"{k} {g[k]} -> {a[k]}" for k in keys if g[k] != a[k])
    if g_precision != a_precision:
        also = f"; environment differs too ({changed})" if changed else ""
        return (f"golden made at {g_precision}, now {a_precision}: small differences are expected, "
                f"beyond tolerance is drift{also}")
    if g == a and str(a["device"]).startswith("cpu"):
        same = ", ".join(f"{k} {v}" for k, v in a.items())
        return f"golden and run share {same}: CPU results are bit-exact, so this is real drift"
    return (f"environment differs ({changed or 'a GPU device'}): small differences are expected, "
            "beyond tolerance is drift")


# -- the store and the verdict flow --------------------------------------------------------------


@dataclass
class SnapshotStore:
    """Locates goldens beside the tests: ``<dir>/<module>/<test>[params][.<name>].npz``."""

    dirname: str = vocab.DEFAULT_SNAPSHOT_DIR
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
        """Write the golden and its .png preview (image | overlay | lime boundaries), drawn
        from the golden as stored, so a preview drawn again later is the same picture."""
        self.serializer.dump(explanation, path)
        self.write_preview(path)

    def write_preview(self, path: Path) -> None:
        """Draw the .png preview of the golden at ``path``."""
        from pytest_xai import render

        render.save_png(render.preview(self.serializer.load(path)), path.with_suffix(".png"))

    def delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        path.with_suffix(".png").unlink(missing_ok=True)

    def judge(
        self, path: Path, explanation: Explanation, bounds: Bounds, settings: Settings, *,
        rootdir: Path | None = None, label: str | None = None, pictures_dir: Path | None = None,
        owner: str | None = None,
    ) -> GoldenVerdict:
        """Judge ``explanation`` against the golden at ``path``: one verdict for the whole
        missing / unreadable / parameters-differ / compare / update flow.

        ``settings`` decides what may be written (``can_write``: missing goldens;
        ``can_update``: changed or unusable ones). Nothing is written here: a "written" or
        "updated" verdict asks the caller to queue the write. ``rootdir`` makes ``name``
        relative, ``label`` names the test in messages, and the expected / actual / difference
        pictures of a drift go to ``pictures_dir`` (none when it is None). ``owner`` is the test
        file (relative to the rootdir) asking; a golden recorded by another test file sharing
        the folder is never compared or rewritten.
        """
        return _Judgement(self, path, explanation, bounds, settings, rootdir, label, pictures_dir, owner).run()


@dataclass
class _Judgement:
    """One golden comparison in progress (the steps of ``SnapshotStore.judge``)."""

    store: SnapshotStore
    path: Path
    explanation: Explanation
    bounds: Bounds
    settings: Settings
    rootdir: Path | None
    label: str | None
    pictures_dir: Path | None
    owner: str | None = None

    @property
    def name(self) -> str:
        path = Path(os.path.normpath(self.path))  # "b/../snaps/x.npz" reads as "snaps/x.npz"
        return rel_path(path, self.rootdir) if self.rootdir is not None else str(path)

    def verdict(self, state: str, reason: str | None, message: str, **extra: Any) -> GoldenVerdict:
        return GoldenVerdict(str(self.path), self.name, state, reason, self.bounds.mode,
                             bounds=self.bounds.as_dict(), message=message, **extra)

    def run(self) -> GoldenVerdict:
        from pytest_xai import metrics

        why = metrics.no_evidence(self.explanation)  # release mode compares positive evidence
        if why and (self.bounds.mode == "release" or metrics.is_silent(self.explanation)):
            # nothing to gate on: never written, updated or passed
            kept = "kept as it is" if self.path.exists() else "not written"
            return self.verdict("failed", "no_evidence", (
                f"golden {self.name} {kept}: the explanation has {why}\n"
                "  a golden of it would pass any model; explain what the model does read"
            ))
        if not self.path.exists():
            return self.missing()
        try:
            golden = self.store.serializer.load(self.path)
        except SnapshotError as e:
            return self.unusable("unreadable", f"golden {self.name} cannot be used: {e}")
        recorded = golden.meta.get("test_file")
        moved = self.rootdir is not None and not (self.rootdir / str(recorded)).exists()  # that file is gone
        if self.owner and isinstance(recorded, str) and recorded != self.owner and not moved:
            return self.verdict("failed", "owner", (
                f"golden {self.name} was recorded by {recorded}, not {self.owner}: the two test files "
                f"share one golden folder (xai_snapshot_dir={self.settings.snapshot_dir!r}); rename one "
                "of them or give each its own folder. Nothing was compared or written."
            ))
        differs = params_mismatch(golden, self.explanation)
        if differs:
            return self.unusable("params", (
                f"golden {self.name} was made with other parameters; comparing them would mean nothing:\n  "
                + "\n  ".join(differs)
                + "\n  fix: call explain with the golden's parameters, or run pytest --xai-update to re-record it"
            ))
        return self.compared(golden, compare(golden, self.explanation, self.bounds))

    def missing(self) -> GoldenVerdict:
        if self.settings.can_write:
            return self.verdict("written", "missing", f"golden {self.name} written: review and commit it")
        who = self.label or self.path.stem
        why = f" (CI mode, {self.settings.ci_reason}: nothing is written)" if self.settings.ci else ""
        return self.verdict("failed", "missing", (
            f"no golden for {who} at {self.name}{why}\n"
            "  run pytest --xai-update to create it, then review and commit the .npz and .png"
        ))

    def unusable(self, reason: str, message: str) -> GoldenVerdict:
        """A golden that cannot be compared: rewritten with --xai-update=all, else a failure."""
        if self.settings.can_update:
            return self.verdict("updated", reason, f"golden {self.name} re-recorded ({reason})")
        return self.verdict("failed", reason, message)

    def compared(self, golden: Explanation, result: Comparison) -> GoldenVerdict:
        if result.passed:
            summary = f"golden {self.name} matches ({self.bounds.mode} mode): {result.summary}"
            return self.verdict("passed", None, summary, measures=result.measures)
        if self.settings.can_update:
            return self.verdict("updated", result.reason, f"golden {self.name} updated: {result.summary}",
                                measures=result.measures)
        pictures = {} if self.pictures_dir is None else self.pictures(golden, self.pictures_dir)
        lines = [
            f"explanation drifted from golden {self.name} ({self.bounds.mode} mode):",
            *result.findings,
            f"golden: {_describe(golden)}",
            f"now:    {_describe(self.explanation)}",
            determinism_note(golden, self.explanation),
            *(f"{k}: {v}" for k, v in pictures.items()),
            UPDATE_HINT,
        ]
        return self.verdict("failed", result.reason, "\n  ".join(lines), measures=result.measures,
                            pictures=pictures)

    def pictures(self, golden: Explanation, folder: Path) -> dict[str, str]:
        """Expected, actual and difference overlays (cells that gained mass outlined)."""
        from pytest_xai import metrics, render

        gained: np.ndarray | None = None
        if golden.heatmap.shape == self.explanation.heatmap.shape:
            gained, _ = metrics.gained_cells(golden, self.explanation)
        stem = self.path.stem
        drawn = {
            "expected": (golden.overlay(), "expected"),
            "actual": (self.explanation.overlay(), "actual"),
            "difference": (render.difference_picture(golden, self.explanation, gained), "diff"),
        }
        return {
            key: str(render.save_png(picture, folder / f"{stem}.{suffix}.png"))
            for key, (picture, suffix) in drawn.items()
        }


def _describe(exp: Explanation) -> str:
    precision = exp.params.get("precision") or "float32"
    return (f"method={exp.method} target={exp.target_name!r} model={str(exp.meta.get('model'))[:12]} "
            f"precision={precision}")


# -- the fixture ----------------------------------------------------------------------------------


def golden_test_name(item: pytest.Item) -> str:
    """The test's name within its file, as its goldens are named: ``test_c[x]``, or
    ``TestA.test_c[x]`` for a method, so two classes' ``test_c`` never share a golden."""
    _, _, within = item.nodeid.partition("::")
    return within.replace("::", ".") or item.name


class SnapshotFixture:
    """``xai_snapshot.assert_match(explanation, name=None, *, mode=None, max_shift=None,
    min_spearman=None, min_top_k_iou=None)``.

    Compares the explanation with this test's golden. ``mode="release"`` (default; ini
    ``xai_golden_mode``): same target class and the positive evidence moved at most
    ``max_shift`` of the image diagonal. ``mode="strict"``: same target class, Spearman ≥
    ``min_spearman`` and top-20% IoU ≥ ``min_top_k_iou``. Goldens are written only with
    ``--xai-update`` and never in CI mode.
    """

    def __init__(self, xai: XaiSession, item: pytest.Item, record: TestRecord | None) -> None:
        self.xai = xai
        self.item = item
        self.record = record
        self.used: set[Path] = set()

    def path(self, name: str | None = None) -> Path:
        """Where the golden for ``name`` lives."""
        return self.xai.store.path_for(Path(self.item.path), golden_test_name(self.item), name)

    def assert_match(
        self, explanation: Any, name: str | None = None, *, mode: str | None = None,
        max_shift: float | None = None, min_spearman: float | None = None, min_top_k_iou: float | None = None,
    ) -> None:
        """Fail unless ``explanation`` matches its golden (see the class docstring).

        Parameters
        ----------
        explanation: the Explanation to compare.
        name: tells several goldens of one test apart (``None``: the test's own golden).
        mode: "release" or "strict"; default ini ``xai_golden_mode``, else "release".
        max_shift: release mode's bound on the evidence shift, in [0, 1] of the diagonal.
        min_spearman, min_top_k_iou: strict mode's bounds.
        """
        __tracebackhide__ = True
        from pytest_xai.explanation import Explanation

        if not isinstance(explanation, Explanation):
            raise XaiTypeError(
                f"explanation of type {type(explanation).__name__} is not an Explanation; pass explain(...)'s result"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise XaiValueError(f"name={name!r} must be a non-empty string or None")
        if explanation.heatmap.size > vocab.GOLDEN_MAX_PIXELS:
            raise XaiValueError(
                f"explanation is {explanation.heatmap.shape[0]}×{explanation.heatmap.shape[1]}, more than "
                f"a golden holds ({vocab.GOLDEN_MAX_PIXELS:,} pixels); explain a downscaled image"
            )
        settings = self.xai.settings
        bounds = Bounds.resolve(settings, method=explanation.method, mode=mode, max_shift=max_shift,
                                min_spearman=min_spearman, min_top_k_iou=min_top_k_iou)
        path = self.path(name)
        if path in self.used:
            raise XaiValueError(
                f"assert_match used golden {path.name} twice in one test; give each call its own name="
            )
        self.used.add(path)
        owner = Path(rel_path(Path(self.item.path), self.item.config.rootpath)).as_posix()
        verdict = self.xai.store.judge(
            path, explanation, bounds, settings, rootdir=self.item.config.rootpath,
            label=self.item.name + ("" if name is None else f" ({name})"),
            pictures_dir=settings.results_dir / safe_name(self.item.nodeid), owner=owner,
        )
        self._record(verdict)
        if verdict.state in ("written", "updated"):  # the golden says which test file owns it
            owned = replace(explanation, meta={**explanation.meta, "test_file": owner})
            self.xai.queue_write(path, owned, verdict.state)
        elif verdict.state == "passed" and settings.can_write and not path.with_suffix(".png").exists():
            self.xai.queue_write(path, None, "preview")
        if verdict.failed:
            raise AssertionError(verdict.message)

    def _record(self, verdict: GoldenVerdict) -> None:
        """The verdict into the test record (with its pictures inlined for the HTML report); the
        record turns it into JUnit properties."""
        if self.record is None:
            return
        entry = verdict.to_record()
        for key, suffix in (("expected", "expected_png"), ("actual", "actual_png"), ("difference", "diff_png")):
            if key in verdict.pictures:
                entry[suffix] = _b64_file(Path(verdict.pictures[key]))
        self.record.goldens.append(entry)


def _b64_file(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode("ascii")
