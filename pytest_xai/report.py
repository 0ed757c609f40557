"""The run's report: one self-contained HTML page (pictures embedded) or JSON for release gates."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from pytest_xai._atomic import atomic_path

ORDER = {"error": 0, "failed": 1, "skipped": 2, "passed": 3}

CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{margin:0 0 4px} .totals{color:#555;margin-bottom:16px}
section{border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:10px 14px}
section.failed,section.error{border-color:#d33;background:#fff7f7}
h2{font-size:18px;margin:18px 0 6px} section h2{font-size:15px;margin:4px 0 8px;font-family:monospace}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:12px}
.badge.passed{background:#2a2}.badge.failed,.badge.error{background:#d33}.badge.skipped{background:#999}
figure{display:inline-block;margin:4px 10px 4px 0;text-align:center;vertical-align:top}
figure img{width:160px;image-rendering:pixelated;border:1px solid #ccc}
figcaption{font-size:12px;color:#444;max-width:170px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px}
td.ok{color:#171}td.bad{color:#c11;font-weight:bold}
"""


def write_report(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` (XaiSession.report_data()) as .json or as a self-contained .html."""
    text = json.dumps(data, indent=1, default=str) if path.suffix == ".json" else render_html(data)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _img(b64: str, caption: str) -> str:
    return (
        f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def _image_block(image: dict[str, Any], exps: list[dict[str, Any]], agreement: dict[str, Any]) -> str:
    """One image: prediction and confidence, overlays side by side, mass per region and time,
    and agreement between methods."""
    first = exps[0]
    parts = [
        f"<p><b>{html.escape(image['name'])}</b>: predicted {html.escape(first['target'])} "
        f"with confidence {first['probability']:.3f} (softmax)</p>",
        _img(image["picture"], "image"),
    ]
    for e in exps:
        secs = e.get("seconds")
        parts.append(_img(e["overlay"], f"{e['method']} ({e['output']}, {e['samples']} samples"
                          + (f", {secs:.2f} s)" if secs is not None else ")")))
    regions = image.get("regions", [])
    if regions or len(exps) > 1:
        head = "".join(f"<th>mass on {html.escape(r)}</th>" for r in regions)
        rows = "".join(
            f"<tr><td>{html.escape(e['method'])}</td>"
            + "".join(f"<td>{_fmt(e['mass'].get(r, '-'))}</td>" for r in regions)
            + f"<td>{_fmt(e.get('seconds') or 0.0)}</td></tr>"
            for e in exps
        )
        parts.append(f"<table><tr><th>method</th>{head}<th>seconds</th></tr>{rows}</table>")
    if agreement:
        rows = "".join(
            f"<tr><td>{html.escape(pair)}</td><td>{_fmt(v['spearman'])}</td><td>{_fmt(v['top_k_iou'])}</td></tr>"
            for pair, v in sorted(agreement.items())
        )
        parts.append(f"<table><tr><th>methods</th><th>Spearman</th><th>top-20% IoU</th></tr>{rows}</table>")
    return "".join(parts)


def _test_section(test: dict[str, Any]) -> str:
    outcome = test.get("outcome", "unknown")
    parts = [f'<section class="{outcome}"><h2><span class="badge {outcome}">{outcome}</span> '
             f"{html.escape(test['nodeid'])}</h2>"]
    for key, image in test["images"].items():
        exps = [e for e in test["explanations"] if e["image"] == key]
        if exps:
            parts.append(_image_block(image, exps, image.get("agreement") or {}))
    if test["checks"]:
        rows = "".join(
            f"<tr><td>{html.escape(c['kind'])}</td><td>{html.escape(c['method'])}"
            + (f" vs {html.escape(c['other_method'])}" if c.get("other_method") else "")
            + f"</td><td>{html.escape(str(c.get('region') or ''))}</td><td>{html.escape(c['metric'])}</td>"
            f"<td>{_fmt(c['value'])}</td><td>{'≥' if c['kind'] != 'avoid' else '≤'} {_fmt(c['bound'])}</td>"
            f"<td class=\"{'ok' if c['passed'] else 'bad'}\">{'pass' if c['passed'] else 'FAIL'}</td></tr>"
            for c in test["checks"]
        )
        parts.append("<table><tr><th>check</th><th>method</th><th>region</th><th>metric</th>"
                     f"<th>value</th><th>bound</th><th>result</th></tr>{rows}</table>")
    for golden in test["goldens"]:
        state = golden["state"]
        line = f"<p>golden <code>{html.escape(golden['name'])}</code>: <b>{state}</b>"
        if golden.get("spearman") is not None:
            line += (f" — Spearman {_fmt(golden['spearman'])} (min {_fmt(golden['min_spearman'])}), "
                     f"top-20% IoU {_fmt(golden['top_k_iou'])} (min {_fmt(golden['min_top_k_iou'])})")
        if golden.get("reason"):
            line += f" — {html.escape(golden['reason'])}"
        parts.append(line + "</p>")
        if golden.get("expected_png"):
            parts.append(_img(golden["expected_png"], "expected (golden)") + _img(golden["actual_png"], "actual")
                         + _img(golden["diff_png"], "difference (actual − expected)"))
    parts.append("</section>")
    return "".join(parts)


def _overview(tests: list[dict[str, Any]]) -> str:
    """Every explained image once: all its methods side by side, mass, time and agreement."""
    images: dict[str, dict[str, Any]] = {}
    for test in tests:
        for key, image in test["images"].items():
            entry = images.setdefault(key, {"image": image, "methods": {}, "agreement": {}})
            entry["agreement"].update(image.get("agreement") or {})
            for e in test["explanations"]:
                if e["image"] == key:
                    entry["methods"].setdefault(e["method"], e)
    parts = ["<h2>Images: methods compared</h2>"]
    for entry in images.values():
        block = _image_block(entry["image"], list(entry["methods"].values()), entry["agreement"])
        parts.append(f"<section>{block}</section>")
    return "".join(parts) if images else ""


def render_html(data: dict[str, Any]) -> str:
    """One page: totals, then every test with explanations, failures first."""
    tests = sorted(data["tests"], key=lambda t: (ORDER.get(t.get("outcome", ""), 9), t["nodeid"]))
    totals = data["totals"]
    goldens = data["goldens"]
    failed = sum(1 for t in tests if t.get("outcome") in ("failed", "error"))
    summary = (
        f"{len(tests)} tests with explanations, {failed} failed; {int(totals['computed'])} explanations "
        f"computed ({int(totals['cached'])} from cache) in {totals['seconds']:.1f} s; goldens: "
        + ", ".join(f"{goldens[k]} {k}" for k in ("passed", "failed", "written", "updated"))
        + f", {len(goldens['unused'])} unused" + (" — CI mode" if data.get("ci") else "")
    )
    body = "<h2>Tests, failures first</h2>" + "".join(_test_section(t) for t in tests)
    unused = "".join(f"<li><code>{html.escape(u)}</code></li>" for u in goldens["unused"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>pytest_xai report</title>"
        f"<style>{CSS}</style></head><body><h1>pytest_xai report</h1>"
        f"<div class='totals'>{html.escape(summary)}</div>{_overview(tests)}{body}"
        + (f"<h2>Unused goldens</h2><ul>{unused}</ul>" if unused else "")
        + "<p style='color:#777'>Heatmaps: red is evidence for the predicted class, blue against; "
        "each overlay is scaled to the 99.9th percentile of its own |value|.</p></body></html>"
    )
