"""Goldens recorded whatever the test's assertions did: ``@pytest.mark.xai(golden=True)``.

In a test with that marker, every explanation the ``explain`` fixture returned is judged
against its golden when the test body ends, passed or failed: under ``--xai-update`` a failing
focus check earlier in the test does not stop its golden from being written, and without it
a drift fails the test even when the body never reached ``assert_match``. Standard library and
pytest only at import time (registered in ``pytest_configure``).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai.plugin.fixtures import closest_first
from pytest_xai.plugin.stash_keys import explained_key, forget

if TYPE_CHECKING:
    from pytest_xai.checks.recorder import Recorder
    from pytest_xai.plugin.goldens import GoldenLifecycle
    from pytest_xai.plugin.session import XaiSession
    from pytest_xai.records import GoldenVerdict

_STOPPED = (pytest.skip.Exception, pytest.xfail.Exception)  # not a failure: nothing is judged


def wants_goldens(item: pytest.Item) -> bool:
    """Whether the closest ``xai`` marker that says ``golden=`` says ``golden=True``."""
    for marker in closest_first(item):  # a parameter set's first, the test's, its class's, its module's
        if "golden" in marker.kwargs:
            return marker.kwargs["golden"] is True
    return False


def golden_names(explained: list[tuple[Any, Any]], taken: int) -> list[str | None]:
    """The golden name of each explanation: the test's own golden (None) when it is the test's
    only one (``taken``: goldens ``assert_match`` already judged); else ``<image stem>.<method>``
    (``image<i>`` for an array), numbered when two would share a name."""
    if len(explained) == 1 and taken == 0:
        return [None]
    names: list[str | None] = []
    seen: dict[str, int] = {}
    for i, (original, exp) in enumerate(explained):
        label = getattr(original, "name", None)
        stem = Path(label).stem if isinstance(label, str) and label else f"image{i}"
        base = f"{stem}.{exp.method}"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def overrule_xfail(report: pytest.TestReport, verdicts: list[GoldenVerdict]) -> None:
    """An xfail test whose golden failed is reported failed: xfail covers the test's own
    assertions, never the verdict on its goldens, so the exit status agrees with the golden
    counts of the summary and the JSON report (docs/goldens.md#xfail-tests)."""
    failed = [v for v in verdicts if v.failed]
    if not failed or not hasattr(report, "wasxfail"):
        return
    reason = report.wasxfail
    del report.wasxfail
    report.outcome = "failed"
    report.longrepr = "\n".join([
        f"xfail does not cover a golden's verdict (the test is xfail: {reason or 'no reason given'}); "
        f"{len(failed)} golden(s) failed:", *(v.message for v in failed),
    ])


class AutoGoldens:
    """Judges the goldens of ``golden=True`` tests at the end of the test body (registered as
    "xai-autogoldens")."""

    def __init__(self, xai: XaiSession, goldens: GoldenLifecycle, recorder_key: pytest.StashKey[Recorder]) -> None:
        self.xai = xai
        self.goldens = goldens
        self.recorder_key = recorder_key

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        try:
            result = yield
        except _STOPPED:
            raise
        except (Exception, pytest.fail.Exception) as error:
            for verdict in self.judge(item):  # recorded; the test's own failure stays the reason
                if verdict.failed:
                    error.add_note(f"and its golden: {verdict.message}")
            raise
        failed = [v for v in self.judge(item) if v.failed]
        if failed:
            raise AssertionError("\n".join(v.message for v in failed))
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        forget(item)

    def judge(self, item: pytest.Item) -> list[GoldenVerdict]:
        """One verdict per explanation the test explained and did not pass to ``assert_match``."""
        explained = item.stash.get(explained_key, [])
        if not explained or not wants_goldens(item):
            return []
        from pytest_xai.plugin.snapshot import snapshot_for

        snapshot = snapshot_for(self.xai, self.goldens, item, item.stash.get(self.recorder_key, None))
        unique = {id(exp): (original, exp) for original, exp in explained}  # the memo returns one object twice
        todo = [pair for key, pair in unique.items() if key not in snapshot.matched]
        names = golden_names(todo, len(snapshot.matched))
        return [snapshot.check(exp, name) for (_, exp), name in zip(todo, names)]
