"""``confirm=`` of the attribution assertions: the intervention that backs an avoid or focus claim.

An avoid claim is backed by hiding the region (``measure_irrelevant``), a focus claim by
requiring that hiding it drops the target (``measure_needed``), both at their defaults, on the
explained image, target and model.
"""

from __future__ import annotations

from typing import Any

import pytest_xai.checks.interventions.checks as checks
import pytest_xai.checks.interventions.core as core
from pytest_xai.checks.interventions.core import InterventionResult
from pytest_xai.checks.interventions.record import record
from pytest_xai.errors import XaiTypeError, XaiValueError


def model_for(explanation: Any, confirm: Any) -> Any:
    """The model to intervene on: the one that produced ``explanation`` (``confirm=True``), or
    the explain fixture / Classifier / module given as ``confirm``."""
    if confirm is True:
        found = getattr(explanation, "source", None)
        if found is None:
            raise XaiValueError(
                "confirm=True cannot tell which model produced this explanation (it was not made "
                "by pytest_xai.explain or the explain fixture in this process); pass the model: "
                "confirm=explain or confirm=classifier"
            )
        return found
    if confirm is False or confirm is None or isinstance(confirm, (int, float, str)):
        raise XaiTypeError(
            f"confirm={confirm!r} must be True, False, the explain fixture or a Classifier"
        )
    return core.as_classifier_of(confirm, "confirm")


def run(kind: str, explanation: Any, region: Any, confirm: Any) -> InterventionResult | None:
    """The backing intervention of an "avoid" or "focus" check (recorded), or None without
    ``confirm``."""
    if confirm is False or confirm is None:
        return None
    if explanation.image is None:
        raise XaiValueError("confirm needs the explained image, but this explanation has none; explain it again")
    model = model_for(explanation, confirm)
    measure = checks.measure_irrelevant if kind == "avoid" else checks.measure_needed
    result, mask = measure(model, explanation.image, region, target=explanation.target)
    if not result.passed:
        checks.save_picture(result, mask, f"confirm-{kind}")
    record(result, role="confirm")
    return result


def words(result: InterventionResult) -> str:
    """``hiding it moves p('circle') by 0.002 (1.000 -> 0.998): salient, not used``."""
    k = result.shown
    change = f"hiding it ({result.fill}) moves p({result.target_name!r}) by {result.p_before - result.p_after[k]:+.3f} " \
        f"({result.p_before:.3f} -> {result.p_after[k]:.3f}, logit margin {result.margin_before:.2f} -> " \
        f"{float(result.margin_after[k]):.2f})"
    if result.check == "irrelevant":
        return f"{change}: {'not used' if result.passed else 'the model uses it'} (max_change {result.bound:.3f})"
    return f"{change}: {'needed' if result.passed else 'not needed'} (min_drop {result.bound:.3f})"
