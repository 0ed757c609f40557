"""Assertion helpers: attribution must focus on, or avoid, a region; two explanations agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_xai import _record, metrics, render
from pytest_xai.errors import XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.regions import Region, as_region
from pytest_xai.snapshots import agreement

DEFAULT_RESULTS = Path(".xai-results")


def _describe(exp: Explanation) -> str:
    return (
        f"method={exp.method} target={exp.target_name!r} (p={exp.probability:.3f}) "
        f"output={exp.output} seed={exp.seed} samples={exp.samples}"
    )


def _bound(value: Any, name: str, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= 1:
        raise XaiValueError(f"{name}={value!r} must be a number in [{low:g}, 1]")
    return float(value)


def _picture_path(stem: str) -> Path:
    record = _record.current()
    if record is not None:
        return record.artifact_path(stem)
    folder = DEFAULT_RESULTS
    index = len(list(folder.glob("*.png"))) + 1 if folder.is_dir() else 1
    return folder / f"{index:02d}-{_record.safe_name(stem)}.png"


def _region_picture(exp: Explanation, region: Region, stem: str) -> Path:
    """Write the heatmap overlay with the region outlined; return its path."""
    mask = metrics.region_mask(exp, region)
    picture = render.draw_outline(exp.overlay(), mask)
    return render.save_png(picture, _picture_path(stem))


def _check(
    kind: str, exp: Explanation, region: Region | None, metric: str, value: float,
    bound: float, passed: bool, picture: Path | None, other: Explanation | None = None,
) -> None:
    record = _record.current()
    if record is None:
        return
    entry: dict[str, Any] = {
        "kind": kind,
        "metric": metric,
        "value": value,
        "bound": bound,
        "passed": passed,
        "region": None if region is None else region.name,
        "method": exp.method,
        "target": exp.target_name,
        "image": None if exp.image is None else _record.image_key(exp.image),
        "picture": None if picture is None else str(picture),
    }
    if other is not None:
        entry["other_method"] = other.method
    record.checks.append(entry)
    record.properties.append((f"xai_{kind}_{metric}", round(value, 6)))


def _mass_check(kind: str, explanation: Explanation, region: Any, bound: float) -> tuple[Region, float, Path | None]:
    """Measure relevance mass in the region, record the check, draw a picture if it failed."""
    reg = as_region(region)
    mass = metrics.relevance_mass(explanation, reg)
    passed = mass >= bound if kind == "focus" else mass <= bound
    picture = None if passed else _region_picture(explanation, reg, f"{kind}-{reg.name}")
    _check(kind, explanation, reg, "relevance_mass", mass, bound, passed, picture)
    return reg, mass, picture


def assert_attribution_focus(explanation: Explanation, region: Any, *, min_mass: float = 0.5) -> None:
    """Fail unless at least ``min_mass`` of the positive attribution lies inside ``region``.

    Parameters
    ----------
    explanation: the Explanation to check.
    region: a Region (box, mask, polygon, or an image's ``.regions[name]``) or a bool mask.
    min_mass: the lowest acceptable relevance mass, in [0, 1].
    """
    __tracebackhide__ = True
    bound = _bound(min_mass, "min_mass")
    reg, mass, picture = _mass_check("focus", explanation, region, bound)
    if picture is not None:
        raise AssertionError(
            f"attribution does not focus on region {reg.name!r}: relevance mass {mass:.3f} "
            f"< min_mass {bound:.3f}\n"
            f"  {_describe(explanation)}\n"
            f"  {1 - mass:.3f} of the positive attribution lies outside {reg.name!r}\n"
            f"  overlay (heatmap, region outlined): {picture}"
        )


def assert_attribution_avoids(explanation: Explanation, region: Any, *, max_mass: float = 0.1) -> None:
    """Fail if more than ``max_mass`` of the positive attribution lies inside ``region``.

    Use it for what the model must not look at: a watermark, a hospital tag, the background.
    Parameters as ``assert_attribution_focus``; ``max_mass`` is the highest acceptable mass.
    """
    __tracebackhide__ = True
    bound = _bound(max_mass, "max_mass")
    reg, mass, picture = _mass_check("avoid", explanation, region, bound)
    if picture is not None:
        raise AssertionError(
            f"attribution rests on region {reg.name!r}: relevance mass {mass:.3f} "
            f"> max_mass {bound:.3f}\n"
            f"  {_describe(explanation)}\n"
            f"  overlay (heatmap, region outlined): {picture}"
        )


def assert_explanations_agree(
    a: Explanation, b: Explanation, *, min_spearman: float = 0.5, min_top_k_iou: float | None = None
) -> None:
    """Fail unless two explanations of one image rank the evidence alike.

    Spearman over superpixel weights when both share segments, else over heatmaps (bound in
    [-1, 1]); optionally also the IoU of their top-20% most attributed pixels (bound in [0, 1]).
    """
    __tracebackhide__ = True
    s_bound = _bound(min_spearman, "min_spearman", low=-1.0)
    i_bound = None if min_top_k_iou is None else _bound(min_top_k_iou, "min_top_k_iou")
    rho, iou, failures = agreement(a, b, s_bound, i_bound)
    picture = None
    if failures:
        side = render.side_by_side([a.overlay(), b.overlay()])
        picture = render.save_png(side, _picture_path(f"agree-{a.method}-{b.method}"))
    _check("agree", a, None, "spearman", rho, s_bound, rho >= s_bound, picture, other=b)
    if iou is not None and i_bound is not None:
        _check("agree", a, None, "top_k_iou", iou, i_bound, iou >= i_bound, picture, other=b)
    if failures:
        raise AssertionError(
            "explanations disagree: " + "; ".join(failures) + "\n"
            f"  a: {_describe(a)}\n"
            f"  b: {_describe(b)}\n"
            f"  overlays (a | b): {picture}"
        )
