"""The HTML report page, a pure function of a ``RunReport``; its CSS and JS are package files."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pytest_xai.defaults import GOLDEN_STATES
from pytest_xai.records import (
    CheckResult,
    ExplanationEntry,
    GoldenVerdict,
    ImageEntry,
    RunReport,
    TestRecord,
)
from pytest_xai.report.pictures import Pictures
from pytest_xai.report.words import (
    CHANGED,
    FAILED,
    ORDER,
    check_cell,
    check_words,
    count_outcomes,
    fmt,
    label,
    measure_short,
    measure_words,
    terminal_line,
)
from pytest_xai.validation import is_finite

FOOTNOTE = (
    "<p class='muted'>Heatmaps: red is evidence for the predicted class, blue against. Each "
    "overlay is scaled to its own strongest values; pixel-level maps (GradientSHAP) are "
    "smoothed for display only, and every number is measured on the exact map.</p>"
)


def _asset(name: str) -> str:
    return (resources.files("pytest_xai.report") / name).read_text(encoding="utf-8")


@dataclass
class ImageView:
    """One explained image across the run: its entry, one explanation per method variant,
    the agreement between methods, and the tests (by table index) that used it."""

    image: ImageEntry
    variants: dict[tuple[Any, ...], ExplanationEntry] = field(default_factory=dict)
    agreement: dict[str, dict[str, float | None]] = field(default_factory=dict)
    tests: list[int] = field(default_factory=list)


def render_html(report: RunReport, pictures: Pictures | None = None) -> str:
    """The page: summary, test table with filters, failure sections, images, unused goldens.

    Without ``pictures`` the pictures are embedded as data URIs.
    """
    own = pictures is None
    pictures = Pictures() if pictures is None else pictures
    tests = sorted(report.tests, key=lambda t: (ORDER.get(t.outcome or "unknown", 9), t.nodeid))
    images = _collect_images(tests)
    reviewed = [i for i, t in enumerate(tests) if _needs_section(t)]
    unused = "".join(f"<li><code>{_esc(u)}</code></li>" for u in report.goldens.unused)
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pytest_xai report</title>"
        f"<style>\n{_asset('report.css')}</style></head><body><h1>pytest_xai report</h1>"
        + _summary(report, tests)
        + _table(tests, set(reviewed))
        + ("<h2 id='failures'>Failures and changed goldens</h2>" if reviewed else "")
        + "".join(_test_section(i, tests[i], images, pictures) for i in reviewed)
        + _images_section(images, [t.nodeid for t in tests], pictures)
        + (f"<h2>Unused goldens</h2><ul>{unused}</ul>" if unused else "")
        + FOOTNOTE
        + f"<script>\n{_asset('report.js')}</script></body></html>"
    )
    return pictures.resolve(page) if own else page


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _card(title: str, value: str, detail: str, bad: bool = False) -> str:
    return (f"<div class='card{' bad' if bad else ''}'><i>{_esc(title)}</i><b>{_esc(value)}</b>"
            f"<span>{_esc(detail)}</span></div>")


def _summary(report: RunReport, tests: list[TestRecord]) -> str:
    """Cards: the run's outcomes as pytest counts them, goldens by state, explanations
    computed / cached, time; above them a warning when the run stopped early."""
    counts = report.outcomes or count_outcomes(t.outcome or "unknown" for t in tests)
    status = report.exitstatus
    bad = any(counts.get(o) for o in FAILED) or status not in (0, None)
    goldens, totals = report.goldens.counts, report.totals
    states = [f"{goldens.get(s, 0)} {s}" for s in GOLDEN_STATES if goldens.get(s) or s in ("passed", "failed")]
    return _stopped(report) + "<div class='cards'>" + "".join([
        _card("tests", terminal_line(counts), (f"exit status {status}; " if status is not None else "")
              + f"{len(tests)} in the table below", bad=bad),
        _card("goldens", ", ".join(states), f"{len(report.goldens.unused)} unused"
              + (f", {len(report.not_compared)} not compared" if report.not_compared else ""),
              bad=bool(goldens.get("failed") or report.not_compared)),
        _card("explanations", f"{int(totals.computed)} computed, {totals.cached + totals.disk} cached",
              f"from cache: {totals.cached} this session, {totals.disk} from disk"),
        _card("time", f"{float(totals.seconds):.1f} s", "spent explaining"),
        *([_card("mode", "CI", "goldens read-only")] if report.ci else []),
    ]) + "</div>"


def _stopped(report: RunReport) -> str:
    """A warning when the run did not run every selected test (-x, --maxfail, an interrupt)."""
    if not report.stopped and report.complete is not False:
        return ""
    why = f"The run stopped early ({report.stopped})" if report.stopped else "The run did not complete"
    return (f"<p class='stopped' role='alert'>{_esc(why)}: not every selected test ran, so this report "
            "covers only the tests that did; unused goldens were kept.</p>")


def _table(tests: list[TestRecord], reviewed: set[int]) -> str:
    """One row per test, failures first; filter buttons and a text search above it."""
    failed = sum(1 for t in tests if t.outcome in FAILED)
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


def _golden_changed(test: TestRecord) -> bool:
    return any(g.state in CHANGED for g in test.goldens)


def _row(i: int, test: TestRecord, has_section: bool) -> str:
    outcome = test.outcome or "unknown"
    checks = [f"<li class='{'ok' if c.passed else 'bad'}'>{_esc(c.kind)}: {_esc(check_cell(c))}</li>"
              for c in test.checks]
    many = len(test.goldens) > 1  # then say which golden each line is about
    goldens = [
        f"<li class='{_golden_class(g)}' title='{_esc(g.name)}'>{_esc(_cell_golden(g))}"
        + (f" <span class='muted'>{_esc(g.name)}</span>" if many else "") + "</li>"
        for g in test.goldens
    ]
    image_links = ", ".join(f"<a href='#img-{_anchor(k)}'>{_esc(v.name)}</a>" for k, v in test.images.items())
    name = _esc(test.nodeid)
    link = f"<a href='#f{i}'>{name}</a>" if has_section else name
    text = " ".join([test.nodeid, outcome, *(check_cell(c) for c in test.checks),
                     *(f"{_cell_golden(g)} {g.name}" for g in test.goldens)]).lower()
    return (
        f"<tr id='t{i}' class='{_esc(outcome)}' data-failed='{int(outcome in FAILED)}' "
        f"data-changed='{int(_golden_changed(test))}' data-text='{_esc(text)}'>"
        f"<td><span class='badge {_esc(outcome)}'>{_esc(outcome)}</span></td><td class='id'>{link}</td>"
        f"<td>{_list(checks)}</td><td>{_list(goldens)}</td><td>{image_links}</td></tr>"
    )


def _list(items: list[str]) -> str:
    return f"<ul class='cell'>{''.join(items)}</ul>" if items else "<span class='muted'>-</span>"


def _cell_golden(golden: GoldenVerdict) -> str:
    """A golden for a table cell: "failed (drift): shift 0.31 > 0.12"."""
    text = golden.state + (f" ({golden.reason})" if golden.reason else "")
    measures = [measure_short(m) for m in golden.measured() if m.bound is not None and m.value is not None]
    return text + (": " + ", ".join(measures) if measures else "")


def _golden_class(golden: GoldenVerdict) -> str:
    return {"passed": "ok", "failed": "bad"}.get(golden.state, "")


def _anchor(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(key))


def _needs_section(test: TestRecord) -> bool:
    return test.outcome in FAILED or any(g.state in ("failed", "updated") for g in test.goldens)


def _figure(token: str | None, caption: str) -> str:
    if token is None:
        return f"<figure><span class='muted'>(picture unavailable)</span><figcaption>{_esc(caption)}</figcaption></figure>"
    return (
        f"<figure><img loading='lazy' decoding='async' src=\"{token}\" alt='{_esc(caption)}'>"
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _test_section(i: int, test: TestRecord, images: dict[str, ImageView], pictures: Pictures) -> str:
    """A failed (or golden-changed) test: each failed check and golden in words, with pictures."""
    outcome = test.outcome or "unknown"
    parts = [
        f"<section id='f{i}' class='{_esc(outcome)}'><h3><span class='badge {_esc(outcome)}'>"
        f"{_esc(outcome)}</span> {_esc(test.nodeid)}</h3>"
    ]
    failed_checks = [c for c in test.checks if not c.passed]
    drawn: set[Any] = set()
    for check in failed_checks:
        parts.append(f"<p class='verdict bad'>FAIL {_esc(check.kind)}: {_esc(check_words(check))}</p>")
        picture = (check.picture, check.image, check.method, check.region)
        if check.cascade:
            parts.append(_cascade_table(check.cascade))
        if picture not in drawn:  # two bounds of one check (Spearman, IoU) share a picture
            drawn.add(picture)
            parts.append(_check_picture(check, test, pictures))
    if len(test.checks) > len(failed_checks) > 0:
        parts.append(_checks_table(test.checks))
    shown = [g for g in test.goldens if g.state in ("failed", "updated")]
    parts += [_golden_block(g, pictures) for g in shown]
    if outcome in FAILED and not failed_checks and not any(g.state == "failed" for g in shown):
        parts.append("<p class='verdict'>The test failed outside pytest_xai's checks (an exception "
                     "or a plain assert): see pytest's output.</p>")
    links = ", ".join(
        f"<a href='#img-{_anchor(k)}'>{_esc(images[k].image.name)}</a>" for k in test.images if k in images
    )
    parts.append(f"<p class='muted'>{'images: ' + links + ' · ' if links else ''}<a href='#t{i}'>back to the table</a></p>")
    return "".join(parts) + "</section>"


def _checks_table(checks: list[CheckResult]) -> str:
    """All of a test's checks, so a failure is seen next to what passed."""
    rows = "".join(
        f"<tr><td>{_esc(c.kind)}</td><td>{_esc(check_cell(c))}</td><td>{_esc(c.method)}</td>"
        f"<td class='{'ok' if c.passed else 'bad'}'>{'pass' if c.passed else 'FAIL'}</td></tr>"
        for c in checks
    )
    return f"<table><tr><th>check</th><th>value against bound</th><th>method</th><th>result</th></tr>{rows}</table>"


