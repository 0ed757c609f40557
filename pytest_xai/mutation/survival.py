"""Why a planted mutant survived, read from the checks and goldens its tests recorded."""

from __future__ import annotations

from pytest_xai.records import CheckResult, GoldenVerdict, Measure


def survival_reason(region: str, checks: list[CheckResult], goldens: list[GoldenVerdict], tests: int) -> str:
    """Why a planted mutant on ``region`` survived: no avoid test for it, or the closest the
    avoid tests, the goldens and the focus tests came to their bounds."""
    if not tests:
        return "no test explains this model"
    parts = []
    avoid = [c for c in checks if c.kind == "avoid" and c.region == region]
    if not avoid:
        parts.append(f"no avoid test for region {region!r}")
    else:
        worst = max(avoid, key=lambda c: c.value or 0.0)
        parts.append(f"avoid tests on {region!r} passed (highest mass {_num(worst.value)} <= {_num(worst.bound)})")
    parts.append(_golden_part(goldens))
    focus = [c for c in checks if c.kind == "focus"]
    if focus:
        low = min(focus, key=lambda c: (c.value or 0.0) / (c.bound or 1.0))
        parts.append(f"focus tests passed (lowest {low.metric} {_num(low.value)} >= {_num(low.bound)})")
    return "; ".join(parts)


def _closeness(m: Measure) -> float:
    """How near a measure came to its bound: 1 at the bound, above 1 past it."""
    assert m.bound is not None and m.value is not None
    if m.upper:
        return m.value / m.bound if m.bound else 0.0
    return m.bound / m.value if m.value else 0.0


def _golden_part(goldens: list[GoldenVerdict]) -> str:
    if not goldens:
        return "no golden for its images"
    bounded = [m for g in goldens for m in g.measured() if m.bound is not None and m.value is not None]
    if not bounded:
        return f"{len(goldens)} golden(s) passed"
    m = max(bounded, key=_closeness)
    op = "<=" if m.upper else ">="
    return f"goldens passed: shift under the bound (closest: {m.name} {_num(m.value)} {op} {_num(m.bound)})"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
