"""The words of a golden comparison: measures against bounds, where the evidence went, why
two runs may differ. Pure text from explanations; numpy is reached only through metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation


UPDATE_HINT = "if the change is intended: pytest --xai-update, then review the .png preview"


@dataclass(frozen=True)
class RegionGain:
    """A named-region criterion of release mode: the region that gained most (positive mass,
    or reliance), its gain against the bound, and the words."""

    region: str | None  # None: nothing judged (no named regions, or not measurable)
    value: float
    passed: bool
    summary: str
    finding: str
    measure: str = "region_gain"
    rests: str | None = None  # the region the golden's evidence rests on: reported, not judged


def within(value: float, bound: float, upper: bool) -> bool:
    """``value`` within ``bound``; NaN never is."""
    return value <= bound if upper else value >= bound


def why_undefined(golden: Explanation, actual: Explanation) -> str:
    """Why a measure of the two is NaN: a side without evidence, else NaN or inf values."""
    from pytest_xai.checks import metrics

    sides = [
        f"{side} has {why}" for side, exp in (("the golden", golden), ("the new explanation", actual))
        if (why := metrics.no_evidence(exp))
    ]
    return "; ".join(sides) or "a heatmap holds NaN or inf"


def compared(label: str, value: float, bound_name: str, bound: float, upper: bool, why: str = "") -> str:
    if value != value:
        return f"{label} is not a number ({why or 'a heatmap holds NaN or inf'}): it cannot meet {bound_name} {bound:.3f}"
    ok = within(value, bound, upper)
    sign = {(True, True): "<=", (True, False): ">", (False, True): ">=", (False, False): "<"}[(upper, ok)]
    return f"{label} {value:.3f} {sign} {bound_name} {bound:.3f}"


def centre_move(golden: Explanation, actual: Explanation) -> str:
    """Where the positive mass centre went, as pixel positions and in words."""
    from pytest_xai.checks import evidence

    height, width = golden.heatmap.shape
    before, after = evidence.mass_centre(golden), evidence.mass_centre(actual)
    if before is None or after is None:
        which = "the golden" if before is None else "the new explanation"
        return f"{which} has no positive evidence, so it has no mass centre"
    (x0, y0), (x1, y1) = before, after
    move = (
        f"its mass centre moved from (x, y) = ({x0:.0f}, {y0:.0f}) to ({x1:.0f}, {y1:.0f}) px, "
        f"{direction(x1 - x0, y1 - y0, width, height)}"
    )
    return move + f"; it now lies in the {area(x1, y1, width, height)} of the {width}×{height} image"


def direction(dx: float, dy: float, width: int, height: int) -> str:
    """A move in image coordinates (y down) in words: "to the right", "towards the top-left
    corner", ...; "a negligible move" below 2% of the diagonal."""
    if math.hypot(dx, dy) < 0.02 * math.hypot(width, height):
        return "a negligible move (the mass changed shape, not place)"
    sector = round(math.degrees(math.atan2(-dy, dx)) / 45) % 8  # 0 = right, counter-clockwise
    return (
        "to the right", "towards the top-right corner", "upwards", "towards the top-left corner",
        "to the left", "towards the bottom-left corner", "downwards", "towards the bottom-right corner",
    )[sector]


def area(x: float, y: float, width: int, height: int) -> str:
    """Which ninth of the image a point lies in: "top left", "centre", "bottom", ..."""
    row = ("top", "middle", "bottom")[min(2, int(3 * y / height))]
    col = ("left", "centre", "right")[min(2, int(3 * x / width))]
    if row == "middle":
        return "centre" if col == "centre" else f"{col} side"
    return row if col == "centre" else f"{row} {col}"


def determinism_note(golden: Explanation, actual: Explanation) -> str:
    """Say whether the two runs should be bit-exact or only within tolerance.

    Another seed draws other perturbations; another precision is treated like another device:
    differences are expected either way. A changed input image is said first.
    """
    changed_image = image_note(golden, actual)
    return changed_image + "; " + environment_note(golden, actual) if changed_image else environment_note(golden, actual)


def image_note(golden: Explanation, actual: Explanation) -> str:
    """Why the two differ when the input image changed (the golden recorded its hash), else ""."""
    recorded, now = golden.meta.get("image_sha256"), actual.meta.get("image_sha256")
    if isinstance(recorded, str) and isinstance(now, str):
        changed: bool | None = recorded != now
    elif actual.image is not None:
        from pytest_xai.engine.provenance import image_changed

        changed = image_changed(golden.meta, actual.image)
    else:
        changed = None
    if not changed:
        return ""
    return (f"the input image changed since the golden was made (sha256 {str(recorded)[:12]} -> "
            f"{str(now)[:12] if isinstance(now, str) else 'another'}): the golden explains another image")


def environment_note(golden: Explanation, actual: Explanation) -> str:
    """Model, seed, precision or environment: what may make the two runs differ."""
    g_model, a_model = golden.meta.get("model"), actual.meta.get("model")
    if g_model and a_model and g_model != a_model:
        return (f"the model changed (fingerprint {str(g_model)[:12]} -> {str(a_model)[:12]}): "
                "a new model is expected to explain differently; beyond tolerance is drift")
    g_seed, a_seed = golden.params.get("seed"), actual.params.get("seed")
    if g_seed is not None and a_seed is not None and g_seed != a_seed:
        return (f"golden made at seed {g_seed}, now seed {a_seed}: another seed draws other "
                f"perturbations, so the fine ranking moves; run at seed {g_seed} to compare like with like")
    keys = ("device", "torch", "pytest_xai")
    g = {k: golden.meta.get(k) for k in keys}
    a = {k: actual.meta.get(k) for k in keys}
    g_precision = golden.params.get("precision") or "float32"  # a golden without a precision is float32
    a_precision = actual.params.get("precision") or "float32"
    changed = ", ".join(f"{k} {g[k]} -> {a[k]}" for k in keys if g[k] != a[k])
    if g_precision != a_precision:
        also = f"; environment differs too ({changed})" if changed else ""
        return (f"golden made at {g_precision}, now {a_precision}: small differences are expected, "
                f"beyond tolerance is drift{also}")
    if g == a and str(a["device"]).startswith("cpu"):
        same = ", ".join(f"{k} {v}" for k, v in a.items())
        return f"golden and run share {same}: CPU results are bit-exact, so this is real drift"
    return (f"environment differs ({changed or 'a GPU device'}): small differences are expected, "
            "beyond tolerance is drift")


def describe(exp: Explanation) -> str:
    precision = exp.params.get("precision") or "float32"
    return (f"method={exp.method} target={exp.target_name!r} model={str(exp.meta.get('model'))[:12]} "
            f"precision={precision}")
