"""Golden comparison modes: each mode is one class that names its bounds and compares.

A mode gives ``name``, ``bounds`` (the ``assert_match`` keyword arguments it reads, each a
``Bound`` on one measure), ``measures`` and ``compare``; ``register_golden_mode`` makes it a
choice of ``assert_match(mode=...)`` and ini ``xai_golden_mode``. A third mode is a few lines::

    >>> from pytest_xai.goldens.modes import Bound, Comparison, register_golden_mode
    >>> class SameTarget:
    ...     name = "same_target"
    ...     bounds = (Bound("max_change", "probability_change", upper=True),)
    ...     measures = ("probability_change",)
    ...     def refuses_silence(self, silent: bool, no_evidence: bool) -> bool:
    ...         return silent
    ...     def compare(self, golden, actual, bounds):
    ...         change = abs(golden.probability - actual.probability)
    ...         ok = change <= bounds["max_change"]
    ...         words = f"probability change {change:.3f} vs max_change {bounds['max_change']}"
    ...         return Comparison(None if ok else "drift", {"probability_change": change}, [words], words)
    >>> mode = register_golden_mode(SameTarget())
    >>> mode.name in GOLDEN_MODES
    True
    >>> _ = GOLDEN_MODES.pop("same_target")

after which ``xai_snapshot.assert_match(exp, mode="same_target", max_change=0.1)`` compares
with it (a bound without a value given anywhere must be passed on each call).

Standard library only at import time: the plugin validates ini ``xai_golden_mode`` at
start-up; the metrics are imported by ``compare``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pytest_xai import defaults
from pytest_xai._util.validation import check_bound, finite_or_none
from pytest_xai.errors import XaiValueError
from pytest_xai.goldens.describe import RegionGain, compared, why_undefined, within
from pytest_xai.registry import METHODS, Registry

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pytest_xai.checks.adaptive import Decision
    from pytest_xai.explanation import Explanation


@dataclass(frozen=True)
class Bound:
    """One bound a mode reads: its keyword (``max_shift``), the measure it bounds
    (``evidence_shift``), whether it caps (``upper``) or floors it, and its range."""

    param: str
    measure: str
    upper: bool
    low: float = 0.0
    high: float = 1.0

    @property
    def key(self) -> str:
        """The bound's name in records: ``max_`` or ``min_`` + the measure."""
        return ("max_" if self.upper else "min_") + self.measure


@dataclass
class Comparison:
    """The outcome of comparing an explanation with its golden under one mode."""

    reason: str | None  # None (within bounds), "prediction" or "drift"
    measures: dict[str, float | None]
    findings: list[str]  # what was measured against what, in words
    summary: str = ""  # the measures against their bounds, on one line
    region: str | None = None  # the named region a region-based measure is about
    intervals: dict[str, list[float]] = field(default_factory=dict)  # 95%, by measure
    undecided: list[str] = field(default_factory=list)  # "<measure> undecided at N samples: ..."

    @property
    def passed(self) -> bool:
        return self.reason is None


class GoldenMode(Protocol):
    """What a golden comparison mode provides (see the module docstring)."""

    name: str
    bounds: tuple[Bound, ...]
    measures: tuple[str, ...]

    def refuses_silence(self, silent: bool, no_evidence: bool) -> bool:
        """Whether an explanation without evidence (``no_evidence``; ``silent``: no
        attribution at all) must not become, pass or update a golden in this mode."""

    def compare(self, golden: Explanation, actual: Explanation, bounds: dict[str, float]) -> Comparison:
        """The mode's measures of ``actual`` against ``golden``, judged by ``bounds`` (by param)."""


