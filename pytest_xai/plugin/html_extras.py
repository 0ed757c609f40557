"""pytest-html integration: a test's overlays and its check table as one pytest-html html extra.

Every text that comes from the user (region, golden and method names, states) is escaped: a
region named ``<img onerror=...>`` in a sidecar JSON must not run in the page. The overlays
are <img> tags with data URIs inside that extra rather than image extras, which pytest-html
crops to 320×200 (``object-fit: cover``) and would cut a square overlay's corners off.
"""

from __future__ import annotations

import html
from typing import Any

from pytest_xai.records import CheckResult, GoldenVerdict, TestRecord
from pytest_xai.report.words import fmt

IMG_STYLE = "width:200px;height:auto;object-fit:contain;image-rendering:pixelated;border:1px solid #ccc"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _check_row(check: CheckResult) -> list[str]:
    """kind, what (metric and region or other method), value, bound (named as the API names
    it: max_mass, min_ratio, ...), result."""
    subject = check.region or check.other_method or ""
    return [check.kind, f"{check.metric} {subject}".strip(), fmt(check.value),
            f"{check.bound_name} {fmt(check.bound)}",
            ("pass (not used: confirm)" if check.overruled else "pass") if check.passed else "FAIL"]


def _golden_row(golden: GoldenVerdict) -> list[str]:
    """golden, its name, its measures, their bounds, its state."""
    return ["golden", golden.name,
            ", ".join(f"{k} {fmt(v)}" for k, v in golden.measures.items()),
            ", ".join(f"{k} {fmt(v)}" for k, v in golden.bounds.items()),
            golden.state]


def check_table(record: TestRecord) -> str:
    """The test's checks and golden outcomes as an HTML table (empty string when none)."""
    rows = [*map(_check_row, record.checks), *map(_golden_row, record.goldens)]
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("xai", "what", "value", "bound", "result"))
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="xai-checks"><tr>{head}</tr>{body}</table>'


def overlay_figures(record: TestRecord) -> str:
    """Each explanation's overlay, whole (never cropped), captioned "xai <method>: <target>"."""
    figures = []
    for exp in record.explanations:
        caption = _esc(f"xai {exp.method}: {exp.target}")
        src = "data:image/png;base64," + _esc(exp.overlay or "")
        figures.append(
            "<figure style='display:inline-block;margin:4px 10px 4px 0;text-align:center'>"
            f"<img src=\"{src}\" alt=\"{caption}\" style='{IMG_STYLE}'>"
            f"<figcaption style='font-size:12px'>{caption}</figcaption></figure>"
        )
    return f'<div class="xai-overlays">{"".join(figures)}</div>' if figures else ""


def extras_for(record: TestRecord) -> list[Any]:
    """pytest-html extras for one test record: one html extra with its overlays and its check
    table (none when it has neither)."""
    from pytest_html import extras

    content = overlay_figures(record) + check_table(record)
    return [extras.html(content)] if content else []
