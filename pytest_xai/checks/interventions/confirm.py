"""``confirm=`` of the attribution assertions: the intervention that backs an avoid or focus claim.

An avoid claim is backed by hiding the region (``measure_irrelevant``), a focus claim by
requiring that hiding it drops the target (``measure_needed``), on the explained image, target
and model; at the intervention's defaults, or at the bounds a ``confirm={...}`` mapping gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest_xai.checks.interventions.assertions as assertions
import pytest_xai.checks.interventions.measure as measure
from pytest_xai.checks.interventions.measure import InterventionResult
from pytest_xai.checks.interventions.record import record
from pytest_xai.errors import XaiTypeError, XaiValueError

# The keyword arguments a ``confirm={...}`` mapping may hold, per backing intervention.
BOUNDS = {
    "avoid": ("fill", "max_change", "max_scaled_drop", "max_logit_drop", "max_logit_change"),
    "focus": ("fill", "min_drop", "min_logit_drop"),
}
ASSERTION = {"avoid": "assert_region_irrelevant", "focus": "assert_region_needed"}


def model_for(explanation: Any, confirm: Any) -> Any:
    """The model to intervene on: the one that produced ``explanation`` (``confirm=True``), or
    the explain fixture / Classifier / module given as ``confirm``."""
    if confirm is True:
        found = getattr(explanation, "source", None)
        if found is None:
            raise XaiValueError(
                "confirm=True cannot tell which model produced this explanation (it was not made "
                "by pytest_xai.explain or the explain fixture in this process); pass the model: "
                "confirm=explain, confirm=classifier or confirm={'model': explain, ...}"
            )
        return found
    if confirm is False or confirm is None or isinstance(confirm, (int, float, str)):
        raise XaiTypeError(
            f"confirm={confirm!r} must be True, False, the explain fixture, a Classifier or a dict "
            "of the intervention's bounds"
        )
    return measure.as_classifier_of(confirm, "confirm")


def split(kind: str, confirm: Any) -> tuple[Any, Mapping[str, Any]]:
    """(what names the model, the intervention's keyword arguments) of a ``confirm`` value.

    A mapping holds the backing intervention's bounds (``BOUNDS[kind]``) and optionally
    ``model``; anything else names the model and keeps the defaults.
    """
    if not isinstance(confirm, Mapping):
        return confirm, {}
    allowed = BOUNDS[kind]
    unknown = [k for k in confirm if k != "model" and k not in allowed]
    if unknown:
        other = next((o for o, keys in BOUNDS.items() if o != kind and unknown[0] in keys), None)
        hint = f" ({unknown[0]!r} bounds the {other} check's intervention)" if other else ""
        raise XaiTypeError(
            f"confirm={dict(confirm)!r} has unknown key(s) {', '.join(map(repr, unknown))}{hint}; the {kind} "
            f"check's intervention ({ASSERTION[kind]}) takes {', '.join(map(repr, allowed))} and 'model', "
            f"e.g. confirm={{'{allowed[-1]}': 2.0}}"
        )
    bounds = {k: v for k, v in confirm.items() if k != "model"}
    return confirm.get("model", True), bounds


def run(kind: str, explanation: Any, region: Any, confirm: Any) -> InterventionResult | None:
    """The backing intervention of an "avoid" or "focus" check (recorded), or None without
    ``confirm``."""
    if confirm is False or confirm is None:
        return None
    named, bounds = split(kind, confirm)
    if explanation.image is None:
        raise XaiValueError("confirm needs the explained image, but this explanation has none; explain it again")
    model = model_for(explanation, named)
    run = assertions.measure_irrelevant if kind == "avoid" else assertions.measure_needed
    result, mask = run(model, explanation.image, region, target=explanation.target, **bounds)
    if not result.passed:
        assertions.save_picture(result, mask, f"confirm-{kind}")
    record(result, role="confirm")
    return result


def words(result: InterventionResult) -> str:
    """``hiding it (grey) moves p('circle') by -0.002 (1.000 -> 0.998, logit margin 9.10 ->
    8.80): not used (change 0.002 <= max_change 0.470; margin drop 0.30 / logit IQR 1.50 = 0.20
    <= max_scaled_drop 2.25)``."""
    k = result.shown
    change = f"hiding it ({result.fill}) moves p({result.target_name!r}) by {result.p_after[k] - result.p_before:+.3f} " \
        f"({result.p_before:.3f} -> {result.p_after[k]:.3f}, logit margin {result.margin_before:.2f} -> " \
        f"{float(result.margin_after[k]):.2f})"
    if result.check == "irrelevant":
        verdict = "not used" if result.passed else "the model uses it"
    else:
        verdict = "needed" if result.passed else "not needed"
    return f"{change}: {verdict} ({assertions.judged(result)})"
