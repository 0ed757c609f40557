"""The HTML report page, a pure function of a ``RunReport``; its CSS and JS are package files."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pytest_xai._util.validation import is_finite
from pytest_xai.records import CheckResult, ExplanationEntry, GoldenVerdict, ImageEntry, TestRecord
from pytest_xai.records.run import RunReport
from pytest_xai.report.markup import anchor, esc, nodeid_html
from pytest_xai.report.mutation import mutation_section
from pytest_xai.report.overview import top
from pytest_xai.report.pictures import Pictures
from pytest_xai.report.rollup import GROUP_MIN, FailureGroup, failure_groups, golden_method
from pytest_xai.report.words import (
    CHANGED,
    FAILED,
    ORDER,
    check_cell,
    check_words,
    fmt,
    label,
    measure_short,
    measure_words,
)

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
    groups = failure_groups(tests, reviewed)
    unused = "".join(f"<li><code>{esc(u)}</code></li>" for u in report.goldens.unused)
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pytest_xai report</title>"
        f"<style>\n{_asset('report.css')}</style></head><body><h1>pytest_xai report</h1>"
        + top(report, tests, groups, {k: v.image.name for k, v in images.items()})
        + _table(tests, set(reviewed))
        + mutation_section(report)
        + ("<h2 id='failures'>Failures and changed goldens</h2>" if reviewed else "")
        + "".join(_failure_group(k, g, tests, images, pictures) for k, g in enumerate(groups))
        + _images_section(images, [t.nodeid for t in tests], pictures)
        + (f"<h2 id='unused'>Unused goldens</h2><ul>{unused}</ul>" if unused else "")
        + FOOTNOTE
        + f"<script>\n{_asset('report.js')}</script></body></html>"
    )
    return pictures.resolve(page) if own else page


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
    return f"<h2 id='tests-head'>Tests</h2>{controls}<table id='tests'><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _golden_changed(test: TestRecord) -> bool:
    return any(g.state in CHANGED for g in test.goldens)


def _row(i: int, test: TestRecord, has_section: bool) -> str:
    outcome = test.outcome or "unknown"
    checks = [f"<li class='{'ok' if c.passed else 'bad'}'>{esc(c.kind)}: {esc(check_cell(c))}</li>"
              for c in test.checks]
    many = len(test.goldens) > 1  # then say which golden each line is about
    goldens = [
        f"<li class='{_golden_class(g)}' title='{esc(g.name)}'>{esc(_cell_golden(g, test))}"
        + (f" <span class='muted'>{esc(g.name)}</span>" if many else "") + "</li>"
        for g in test.goldens
    ]
    image_links = ", ".join(f"<a href='#img-{anchor(k)}'>{esc(v.name)}</a>" for k, v in test.images.items())
    name = nodeid_html(test.nodeid)
    link = f"<a href='#f{i}'>{name}</a>" if has_section else name
    text = " ".join([test.nodeid, outcome, *(check_cell(c) for c in test.checks),
                     *(f"{_cell_golden(g, test)} {g.name}" for g in test.goldens)]).lower()
    return (
        f"<tr id='t{i}' class='{esc(outcome)}' data-failed='{int(outcome in FAILED)}' "
        f"data-changed='{int(_golden_changed(test))}' data-text='{esc(text)}'>"
        f"<td><span class='badge {esc(outcome)}'>{esc(outcome)}</span></td><td class='id'>{link}</td>"
        f"<td>{_list(checks)}</td><td>{_list(goldens)}</td><td>{image_links}</td></tr>"
    )


def _list(items: list[str]) -> str:
    return f"<ul class='cell'>{''.join(items)}</ul>" if items else "<span class='muted'>-</span>"


def _cell_golden(golden: GoldenVerdict, test: TestRecord) -> str:
    """A golden for a table cell: "kernel_shap failed (drift): shift 0.31 > 0.12"."""
    method = golden_method(golden, test)
    text = (f"{method} " if method else "") + golden.state + (f" ({golden.reason})" if golden.reason else "")
    measures = [measure_short(m, golden.region) for m in golden.measured() if m.bound is not None and m.value is not None]
    return text + (": " + ", ".join(measures) if measures else "")


def _golden_class(golden: GoldenVerdict) -> str:
    return {"passed": "ok", "failed": "bad"}.get(golden.state, "")


def _needs_section(test: TestRecord) -> bool:
    return test.outcome in FAILED or any(g.state in ("failed", "updated") for g in test.goldens)


def _figure(pictures: Pictures, token: str | None, caption: str) -> str:
    if token is None:
        return f"<figure><span class='muted'>(picture unavailable)</span><figcaption>{esc(caption)}</figcaption></figure>"
    size = pictures.size(token)
    box = f" width='{size[0]}' height='{size[1]}'" if size else ""
    return (
        f"<figure><img loading='lazy' decoding='async' src=\"{token}\"{box} alt='{esc(caption)}'>"
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _test_section(i: int, test: TestRecord, images: dict[str, ImageView], pictures: Pictures) -> str:
    """A failed (or golden-changed) test: each failed check and golden in words, with pictures."""
    outcome = test.outcome or "unknown"
    parts = [
        f"<section id='f{i}' class='{esc(outcome)}'><h3><span class='badge {esc(outcome)}'>"
        f"{esc(outcome)}</span> {nodeid_html(test.nodeid)}</h3>"
    ]
    failed_checks = [c for c in test.checks if not c.passed]
    drawn: set[Any] = set()
    for check in failed_checks:
        parts.append(f"<p class='verdict bad'>FAIL {esc(check.kind)}: {esc(check_words(check))}</p>")
        picture = (check.picture, check.image, check.method, check.region)
        if check.cascade:
            parts.append(_cascade_table(check.cascade))
        if picture not in drawn:  # two bounds of one check (Spearman, IoU) share a picture
            drawn.add(picture)
            parts.append(_check_picture(check, test, pictures))
    if len(test.checks) > len(failed_checks) > 0:
        parts.append(_checks_table(test.checks))
    shown = [g for g in test.goldens if g.state in ("failed", "updated")]
    parts += [_golden_block(g, golden_method(g, test), pictures) for g in shown]
    if outcome in FAILED and not failed_checks and not any(g.state == "failed" for g in shown):
        parts.append("<p class='verdict'>The test failed outside pytest_xai's checks (an exception "
                     "or a plain assert): see pytest's output.</p>")
    links = ", ".join(
        f"<a href='#img-{anchor(k)}'>{esc(images[k].image.name)}</a>" for k in test.images if k in images
    )
    parts.append(f"<p class='muted'>{'images: ' + links + ' · ' if links else ''}<a href='#t{i}'>back to the table</a></p>")
    return "".join(parts) + "</section>"


def _failure_group(k: int, group: FailureGroup, tests: list[TestRecord], images: dict[str, ImageView],
                   pictures: Pictures) -> str:
    """Tests that failed the same way: alone when few, else one card with the count, what
    failed, the first test's section and the others behind an expander."""
    sections = [_test_section(i, tests[i], images, pictures) for i in group.tests]
    if len(group.tests) < GROUP_MIN:
        return "".join(sections)
    what = "; ".join(group.what)
    return (f"<div class='group' id='g{k}' data-count='{len(group.tests)}'><h3><b>{len(group.tests)} tests</b> "
            f"failed the same way: {esc(what)}</h3>{sections[0]}<details class='more'><summary>"
            f"show the other {len(group.tests) - 1} tests</summary>{''.join(sections[1:])}</details></div>")