class ReleaseMode:
    """Same target class; the positive evidence moved at most ``max_shift`` of the image
    diagonal (earth mover's distance on a coarse grid); at most ``max_support_loss`` of the
    new positive mass lies outside the golden's (grown) support; no named region recorded with
    the golden gained more than ``max_region_gain`` of the positive mass; and the model relies
    on none of them more than ``max_reliance_gain`` beyond the golden's model: for a retrained
    model. The first criterion sees evidence that moved as a whole; the second, evidence that
    spread thinly over the background (a texture shortcut); the third, evidence that a small
    named region took from the rest (a watermark the release learned); the fourth, a region that
    carries the margin while the heatmap barely moves (``goldens.reliance``). The last two name
    the region."""

    name: str = "release"
    bounds: tuple[Bound, ...] = (
        Bound("max_shift", "evidence_shift", upper=True),
        Bound("max_support_loss", "support_loss", upper=True),
        Bound("max_region_gain", "region_gain", upper=True),
        Bound("max_reliance_gain", "reliance_gain", upper=True, high=float("inf")),
    )
    measures: tuple[str, ...] = ("evidence_shift", "support_loss", "new_mass", "region_gain", "reliance_gain")

    def refuses_silence(self, silent: bool, no_evidence: bool) -> bool:
        return no_evidence  # release mode compares positive evidence

    def compare(self, golden: Explanation, actual: Explanation, bounds: dict[str, float]) -> Comparison:
        from pytest_xai.checks import evidence, metrics
        from pytest_xai.goldens.describe import centre_move

        max_shift, max_loss = bounds["max_shift"], bounds["max_support_loss"]
        shift = evidence.evidence_shift(golden, actual)
        loss = evidence.support_loss(golden, actual)
        _, new_mass = evidence.gained_cells(golden, actual)
        why = why_undefined(golden, actual)
        shift_text = compared("evidence shift", shift, "max_shift", max_shift, upper=True, why=why)
        loss_text = compared("support loss", loss, "max_support_loss", max_loss, upper=True, why=why)
        summary = f"{shift_text}; {loss_text}"
        findings = [shift_text]
        if shift == shift:
            findings[0] += (
                f": the positive evidence moved {shift:.0%} of the image diagonal (earth mover's "
                f"distance on a {evidence.EVIDENCE_GRID}-cell grid)"
            )
            if metrics.no_evidence(golden) or metrics.no_evidence(actual):
                findings[0] += f" because {why}"
        if loss == loss:
            loss_text += (
                f": {loss:.0%} of the new positive mass lies outside the cells holding "
                f"{defaults.EVIDENCE_SUPPORT:.0%} of the golden's"
            )
        findings.append(loss_text)
        findings.append(centre_move(golden, actual))
        if new_mass == new_mass:
            findings.append(
                f"{new_mass:.0%} of the new positive mass lies in cells where the golden had almost none "
                f"(< {defaults.GAINED_CELL_FRACTION:.0%} of its fullest cell; outlined in the difference picture)"
            )
        measures = {
            "evidence_shift": finite_or_none(shift), "support_loss": finite_or_none(loss),
            "new_mass": finite_or_none(new_mass),
        }
        ok = within(shift, max_shift, True) and within(loss, max_loss, True)
        gains = _region_criteria(golden, actual, bounds, why)
        for gain in gains:
            measures[gain.measure] = finite_or_none(gain.value)
            summary += f"; {gain.summary}" if gain.region is not None else ""
        failed = [gain for gain in gains if not gain.passed]
        # a region over its bound leads the message, named
        findings = [g.finding for g in failed] + findings + [g.finding for g in gains if g.passed and g.finding]
        ok = ok and not failed
        region = (failed or gains)[0].region  # the region that failed, else the one that gained most mass
        return Comparison(None if ok else "drift", measures, findings, summary, region=region)


def _region_criteria(golden: Explanation, actual: Explanation, bounds: dict[str, float], why: str) -> list[RegionGain]:
    """The named regions' criteria: positive mass gained in one, and reliance gained on one."""
    from pytest_xai.goldens.reliance import reliance_gain

    mass = region_gain(golden, actual, bounds["max_region_gain"], why)
    return [mass, reliance_gain(golden, actual, bounds["max_reliance_gain"], mass.rests)]


def region_gain(golden: Explanation, actual: Explanation, bound: float, why: str = "") -> RegionGain:
    """The largest gain of positive mass inside a region recorded with ``golden`` (the image's
    named regions when the golden was written) against ``bound``. Of two or more regions, the
    one holding the most of the golden's positive mass is where the golden rests (the object):
    gaining there is reading it more, so it is reported, not judged. Passes, and says so, when
    the golden has no named regions."""
    from pytest_xai.checks import metrics
    from pytest_xai.goldens.previews import stored_regions

    regions = {name: mask for name, mask in stored_regions(golden).items() if mask.shape == actual.heatmap.shape}
    if not regions:
        words = ("no named regions are recorded with this golden, so the mass gained inside one is not "
                 "judged; explain a test image with a regions sidecar and re-record the golden")
        return RegionGain(None, float("nan"), True, "", words)
    gains = metrics.region_gains(golden, actual, regions)
    held = {name: metrics.relevance_mass(golden, mask) for name, mask in regions.items()}
    rests = max(held, key=lambda k: held[k] if held[k] == held[k] else -1.0) if len(held) > 1 else None
    judged = [name for name in gains if name != rests]
    undefined = [name for name in judged if gains[name] != gains[name]]
    name = undefined[0] if undefined else max(judged, key=lambda k: gains[k])
    value = gains[name]
    text = compared(f"mass gained in region {name!r}", value, "max_region_gain", bound, upper=True, why=why)
    finding = text
    if value == value:
        finding += f": region {name!r} holds {held[name] + value:.0%} of the positive mass, the golden {held[name]:.0%}"
        for other, gain in gains.items():
            if other != name and gain == gain:
                finding += f"; {other!r} {gain:+.0%}" + ("" if other in judged else " (rested on, not judged)")
    return RegionGain(name, value, within(value, bound, True), text, finding, rests=rests)


