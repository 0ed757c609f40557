"""The run's report: one HTML page a reviewer reads in a minute, or strict JSON for release gates.

The page has a summary, a roll-up (each check and golden counted across the run: failed /
checked and the images it failed on), one filterable table with a row per test (failures
first), a section per failed or changed test (golden | now | difference, the measured value
against its bound in words; tests that failed the same way share one card with an expander)
and an Images section where each image's picture row appears once. Pictures are
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
  one); ``goldens`` ({path, name, state, reason, mode, method, measures, bounds, message,
  pictures, ...}); ``explanations`` ({image, method, output, target, probability, samples,
  seconds, evaluations, top classes, mass per region, overlay and lime's boundaries as
  base64 PNG}); ``images`` (image key -> {name,
  picture, regions, agreement}); ``computed``, ``cached``, ``disk``, ``stale``, ``seconds``.
- ``mutation`` (only with ``--xai-mutate``): the detection table, ``MutationReport.to_json``
  (docs/mutation.md).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from pytest_xai._util.atomic import atomic_path
from pytest_xai._util.jsonable import plain
from pytest_xai.records import SCHEMA
from pytest_xai.records.run import RunReport
from pytest_xai.report.pictures import INLINE_LIMIT, Pictures

__all__ = ["INLINE_LIMIT", "SCHEMA", "RunReport", "render", "write_report"]


def render(report: RunReport, path: Path, *, inline_limit: int = INLINE_LIMIT) -> str:
    """The text of the report file at ``path``: strict JSON for a .json path (floats that are
    not finite become null), else the self-contained HTML page, its pictures embedded while
    their total stays under ``inline_limit`` bytes, else written once each into
    ``<report stem>.files/`` beside the report and linked."""
    from pytest_xai.report.html import render_html

    if path.suffix == ".json":
        return json.dumps(plain(report.to_json(), json=True), indent=1, allow_nan=False, default=str)
    pictures = Pictures()
    return pictures.resolve(render_html(report, pictures), path, inline_limit)


def write_report(report: RunReport, path: Path, *, inline_limit: int = INLINE_LIMIT) -> None:
    """Write ``report`` to ``path`` (see ``render``), atomically; a link is written through,
    never replaced by a file."""
    text = render(report, path, inline_limit=inline_limit)
    target = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
