"""The intervention assertions: a region must be irrelevant, ignored under a swap, or needed.

Each runs in three steps: ``measure_*`` (validate, change the input, one batched forward, a
verdict in an ``InterventionResult``), ``record`` (the test's report entry), and the failure
message built from the same numbers. ``measure_*`` never raises on a verdict, so
``confirm=True`` and the benchmarks reuse them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import pytest_xai.checks.interventions.fills as fills
import pytest_xai.checks.interventions.measure as measure
import pytest_xai.checks.interventions.swap as swap
from pytest_xai._util.validation import positive_int
from pytest_xai.checks.interventions.measure import InterventionResult
from pytest_xai.checks.interventions.record import record
from pytest_xai.errors import XaiValueError

# Defaults: 1.5x the worst harmless release measured (benchmarks/results/interventions.md for
# the fills and probability bounds, margin_default.md for the margin in logit IQRs, which holds
# for networks of any logit scale where a bound in logits cannot).
DEFAULT_FILL = "grey"
NEEDED_FILL = "inpaint"
DEFAULT_MAX_CHANGE = 0.47
DEFAULT_MIN_DROP = 0.05
DEFAULT_MAX_FLIP = 0.75
DEFAULT_MAX_SCALED_DROP = 2.25
DEFAULT_MAX_LOGIT_DROP = 7.0  # the swap's bound in logits; the hide's default is scale-free
DEFAULT_MIN_LOGIT_DROP = 1.0
DEFAULT_MAX_DONORS = 8


def _prepare(explain_or_classifier: Any, image: Any, region: Any) -> tuple[Any, np.ndarray, Any, np.ndarray]:
    from pytest_xai.images import as_image

    clf = measure.as_classifier_of(explain_or_classifier)
    array = as_image(image, "image")
    reg, mask = measure.region_mask(region, array)
    return clf, array, reg, mask


def _hidden(
    clf: Any, array: np.ndarray, mask: np.ndarray, fill: str, target: Any
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], float]:
    """One forward of [image, image with the region hidden]: target, softmax, margins, variant,
    and the spread of the image's logits."""
    variant = fills.hide(array, mask, fill)
    probs, logits = measure.outputs(clf, [array, variant])
    t = measure.resolve_target(clf, target, probs[0])
    margins = measure.margin(logits, t)
    names = measure.class_names(clf, probs.shape[1])
    return t, probs, margins, variant[None], probs[1:], names, measure.logit_spread(logits[0])


LOGIT_FIX = "pass logit units, e.g. 2.0, or None to judge the probability alone"
SCALED_FIX = "pass interquartile ranges of the logits, e.g. 2.25, or None to judge the probability alone"


def measure_irrelevant(
    explain_or_classifier: Any, image: Any, region: Any, *, fill: str = DEFAULT_FILL,
    max_change: float = DEFAULT_MAX_CHANGE, max_scaled_drop: float | None = DEFAULT_MAX_SCALED_DROP,
    max_logit_drop: float | None = None, max_logit_change: float | None = None, target: Any = None,
) -> tuple[InterventionResult, np.ndarray]:
    """Hide the region; passed when the target's probability moves at most ``max_change`` and
    its logit margin falls by at most ``max_scaled_drop`` interquartile ranges of the image's
    logits (or, given in logits, falls by at most ``max_logit_drop`` or moves by at most
    ``max_logit_change`` either way; all None: p alone). Returns the mask too."""
    fill = fills.check_fill(fill)
    bound = measure.check_fraction(max_change, "max_change", "pass e.g. max_change=0.1 (a probability)")
    scaled_bound = measure.check_logit_bound(max_scaled_drop, "max_scaled_drop", SCALED_FIX, "interquartile ranges")
    drop_bound = measure.check_logit_bound(max_logit_drop, "max_logit_drop", LOGIT_FIX)
    change_bound = measure.check_logit_bound(max_logit_change, "max_logit_change", LOGIT_FIX)
    clf, array, reg, mask = _prepare(explain_or_classifier, image, region)
    t, probs, margins, variants, after, names, spread = _hidden(clf, array, mask, fill, target)
    fall = float(margins[0] - margins[1])
    logit: tuple[str, float, float | None, str]
    if change_bound is not None:
        logit = ("margin_change", abs(fall), change_bound, "max_logit_change")
    elif drop_bound is not None:
        logit = ("margin_drop", fall, drop_bound, "max_logit_drop")
    else:
        logit = ("scaled_margin_drop", measure.scaled(fall, spread), scaled_bound, "max_scaled_drop")
    result = InterventionResult(
        check="irrelevant", region=reg.name, target=t, class_names=names, image=array,
        before=probs[0], margin_before=float(margins[0]), variants=list(variants), after=after,
        margin_after=margins[1:], metric="probability_change", value=abs(float(after[0, t] - probs[0, t])),
        op="<=", bound=bound, bound_name="max_change", passed=False, fill=fill,
        logit_metric=logit[0], logit_value=logit[1], logit_bound=logit[2], logit_bound_name=logit[3],
        logit_spread=spread,
    )  # fmt: skip
    result.passed = result.p_passed and result.logit_passed is not False
    return result, mask