class StrictMode:
    """Same target class, Spearman ≥ ``min_spearman`` and top-20% IoU ≥ ``min_top_k_iou``:
    one model in another environment (a new GPU, a torch upgrade)."""

    name: str = "strict"
    bounds: tuple[Bound, ...] = (
        Bound("min_spearman", "spearman", upper=False, low=-1.0),
        Bound("min_top_k_iou", "top_k_iou", upper=False),
    )
    measures: tuple[str, ...] = ("spearman", "top_k_iou")

    def refuses_silence(self, silent: bool, no_evidence: bool) -> bool:
        return silent

    def compare(self, golden: Explanation, actual: Explanation, bounds: dict[str, float]) -> Comparison:
        from pytest_xai.checks import metrics

        found = metrics.agreement(golden, actual)
        why = why_undefined(golden, actual)
        rho, iou = bounds["min_spearman"], bounds["min_top_k_iou"]
        findings = [
            compared("Spearman", found.spearman, "min_spearman", rho, upper=False, why=why),
            compared(f"top-{defaults.TOP_K_FRACTION:.0%} IoU", found.top_k_iou, "min_top_k_iou", iou,
                     upper=False, why=why),
        ]
        ok = within(found.spearman, rho, False) and within(found.top_k_iou, iou, False)
        measures = {"spearman": finite_or_none(found.spearman), "top_k_iou": finite_or_none(found.top_k_iou)}
        return Comparison(None if ok else "drift", measures, findings, "; ".join(findings))


GOLDEN_MODES: Registry[GoldenMode] = Registry("golden mode", {"release": ReleaseMode(), "strict": StrictMode()})


def register_golden_mode(mode: GoldenMode) -> GoldenMode:
    """Register ``mode`` under ``mode.name`` (replacing one of that name); returns it."""
    if not isinstance(getattr(mode, "name", None), str) or not mode.name.isidentifier():
        raise XaiValueError(f"mode.name={getattr(mode, 'name', None)!r} must be an identifier such as 'loose'")
    return GOLDEN_MODES.add(mode.name, mode)


def golden_mode(name: Any) -> GoldenMode:
    """The registered mode called ``name``; else an error listing the modes."""
    if isinstance(name, str) and name in GOLDEN_MODES:
        return GOLDEN_MODES[name]
    raise XaiValueError(
        f"mode={name!r} is not a golden mode; use 'release' (where the evidence is, for a new "
        "model) or 'strict' (rank agreement, for the same model elsewhere)"
        + "".join(f" or {other!r}" for other in GOLDEN_MODES if other not in ("release", "strict"))
    )


@dataclass(frozen=True)
class SessionBounds:
    """The run's own choices under a call's: its golden mode and the bounds the ini file sets
    (``xai_golden_mode``, ``xai_max_shift``, ...); a bound that is None or absent falls back to
    the method's declared or measured default."""

    mode: str = "release"
    values: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Bounds:
    """A mode and the value of each of its bounds (by keyword: ``max_shift``, ...)."""

    mode: str
    values: dict[str, float]

    def as_dict(self) -> dict[str, float]:
        """The bounds, named after their measure (``max_``/``min_`` + measure), for records."""
        return {b.key: self.values[b.param] for b in GOLDEN_MODES[self.mode].bounds}

    def __getattr__(self, name: str) -> float:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    @classmethod
    def resolve(cls, session: SessionBounds, *, method: str | None = None, mode: Any = None, **given: Any) -> Bounds:
        """The call's mode and bounds over the session's over the defaults (per ``method``),
        validated. A bound of another mode is an error, not ignored."""
        chosen = golden_mode(session.mode if mode is None else mode)
        _check_declared(method)
        own = {b.param: b for b in chosen.bounds}
        for key, value in given.items():
            if value is not None and key not in own:
                owners = [m.name for m in GOLDEN_MODES.values() if key in {b.param for b in m.bounds}]
                if not owners:
                    raise XaiValueError(f"{key}={value!r} is not a bound of any golden mode; drop it")
                raise XaiValueError(
                    f"{key}={value!r} bounds mode={owners[0]!r}, but this golden is compared in "
                    f"mode={chosen.name!r}; pass mode={owners[0]!r} too, or drop {key}"
                )
        values = {}
        for param, bound in own.items():
            value = given.get(param)
            if value is not None:
                values[param] = check_bound(value, param, bound.low, bound.high)
                continue
            value = default_bound(session, param, method)
            if value is None:
                raise XaiValueError(f"mode={chosen.name!r} needs {param}=; pass it to assert_match")
            try:
                values[param] = check_bound(value, param, bound.low, bound.high)
            except XaiValueError as e:  # a method's declared default (the ini's is checked at start-up)
                raise XaiValueError(f"{e}: fix register_method({method!r}, golden_bounds=...)") from None
        return cls(chosen.name, values)