def _cascade_table(steps: list[dict[str, str | float | None]]) -> str:
    """A model-randomisation check's cascade: similarity after each layer is randomised."""
    head = "".join(f"<th>{_esc(step.get('layer'))}</th>" for step in steps)
    cells = "".join(f"<td>{fmt(step.get('similarity'))}</td>" for step in steps)
    return (f"<table><tr><th>randomised down to</th>{head}</tr>"
            f"<tr><td>similarity to the trained model's</td>{cells}</tr></table>")


def _check_picture(check: CheckResult, test: TestRecord, pictures: Pictures) -> str:
    """The picture of a failed check, its region outlined.

    The test's recorded overlay of that image and method when the region is one of the image's
    named regions (outlined there, and drawn like the Images section, pixel-level maps
    smoothed); else the picture the assertion wrote (an ad-hoc region outlined, or both
    explanations side by side for an agreement check).
    """
    caption = f"{check.method}" + (f" | {check.other_method}" if check.other_method else "")
    entry = test.images.get(check.image) if check.image is not None else None
    named = entry.regions if entry is not None else []
    recorded = next((e.overlay for e in test.explanations
                     if e.image == check.image and e.method == check.method), None)
    token = None
    if recorded and check.region is not None and check.region in named:
        token = pictures.add(b64=recorded)
        caption += ", regions " + ", ".join(repr(r) for r in named) + " outlined"
    elif check.region is not None:
        caption += f", region {check.region!r} outlined"
    if token is None and check.picture:
        token = pictures.add(path=check.picture)
    if token is None and recorded:
        token = pictures.add(b64=recorded)
    return _figure(token, caption) if token or check.picture else ""


