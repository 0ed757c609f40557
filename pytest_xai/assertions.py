"""Assertion helpers: attribution must focus on, or avoid, a region; two explanations agree;
an explanation depends on the model at all (cascading randomisation).

Every helper records one check in the running test's record (kind, metric, value, bound,
passed, picture) and builds its failure message from the same numbers. A NaN measure fails
every bound.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest_xai.interventions.confirm as confirmation
from pytest_xai import metrics, recording, render, uncertainty
from pytest_xai.defaults import DEFAULT_MAX_SIMILARITY, DEFAULT_MIN_RATIO, TOP_K_FRACTION
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.records import CheckResult
from pytest_xai.regions import Region, as_region, grown_region
from pytest_xai.registry import Params
from pytest_xai.validation import check_bound, finite_or_none


def _describe(exp: Explanation) -> str:
    return (
        f"method={exp.method} target={exp.target_name!r} (p={exp.probability:.3f}) "
        f"output={exp.output} seed={exp.seed} samples={exp.samples}"
    )


def _measure_text(value: float, *explanations: Explanation) -> str:
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


def _record_check(
    kind: str, exp: Explanation, region: Region | None, metric: str, value: float,
    bound: float, passed: bool, picture: Path | None, *, upper: bool = False, **extra: Any,
) -> CheckResult:
    """One check as a record, added to the running test's record (and so to its JUnit
    properties) when the plugin records this test; NaN becomes None."""
    check = CheckResult(
        kind=kind, metric=metric, value=finite_or_none(value), bound=bound, passed=passed, upper=upper,
        region=None if region is None else region.name, method=exp.method, target=exp.target_name,
        image=None if exp.image is None else recording.image_key(exp.image),
        picture=None if picture is None else str(picture), **extra,
    )
    recorder = recording.current()
    if recorder is not None:
        recorder.add_check(check)
    return check


def assert_attribution_focus(
    explanation: Explanation, region: Any, *, min_ratio: float | None = None,
    min_mass: float | None = None, tolerance: int | str = 0, confirm: Any = False,
) -> list[CheckResult]:
    """Fail unless the positive attribution concentrates in ``region``.

    explanation: the Explanation to check.
    region: a Region (box, mask, polygon, or an image's ``.regions[name]``) or a bool mask.
    min_ratio: the lowest acceptable relevance mass divided by the region's share of the image
        area. A uniform heatmap has ratio 1 for any region, so a ratio bound means the same for
        a small object and a large one. Default ``DEFAULT_MIN_RATIO`` unless ``min_mass`` is
        given (docs/calibrate.md says how it was measured and how to measure yours).
    min_mass: the lowest acceptable share of the positive attribution in the region, in [0, 1].
    tolerance: grow the region first (drawn tighter than the evidence, e.g. a thin object's):
        pixels (``tolerance=2``) or ``"superpixels"`` (superpixels touching the region count).
    confirm: True, the explain fixture or a Classifier: also hide the region
        (``assert_region_needed``); passes only when hiding it also drops the target.
    Returns one ``CheckResult`` per bound judged (also added to the test's record).
    """
    __tracebackhide__ = True
    min_ratio = DEFAULT_MIN_RATIO if min_mass is None and min_ratio is None else min_ratio
    drawn = as_region(region)
    reg = grown_region(drawn, explanation.heatmap.shape, tolerance, explanation.segments)
    area = float(metrics.region_mask(explanation, reg).mean())
    bounds = []  # (metric, bound, bound name, measure)
    if min_mass is not None:
        bounds.append(("relevance_mass", check_bound(min_mass, "min_mass"), "min_mass", 1.0))
    if min_ratio is not None:
        bounds.append(("relevance_ratio", check_bound(min_ratio, "min_ratio", 0.0, 1.0 / area), "min_ratio", area))
    decisions = [
        uncertainty.decide(lambda e, a=per: metrics.relevance_mass(e, reg) / a, [explanation], bound,
                           upper=False, asked_by=f"focus on {reg.name!r}")
        for _, bound, _, per in bounds
    ]  # fmt: skip
    mass = metrics.relevance_mass(explanation, reg)
    checks = []  # (metric, value, bound, bound name, detail, decision)
    for (metric, bound, name, per), decision in zip(bounds, decisions):
        detail = f" (mass {_measure_text(decision.value * per, explanation)} / area share {area:.3f})" if per != 1.0 else ""
        checks.append((metric, decision.value, bound, name, detail + decision.suffix()))
    failed = [c for c in checks if not c[1] >= c[2]]  # NaN fails
    backing = confirmation.run("focus", explanation, drawn, confirm)
    picture = _region_picture(explanation, reg, f"focus-{drawn.name}") if failed else None
    results = [
        _record_check("focus", explanation, reg, metric, value, bound, value >= bound, picture, **decision.record())
        for (metric, value, bound, _, _), decision in zip(checks, decisions)
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
            f"attribution focuses on region {reg.name!r} (mass {_measure_text(mass, explanation)}), "
            f"but {confirmation.words(backing)}\n  {_describe(explanation)}\n"
            f"  picture (image | region hidden | top classes before/after): {backing.picture}"
        )
    what = "; ".join(
        f"{metric.replace('_', ' ')} {_measure_text(value, explanation)}{detail} < {name} {bound:.3f}"
        for metric, value, bound, name, detail in failed
    )
    where = (
        f"  {1 - mass:.3f} of the positive attribution lies outside {reg.name!r}, "
        if mass == mass else f"  no positive attribution to place in {reg.name!r}, "
    )
    return (
        f"attribution does not focus on region {reg.name!r}: {what}\n"
        f"  {_describe(explanation)}\n"
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
    hide the region (``assert_region_irrelevant`` at its defaults); the test then fails only
    when the model uses the region: mass above ``max_mass`` AND hiding it changes the output.
    A region that is salient but unused passes, and the record keeps both numbers.
    Returns its ``CheckResult`` in a list, like the other helpers.
    """
    __tracebackhide__ = True
    bound = check_bound(max_mass, "max_mass")
    reg = as_region(region)
    decision = uncertainty.decide(
        lambda e: metrics.relevance_mass(e, reg), [explanation], bound, upper=True,
        asked_by=f"avoid {reg.name!r}",
    )
    mass = decision.value
    backing = confirmation.run("avoid", explanation, reg, confirm)
    passed = mass <= bound or (backing is not None and backing.passed)  # NaN fails
    picture = None if passed else _region_picture(explanation, reg, f"avoid-{reg.name}")
    details = None if backing is None else {"salience_passed": mass <= bound, "confirm": confirmation.words(backing)}
    result = _record_check(
        "avoid", explanation, reg, "relevance_mass", mass, bound, passed, picture, upper=True, details=details,
        **decision.record(),
    )
    if not passed:
        headline = (
            f"attribution rests on region {reg.name!r}" if mass == mass
            else f"cannot tell whether the attribution avoids region {reg.name!r}"
        )
        raise AssertionError(
            f"{headline}: relevance mass {_measure_text(mass, explanation)} "
            f"{'>' if mass == mass else 'fails'} max_mass {bound:.3f}{decision.suffix()}\n"
            f"  {_describe(explanation)}\n"
            f"  overlay (heatmap, region outlined): {picture}"
            + ("" if backing is None else f"\n  and {confirmation.words(backing)}: {backing.picture}")
        )
    return [result]


def assert_explanations_agree(
    a: Explanation, b: Explanation, *, min_spearman: float = 0.5, min_top_k_iou: float | None = None
) -> list[CheckResult]:
    """Fail unless two explanations of one image rank the evidence alike.

    Spearman over superpixel weights when both share segments, else over heatmaps (bound in
    [-1, 1]); optionally also the IoU of their top-20% most attributed pixels (bound in [0, 1]).
    Returns one ``CheckResult`` per bound judged.
    """
    __tracebackhide__ = True
    s_bound = check_bound(min_spearman, "min_spearman", low=-1.0)
    i_bound = None if min_top_k_iou is None else check_bound(min_top_k_iou, "min_top_k_iou")
    measures: list[tuple[str, str, Any, float]] = [("spearman", "Spearman", metrics.spearman, s_bound)]
    if i_bound is not None:
        measures.append(("top_k_iou", f"top-{TOP_K_FRACTION:.0%} IoU", metrics.top_k_iou, i_bound))
    asked_by = f"agree {a.method} vs {b.method}"
    decisions = [uncertainty.decide(fn, [a, b], bound, upper=False, asked_by=asked_by) for _, _, fn, bound in measures]
    checks = [(metric, label, d.value, bound) for (metric, label, _, bound), d in zip(measures, decisions)]
    failures = [
        f"{label} {_measure_text(value, a, b)} < min_{metric} {bound:.3f}{d.suffix()}"
        for (metric, label, value, bound), d in zip(checks, decisions)
        if not value >= bound  # NaN fails
    ]
    picture = None
    if failures:
        side = render.side_by_side([a.overlay(), b.overlay()])
        picture = render.save_png(side, recording.picture_path(f"agree-{a.method}-{b.method}"))
    results = [
        _record_check("agree", a, None, metric, value, bound, value >= bound, picture, other_method=b.method, **d.record())
        for (metric, _, value, bound), d in zip(checks, decisions)
    ]
    if failures:
        raise AssertionError(
            "explanations disagree: " + "; ".join(failures) + "\n"
            f"  a: {_describe(a)}\n"
            f"  b: {_describe(b)}\n"
            f"  overlays (a | b): {picture}"
        )
    return results


# -- sanity check: does the explanation depend on the model? ------------------------------------


def assert_explanation_depends_on_model(
    explain: Callable[..., Any], image: Any, *, method: str = "lime",
    layers: int | Sequence[str] | None = None, max_similarity: float = DEFAULT_MAX_SIMILARITY,
    seed: int = 0, samples: int | None = None, classifier: Any = None,
) -> list[CheckResult]:
    """Fail when the explanation of a randomised model still looks like the trained model's.

    Cascading model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency
    maps"; Quantus' MPRT): the model's parameterised layers are re-drawn at random from the
    top (output) layer down, cumulatively, and each randomised copy is explained. If the
    explanation with every chosen layer randomised still correlates with the original, the
    method shows image structure (edges, colour blobs), not what the model uses. The model
    under test is never modified: a deep copy is randomised, with a seeded generator.

    Parameters
    ----------
    explain: ``pytest_xai.explain``, the ``explain`` fixture, or any callable
        ``f(image, *, classifier, method, seed[, samples])`` returning an Explanation.
    image: the image to explain.
    method: the attribution method under test.
    layers: the layers to randomise, top first: None (all parameterised layers), an int k
        (the top k) or module names as in ``model.named_modules()``.
    max_similarity: the highest acceptable similarity, in [-1, 1]: Spearman rank correlation
        of |attribution| (superpixel weights when both share segments, else heatmaps), as
        Adebayo et al. and Quantus' MPRT default.
    seed: seeds the explanations and the random weights (never the global RNG).
    samples: samples per explanation (default: the method's).
    classifier: the model (a ``Classifier`` wrapping a ``torch.nn.Module``, or a module);
        default the explain fixture's ``xai_model``.
    """
    __tracebackhide__ = True
    bound = check_bound(max_similarity, "max_similarity", low=-1.0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise XaiValueError(f"seed={seed!r} must be a non-negative int")
    clf = _sanity_classifier(explain, classifier)
    module = _module_of(clf)
    chosen = _cascade_layers(module, layers)
    run_trained, run_randomised = _explainers(explain, method, seed, samples)
    original = run_trained(clf, image)
    if metrics.is_silent(original):
        _record_check("sanity", original, None, "spearman_abs", math.nan, bound, False, None, upper=True)
        raise AssertionError(
            f"the trained model's explanation carries {metrics.no_evidence(original)}\n"
            "  so there is nothing a randomised model could fail to reproduce\n"
            f"  trained: {_describe(original)}"
        )
    cascade = _cascade(run_randomised, clf, module, chosen, original, image, seed)
    return [_judge_cascade(original, cascade, bound, len(chosen))]


def _judge_cascade(original: Explanation, cascade: list[tuple[str, Explanation, float]], bound: float, layers: int) -> CheckResult:
    """The sanity check's verdict on the fully randomised model's similarity, recorded; the
    failure message walks the cascade."""
    __tracebackhide__ = True
    final = cascade[-1][2]
    passed = final <= bound  # NaN fails
    picture = None
    if not passed:
        side = render.side_by_side([original.overlay(), cascade[-1][1].overlay()])
        picture = render.save_png(side, recording.picture_path(f"sanity-{original.method}"))
    steps = [{"layer": name, "similarity": finite_or_none(v)} for name, _, v in cascade]
    result = _record_check(
        "sanity", original, None, "spearman_abs", final, bound, passed, picture, upper=True, cascade=steps
    )
    if not passed:
        trail = ", ".join(f"{name} {_measure_text(v)}" for name, _, v in cascade)
        raise AssertionError(
            f"explanation does not depend on the model: with {layers} parameterised layer(s) "
            f"randomised, the {original.method} explanation still has Spearman |attribution| "
            f"{_measure_text(final)} > max_similarity {bound:.3f} to the trained model's\n"
            "  so it shows image structure, not what the model uses (Adebayo et al. 2018)\n"
            f"  cascade (top layer first, cumulative): {trail}\n"
            f"  trained: {_describe(original)}\n"
            f"  overlays (trained | all randomised): {picture}"
        )
    return result


def _sanity_classifier(explain: Any, classifier: Any) -> Any:
    """The classifier given, else the explain fixture's model."""
    if classifier is not None:
        return classifier
    model = getattr(explain, "model", None)
    if model is None and hasattr(explain, "request"):
        model = explain.request.getfixturevalue("xai_model")
    if model is None:
        raise XaiValueError(
            "classifier=None, and explain is not the explain fixture; pass classifier= (the model "
            "to randomise)"
        )
    return model


def _module_of(classifier: Any) -> Any:
    import torch

    from pytest_xai.classifier import Classifier

    model = classifier.model if isinstance(classifier, Classifier) else classifier
    if not isinstance(model, torch.nn.Module):
        raise XaiTypeError(
            f"classifier wraps a {type(model).__name__}, not a torch.nn.Module: its parameters "
            "cannot be randomised; pass a Classifier around an nn.Module"
        )
    return model


def _cascade_layers(module: Any, layers: Any) -> list[str]:
    """The names of the layers to randomise, top (output) layer first."""
    named = [name for name, m in module.named_modules() if next(m.parameters(recurse=False), None) is not None]
    top_first = named[::-1]  # definition order follows the forward pass in most models
    if not top_first:
        raise XaiValueError("the model has no parameters to randomise")
    if layers is None:
        return top_first
    if isinstance(layers, int) and not isinstance(layers, bool):
        if not 1 <= layers <= len(top_first):
            raise XaiValueError(f"layers={layers!r} must be in 1..{len(top_first)} (parameterised layers)")
        return top_first[:layers]
    if isinstance(layers, (list, tuple)) and layers and all(isinstance(n, str) for n in layers):
        unknown = [n for n in layers if n not in named]
        if unknown or len(set(layers)) != len(layers):
            raise XaiValueError(
                f"layers={list(layers)!r}: {unknown or 'duplicates'}; use distinct names of "
                f"parameterised layers: {', '.join(top_first)}"
            )
        return list(layers)
    raise XaiTypeError(f"layers={layers!r} must be None, an int or a list of module names")


def _explainers(
    explain: Any, method: str, seed: int, samples: int | None
) -> tuple[Callable[[Any, Any], Explanation], Callable[[Any, Any], Explanation]]:
    """How to explain the trained model and its randomised copies.

    The trained model goes through ``explain`` itself (the fixture records and caches it).
    Randomised copies go through the fixture's ``unrecorded``: resolved and cached like any
    explanation (a seeded copy has a stable fingerprint), but not shown in the report as the
    model's explanation.
    """
    from pytest_xai.explainer import explain as library_explain

    if not callable(explain):
        raise XaiTypeError(f"explain of type {type(explain).__name__} is not callable; pass the explain fixture")
    kwargs: Params = {"method": method, "seed": seed}
    if samples is not None:
        kwargs["samples"] = samples
    defaults = getattr(explain, "defaults", None)

    def trained(clf: Any, image: Any) -> Explanation:
        out = library_explain(clf, image, **kwargs) if explain is library_explain else explain(
            image, classifier=clf, **kwargs)
        return metrics._as_explanation(out, "explain(...)'s result")

    def randomised(clf: Any, image: Any) -> Explanation:
        if explain is not library_explain and not callable(defaults):
            return trained(clf, image)  # a user's callable: its own convention
        unrecorded = getattr(explain, "unrecorded", None)
        if callable(unrecorded):  # the explain fixture: cached, but not shown as the model's
            return metrics._as_explanation(
                unrecorded(image, classifier=clf, **kwargs), "explain(...)'s result"
            )
        params = {**(defaults() if callable(defaults) else {}), **kwargs}
        return metrics._as_explanation(library_explain(clf, image, **params), "explain(...)'s result")

    return trained, randomised


def _cascade(
    run: Callable[[Any, Any], Explanation], clf: Any, module: Any, chosen: list[str],
    original: Explanation, image: Any, seed: int,
) -> list[tuple[str, Explanation, float]]:
    """Randomise the chosen layers of a copy one after another; explain and compare each step."""
    import torch

    from pytest_xai.classifier import Classifier

    twin = copy.deepcopy(module)
    generator = torch.Generator().manual_seed(seed)
    modules = dict(twin.named_modules())
    steps = []
    for name in chosen:
        with torch.no_grad():
            for parameter in modules[name].parameters(recurse=False):
                _redraw(parameter, generator)
        randomised = (
            Classifier(twin, preprocess=clf.preprocess, class_names=clf.class_names, device=clf.device,
                       batch_size=clf.batch_size, channels_last=clf.channels_last)
            if isinstance(clf, Classifier) else twin
        )
        exp = run(randomised, image)
        # a randomised model whose explanation went silent keeps nothing of the original's
        similarity = 0.0 if metrics.is_silent(exp) else metrics.spearman(original, exp, absolute=True)
        steps.append((name, exp, similarity))
    return steps


def _redraw(parameter: Any, generator: Any) -> None:
    """Replace a parameter with Gaussian noise of its own spread (1/sqrt(size) when it has
    none, e.g. a zero bias): random, but activations keep their scale."""
    import torch

    values = parameter.detach().float()
    spread = float(values.std()) if values.numel() > 1 else 0.0
    if not spread > 0:
        spread = 1.0 / math.sqrt(values.numel())
    noise = torch.randn(values.shape, generator=generator) * spread
    parameter.copy_(noise.to(device=parameter.device, dtype=parameter.dtype))
