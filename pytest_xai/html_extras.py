"""pytest-html integration: a test's overlays and its check table as one pytest-html html extra.

Every text that comes from the user (region, golden and method names, states) is escaped: a
region named ``<img onerror=...>`` in a sidecar JSON must not run in the page. The overlays
are <img> tags with data URIs inside that extra rather than image extras, which pytest-html
crops to 320×200 (``object-fit: cover``) and would cut a square overlay's corners off.
"""

from __future__ import annotations

import html
from typing import Any

from pytest_xai.report import bound_name, fmt

IMG_STYLE = "width:200px;height:auto;object-fit:contain;image-rendering:pixelated;border:1px solid #ccc"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _bound(name: str, value: Any) -> str:
    return f"{name} {fmt(value)}"


def _check_row(check: dict[str, Any]) -> list[str]:
    """kind, what (metric and region or other method), value, bound (named as the API names
    it: max_mass, min_ratio, ...), result."""
    subject = check.get("region") or check.get("other_method") or ""
    return [str(check.get("kind", "check")), f"{check.get('metric', '')} {subject}".strip(),
            fmt(check.get("value")), _bound(bound_name(check), check.get("bound")),
            "pass" if check.get("passed") else "FAIL"]


def _golden_row(golden: dict[str, Any]) -> list[str]:
    """golden, its name, its measures, their bounds, its state."""
    measures = golden.get("measures") or {k: golden.get(k) for k in ("spearman", "top_k_iou") if k in golden}
    bounds = golden.get("bounds") or {k: golden.get(k) for k in ("min_spearman", "min_top_k_iou") if k in golden}
    return ["golden", str(golden.get("name", "")),
            ", ".join(f"{k} {fmt(v)}" for k, v in measures.items()),
            ", ".join(_bound(k, v) for k, v in bounds.items()),
            str(golden.get("state", ""))]


def _check_rows(record: dict[str, Any]) -> list[list[str]]:
    """The table's rows as plain text (escaped when the table is drawn)."""
    return [*map(_check_row, record.get("checks", [])), *map(_golden_row, record.get("goldens", []))]


def check_table(record: dict[str, Any]) -> str:
    """The test's checks and golden outcomes as an HTML table (empty string when none)."""
    rows = _check_rows(record)
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("xai", "what", "value", "bound", "result"))
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="xai-checks"><tr>{head}</tr>{body}</table>'


def overlay_figures(record: dict[str, Any]) -> str:
    """Each explanation's overlay, whole (never cropped), captioned "xai <method>: <target>"."""
    figures = []
    for exp in record.get("explanations", []):
        caption = _esc(f"xai {exp.get('method')}: {exp.get('target')}")
        src = "data:image/png;base64," + _esc(exp.get("overlay", ""))
        figures.append(
            "<figure style='display:inline-block;margin:4px 10px 4px 0;text-align:center'>"
            f"<img src=\"{src}\" alt=\"{caption}\" style='{IMG_STYLE}'>"
            f"<figcaption style='font-size:12px'>{caption}</figcaption></figure>"
        )
    return f'<div class="xai-overlays">{"".join(figures)}</div>' if figures else ""


def extras_for(record: dict[str, Any]) -> list[dict[str, Any]]:
    """pytest-html extras for one test record: one html extra with its overlays and its check
    table (none when it has neither)."""
    from pytest_html import extras

    content = overlay_figures(record) + check_table(record)
    return [extras.html(content)] if content else []