def _golden_block(golden: GoldenVerdict, pictures: Pictures) -> str:
    """A golden's verdict: state and reason, each measure against its bound in words, the
    expected | actual | difference pictures and the full message."""
    # None is "not measured" (e.g. the prediction changed first) unless the drift check ran on it
    measured = golden.reason == "drift"
    words = [measure_words(m) for m in golden.measured() if m.value is not None or measured]
    head = (
        f"<p class='verdict {_golden_class(golden)}'>golden <code>{_esc(golden.name)}</code>: "
        f"{_esc(golden.state)}" + (f" ({_esc(golden.reason)})" if golden.reason else "")
        + (f" [{_esc(golden.mode)} mode]" if golden.mode else "")
        + (": " + _esc("; ".join(words)) if words else "") + "</p>"
    )
    figures = "".join(
        _figure(pictures.add(b64=b64) or pictures.add(path=golden.pictures.get(key)), caption)
        for b64, key, caption in (
            (golden.expected_png, "expected", "golden (expected)"),
            (golden.actual_png, "actual", "now (actual)"),
            (golden.diff_png, "difference", "difference (now − golden)"),
        )
        if b64 or golden.pictures.get(key)
    )
    opened = " open" if golden.state == "failed" else ""
    message = golden.message
    details = f"<details{opened}><summary>message</summary><pre>{_esc(message)}</pre></details>" if message else ""
    return head + (f"<div>{figures}</div>" if figures else "") + details


