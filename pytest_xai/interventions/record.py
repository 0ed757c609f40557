"""The report record of an intervention: one check of kind "intervention" in the test's record."""

from __future__ import annotations

from typing import Any

from pytest_xai.interventions.core import InterventionResult, finite


def check_entry(result: InterventionResult, role: str | None = None) -> dict[str, Any]:
    """The check entry for ``result``, shaped like the other checks of ``TestRecord.checks``.

    kind "intervention"; ``metric`` "probability_change" (irrelevant), "follow_rate"
    (ignores) or "probability_drop" (needed); ``op`` says whether the bound is a maximum;
    ``test`` the intervention, ``fill``, ``p_before``/``p_after`` and the logit margins, the
    donors' classes and which were followed; ``role`` "confirm" when it backs an attribution
    check.
    """
    from pytest_xai import _record

    return {
        "kind": "intervention",
        "metric": result.metric,
        "value": finite(result.value),
        "bound": result.bound,
        "op": result.op,
        "bound_name": result.bound_name,
        "passed": result.passed,
        "region": result.region,
        "method": result.check,
        "target": result.target_name,
        "image": _record.image_key(result.image),
        "picture": None if result.picture is None else str(result.picture),
        "test": result.check,
        "role": role,
        "fill": result.fill,
        "p_before": round(result.p_before, 6),
        "p_after": [round(p, 6) for p in result.p_after],
        "margin_before": round(result.margin_before, 4),
        "margin_after": [round(float(m), 4) for m in result.margin_after],
        "donor_classes": [result.name(c) for c in result.donor_classes],
        "followed": list(result.followed),
    }


def record(result: InterventionResult, role: str | None = None) -> None:
    """Add ``result`` to the running test's record (the report, JSON and JUnit read it)."""
    from pytest_xai import _record

    current = _record.current()
    if current is not None:
        current.checks.append(check_entry(result, role))
