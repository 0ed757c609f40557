"""pytest-html integration: a test's overlays and its check table as pytest-html ``extras``."""

from __future__ import annotations

import html
from typing import Any


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape("" if value is None else str(value))


def _check_rows(record: dict[str, Any]) -> list[list[str]]:
    rows = []
    for check in record.get("checks", []):
        subject = check.get("region") or check.get("other_method") or ""
        rows.append([check.get("kind", "check"), f"{check.get('metric', '')} {subject}".strip(),
                     _cell(check.get("value")), _cell(check.get("bound")),
                     "pass" if check.get("passed") else "FAIL"])
    for golden in record.get("goldens", []):
        measures = golden.get("measures") or {k: golden.get(k) for k in ("spearman", "top_k_iou") if k in golden}
        bounds = golden.get("bounds") or {k: golden.get(k) for k in ("min_spearman", "min_top_k_iou") if k in golden}
        rows.append(["golden", golden.get("name", ""),
                     ", ".join(f"{k} {_cell(v)}" for k, v in measures.items()),
                     ", ".join(f"{k} {_cell(v)}" for k, v in bounds.items()),
                     str(golden.get("state", ""))])
    return rows


def check_table(record: dict[str, Any]) -> str:
    """The test's checks and golden outcomes as an HTML table (empty string when none)."""
    rows = _check_rows(record)
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("xai", "what", "value", "bound", "result"))
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="xai-checks"><tr>{head}</tr>{body}</table>'


def extras_for(record: dict[str, Any]) -> list[dict[str, Any]]:
    """pytest-html extras for one test record: one PNG per explanation and the check table."""
    from pytest_html import extras

    out = []
    for exp in record.get("explanations", []):
        out.append(extras.png(exp["overlay"], name=f"xai {exp['method']}: {exp['target']}"))
    table = check_table(record)
    if table:
        out.append(extras.html(table))
    return out