def _collect_images(tests: list[TestRecord]) -> dict[str, ImageView]:
    """Every explained image once, with the tests (by table index) that used it."""
    images: dict[str, ImageView] = {}
    for i, test in enumerate(tests):
        for key, image in test.images.items():
            view = images.setdefault(key, ImageView(image))
            view.agreement.update(image.agreement)
            view.tests.append(i)
        for e in test.explanations:
            if e.image in images:
                images[e.image].variants.setdefault((e.method, e.output, e.samples, e.target), e)
    return images


def _images_section(images: dict[str, ImageView], names: list[str], pictures: Pictures) -> str:
    if not images:
        return ""
    return "<h2 id='images'>Images</h2>" + "".join(
        _image_block(key, view, names, pictures) for key, view in images.items()
    )


def _image_block(key: str, view: ImageView, names: list[str], pictures: Pictures) -> str:
    """One image: prediction and confidence, the overlays of each method side by side, mass on
    each region and time per method, agreement between methods, the tests that used it."""
    exps = list(view.variants.values())
    parts = [
        f"<section id='img-{_anchor(key)}'><h3>{_esc(view.image.name)}</h3>",
        f"<p>predicted <b>{_esc(exps[0].target)}</b> with confidence {fmt(exps[0].probability)} "
        "(softmax)</p>" if exps else "",
        "<div class='imgrow'><div>",
        _figure(pictures.add(b64=view.image.picture), "image"),
    ]
    for e in exps:
        caption = f"{e.method} ({e.output}, {e.samples} samples" + (
            f", {e.seconds:.2f} s)" if e.seconds is not None and is_finite(e.seconds) else ")")
        parts.append(_figure(pictures.add(b64=e.overlay), caption))
    parts.append(f"</div><div>{_mass_table(view.image.regions, exps)}")
    parts.append(_agreement_table(view.agreement) + "</div></div>")
    used = view.tests
    links = ", ".join(f"<a href='#t{i}'>{_esc(names[i].rsplit('::', 1)[-1])}</a>" for i in used[:12])
    parts.append(f"<p class='muted'>used by {len(used)} test(s): {links}{' …' if len(used) > 12 else ''}</p>")
    return "".join(parts) + "</section>"


def _mass_table(regions: list[str], exps: list[ExplanationEntry]) -> str:
    if not regions and len(exps) < 2:
        return ""
    head = "".join(f"<th>mass on {_esc(r)}</th>" for r in regions)
    rows = "".join(
        f"<tr><td>{_esc(e.method)}</td>" + "".join(f"<td>{fmt(e.mass.get(r))}</td>" for r in regions)
        + f"<td>{fmt(e.seconds)}</td></tr>"
        for e in exps
    )
    return f"<table><tr><th>method</th>{head}<th>seconds</th></tr>{rows}</table>"


def _agreement_table(agreement: dict[str, dict[str, float | None]]) -> str:
    if not agreement:
        return ""
    rows = "".join(
        f"<tr><td>{_esc(pair)}</td><td>{fmt(v.get('spearman'))}</td><td>{fmt(v.get('top_k_iou'))}</td></tr>"
        for pair, v in sorted(agreement.items())
    )
    return f"<table><tr><th>methods</th><th>Spearman</th><th>{label('top_k_iou')}</th></tr>{rows}</table>"