def _checks_table(checks: list[CheckResult]) -> str:
    """All of a test's checks, so a failure is seen next to what passed."""
    rows = "".join(
        f"<tr><td>{esc(c.kind)}</td><td>{esc(check_cell(c))}</td><td>{esc(c.method)}</td>"
        f"<td class='{'ok' if c.passed else 'bad'}'>{'pass' if c.passed else 'FAIL'}</td></tr>"
        for c in checks
    )
    return f"<table><tr><th>check</th><th>value against bound</th><th>method</th><th>result</th></tr>{rows}</table>"


def _cascade_table(steps: list[dict[str, str | float | None]]) -> str:
    """A model-randomisation check's cascade: similarity after each layer is randomised."""
    head = "".join(f"<th>{esc(step.get('layer'))}</th>" for step in steps)
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
    return _figure(pictures, token, caption) if token or check.picture else ""


def _golden_block(golden: GoldenVerdict, method: str | None, pictures: Pictures) -> str:
    """A golden's verdict: state and reason, each measure against its bound in words, the
    expected | actual | difference pictures and the full message."""
    # None is "not measured" (e.g. the prediction changed first) unless the drift check ran on it
    measured = golden.reason == "drift"
    unjudged = {"region_gain"} if golden.region is None else set()  # a golden without named regions
    words = [measure_words(m, golden.region) for m in golden.measured()
             if m.value is not None or (measured and m.name not in unjudged)]
    head = (
        f"<p class='verdict {_golden_class(golden)}'>{esc(method or '')} golden <code>{esc(golden.name)}</code>: "
        f"{esc(golden.state)}" + (f" ({esc(golden.reason)})" if golden.reason else "")
        + (f" [{esc(golden.mode)} mode]" if golden.mode else "")
        + (": " + esc("; ".join(words)) if words else "") + "</p>"
    )
    figures = "".join(
        _figure(pictures, pictures.add(b64=b64) or pictures.add(path=golden.pictures.get(key)), caption)
        for b64, key, caption in (
            (golden.expected_png, "expected", "golden (expected)"),
            (golden.actual_png, "actual", "now (actual)"),
            (golden.diff_png, "difference", "difference (now − golden)"),
        )
        if b64 or golden.pictures.get(key)
    )
    opened = " open" if golden.state == "failed" else ""
    message = golden.message
    details = f"<details{opened}><summary>message</summary><pre>{esc(message)}</pre></details>" if message else ""
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
        f"<section id='img-{anchor(key)}'><h3>{esc(view.image.name)}</h3>",
        _prediction(exps),
        "<div class='imgrow'><div>",
        _figure(pictures, pictures.add(b64=view.image.picture), "image"),
    ]
    for e in exps:
        caption = f"{e.method} ({e.output}, {e.samples} samples" + (
            f", {e.seconds:.2f} s)" if e.seconds is not None and is_finite(e.seconds) else ")")
        caption += _budget_words(e)
        parts.append(_figure(pictures, pictures.add(b64=e.overlay), caption))
        if e.boundaries:
            parts.append(_figure(pictures, pictures.add(b64=e.boundaries), f"{e.method}: top superpixels, outlined"))
    parts.append(f"</div><div>{_top_table(exps)}{_mass_table(view.image.regions, exps)}")
    parts.append(_agreement_table(view.agreement) + "</div></div>")
    used = view.tests
    links = ", ".join(f"<a href='#t{i}'>{esc(names[i].rsplit('::', 1)[-1])}</a>" for i in used[:12])
    parts.append(f"<p class='muted'>used by {len(used)} test(s): {links}{' …' if len(used) > 12 else ''}</p>")
    return "".join(parts) + "</section>"


