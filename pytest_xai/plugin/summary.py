"""The end of the run: the explanation cache trimmed, the --xai-report file written, and the
"xai" section of the terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_xai.defaults import GOLDEN_STATES
from pytest_xai.plugin.goldens import GoldenLifecycle
from pytest_xai.plugin.results import ResultsPlugin
from pytest_xai.plugin.session import XaiSession
from pytest_xai.records import NotCompared
from pytest_xai.records.run import GoldenSummary, Totals

SHOWN_NOT_COMPARED = 10  # goldens listed one per line in the terminal summary; the rest counted


class RunSummary:
    """Report file and terminal summary, in the controlling process (registered as "xai-summary")."""

    def __init__(self, xai: XaiSession, results: ResultsPlugin, goldens: GoldenLifecycle) -> None:
        self.xai = xai
        self.results = results
        self.goldens = goldens
        self._not_compared: list[NotCompared] | None = None
        self.written_reports: list[Path] = []  # the --xai-report files on disk

    def not_compared(self) -> list[NotCompared]:
        """The selected tests' goldens that no comparison judged (computed once, at the end);
        none under ``--collect-only``, where no test was meant to run."""
        if self._not_compared is None and self.xai.config.getoption("collectonly", False):
            self._not_compared = []
        if self._not_compared is None:
            from pytest_xai.goldens.usage import not_compared

            found = not_compared(self.xai.store, self.goldens.run_view())
            for entry in found:
                entry.path = self.xai.rel(Path(entry.path))
            self._not_compared = found
        return self._not_compared

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.xai.is_worker:
            return
        disk = self.xai.cache.disk
        if disk is not None and self.totals().computed:
            disk.evict()
        self.write_reports(session)

    def write_reports(self, session: pytest.Session) -> None:
        """Write every --xai-report file. One that cannot be written fails the run, never hides
        the summary; those already written are written again, so that each says the run failed
        and why, as the exit status does."""
        reports = self.xai.settings.reports
        written = [path for path in reports if self.write_report(session, path)]
        if len(written) < len(reports):
            written = [path for path in written if self.write_report(session, path)]
        self.written_reports = written

    def write_report(self, session: pytest.Session, path: Path) -> bool:
        """Write one --xai-report file; False (the failure recorded, the run failed) when it cannot be."""
        from pytest_xai.plugin.run_report import run_report
        from pytest_xai.report import write_report

        try:
            report = run_report(self.xai.config, self.results, self.goldens)
            report.not_compared = self.not_compared()
            write_report(report, path)
        except Exception as e:
            self.goldens.write_failed(path, "report", e)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return False
        return True

    def totals(self) -> Totals:
        return Totals.of(list(self.results.records.values()))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        g, s = self.goldens, self.xai.settings
        quiet = not (self.results.records or g.unused or s.ci or g.write_errors or g.warnings or self.not_compared())
        if self.xai.is_worker or quiet:
            return
        terminalreporter.section("xai")
        for line in self.lines():
            terminalreporter.write_line(line, red=line.startswith("write failed"))

    def lines(self) -> list[str]:
        totals, g, rel = self.totals(), self.goldens, self.xai.rel
        counts = GoldenSummary.count(list(self.results.records.values()), [], []).counts
        lines = [
            f"explanations: {totals.computed} computed, {totals.cached} from cache, "
            f"{totals.disk} from disk cache, {totals.seconds:.1f} s explaining",
            "goldens: " + ", ".join(f"{counts[s]} {s}" for s in GOLDEN_STATES)
            + f", {len(g.unused)} unused" + (f" ({len(g.deleted)} deleted)" if g.deleted else "")
            + (f", {len(self.not_compared())} not compared" if self.not_compared() else ""),
        ]
        if totals.fixed_samples:
            lines.insert(1, f"samples: {totals.samples} model evaluations, {totals.samples / totals.fixed_samples:.0%} "
                            f"of the {totals.fixed_samples} the fixed budgets would use")
        lines += [f"  unused: {rel(p)}" + (" (deleted)" if p in g.deleted else "") for p in g.unused]
        lines += self.not_compared_lines()
        lines += self.advice(counts)
        lines += [f"warning: {w}" for w in g.warnings]
        lines += self.cache_warnings(totals)
        lines += [f"write failed: {rel(Path(e.path))}: {e.error}" for e in g.write_errors]
        lines += [f"report: {path}" for path in self.written_reports]
        return lines

    def not_compared_lines(self) -> list[str]:
        """A warning, then each golden no comparison judged and why (the first few)."""
        missed = self.not_compared()
        if not missed:
            return []
        lines = [
            f"warning: {len(missed)} golden(s) not compared: their tests stopped before comparing "
            "them, so these goldens checked nothing in this run"
            + ("" if not self.xai.settings.ci else " (CI mode: this run did not gate on them)")
        ]
        lines += [f"  not compared: {g.path} ({g.reason}: {g.nodeid})" for g in missed[:SHOWN_NOT_COMPARED]]
        if len(missed) > SHOWN_NOT_COMPARED:
            lines.append(f"  ... and {len(missed) - SHOWN_NOT_COMPARED} more (all in the --xai-report JSON)")
        if not self.xai.settings.ci and self.xai.settings.update is not None:
            lines.append("  to record goldens whatever the test's other checks do: @pytest.mark.xai(golden=True)")
        return lines

    def cache_warnings(self, totals: Totals) -> list[str]:
        disk, lines = self.xai.cache.disk, []
        if totals.stale:
            kept = "; in read mode they stay stale on disk (run once with --xai-cache=on or --cache-clear)"
            lines.append(
                f"warning: {totals.stale} cached explanation(s) were stale and recomputed: an entry "
                "was made for another key or image (a file copied or swapped by hand), or the model's "
                "output on the image changed while its fingerprint did not (edited code, a setting "
                "its preprocess reads, or weights changed in place)"
                + (kept if disk is not None and not disk.write else "")
            )
        if disk is not None and disk.errors:
            more = len(disk.errors) - 1
            lines.append(f"warning: explanation cache: {disk.errors[0]}" + (f" (and {more} more)" if more else ""))
        return lines

    def advice(self, counts: dict[str, int]) -> list[str]:
        s, g = self.xai.settings, self.goldens
        if s.ci:
            done = "--xai-update ignored, nothing was written or deleted" if s.update is not None else "goldens are read-only"
            return [f"CI mode ({s.ci_reason}): {done}"]
        if s.write_policy.can_update and g.unused and not g.complete:
            return ["unused goldens kept: the run did not complete (interrupted, stopped early, or a test "
                    "did not finish); rerun the full suite with --xai-update to delete them"]
        if counts["failed"]:
            return ["to accept the new explanations: pytest --xai-update (review the .png previews)"]
        if g.unused and s.update is None:
            return ["to delete unused goldens: pytest --xai-update on a full run"]
        return []