def measure_needed(
    explain_or_classifier: Any, image: Any, region: Any, *, fill: str = NEEDED_FILL,
    min_drop: float = DEFAULT_MIN_DROP, min_logit_drop: float | None = DEFAULT_MIN_LOGIT_DROP,
    target: Any = None,
) -> tuple[InterventionResult, np.ndarray]:
    """Hide the region; passed when the target's probability drops by at least ``min_drop`` or
    its logit margin by at least ``min_logit_drop`` (None: the probability alone)."""
    fill = fills.check_fill(fill)
    bound = measure.check_fraction(min_drop, "min_drop", "pass e.g. min_drop=0.3 (a probability)")
    logit_bound = measure.check_logit_bound(min_logit_drop, "min_logit_drop", LOGIT_FIX)
    clf, array, reg, mask = _prepare(explain_or_classifier, image, region)
    t, probs, margins, variants, after, names, _ = _hidden(clf, array, mask, fill, target)
    result = InterventionResult(
        check="needed", region=reg.name, target=t, class_names=names, image=array,
        before=probs[0], margin_before=float(margins[0]), variants=list(variants), after=after,
        margin_after=margins[1:], metric="probability_drop", value=float(probs[0, t] - after[0, t]), op=">=",
        bound=bound, bound_name="min_drop", passed=False, fill=fill,
        logit_metric="margin_drop", logit_value=float(margins[0] - margins[1]), logit_bound=logit_bound,
        logit_bound_name="min_logit_drop",
    )  # fmt: skip
    result.passed = result.p_passed or bool(result.logit_passed)
    return result, mask


