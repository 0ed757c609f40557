"""The report's words and numbers: a check or a golden measure against its bound, in a table
cell or in a sentence. Pure functions of the typed records."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pytest_xai._util.validation import is_finite
from pytest_xai.defaults import TOP_K_FRACTION
from pytest_xai.records import CheckResult, Measure

ORDER = {"error": 0, "failed": 1, "unknown": 2, "skipped": 3, "passed": 4}
FAILED = ("failed", "error")
CHANGED = ("failed", "written", "updated")  # golden states a reviewer must look at
# pytest's terminal summary order (_pytest.terminal.KNOWN_TYPES); other keys follow
TERMINAL_ORDER = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "error")
REGION_METRICS = {"relevance_mass": "mass", "relevance_ratio": "ratio"}
LABELS = {
    "evidence_shift": "evidence shift",
    "spearman": "Spearman",
    "top_k_iou": f"top-{TOP_K_FRACTION:.0%} IoU",
    "new_mass": "mass in new cells",
    "region_gain": "mass gained in a named region",
    "reliance_gain": "reliance gained on a named region (logit IQRs)",
    "relevance_mass": "mass",
    "spearman_abs": "Spearman |attribution|",
    "scaled_margin_drop": "margin drop in logit IQRs",
}
SHORT = {"evidence_shift": "shift", "new_mass": "new mass", "reliance_gain": "reliance gain"}


def fmt(value: Any) -> str:
    """A number for the page: 3 decimals (0.420 -> 0.42, 0.123 stays), and 3 significant
    digits below 0.01 so that a small bound or value never reads as zero (0.0001, 0.000123)."""
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if value != value else str(value)
        if value != 0 and abs(value) < 0.01:
            return f"{value:.3g}"
        text = f"{value:.3f}"
        return text[:-1] if text.endswith("0") else text
    return str(value)


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def op(upper: bool | None, passed: bool | None) -> str:
    """The comparison that holds: ≤ or ≥ for a pass, > or < for a failure."""
    return ("≤" if passed else ">") if upper else ("≥" if passed else "<")


def check_subject(check: CheckResult) -> str:
    """What a check measured, e.g. "mass on 'tag'" or "Spearman lime vs gradient_shap"."""
    if check.metric in REGION_METRICS and check.region is not None:
        return f"{REGION_METRICS[check.metric]} on {check.region!r}"
    subject = label(check.metric)
    share = check.details.get("top_k") if isinstance(check.details, dict) else None
    if check.metric == "top_k_iou" and isinstance(share, (int, float)):
        subject = f"top-{share:.0%} IoU"
    if check.kind == "sanity":
        return f"{subject} of {check.method} to the randomised model's"
    if check.other_method:
        subject += f" {check.method} vs {check.other_method}"
    return subject


def check_cell(check: CheckResult) -> str:
    """A check for a table cell: "mass on 'tag' 0.42 > 0.1"; an intervention adds its logit
    margin: "probability change 0.067 ≤ 0.47; margin drop 7.52 > 7.00"; an agreement check the
    top-k IoU it measured without bounding it: "(top-20% IoU 0.41)"."""
    holds = _p_passed(check) if check.kind == "intervention" else check.passed and not check.overruled
    text = f"{check_subject(check)} {fmt(check.value)} {op(check.upper, holds)} {fmt(check.bound)}"
    return (text + logit_part(check) + _measured_iou(check)
            + (", salient but not used (confirm)" if check.overruled else ""))


def _measured_iou(check: CheckResult) -> str:
    details = check.details if isinstance(check.details, dict) else {}
    if check.metric != "spearman" or "top_k_iou" not in details:
        return ""
    share = details.get("top_k")
    name = f"top-{share:.0%} IoU" if isinstance(share, (int, float)) else label("top_k_iou")
    return f" ({name} {fmt(details['top_k_iou'])})"


def _p_passed(check: CheckResult) -> bool:
    """An intervention's probability criterion alone (its ``passed`` joins the margin's)."""
    if check.value is None:
        return False
    return check.value <= check.bound if check.upper else check.value >= check.bound


def logit_part(check: CheckResult) -> str:
    """"; margin drop 7.52 > 7.00" for an intervention that judged its logit margin, else ""."""
    details = check.details or {}
    metric, value = details.get("logit_metric"), details.get("logit_value")
    if check.kind != "intervention" or not metric or not isinstance(value, (int, float)):
        return ""
    name = label(str(metric))
    bound, upper = details.get("logit_bound"), str(details.get("logit_bound_name", "max_")).startswith("max_")
    if not isinstance(bound, (int, float)):
        return f"; {name} {fmt(float(value))} (not judged)"
    holds = value <= bound if upper else value >= bound
    joined = "; " if upper else " or "
    return f"{joined}{name} {fmt(float(value))} {op(upper, holds)} {fmt(float(bound))}"


def _sentence(subject: str, value: float | None, verb: str, bound: str, what: str, bare_bound: str) -> str:
    """A value against its bound in words; a value that is not a number fails the ``what``."""
    if not is_finite(value):
        return f"{subject} is not a number; the {what} fails (bound {bare_bound})"
    return f"{subject} {fmt(value)} {verb} {bound}"


def check_words(check: CheckResult) -> str:
    """A check's outcome in words: "mass on 'tag' 0.42 is above max_mass 0.10"."""
    bound = f"{check.bound_name} {fmt(check.bound)}"
    if check.overruled:
        return f"{check_subject(check)} {fmt(check.value)} is above {bound}, but the model does not use it (confirm)"
    verb = op(check.upper, True) if check.passed else ("is above" if check.upper else "is below")
    return _sentence(check_subject(check), check.value, verb, bound, "check", bound)


def measure_short(m: Measure, region: str | None = None) -> str:
    """A measure against its bound for a table cell: "shift 0.040 ≤ 0.120"; a region measure
    names its ``region``: "gain in 'watermark' 0.31 > 0.15"."""
    name = f"gain in {region!r}" if region is not None and m.name == "region_gain" else SHORT.get(m.name, label(m.name))
    text = f"{name} {fmt(m.value)}"
    if m.bound is not None:
        text += f" {op(m.upper, m.passed)} {fmt(m.bound)}"
    return text


def measure_words(m: Measure, region: str | None = None) -> str:
    """A measure against its bound in words: "evidence shift 0.310 exceeds the bound 0.120";
    a region measure names its ``region``: "mass gained in region 'watermark' 0.31 ..."."""
    name = f"mass gained in region {region!r}" if region is not None and m.name == "region_gain" else label(m.name)
    if m.bound is None:
        return f"{name} {fmt(m.value)}"
    verb = "is within" if m.passed else ("exceeds" if m.upper else "is below")
    return _sentence(name, m.value, verb, f"the bound {fmt(m.bound)}", "comparison", fmt(m.bound))


def count_outcomes(outcomes: Iterable[str]) -> dict[str, int]:
    """How many of each outcome, in pytest's terminal order."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    rank = {key: i for i, key in enumerate(TERMINAL_ORDER)}
    return dict(sorted(counts.items(), key=lambda kv: rank.get(kv[0], len(TERMINAL_ORDER))))


def terminal_line(counts: dict[str, int]) -> str:
    """Counts as pytest's summary line words them: "10 failed, 8 passed, 1 warning"."""
    plurals = {"warnings": ("warning", "warnings"), "error": ("error", "errors")}
    parts = [f"{n} {plurals[k][n != 1] if k in plurals else k}" for k, n in counts.items() if n]
    return ", ".join(parts) or "no tests ran"