def _check_declared(method: str | None) -> None:
    """A method's declared golden bounds must each bound some golden mode: a misspelt name
    would otherwise be silently ignored."""
    spec = METHODS.get(method or "")
    every = {b.param for m in GOLDEN_MODES.values() for b in m.bounds}
    unknown = [] if spec is None else [k for k, _ in spec.golden_bounds if k not in every]
    if unknown:
        raise XaiValueError(
            f"register_method({method!r}, golden_bounds=...) names {unknown[0]!r}, which bounds no "
            f"golden mode; use {', '.join(sorted(every))}"
        )


def default_bound(session: SessionBounds, param: str, method: str | None) -> float | None:
    """A bound's session value (ini ``xai_<param>``) when set, else what the method declared
    when it was registered (``register_method(golden_bounds=...)``), else its measured default:
    ``max_shift``, ``max_support_loss`` and ``max_region_gain`` per method
    (``defaults.DEFAULT_MAX_SHIFT_BY_METHOD``, ``..._SUPPORT_LOSS_BY_METHOD``, ``..._REGION_GAIN_BY_METHOD``)."""
    value = session.values.get(param)
    if value is not None:
        return float(value)
    spec = METHODS.get(method or "")
    declared = None if spec is None else spec.golden_bound(param)
    if declared is not None:
        return declared
    if param == "max_shift":
        return defaults.DEFAULT_MAX_SHIFT_BY_METHOD.get(method or "", defaults.DEFAULT_MAX_SHIFT)
    if param == "max_support_loss":
        return defaults.DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD.get(method or "", defaults.DEFAULT_MAX_SUPPORT_LOSS)
    if param == "max_region_gain":
        return defaults.DEFAULT_MAX_REGION_GAIN_BY_METHOD.get(method or "", defaults.DEFAULT_MAX_REGION_GAIN)
    if param == "max_reliance_gain":
        return defaults.DEFAULT_MAX_RELIANCE_GAIN
    if param == "min_spearman":
        return defaults.DEFAULT_MIN_SPEARMAN
    if param == "min_top_k_iou":
        return defaults.DEFAULT_MIN_TOP_K_IOU
    return None


def compare(golden: Explanation, actual: Explanation, bounds: Bounds) -> Comparison:
    """Same target class, then the mode's measures against their bounds."""
    if golden.target != actual.target or golden.target_name != actual.target_name:
        empty: dict[str, float | None] = dict.fromkeys(GOLDEN_MODES[bounds.mode].measures)
        changed = (
            f"prediction changed: golden explains {golden.target_name!r} (p={golden.probability:.3f}), "
            f"now {actual.target_name!r} (p={actual.probability:.3f})"
        )
        return Comparison("prediction", empty, [changed], changed)
    mode = GOLDEN_MODES[bounds.mode]
    decisions = decide_bounds(mode, golden, actual, bounds.values)
    result = mode.compare(golden, actual, bounds.values)
    for measure, decision in decisions.items():
        if decision.interval is not None:
            result.intervals[measure] = decision.interval
        if decision.undecided:
            result.undecided.append(f"{measure.replace('_', ' ')} {decision.words()}")
    if result.undecided:
        result.summary += "; " + "; ".join(result.undecided)
        result.findings.extend(result.undecided)
    return result


# The measures a mode's bounds may name whose interval a comparison computes; a registered
# mode's other measures are judged by their point value alone.
def _measure_functions() -> dict[str, Callable[..., float]]:
    from pytest_xai.checks import evidence, metrics

    return {
        "evidence_shift": evidence.evidence_shift, "support_loss": evidence.support_loss,
        "spearman": metrics.spearman, "top_k_iou": metrics.top_k_iou,
        "region_gain": lambda golden, actual: region_gain(golden, actual, 1.0).value,
    }


def decide_bounds(mode: GoldenMode, golden: Explanation, actual: Explanation, values: dict[str, float]) -> dict[str, Decision]:
    """Each bounded measure's decision (``pytest_xai.checks.adaptive.decide``): while its interval
    from both heatmaps' errors straddles the bound, the new explanation draws more rounds,
    so the mode then compares the explanation the bounds asked for."""
    from pytest_xai.checks import adaptive

    functions = _measure_functions()
    return {
        bound.measure: adaptive.decide(
            functions[bound.measure], [golden, actual], values[bound.param], upper=bound.upper,
            asked_by=f"golden {bound.measure.replace('_', ' ')}",
        )
        for bound in mode.bounds
        if bound.measure in functions and bound.param in values
    }