def measure_ignores(
    explain_or_classifier: Any, image: Any, region: Any, donors: Any, *,
    max_flip: float = DEFAULT_MAX_FLIP, max_change: float = DEFAULT_MAX_CHANGE,
    max_logit_drop: float | None = DEFAULT_MAX_LOGIT_DROP,
    max_donors: int = DEFAULT_MAX_DONORS, seed: int = 0, target: Any = None,
) -> tuple[InterventionResult, np.ndarray]:
    """Paste the region from donors of other classes; passed when at most ``max_flip`` of them
    are followed (the prediction becomes the donor's class, or the target's probability
    falls by more than ``max_change``, or its logit margin by more than ``max_logit_drop``)."""
    flip = measure.check_fraction(max_flip, "max_flip", "pass e.g. max_flip=0.25 (a fraction of donors)")
    change = measure.check_fraction(max_change, "max_change", "pass e.g. max_change=0.1 (a probability)")
    logit_bound = measure.check_logit_bound(max_logit_drop, "max_logit_drop", LOGIT_FIX)
    limit = positive_int(max_donors, "max_donors", "use e.g. 8")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise XaiValueError(f"seed={seed!r} must be a non-negative int")
    clf, array, reg, mask = _prepare(explain_or_classifier, image, region)
    given = swap.donor_arrays(donors, array)
    places = swap.donor_masks(donors, reg.name, mask)
    probs, logits = measure.outputs(clf, [array, *given])
    t = measure.resolve_target(clf, target, probs[0])
    names = measure.class_names(clf, probs.shape[1])
    classes = [int(c) for c in probs[1:].argmax(axis=1)]
    chosen = swap.eligible(classes, t, names, limit, int(seed))
    variants = [swap.paste(array, given[i], mask, places[i]) for i in chosen]
    after, after_logits = measure.outputs(clf, variants)
    donor_classes = [classes[i] for i in chosen]
    margin_before = float(measure.margin(logits[:1], t)[0])
    margin_after = measure.margin(after_logits, t)
    hits = swap.followed(after, donor_classes, t, float(probs[0, t]), change)
    if logit_bound is not None:
        hits = [hit or margin_before - float(m) > logit_bound for hit, m in zip(hits, margin_after)]
    rate = sum(hits) / len(hits)
    result = InterventionResult(
        check="ignores", region=reg.name, target=t, class_names=names, image=array,
        before=probs[0], margin_before=margin_before, variants=variants,
        after=after, margin_after=margin_after, metric="follow_rate", value=rate,
        op="<=", bound=flip, bound_name="max_flip", passed=rate <= flip, donor_classes=donor_classes,
        followed=hits, shown=hits.index(True) if any(hits) else 0, logit_metric="largest_margin_drop",
        logit_value=max(margin_before - float(m) for m in margin_after), logit_bound=logit_bound,
        logit_bound_name="max_logit_drop",
    )  # fmt: skip
    return result, mask


def save_picture(result: InterventionResult, mask: np.ndarray, stem: str) -> None:
    """Draw image | changed image | bars for a failed check under the results directory."""
    import pytest_xai.checks.interventions.picture as picture
    from pytest_xai.checks.recorder import picture_path

    result.picture = picture.save(result, mask, picture_path(f"{stem}-{result.region}"))


def judged(result: InterventionResult) -> str:
    """Both criteria against their bounds: ``change 0.067 <= max_change 0.470; margin drop 8.31
    / logit IQR 1.71 = 4.86 > max_scaled_drop 2.25``; the margin's bound reads "not judged"
    when it is off."""
    def side(value: float, bound: float, upper: bool) -> str:
        holds = value <= bound if upper else value >= bound
        return ("<=" if holds else ">") if upper else (">=" if holds else "<")

    words = {"probability_change": "change", "probability_drop": "drop", "follow_rate": "follow rate"}
    text = f"{words[result.metric]} {result.value:.3f} {side(result.value, result.bound, result.op == '<=')} " \
        f"{result.bound_name} {result.bound:.3f}"
    if result.logit_metric is None or result.logit_value is None:
        return text
    name = result.logit_metric.replace("_", " ")
    if result.logit_metric == "scaled_margin_drop" and result.logit_spread is not None:
        fall = result.margin_before - float(result.margin_after[0])
        name = f"margin drop {fall:.2f} / logit IQR {result.logit_spread:.2f} ="
    if result.logit_bound is None:
        return f"{text}; {name} {result.logit_value:.2f} ({result.logit_bound_name} not judged)"
    upper = result.logit_bound_name.startswith("max_")
    joined = "; " if upper else " or "
    return f"{text}{joined}{name} {result.logit_value:.2f} " \
        f"{side(result.logit_value, result.logit_bound, upper)} {result.logit_bound_name} {result.logit_bound:.2f}"


def moved(result: InterventionResult, index: int | None = None) -> str:
    """``p('square') 1.000 -> 0.020 (logit margin 11.8 -> -14.1)`` for one variant."""
    k = result.shown if index is None else index
    return (
        f"p({result.target_name!r}) {result.p_before:.3f} -> {result.p_after[k]:.3f} "
        f"(logit margin {result.margin_before:.2f} -> {float(result.margin_after[k]):.2f})"
    )


