"""The run's report: one HTML page a reviewer reads in a minute, or strict JSON for release gates.

The page has a summary, one filterable table with a row per test (failures first), a section
per failed or changed test (golden | now | difference, the measured value against its bound
in words) and an Images section where each image's picture row appears once. Pictures are
embedded and lazy-loaded; past ``INLINE_LIMIT`` bytes they are written as files into a folder
beside the report instead. Nothing is fetched from the network.

The JSON report (``--xai-report=path.json``; non-finite numbers are null) has these fields:

- ``schema``: the format's version (``SCHEMA``), raised when a field changes meaning.
- ``exitstatus``: pytest's exit status (0 all passed, 1 tests failed, 2 interrupted, ...).
- ``outcomes``: pytest's own counts for the whole run, as its terminal summary line shows
  them, e.g. ``{"failed": 10, "passed": 8, "xfailed": 1}``: every test, with or without
  explanations; keys are pytest's (passed, failed, error, skipped, xfailed, xpassed,
  deselected, warnings, ...) and a zero count is left out.
- ``failed``: node ids of every failed or errored test (collection errors too).
- ``complete``: true when every selected test ran to its teardown and nothing stopped the run.
- ``stopped``: why the run stopped early (``-x``, ``--maxfail``, an interrupt), or null.
- ``ci``: whether CI mode (read-only goldens) was on.
- ``totals``: explanations ``computed``, ``cached`` (this session), ``disk`` (persistent
  cache), ``stale`` (cache hits that failed their check and were recomputed) and
  ``seconds`` spent explaining.
- ``goldens``: the count per golden state (passed, failed, written, updated), ``unused``
  golden paths and ``write_errors`` ({path, state, error}).
- ``tests``: one row per test that explained, checked or compared something, and one per
  failed test without any (its lists empty). Each row: ``nodeid``; ``outcome`` (passed,
  failed, error, skipped); ``checks`` ({kind, metric, value, bound, passed, region, method,
  target, image, picture, ...}: an upper bound for kinds avoid and sanity, else a lower
  one); ``goldens`` ({path, name, state, reason, mode, measures, bounds, message,
  pictures, ...}); ``explanations`` ({image, method, output, target, probability, samples,
  seconds, mass per region, overlay as base64 PNG}); ``images`` (image key -> {name,
  picture, regions, agreement}); ``computed``, ``cached``, ``disk``, ``stale``, ``seconds``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai._atomic import atomic_path
from pytest_xai.defaults import GOLDEN_STATES, TOP_K_FRACTION

if TYPE_CHECKING:
    import pytest

SCHEMA = 2  # the JSON report's format version; 1 had no run totals and no "schema" field

ORDER = {"error": 0, "failed": 1, "unknown": 2, "skipped": 3, "passed": 4}
FAILED = ("failed", "error")
CHANGED = ("failed", "written", "updated")  # golden states a reviewer must look at
INLINE_LIMIT = 50 * 2**20  # embedded pictures above this size go to files beside the report
UPPER_BOUND_KINDS = ("avoid", "sanity")  # checks whose bound is a maximum
# pytest's terminal summary order (_pytest.terminal.KNOWN_TYPES); other keys follow
TERMINAL_ORDER = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "error")
BOUND_METRICS = {"relevance_mass": "mass", "relevance_ratio": "ratio", "spearman_abs": "similarity"}
LABELS = {
    "evidence_shift": "evidence shift",
    "spearman": "Spearman",
    "top_k_iou": f"top-{TOP_K_FRACTION:.0%} IoU",
    "new_mass": "mass in new cells",
    "relevance_mass": "mass",
    "spearman_abs": "Spearman |attribution|",
}
SHORT = {"evidence_shift": "shift", "new_mass": "new mass"}

CSS = """
body{font:14px system-ui,sans-serif;margin:20px 24px;color:#222}
h1{margin:0 0 8px}h2{font-size:18px;margin:26px 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:14px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.card i{display:block;font-style:normal;color:#555;font-size:12px;text-transform:uppercase}
.card b{display:block;font-size:19px}.card span{color:#555;font-size:12px}
.card.bad{border-color:#d33;background:#fff4f4}
p.stopped{border:2px solid #d33;background:#fff4f4;padding:8px 12px;border-radius:6px;font-weight:bold}
.controls{display:flex;gap:6px;align-items:center;margin:8px 0;position:sticky;top:0;background:#fff;padding:6px 0;z-index:2}
.controls button{border:1px solid #aaa;background:#f6f6f6;border-radius:4px;padding:4px 10px;cursor:pointer}
.controls button[aria-pressed=true]{background:#245;color:#fff;border-color:#245}
.controls input{flex:0 0 320px;padding:4px 8px;border:1px solid #aaa;border-radius:4px}
#shown{color:#555;margin-left:8px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}
#tests{width:100%}#tests th{background:#f3f3f3}#tests td.id{font-family:monospace;word-break:break-all}
tr.failed td,tr.error td{background:#fff7f7}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:12px}
.badge.passed{background:#2a2}.badge.failed,.badge.error{background:#d33}
.badge.skipped,.badge.unknown{background:#999}
.ok{color:#171}.bad{color:#c11;font-weight:bold}.muted{color:#777}
ul.cell{margin:0;padding-left:14px}
section{border:1px solid #ddd;border-radius:6px;margin:12px 0;padding:8px 14px;
content-visibility:auto;contain-intrinsic-size:auto 320px}
section.failed,section.error{border-color:#d33;background:#fffafa}
section,#tests tr{scroll-margin-top:48px}
.imgrow{display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap}.imgrow table{margin-bottom:6px}
section h3{font-size:14px;margin:4px 0 8px;font-family:monospace}
p.verdict{margin:4px 0}
figure{display:inline-block;margin:4px 10px 4px 0;text-align:center;vertical-align:top}
figure img{width:160px;min-height:40px;image-rendering:pixelated;border:1px solid #ccc}
figcaption{font-size:12px;color:#444;max-width:170px}
pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:6px}
"""

SCRIPT = """
const rows=Array.from(document.querySelectorAll('#tests tbody tr'));
const buttons=Array.from(document.querySelectorAll('.controls button'));
const search=document.getElementById('search'),shown=document.getElementById('shown');
let mode='all';
function apply(){
  const q=search.value.trim().toLowerCase();let n=0;
  for(const r of rows){
    const ok=(mode==='all'||r.dataset[mode]==='1')&&(!q||r.dataset.text.includes(q));
    r.hidden=!ok;if(ok)n++;
  }
  for(const b of buttons)b.setAttribute('aria-pressed',String(b.dataset.mode===mode));
  shown.textContent=n+' of '+rows.length+' tests shown';
}
for(const b of buttons)b.addEventListener('click',()=>{mode=b.dataset.mode;apply();});
search.addEventListener('input',apply);
apply();
"""


# -- writing --------------------------------------------------------------------------------------


def write_report(data: dict[str, Any], path: Path, *, inline_limit: int = INLINE_LIMIT) -> None:
    """Write ``data`` (XaiSession.report_data()) as strict .json or as a self-contained .html.

    JSON: floats that are not finite become null and the text is strict (no NaN/Infinity).
    HTML: pictures embedded while their total stays under ``inline_limit`` bytes, else written
    once each into ``<report stem>.files/`` beside the report and linked.
    """
    if path.suffix == ".json":
        text = json.dumps(sanitize(data), indent=1, allow_nan=False)
    else:
        pictures = Pictures()
        page = render_html(data, pictures)
        text = pictures.resolve(page, path, inline_limit)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sanitize(value: Any) -> Any:
    """``value`` as plain JSON data: non-finite floats become None, numpy scalars and arrays
    become Python numbers and lists, paths and other objects their ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [sanitize(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array, without importing numpy
        return sanitize(value.tolist())
    return str(value)


class Pictures:
    """The report's pictures, each stored once: rendered as tokens, resolved at the end to
    embedded data URIs or to files beside the report, once the total size is known."""

    TOKEN = re.compile("\x00pic([0-9a-f]{16})\x00")

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def add(self, b64: str | None = None, path: str | None = None) -> str | None:
        """A token standing for the picture (base64 PNG, or a PNG file); None if unreadable."""
        try:
            raw = base64.b64decode(b64, validate=True) if b64 else Path(path).read_bytes() if path else b""
        except (OSError, ValueError):
            return None
        if not raw:
            return None
        digest = hashlib.sha1(raw).hexdigest()[:16]
        self.data.setdefault(digest, raw)
        return f"\x00pic{digest}\x00"

    def inline_size(self) -> int:
        return sum(4 * math.ceil(len(raw) / 3) for raw in self.data.values())

    def resolve(self, page: str, path: Path | None = None, inline_limit: float = INLINE_LIMIT) -> str:
        """Replace the tokens: data URIs while the total fits ``inline_limit`` (always without
        a ``path``), else files in ``<report stem>.files/`` beside ``path``."""
        inline = path is None or self.inline_size() <= inline_limit
        if inline:
            page = self.TOKEN.sub(
                lambda m: "data:image/png;base64," + base64.b64encode(self.data[m[1]]).decode(), page
            )
        if path is None:
            return page
        folder = path.with_name(f"{path.stem}.files")
        for stale in folder.glob("*.png") if folder.is_dir() else []:
            if inline or stale.stem not in self.data:
                stale.unlink(missing_ok=True)  # only our own content-named pictures live here
        if inline:
            return page
        folder.mkdir(parents=True, exist_ok=True)
        for digest, raw in self.data.items():
            target = folder / f"{digest}.png"
            # named by content: a file of the right size is this picture. Not fsynced one by
            # one (thousands of pictures); the page that links them is written atomically.
            if not target.is_file() or target.stat().st_size != len(raw):
                target.write_bytes(raw)
        return self.TOKEN.sub(lambda m: f"{folder.name}/{m[1]}.png", page)


# -- the run ------------------------------------------------------------------------------------


def run_summary(config: pytest.Config, outcomes: dict[str, str]) -> dict[str, Any]:
    """pytest's own account of the run for the report: ``exitstatus``, ``outcomes`` (counts as
    the terminal summary line gives them), ``failed`` node ids and why it ``stopped`` early.

    ``outcomes`` (node id -> passed/failed/error/skipped, XaiSession.outcomes) stands in for
    the terminal reporter's statistics when there is none (``-p no:terminal``).
    """
    session = config.pluginmanager.get_plugin("session")
    exitstatus = None if session is None else int(session.exitstatus)
    stats = getattr(config.pluginmanager.get_plugin("terminalreporter"), "stats", None)
    if stats is None:
        counts = _count(outcomes.values())
        failed = [nodeid for nodeid, outcome in outcomes.items() if outcome in FAILED]
    else:
        counts = {key: len(_counted(stats[key])) for key in _terminal_keys(stats)}
        failed = list(dict.fromkeys(r.nodeid for key in FAILED for r in _counted(stats.get(key, []))))
    return {
        "exitstatus": exitstatus,
        "outcomes": {key: n for key, n in counts.items() if n},
        "failed": failed,
        "stopped": _stop_reason(session, exitstatus),
    }


def _counted(reports: list[Any]) -> list[Any]:
    return [r for r in reports if getattr(r, "count_towards_summary", True)]


def _terminal_keys(stats: dict[str, list[Any]]) -> list[str]:
    return [k for k in TERMINAL_ORDER if k in stats] + [k for k in stats if k and k not in TERMINAL_ORDER]


def _count(outcomes: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: _order(kv[0])))


def _order(key: str) -> int:
    return TERMINAL_ORDER.index(key) if key in TERMINAL_ORDER else len(TERMINAL_ORDER)


def _stop_reason(session: Any, exitstatus: int | None) -> str | None:
    """``-x`` / ``--maxfail`` ("stopping after 1 failures"), another plugin's stop, an interrupt."""
    reason = None if session is None else session.shouldfail or session.shouldstop
    if reason:
        return reason if isinstance(reason, str) else "the run was stopped"
    return "interrupted" if exitstatus == 2 else None  # pytest.ExitCode.INTERRUPTED


# -- words and numbers ----------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """A number for the page: 3 decimals (0.420 -> 0.42, 0.123 stays), and 3 significant
    digits below 0.01 so that a small bound or value never reads as zero (0.0001, 0.000123)."""
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if value != value else str(value)
        if value != 0 and abs(value) < 0.01:
            return f"{value:.3g}"
        text = f"{value:.3f}"
        return text[:-1] if text.endswith("0") else text
    return str(value)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def _is_upper(check: dict[str, Any]) -> bool:
    op = check.get("op")
    return op in ("<=", "≤") if op else check.get("kind") in UPPER_BOUND_KINDS


def bound_name(check: dict[str, Any]) -> str:
    """The assertion's own name for the bound: min_mass, max_mass, min_spearman, max_similarity."""
    if check.get("bound_name"):
        return str(check["bound_name"])
    metric = str(check.get("metric"))
    return ("max_" if _is_upper(check) else "min_") + BOUND_METRICS.get(metric, metric)


def _check_subject(check: dict[str, Any]) -> str:
    """What a check measured, e.g. "mass on 'tag'" or "Spearman lime vs gradient_shap"."""
    if check.get("metric") in ("relevance_mass", "relevance_ratio") and check.get("region") is not None:
        return f"{BOUND_METRICS[check['metric']]} on {str(check['region'])!r}"
    subject = _label(str(check.get("metric")))
    if check.get("kind") == "sanity":
        return f"{subject} of {check.get('method')} to the randomised model's"
    if check.get("other_method"):
        subject += f" {check.get('method')} vs {check['other_method']}"
    return subject


def check_words(check: dict[str, Any]) -> str:
    """A check's outcome in words: "mass on 'tag' 0.42 is above max_mass 0.10"."""
    subject, value, bound = _check_subject(check), check.get("value"), check.get("bound")
    if not _number(value):
        return f"{subject} is not a number; the check fails (bound {bound_name(check)} {fmt(bound)})"
    upper = _is_upper(check)
    if check.get("passed"):
        return f"{subject} {fmt(value)} {_op(upper, True)} {bound_name(check)} {fmt(bound)}"
    side = "above" if upper else "below"
    return f"{subject} {fmt(value)} is {side} {bound_name(check)} {fmt(bound)}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def golden_measures(golden: dict[str, Any]) -> list[dict[str, Any]]:
    """A golden's measures, each with its bound when it has one.

    Reads the verdict's ``measures``/``bounds`` dicts and the older flat keys (``spearman``
    with ``min_spearman``) alike. A bound named ``max_<m>`` caps measure ``<m>``, ``min_<m>``
    floors it. Returns dicts {name, value, bound, upper, passed}; bound and passed are None for
    a measure without a bound.
    """
    measures = {k: v for k, v in golden.items() if f"min_{k}" in golden or f"max_{k}" in golden}
    bounds = {k: v for k, v in golden.items() if k.startswith(("min_", "max_")) and k[4:] in golden}
    measures.update(golden.get("measures") or {})
    bounds.update(golden.get("bounds") or {})
    out = []
    for name, value in measures.items():
        for prefix in ("max_", "min_"):
            bound = bounds.get(prefix + name)
            if bound is not None:
                upper = prefix == "max_"
                ok = _number(value) and (value <= bound if upper else value >= bound)
                out.append({"name": name, "value": value, "bound": bound, "upper": upper, "passed": ok})
                break
        else:
            out.append({"name": name, "value": value, "bound": None, "upper": None, "passed": None})
    return out


def measure_short(m: dict[str, Any]) -> str:
    """A measure against its bound for a table cell: "shift 0.040 ≤ 0.120"."""
    text = f"{SHORT.get(m['name'], _label(m['name']))} {fmt(m['value'])}"
    if m["bound"] is not None:
        text += f" {_op(m['upper'], m['passed'])} {fmt(m['bound'])}"
    return text


def measure_words(m: dict[str, Any]) -> str:
    """A measure against its bound in words: "evidence shift 0.310 exceeds the bound 0.120"."""
    label, value = _label(m["name"]), m["value"]
    if m["bound"] is None:
        return f"{label} {fmt(value)}"
    if not _number(value):
        return f"{label} is not a number; the comparison fails (bound {fmt(m['bound'])})"
    if m["passed"]:
        return f"{label} {fmt(value)} is within the bound {fmt(m['bound'])}"
    verb = "exceeds" if m["upper"] else "is below"
    return f"{label} {fmt(value)} {verb} the bound {fmt(m['bound'])}"


# -- the page -------------------------------------------------------------------------------------


def render_html(data: dict[str, Any], pictures: Pictures | None = None) -> str:
    """The page: summary, test table with filters, failure sections, images, unused goldens.

    Without ``pictures`` the pictures are embedded as data URIs.
    """
    own = pictures is None
    pictures = Pictures() if pictures is None else pictures
    tests = sorted(data.get("tests", []), key=lambda t: (ORDER.get(t.get("outcome", "unknown"), 9), t["nodeid"]))
    images = _collect_images(tests)
    reviewed = [i for i, t in enumerate(tests) if _needs_section(t)]
    goldens = data.get("goldens") or {}
    unused = "".join(f"<li><code>{_esc(u)}</code></li>" for u in goldens.get("unused", []))
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pytest_xai report</title>"
        f"<style>{CSS}</style></head><body><h1>pytest_xai report</h1>"
        + _summary(data, tests)
        + _table(tests, set(reviewed))
        + ("<h2 id='failures'>Failures and changed goldens</h2>" if reviewed else "")
        + "".join(_test_section(i, tests[i], images, pictures) for i in reviewed)
        + _images_section(images, [t["nodeid"] for t in tests], pictures)
        + (f"<h2>Unused goldens</h2><ul>{unused}</ul>" if unused else "")
        + "<p class='muted'>Heatmaps: red is evidence for the predicted class, blue against. Each "
        "overlay is scaled to its own strongest values; pixel-level maps (GradientSHAP) are "
        "smoothed for display only, and every number is measured on the exact map.</p>"
        f"<script>{SCRIPT}</script></body></html>"
    )
    return pictures.resolve(page) if own else page


def _card(title: str, value: str, detail: str, bad: bool = False) -> str:
    return (f"<div class='card{' bad' if bad else ''}'><i>{_esc(title)}</i><b>{_esc(value)}</b>"
            f"<span>{_esc(detail)}</span></div>")


def _terminal_line(counts: dict[str, int]) -> str:
    """Counts as pytest's summary line words them: "10 failed, 8 passed, 1 warning"."""
    plurals = {"warnings": ("warning", "warnings"), "error": ("error", "errors")}
    parts = [f"{n} {plurals[k][n != 1] if k in plurals else k}" for k, n in counts.items() if n]
    return ", ".join(parts) or "no tests ran"


def _summary(data: dict[str, Any], tests: list[dict[str, Any]]) -> str:
    """Cards: the run's outcomes as pytest counts them, goldens by state, explanations
    computed / cached, time; above them a warning when the run stopped early."""
    counts = data.get("outcomes") or _count(t.get("outcome", "unknown") for t in tests)
    status = data.get("exitstatus")
    bad = any(counts.get(o) for o in FAILED) or status not in (0, None)
    goldens, totals = data.get("goldens") or {}, data.get("totals") or {}
    states = [f"{goldens.get(s, 0)} {s}" for s in GOLDEN_STATES if goldens.get(s) or s in ("passed", "failed")]
    session, disk = int(totals.get("cached") or 0), int(totals.get("disk") or 0)
    return _stopped(data) + "<div class='cards'>" + "".join([
        _card("tests", _terminal_line(counts), (f"exit status {status}; " if status is not None else "")
              + f"{len(tests)} in the table below", bad=bad),
        _card("goldens", ", ".join(states), f"{len(goldens.get('unused', []))} unused",
              bad=bool(goldens.get("failed"))),
        _card("explanations", f"{int(totals.get('computed') or 0)} computed, {session + disk} cached",
              f"from cache: {session} this session, {disk} from disk"),
        _card("time", f"{float(totals.get('seconds') or 0.0):.1f} s", "spent explaining"),
        *([_card("mode", "CI", "goldens read-only")] if data.get("ci") else []),
    ]) + "</div>"


def _stopped(data: dict[str, Any]) -> str:
    """A warning when the run did not run every selected test (-x, --maxfail, an interrupt)."""
    if not data.get("stopped") and data.get("complete") is not False:
        return ""
    why = f"The run stopped early ({data['stopped']})" if data.get("stopped") else "The run did not complete"
    return (f"<p class='stopped' role='alert'>{_esc(why)}: not every selected test ran, so this report "
            "covers only the tests that did; unused goldens were kept.</p>")


def _table(tests: list[dict[str, Any]], reviewed: set[int]) -> str:
    """One row per test, failures first; filter buttons and a text search above it."""
    failed = sum(1 for t in tests if t.get("outcome") in FAILED)
    changed = sum(1 for t in tests if _golden_changed(t))
    controls = (
        "<div class='controls'>"
        f"<button data-mode='failed'>failed ({failed})</button>"
        f"<button data-mode='changed'>golden changed ({changed})</button>"
        f"<button data-mode='all'>all ({len(tests)})</button>"
        "<input id='search' type='search' placeholder='search tests, regions, methods, goldens'>"
        "<span id='shown'></span></div>"
    )
    head = "<tr><th>outcome</th><th>test</th><th>checks (value, bound)</th><th>golden</th><th>images</th></tr>"
    rows = "".join(_row(i, t, i in reviewed) for i, t in enumerate(tests))
    return f"<h2>Tests</h2>{controls}<table id='tests'><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _golden_changed(test: dict[str, Any]) -> bool:
    return any(g.get("state") in CHANGED for g in test.get("goldens", []))


def _row(i: int, test: dict[str, Any], has_section: bool) -> str:
    outcome = test.get("outcome", "unknown")
    checks = [
        f"<li class='{'ok' if c.get('passed') else 'bad'}'>{_esc(c.get('kind'))}: "
        f"{_esc(_cell_check(c))}</li>"
        for c in test.get("checks", [])
    ]
    many = len(test.get("goldens", [])) > 1  # then say which golden each line is about
    goldens = [
        f"<li class='{_golden_class(g)}' title='{_esc(g.get('name', ''))}'>{_esc(_cell_golden(g))}"
        + (f" <span class='muted'>{_esc(g.get('name', ''))}</span>" if many else "") + "</li>"
        for g in test.get("goldens", [])
    ]
    image_links = ", ".join(
        f"<a href='#img-{_anchor(k)}'>{_esc(v.get('name', k))}</a>" for k, v in test.get("images", {}).items()
    )
    name = _esc(test["nodeid"])
    link = f"<a href='#f{i}'>{name}</a>" if has_section else name
    text = " ".join([test["nodeid"], outcome, *(_cell_check(c) for c in test.get("checks", [])),
                     *(f"{_cell_golden(g)} {g.get('name', '')}" for g in test.get("goldens", []))]).lower()
    return (
        f"<tr id='t{i}' class='{_esc(outcome)}' data-failed='{int(outcome in FAILED)}' "
        f"data-changed='{int(_golden_changed(test))}' data-text='{_esc(text)}'>"
        f"<td><span class='badge {_esc(outcome)}'>{_esc(outcome)}</span></td><td class='id'>{link}</td>"
        f"<td>{_list(checks)}</td><td>{_list(goldens)}</td><td>{image_links}</td></tr>"
    )


def _list(items: list[str]) -> str:
    return f"<ul class='cell'>{''.join(items)}</ul>" if items else "<span class='muted'>-</span>"


def _op(upper: bool, passed: bool) -> str:
    """The comparison that holds: ≤ or ≥ for a pass, > or < for a failure."""
    return ("≤" if passed else ">") if upper else ("≥" if passed else "<")


def _cell_check(check: dict[str, Any]) -> str:
    op = _op(_is_upper(check), bool(check.get("passed")))
    return f"{_check_subject(check)} {fmt(check.get('value'))} {op} {fmt(check.get('bound'))}"


def _cell_golden(golden: dict[str, Any]) -> str:
    """A golden for a table cell: "failed (drift): shift 0.31 > 0.12"."""
    text = str(golden.get("state")) + (f" ({golden['reason']})" if golden.get("reason") else "")
    measures = [measure_short(m) for m in golden_measures(golden) if m["bound"] is not None and m["value"] is not None]
    return text + (": " + ", ".join(measures) if measures else "")


def _golden_class(golden: dict[str, Any]) -> str:
    return {"passed": "ok", "failed": "bad"}.get(str(golden.get("state")), "")


def _anchor(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(key))


def _needs_section(test: dict[str, Any]) -> bool:
    return test.get("outcome") in FAILED or any(
        g.get("state") in ("failed", "updated") for g in test.get("goldens", [])
    )


def _figure(token: str | None, caption: str) -> str:
    if token is None:
        return f"<figure><span class='muted'>(picture unavailable)</span><figcaption>{_esc(caption)}</figcaption></figure>"
    return (
        f"<figure><img loading='lazy' decoding='async' src=\"{token}\" alt='{_esc(caption)}'>"
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _test_section(i: int, test: dict[str, Any], images: dict[str, Any], pictures: Pictures) -> str:
    """A failed (or golden-changed) test: each failed check and golden in words, with pictures."""
    outcome = test.get("outcome", "unknown")
    parts = [
        f"<section id='f{i}' class='{_esc(outcome)}'><h3><span class='badge {_esc(outcome)}'>"
        f"{_esc(outcome)}</span> {_esc(test['nodeid'])}</h3>"
    ]
    failed_checks = [c for c in test.get("checks", []) if not c.get("passed")]
    drawn: set[Any] = set()
    for check in failed_checks:
        parts.append(f"<p class='verdict bad'>FAIL {_esc(check.get('kind'))}: {_esc(check_words(check))}</p>")
        picture = (check.get("picture"), check.get("image"), check.get("method"), check.get("region"))
        if check.get("cascade"):
            parts.append(_cascade_table(check["cascade"]))
        if picture not in drawn:  # two bounds of one check (Spearman, IoU) share a picture
            drawn.add(picture)
            parts.append(_check_picture(check, test, pictures))
    if len(test.get("checks", [])) > len(failed_checks) > 0:
        parts.append(_checks_table(test["checks"]))
    shown = [g for g in test.get("goldens", []) if g.get("state") in ("failed", "updated")]
    parts += [_golden_block(g, pictures) for g in shown]
    if outcome in FAILED and not failed_checks and not any(g.get("state") == "failed" for g in shown):
        parts.append("<p class='verdict'>The test failed outside pytest_xai's checks (an exception "
                     "or a plain assert): see pytest's output.</p>")
    links = ", ".join(
        f"<a href='#img-{_anchor(k)}'>{_esc(images[k]['image'].get('name', k))}</a>"
        for k in test.get("images", {}) if k in images
    )
    parts.append(f"<p class='muted'>{'images: ' + links + ' · ' if links else ''}<a href='#t{i}'>back to the table</a></p>")
    return "".join(parts) + "</section>"


def _checks_table(checks: list[dict[str, Any]]) -> str:
    """All of a test's checks, so a failure is seen next to what passed."""
    rows = "".join(
        f"<tr><td>{_esc(c.get('kind'))}</td><td>{_esc(_cell_check(c))}</td><td>{_esc(c.get('method'))}</td>"
        f"<td class='{'ok' if c.get('passed') else 'bad'}'>{'pass' if c.get('passed') else 'FAIL'}</td></tr>"
        for c in checks
    )
    return f"<table><tr><th>check</th><th>value against bound</th><th>method</th><th>result</th></tr>{rows}</table>"


def _cascade_table(steps: list[dict[str, Any]]) -> str:
    """A model-randomisation check's cascade: similarity after each layer is randomised."""
    head = "".join(f"<th>{_esc(step.get('layer'))}</th>" for step in steps)
    cells = "".join(f"<td>{fmt(step.get('similarity'))}</td>" for step in steps)
    return (f"<table><tr><th>randomised down to</th>{head}</tr>"
            f"<tr><td>similarity to the trained model's</td>{cells}</tr></table>")


def _check_picture(check: dict[str, Any], test: dict[str, Any], pictures: Pictures) -> str:
    """The picture of a failed check, its region outlined.

    The test's recorded overlay of that image and method when the region is one of the image's
    named regions (outlined there, and drawn like the Images section, pixel-level maps
    smoothed); else the picture the assertion wrote (an ad-hoc region outlined, or both
    explanations side by side for an agreement check).
    """
    caption = f"{check.get('method')}" + (f" | {check['other_method']}" if check.get("other_method") else "")
    named = (test.get("images", {}).get(check.get("image")) or {}).get("regions") or []
    recorded = next((e.get("overlay") for e in test.get("explanations", [])
                     if e.get("image") == check.get("image") and e.get("method") == check.get("method")), None)
    token = None
    if recorded and check.get("region") is not None and check.get("region") in named:
        token = pictures.add(b64=recorded)
        caption += ", regions " + ", ".join(repr(r) for r in named) + " outlined"
    elif check.get("region") is not None:
        caption += f", region {check['region']!r} outlined"
    if token is None and check.get("picture"):
        token = pictures.add(path=check["picture"])
    if token is None and recorded:
        token = pictures.add(b64=recorded)
    return _figure(token, caption) if token or check.get("picture") else ""


def _golden_block(golden: dict[str, Any], pictures: Pictures) -> str:
    """A golden's verdict: state and reason, each measure against its bound in words, the
    expected | actual | difference pictures and the full message."""
    state = str(golden.get("state"))
    # None is "not measured" (e.g. the prediction changed first) unless the drift check ran on it
    measured = golden.get("reason") == "drift"
    words = [measure_words(m) for m in golden_measures(golden) if m["value"] is not None or measured]
    reason = golden.get("reason")
    head = (
        f"<p class='verdict {_golden_class(golden)}'>golden <code>{_esc(golden.get('name', ''))}</code>: "
        f"{_esc(state)}" + (f" ({_esc(reason)})" if reason else "")
        + (f" [{_esc(golden['mode'])} mode]" if golden.get("mode") else "")
        + (": " + _esc("; ".join(words)) if words else "") + "</p>"
    )
    paths = golden.get("pictures") or {}
    figures = "".join(
        _figure(pictures.add(b64=golden.get(b64_key)) or pictures.add(path=paths.get(path_key)), caption)
        for b64_key, path_key, caption in (
            ("expected_png", "expected", "golden (expected)"),
            ("actual_png", "actual", "now (actual)"),
            ("diff_png", "difference", "difference (now − golden)"),
        )
        if golden.get(b64_key) or paths.get(path_key)
    )
    message = golden.get("message")
    opened = " open" if state == "failed" else ""
    details = f"<details{opened}><summary>message</summary><pre>{_esc(message)}</pre></details>" if message else ""
    return head + (f"<div>{figures}</div>" if figures else "") + details


def _collect_images(tests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every explained image once: its picture, one explanation per method variant, agreement,
    and the tests (by table index) that used it."""
    images: dict[str, dict[str, Any]] = {}
    for i, test in enumerate(tests):
        for key, image in test.get("images", {}).items():
            entry = images.setdefault(key, {"image": image, "variants": {}, "agreement": {}, "tests": []})
            entry["agreement"].update(image.get("agreement") or {})
            entry["tests"].append(i)
        for e in test.get("explanations", []):
            if e.get("image") in images:
                variant = (e.get("method"), e.get("output"), e.get("samples"), e.get("target"))
                images[e["image"]]["variants"].setdefault(variant, e)
    return images


def _images_section(images: dict[str, dict[str, Any]], names: list[str], pictures: Pictures) -> str:
    if not images:
        return ""
    return "<h2 id='images'>Images</h2>" + "".join(
        _image_block(key, entry, names, pictures) for key, entry in images.items()
    )


def _image_block(key: str, entry: dict[str, Any], names: list[str], pictures: Pictures) -> str:
    """One image: prediction and confidence, the overlays of each method side by side, mass on
    each region and time per method, agreement between methods, the tests that used it."""
    image, exps = entry["image"], list(entry["variants"].values())
    first = exps[0] if exps else {}
    parts = [
        f"<section id='img-{_anchor(key)}'><h3>{_esc(image.get('name', key))}</h3>",
        f"<p>predicted <b>{_esc(first.get('target'))}</b> with confidence {fmt(first.get('probability'))} "
        "(softmax)</p>" if exps else "",
        "<div class='imgrow'><div>",
        _figure(pictures.add(b64=image.get("picture")), "image"),
    ]
    for e in exps:
        secs = e.get("seconds")
        caption = f"{e.get('method')} ({e.get('output')}, {e.get('samples')} samples" + (
            f", {secs:.2f} s)" if _number(secs) else ")")
        parts.append(_figure(pictures.add(b64=e.get("overlay")), caption))
    parts.append(f"</div><div>{_mass_table(image.get('regions', []), exps)}")
    parts.append(_agreement_table(entry["agreement"]) + "</div></div>")
    used = entry["tests"]
    links = ", ".join(f"<a href='#t{i}'>{_esc(names[i].rsplit('::', 1)[-1])}</a>" for i in used[:12])
    parts.append(f"<p class='muted'>used by {len(used)} test(s): {links}{' …' if len(used) > 12 else ''}</p>")
    return "".join(parts) + "</section>"


def _mass_table(regions: list[str], exps: list[dict[str, Any]]) -> str:
    if not regions and len(exps) < 2:
        return ""
    head = "".join(f"<th>mass on {_esc(r)}</th>" for r in regions)
    rows = "".join(
        f"<tr><td>{_esc(e.get('method'))}</td>"
        + "".join(f"<td>{fmt((e.get('mass') or {}).get(r))}</td>" for r in regions)
        + f"<td>{fmt(e.get('seconds'))}</td></tr>"
        for e in exps
    )
    return f"<table><tr><th>method</th>{head}<th>seconds</th></tr>{rows}</table>"


def _agreement_table(agreement: dict[str, Any]) -> str:
    if not agreement:
        return ""
    rows = "".join(
        f"<tr><td>{_esc(pair)}</td><td>{fmt(v.get('spearman'))}</td><td>{fmt(v.get('top_k_iou'))}</td></tr>"
        for pair, v in sorted(agreement.items())
    )
    return f"<table><tr><th>methods</th><th>Spearman</th><th>{_label('top_k_iou')}</th></tr>{rows}</table>"