def _prediction(exps: list[ExplanationEntry]) -> str:
    if not exps:
        return ""
    return (f"<p>predicted <b>{esc(exps[0].target)}</b> with confidence {fmt(exps[0].probability)} "
            "(softmax)</p>")


def _top_table(exps: list[ExplanationEntry]) -> str:
    """The model's most probable classes for the image (one forward pass; any explanation's)."""
    top = next((e.top for e in exps if e.top), None) or []
    if len(top) < 2:
        return ""
    rows = "".join(f"<tr><td>{k}</td><td>{esc(c.name)}</td><td>{c.probability:.3f}</td></tr>"
                   for k, c in enumerate(top, 1))
    return f"<table class='top'><tr><th>#</th><th>class</th><th>probability</th></tr>{rows}</table>"


def _budget_words(e: Any) -> str:
    """How the samples were chosen, the standard error, and which checks asked for more."""
    words = []
    if e.budget:
        words.append(e.budget)
    if e.relative_error is not None:
        words.append(f"standard error {e.relative_error:.1%} of the mass")
    if e.asked_by:
        words.append("more rounds asked by " + ", ".join(dict.fromkeys(e.asked_by)))
    return (" · " + "; ".join(words)) if words else ""


def _mass_table(regions: list[str], exps: list[ExplanationEntry]) -> str:
    """Per method: the positive mass on each named region and the cost of the explanation."""
    if not regions and len(exps) < 2:
        return ""
    head = "".join(f"<th>mass on {esc(r)}</th>" for r in regions)
    rows = "".join(
        f"<tr><td>{esc(e.method)}</td>" + "".join(f"<td>{fmt(e.mass.get(r))}</td>" for r in regions)
        + f"<td>{fmt(e.seconds)}</td><td>{'-' if e.evaluations is None else e.evaluations}</td></tr>"
        for e in exps
    )
    return (f"<table><tr><th>method</th>{head}<th>seconds</th>"
            f"<th title='forward passes (gradient_shap: forward and backward)'>model evaluations</th></tr>"
            f"{rows}</table>")


def _agreement_table(agreement: dict[str, dict[str, float | None]]) -> str:
    if not agreement:
        return ""
    rows = "".join(
        f"<tr><td>{esc(pair)}</td><td>{fmt(v.get('spearman'))}</td><td>{fmt(v.get('top_k_iou'))}</td></tr>"
        for pair, v in sorted(agreement.items())
    )
    return f"<table><tr><th>methods</th><th>Spearman</th><th>{label('top_k_iou')}</th></tr>{rows}</table>"