def assert_region_irrelevant(
    explain_or_classifier: Any, image: Any, region: Any, *, fill: str = DEFAULT_FILL,
    max_change: float = DEFAULT_MAX_CHANGE, max_scaled_drop: float | None = DEFAULT_MAX_SCALED_DROP,
    max_logit_drop: float | None = None, max_logit_change: float | None = None, target: Any = None,
) -> None:
    """Fail when hiding ``region`` changes the model's output: the model uses what is there.

    The region is hidden with ``fill`` ("grey", the default; "inpaint": from the surroundings;
    "blur"; or a name added with ``register_fill``). It passes when the target's
    softmax probability moves by at most ``max_change`` AND its logit margin (its logit minus
    the best other logit) falls by at most ``max_scaled_drop`` times the interquartile range of
    the image's logits. The margin sees a confident network's use of a region where p saturates
    (p 0.94 -> 0.85 while the margin falls from 12 to 4); measured against the spread of the
    logits, one bound fits networks whose logits span 2 or 30 (benchmarks/margin_scale.py). A
    rise of the margin is left to p, as harmless releases raise it by up to 8.5 logits
    (benchmarks/margin_default.py). A change of the winning class with the target's probability moving less than
    ``max_change`` is a borderline image (p near 1/2); a decisive one moves p by more than any
    useful ``max_change``, so no separate sign condition is imposed.

    Parameters
    ----------
    explain_or_classifier: the ``explain`` fixture (its model under test), a
        ``pytest_xai.Classifier`` or a ``torch.nn.Module``.
    image: the image (an ``xai_image``, array, tensor, path).
    region: a Region, an image's ``.regions[name]`` or a bool (H, W) mask.
    fill: how the region is hidden.
    max_change: the largest acceptable change of the target's probability, in [0, 1].
    max_scaled_drop: the largest acceptable fall of the target's logit margin, in interquartile
        ranges of the original image's logits (the standard deviation where half of them tie),
        or None to judge p alone. The default ``DEFAULT_MAX_SCALED_DROP`` (2.25) is about 1.5x
        the worst harmless release of toy CNNs and EfficientNet-Lite0 (benchmarks/margin_scale.py).
        Few-class networks have few logits to spread: on two classes the IQR is half the margin.
    max_logit_drop: the largest acceptable fall of the margin in logits, fitted to your network;
        given, it replaces ``max_scaled_drop``.
    max_logit_change: the largest acceptable change of the margin either way, in logits; given,
        it replaces both.
    target: the class to watch: None (the predicted class), an index or a class name.
    """
    __tracebackhide__ = True
    result, mask = measure_irrelevant(
        explain_or_classifier, image, region, fill=fill, max_change=max_change,
        max_scaled_drop=max_scaled_drop, max_logit_drop=max_logit_drop, max_logit_change=max_logit_change,
        target=target,
    )
    if not result.passed:
        save_picture(result, mask, "irrelevant")
    record(result)
    if not result.passed:
        raise AssertionError(
            f"hiding region {result.region!r} ({result.fill}) changes the output: the model uses it\n"
            f"  {moved(result)}\n  {judged(result)}\n"
            f"  now predicted: {result.name(int(np.argmax(result.after[0])))!r}\n"
            f"  picture (image | region hidden | top classes before/after): {result.picture}"
        )


