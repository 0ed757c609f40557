"""Assertion helpers: attribution must focus on, or avoid, a region; two explanations agree.

Every helper records one check in the running test's record (kind, metric, value, bound,
passed, picture) and builds its failure message from the same numbers. A NaN measure fails
every bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_xai.checks.interventions.confirm as confirmation
from pytest_xai._util.validation import check_bound, finite_or_none
from pytest_xai.checks import adaptive, metrics
from pytest_xai.checks import recorder as recording
from pytest_xai.defaults import DEFAULT_MIN_DENSITY, TOP_K_FRACTION, default_min_ratio
from pytest_xai.errors import XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.pictures import render
from pytest_xai.records import CheckResult
from pytest_xai.regions import Region, as_region, grown_region


def describe(exp: Explanation) -> str:
    return (
        f"method={exp.method} target={exp.target_name!r} (p={exp.probability:.3f}) "
        f"output={exp.output} seed={exp.seed} samples={exp.samples}"
    )


def measure_text(value: float, *explanations: Explanation) -> str:
    """A measure in words; NaN says why: no evidence in one of ``explanations``, or NaN/inf."""
    if value == value:
        return f"{value:.3f}"
    for exp in explanations:
        why = metrics.no_evidence(exp) or (
            "no evidence: the attributions are zero or round-off" if metrics.is_silent(exp) else None
        )
        if why:
            return f"nan ({why})"
    return "nan (not a number: the heatmap holds NaN or inf)"


def _region_picture(exp: Explanation, region: Region, stem: str) -> Path:
    """Write the heatmap overlay with the region outlined; return its path."""
    mask = metrics.region_mask(exp, region)
    picture = render.draw_outline(exp.overlay(), mask)
    return render.save_png(picture, recording.picture_path(stem))


def record_check(
    kind: str, exp: Explanation, region: Region | None, metric: str, value: float,
    bound: float, passed: bool, picture: Path | None, *, upper: bool = False, **extra: Any,
) -> CheckResult:
    """One check as a record, added to the running test's record (and so to its JUnit
    properties) when the plugin records this test; NaN becomes None."""
    check = CheckResult(
        kind=kind, metric=metric, value=finite_or_none(value), bound=bound, passed=passed, upper=upper,
        region=None if region is None else region.name, method=exp.method, target=exp.target_name,
        image=None if exp.image is None else recording.image_key(exp.image),
        image_name=None if exp.image is None else recording.file_name(exp.image),
        picture=None if picture is None else str(picture), **extra,
    )
    recorder = recording.current()
    if recorder is not None:
        recorder.add_check(check, region)
    return check


def assert_attribution_focus(
    explanation: Explanation, region: Any, *, min_ratio: float | None = None,
    min_mass: float | None = None, tolerance: int | str = 0, confirm: Any = False,
) -> list[CheckResult]:
    """Fail unless the positive attribution concentrates in ``region``.

    explanation: the Explanation to check.
    region: a Region (box, mask, polygon, or an image's ``.regions[name]``) or a bool mask.
    min_ratio: the lowest acceptable relevance mass divided by the region's share of the image
        area (a uniform heatmap scores 1; no heatmap scores above 1 / area). Without
        ``min_ratio`` and ``min_mass``: ``defaults.default_min_ratio(area)``, the evidence
        ``DEFAULT_MIN_DENSITY`` times denser inside the region than outside, which suits a small
        object and one covering most of the image alike (docs/calibrate.md: how it was
        measured, how to measure yours).
    min_mass: the lowest acceptable share of the positive attribution in the region, in [0, 1].
    tolerance: grow the region first (drawn tighter than the evidence, e.g. a thin object's):
        pixels (``tolerance=2``) or ``"superpixels"`` (superpixels touching the region count).
    confirm: True, the explain fixture or a Classifier: also hide the region
        (``assert_region_needed``); passes only when hiding it also drops the target's
        probability or its logit margin. A dict sets that intervention's bounds, e.g.
        ``confirm={"min_logit_drop": 1.0, "fill": "blur"}`` (keys ``fill``, ``min_drop``,
        ``min_logit_drop``, and ``model`` for a model other than the explanation's own).
    Returns one ``CheckResult`` per bound judged (also added to the test's record).
    """
    __tracebackhide__ = True
    drawn = as_region(region)
    reg = grown_region(drawn, explanation.heatmap.shape, tolerance, explanation.segments)
    area = float(metrics.region_mask(explanation, reg).mean())
    defaulted = min_mass is None and min_ratio is None
    if defaulted:
        min_ratio = round(default_min_ratio(area), 4)
    note = (f" (the default for this area: the evidence {DEFAULT_MIN_DENSITY:g}x denser inside the region "
            "than outside)") if defaulted else ""
    bounds = []  # (metric, bound, bound name, what the mass is divided by, note on the bound)
    if min_mass is not None:
        bounds.append(("relevance_mass", check_bound(min_mass, "min_mass"), "min_mass", 1.0, ""))
    if min_ratio is not None:
        bounds.append(("relevance_ratio", check_bound(min_ratio, "min_ratio", 0.0, 1.0 / area), "min_ratio", area, note))
    decisions = [
        adaptive.decide(lambda e, a=per: metrics.relevance_mass(e, reg) / a, [explanation], bound,
                           upper=False, asked_by=f"focus on {reg.name!r}")
        for _, bound, _, per, _ in bounds
    ]  # fmt: skip
    mass = metrics.relevance_mass(explanation, reg)
    checks = []  # (metric, value, bound, bound name, detail, note on the bound)
    for (metric, bound, name, per, why), decision in zip(bounds, decisions):
        detail = f" (mass {measure_text(decision.value * per, explanation)} / area share {area:.3f})" if per != 1.0 else ""
        checks.append((metric, decision.value, bound, name, detail + decision.suffix(), why))
    failed = [c for c in checks if not c[1] >= c[2]]  # NaN fails
    backing = confirmation.run("focus", explanation, drawn, confirm)
    picture = _region_picture(explanation, reg, f"focus-{drawn.name}") if failed else None
    results = [
        record_check("focus", explanation, reg, metric, value, bound, value >= bound, picture, **decision.record())
        for (metric, value, bound, _, _, _), decision in zip(checks, decisions)
    ]
    problem = _focus_failure(explanation, reg, failed, mass, area, picture, backing)
    if problem:
        raise AssertionError(problem)
    return results


def _focus_failure(
    explanation: Explanation, reg: Region, failed: list[Any], mass: float, area: float,
    picture: Path | None, backing: Any,
) -> str | None:
    """The focus check's failure message, or None when it passed (and its intervention did)."""
    if not failed:
        if backing is None or backing.passed:
            return None
        return (
            f"attribution focuses on region {reg.name!r} (mass {measure_text(mass, explanation)}), "
            f"but {confirmation.words(backing)}\n  {describe(explanation)}\n"
            f"  picture (image | region hidden | top classes before/after): {backing.picture}"
        )
    what = "; ".join(
        f"{metric.replace('_', ' ')} {measure_text(value, explanation)}{detail} < {name} {bound:.3f}{note}"
        for metric, value, bound, name, detail, note in failed
    )
    where = (
        f"  {1 - mass:.3f} of the positive attribution lies outside {reg.name!r}, "
        if mass == mass else f"  no positive attribution to place in {reg.name!r}, "
    )
    return (
        f"attribution does not focus on region {reg.name!r}: {what}\n"
        f"  {describe(explanation)}\n"
        f"{where}which covers {area:.1%} of the image\n"
        f"  overlay (heatmap, region outlined): {picture}"
        + ("" if backing is None else f"\n  {confirmation.words(backing)}")
    )


def assert_attribution_avoids(
    explanation: Explanation, region: Any, *, max_mass: float = 0.1, confirm: Any = False
) -> list[CheckResult]:
    """Fail if more than ``max_mass`` of the positive attribution lies inside ``region``.

    Use it for what the model must not look at: a watermark, a hospital tag, the background.
    Parameters as ``assert_attribution_focus``; ``max_mass`` is the highest acceptable mass.
    ``confirm``: True (the explanation's own model), the explain fixture or a Classifier: also
    hide the region (``assert_region_irrelevant`` at its defaults: the probability and the logit
    margin are judged); the test then fails only when the model uses the region: mass above
    ``max_mass`` AND hiding it changes the output. A region that is salient but unused passes,
    and the record keeps both numbers. A dict sets that intervention's bounds, e.g.
    ``confirm={"max_scaled_drop": 1.5, "fill": "blur"}`` (keys ``fill``, ``max_change``,
    ``max_scaled_drop``, ``max_logit_drop``, ``max_logit_change``, and ``model``).
    Returns its ``CheckResult`` in a list, like the other helpers.
    """
    __tracebackhide__ = True
    bound = check_bound(max_mass, "max_mass")
    reg = as_region(region)
    decision = adaptive.decide(
        lambda e: metrics.relevance_mass(e, reg), [explanation], bound, upper=True,
        asked_by=f"avoid {reg.name!r}",
    )
    mass = decision.value
    backing = confirmation.run("avoid", explanation, reg, confirm)
    # NaN (no evidence) fails: an intervention cannot vouch for an explanation with nothing in it
    passed = mass <= bound or (mass == mass and backing is not None and backing.passed)
    picture = None if passed else _region_picture(explanation, reg, f"avoid-{reg.name}")
    details = None if backing is None else {"salience_passed": mass <= bound, "confirm": confirmation.words(backing)}
    result = record_check(
        "avoid", explanation, reg, "relevance_mass", mass, bound, passed, picture, upper=True, details=details,
        **decision.record(),
    )
    if not passed:
        headline = (
            f"attribution rests on region {reg.name!r}" if mass == mass
            else f"cannot tell whether the attribution avoids region {reg.name!r}"
        )
        raise AssertionError(
            f"{headline}: relevance mass {measure_text(mass, explanation)} "
            f"{'>' if mass == mass else 'fails'} max_mass {bound:.3f}{decision.suffix()}\n"
            f"  {describe(explanation)}\n"
            f"  overlay (heatmap, region outlined): {picture}"
            + ("" if backing is None else f"\n  and {confirmation.words(backing)}")
            + (f": {backing.picture}" if backing is not None and backing.picture else "")
        )
    return [result]


def assert_explanations_agree(
    a: Explanation, b: Explanation, *, min_spearman: float = 0.5,
    min_top_k_iou: float | None = None, top_k: float = TOP_K_FRACTION,
) -> list[CheckResult]:
    """Fail unless two explanations of one image rank the evidence alike.

    a, b: two explanations of the same image (e.g. ``lime`` and ``kernel_shap``).
    min_spearman: the lowest acceptable Spearman rank correlation, in [-1, 1], over superpixel
        weights when both share segments, else over heatmaps.
    min_top_k_iou: the lowest acceptable IoU, in [0, 1], of the two explanations' ``top_k``
        most attributed pixels; None (default) measures and records the IoU without bounding it.
    top_k: the share of the image's pixels that counts as "most attributed", in (0, 1]
        (default 0.2: the top 20%).
    Returns one ``CheckResult`` per bound judged; the Spearman check's ``details`` hold the
    IoU and ``top_k`` either way, so the report and the JSON show both.
    """
    __tracebackhide__ = True
    s_bound = check_bound(min_spearman, "min_spearman", low=-1.0)
    i_bound = None if min_top_k_iou is None else check_bound(min_top_k_iou, "min_top_k_iou")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)) or not 0 < top_k <= 1:
        raise XaiValueError(f"top_k={top_k!r} must be a share of the pixels in (0, 1], e.g. 0.2")
    share = float(top_k)
    measures: list[tuple[str, str, Any, float]] = [("spearman", "Spearman", metrics.spearman, s_bound)]
    if i_bound is not None:
        measures.append(("top_k_iou", f"top-{share:.0%} IoU",
                         lambda x, y: metrics.top_k_iou(x, y, share), i_bound))  # fmt: skip
    asked_by = f"agree {a.method} vs {b.method}"
    decisions = [adaptive.decide(fn, [a, b], bound, upper=False, asked_by=asked_by) for _, _, fn, bound in measures]
    checks = [(metric, label, d.value, bound) for (metric, label, _, bound), d in zip(measures, decisions)]
    found = metrics.agreement(a, b, share)
    failures = [
        f"{label} {measure_text(value, a, b)} < min_{metric} {bound:.3f}{d.suffix()}"
        for (metric, label, value, bound), d in zip(checks, decisions)
        if not value >= bound  # NaN fails
    ]
    picture = None
    if failures:
        side = render.side_by_side([a.overlay(), b.overlay()])
        picture = render.save_png(side, recording.picture_path(f"agree-{a.method}-{b.method}"))
    measured = {"top_k_iou": finite_or_none(found.top_k_iou, 4), "top_k": float(top_k)}
    results = [
        record_check("agree", a, None, metric, value, bound, value >= bound, picture,
                     other_method=b.method, details=measured, **d.record())
        for (metric, _, value, bound), d in zip(checks, decisions)
    ]
    if failures:
        raise AssertionError(
            "explanations disagree: " + "; ".join(failures) + "\n"
            f"  a: {describe(a)}\n"
            f"  b: {describe(b)}\n"
            f"  overlays (a | b): {picture}"
        )
    return results
