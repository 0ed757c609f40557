"""The report record of an intervention: one check of kind "intervention" in the test's record."""

from __future__ import annotations

from pytest_xai.checks import recorder as recording
from pytest_xai.checks.interventions.core import InterventionResult, finite
from pytest_xai.records import CheckResult


def check_entry(result: InterventionResult, role: str | None = None) -> CheckResult:
    """The check of ``result``: kind "intervention"; ``metric`` "probability_change"
    (irrelevant), "follow_rate" (ignores) or "probability_drop" (needed), an upper bound for
    the first two; ``method`` the intervention; ``details`` the fill, ``p_before``/``p_after``
    and the logit margins, the donors' classes and which were followed, and ``role`` "confirm"
    when it backs an attribution check.
    """
    return CheckResult(
        kind="intervention",
        metric=result.metric,
        value=finite(result.value),
        bound=result.bound,
        passed=result.passed,
        upper=result.op == "<=",
        region=result.region,
        method=result.check,
        target=result.target_name,
        image=recording.image_key(result.image),
        picture=None if result.picture is None else str(result.picture),
        details={
            "role": role,
            "fill": result.fill,
            "p_before": round(result.p_before, 6),
            "p_after": [round(p, 6) for p in result.p_after],
            "margin_before": round(result.margin_before, 4),
            "margin_after": [round(float(m), 4) for m in result.margin_after],
            "donor_classes": [result.name(c) for c in result.donor_classes],
            "followed": list(result.followed),
        },
    )


def record(result: InterventionResult, role: str | None = None) -> None:
    """Add ``result`` to the running test's record (the report, JSON and JUnit read it)."""
    current = recording.current()
    if current is not None:
        current.add_check(check_entry(result, role))