def assert_region_needed(
    explain_or_classifier: Any, image: Any, region: Any, *, fill: str = NEEDED_FILL,
    min_drop: float = DEFAULT_MIN_DROP, min_logit_drop: float | None = DEFAULT_MIN_LOGIT_DROP,
    target: Any = None,
) -> None:
    """Fail unless hiding ``region`` drops the target's probability by at least ``min_drop`` or
    its logit margin by at least ``min_logit_drop``.

    The causal counterpart of ``assert_attribution_focus``: the object must be needed for the
    prediction, not only salient. Parameters as ``assert_region_irrelevant``, but the default
    ``fill`` is "inpaint" (a grey object keeps its silhouette); ``min_drop`` is the smallest
    acceptable drop of the target's softmax probability, in [0, 1]; ``min_logit_drop`` the
    drop of its logit margin that shows need as well, in logits (a confident network's p can
    stay near 1 while its margin falls), or None to judge p alone.

    A model that predicts the target for an image with nothing in it (its "empty" class)
    cannot show need by hiding; the message says so when the target survives.
    """
    __tracebackhide__ = True
    result, mask = measure_needed(
        explain_or_classifier, image, region, fill=fill, min_drop=min_drop, min_logit_drop=min_logit_drop, target=target
    )
    if not result.passed:
        save_picture(result, mask, "needed")
    record(result)
    if not result.passed:
        survives = int(np.argmax(result.after[0])) == result.target
        hint = (
            f"\n  the model still predicts {result.target_name!r} without it: it reads something "
            "else, or this is the class it gives an image without the object (check with "
            "assert_prediction_ignores and donors of other classes)" if survives else ""
        )
        raise AssertionError(
            f"hiding region {result.region!r} ({result.fill}) barely changes the output: it is not needed\n"
            f"  {moved(result)}\n  {judged(result)}{hint}\n"
            f"  picture (image | region hidden | top classes before/after): {result.picture}"
        )


def assert_prediction_ignores(
    explain_or_classifier: Any, image: Any, region: Any, donors: Any, *,
    max_flip: float = DEFAULT_MAX_FLIP, max_change: float = DEFAULT_MAX_CHANGE,
    max_logit_drop: float | None = DEFAULT_MAX_LOGIT_DROP,
    max_donors: int = DEFAULT_MAX_DONORS, seed: int = 0, target: Any = None,
) -> None:
    """Fail when the prediction follows the content of ``region`` pasted from other images.

    A counterfactual swap: the region's content is taken from each donor the model predicts
    as another class than the target (donors of the target's class are skipped): the donor's
    own region of the same name when it has one (a test image's ``.regions``, e.g. a spot at
    another position, moved onto this region after it is filled from its surroundings), else
    the donor's pixels at the same place. A donor is "followed" when the prediction becomes the donor's class or the
    target's probability falls by more than ``max_change`` or its logit margin by more than
    ``max_logit_drop`` (None: not judged). A model that reads a class-coded
    tag follows the donor's tag; a model that reads the object does not.

    Parameters
    ----------
    explain_or_classifier, image, region, target: as ``assert_region_irrelevant``.
    donors: images of the image's size (a list or an (N, H, W, 3) batch).
    max_flip: the largest acceptable fraction of followed donors, in [0, 1].
    max_change: the drop of the target's probability that counts as following, in [0, 1].
    max_logit_drop: the fall of the target's logit margin that counts as following, or None.
    max_donors: at most this many donors are used, drawn with ``seed`` when there are more.
    """
    __tracebackhide__ = True
    result, mask = measure_ignores(
        explain_or_classifier, image, region, donors, max_flip=max_flip, max_change=max_change,
        max_logit_drop=max_logit_drop, max_donors=max_donors, seed=seed, target=target,
    )  # fmt: skip
    if not result.passed:
        save_picture(result, mask, "ignores")
    record(result)
    if not result.passed:
        k = result.shown
        raise AssertionError(
            f"the prediction follows region {result.region!r} taken from other images: "
            f"{sum(result.followed)} of {len(result.followed)} donors followed, rate "
            f"{result.value:.3f} > max_flip {result.bound:.3f} (a donor is followed when the prediction "
            f"becomes its class, p drops by more than max_change {max_change:g}"
            + ("" if result.logit_bound is None else f" or the margin by more than max_logit_drop {result.logit_bound:g}")
            + ")\n"
            f"  e.g. with a {result.name(result.donor_classes[k])!r} donor's pixels: {moved(result)}, "
            f"now predicted {result.name(int(np.argmax(result.after[k])))!r}\n"
            f"  picture (image | region swapped | top classes before/after): {result.picture}"
        )
