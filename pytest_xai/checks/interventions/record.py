"""The report record of an intervention: one check of kind "intervention" in the test's record."""

from __future__ import annotations

from pytest_xai.checks import recorder as recording
from pytest_xai.checks.interventions.measure import InterventionResult, finite
from pytest_xai.records import CheckResult


def check_entry(result: InterventionResult, role: str | None = None) -> CheckResult:
    """The check of ``result``: kind "intervention"; ``metric`` "probability_change"
    (irrelevant), "follow_rate" (ignores) or "probability_drop" (needed), an upper bound for
    the first two; ``method`` the intervention; ``details`` the fill, ``p_before``/``p_after``
    and the logit margins, the margin criterion judged with the probability (``logit_metric``
    "scaled_margin_drop" (the fall over ``logit_spread``, the interquartile range of the
    image's logits), "margin_drop", "margin_change" or "largest_margin_drop", ``logit_value``,
    ``logit_bound`` under its name ``logit_bound_name``, None when off, and ``logit_passed``), the donors'
    classes and which were followed, and ``role`` "confirm" when it backs an attribution check.
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
        image_name=recording.file_name(result.image),
        picture=None if result.picture is None else str(result.picture),
        details={
            "role": role,
            "fill": result.fill,
            "p_before": round(result.p_before, 6),
            "p_after": [round(p, 6) for p in result.p_after],
            "margin_before": round(result.margin_before, 4),
            "margin_after": [round(float(m), 4) for m in result.margin_after],
            "logit_metric": result.logit_metric,
            "logit_value": None if result.logit_value is None else finite(round(result.logit_value, 4)),
            "logit_bound": result.logit_bound,
            "logit_bound_name": result.logit_bound_name,
            "logit_passed": result.logit_passed,
            "logit_spread": None if result.logit_spread is None else round(result.logit_spread, 4),
            "donor_classes": [result.name(c) for c in result.donor_classes],
            "followed": list(result.followed),
        },
    )


def record(result: InterventionResult, role: str | None = None) -> None:
    """Add ``result`` to the running test's record (the report, JSON and JUnit read it)."""
    current = recording.current()
    if current is not None:
        current.add_check(check_entry(result, role))
