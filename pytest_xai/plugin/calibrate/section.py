"""The ``xai calibration`` terminal section: per check, what was seen and what to write."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_xai.plugin.calibrate.rule import CalibratedCheck


def _span(check: CalibratedCheck) -> str:
    values = [v for v in check.observed.values() if v is not None]
    if not values:
        return "no value"
    return f"{min(values):.3f}" if min(values) == max(values) else f"{min(values):.3f}-{max(values):.3f}"


def check_line(check: CalibratedCheck) -> str:
    """One check: test, what it judges, observed span over the passes, current and suggested bound."""
    what = " ".join(x for x in (check.kind, check.region and repr(check.region), check.metric, check.method) if x)
    side = "max" if check.upper else "min"
    now = "-" if check.bound is None else f"{check.bound:g}"
    new = "-" if check.suggested is None else f"{check.suggested:g}"
    line = (
        f"{check.test} · {what}: observed {_span(check)} over {len(check.observed)} passes; "
        f"{side} now {now}, suggested {new} ({check.margin})"
    )
    return line + (f"\n  WARNING: {check.warning}" if check.warning else "")


def summary_lines(checks: Iterable[CalibratedCheck], outcomes: dict[str, dict[str, str]], path: str) -> list[str]:
    """The section's lines: one per check, then each pass's test outcomes, then the file."""
    checks = list(checks)
    lines = [check_line(c) for c in checks] or ["no check was recorded: nothing to calibrate"]
    below = sum(bool(c.warning) for c in checks)
    if below:
        lines.append(f"WARNING: {below} suggested bound{'s are' if below != 1 else ' is'} at or below chance; "
                     "see the WARNING lines above before copying them")
    for label, per_test in outcomes.items():
        counts: dict[str, int] = {}
        for outcome in per_test.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        lines.append(f"pass {label}: " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
    lines.append(f"written to {path} (a calibration run measures: failed checks do not fail it)")
    return lines
