"""One verdict from many shards: the JSON reports of the shards of one suite merged into the
report one run of the whole suite would have written (same schema, same gate).

``exitstatus`` is the worst shard's, ``complete`` holds only when every shard completed,
``outcomes``, ``totals`` and golden counts are summed, ``failed`` lists, tests and uncompared
goldens are concatenated. A golden is unused only when every shard completed, no shard used
it and every test that decides it (its owner, or all tests of its module) ran and passed in some shard.
Shards whose verdicts cannot be combined (another pytest_xai version, model or setting) are
refused with ``ShardMismatchError``, which names the field and both values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pytest_xai.records.run import GoldenSeen, GoldenSummary, RunInfo, RunReport, Totals
from pytest_xai.report.schema import problems

# pytest exit codes from best to worst: OK, no tests collected, tests failed, interrupted,
# usage error, internal error
_SEVERITY = (0, 5, 1, 2, 4, 3)


class ShardMismatchError(ValueError):
    """Two shard reports that cannot be merged into one verdict."""


@dataclass
class Shard:
    """One shard's report and the file it came from (named in errors)."""

    name: str
    report: RunReport


def load_shard(path: Path) -> Shard:
    """Read one shard's JSON report; a file that is not one is a ``ShardMismatchError``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ShardMismatchError(f"{str(path)!r} is not a readable JSON report: {e}") from e
    if not isinstance(data, dict) or "tests" not in data or "goldens" not in data:
        raise ShardMismatchError(f"{str(path)!r} is not a pytest_xai JSON report (write one with --xai-report=PATH.json)")
    found = problems(data)
    if found:
        raise ShardMismatchError(
            f"{str(path)!r} is not a valid pytest_xai JSON report: {found}; merge the reports "
            "pytest --xai-report=PATH.json wrote, unedited"
        )
    return Shard(str(path), RunReport.from_json(data))


def merge_reports(shards: list[Shard]) -> RunReport:
    """The merged ``RunReport`` of ``shards`` (at least one), after checking they agree."""
    if not shards:
        raise ShardMismatchError("no shard reports to merge; pass the shards' JSON reports (shard-*.json)")
    check_compatible(shards)
    check_groups(shards)
    reports = [s.report for s in shards]
    check_disjoint(shards)
    complete = all(r.complete for r in reports)
    tests = [t for r in reports for t in r.tests]
    counts: dict[str, int] = {}
    for r in reports:
        for state, n in r.goldens.counts.items():
            counts[state] = counts.get(state, 0) + n
    errors = [e for r in reports for e in r.goldens.write_errors]
    return RunReport(
        exitstatus=worst_exitstatus([r.exitstatus for r in reports]),
        outcomes=merged_outcomes(reports),
        failed=list(dict.fromkeys(n for r in reports for n in r.failed)),
        stopped=next((f"{s.name}: {s.report.stopped}" for s in shards if s.report.stopped), None),
        complete=complete,
        ci=reports[0].ci,
        totals=Totals(*(sum(getattr(r.totals, k) for r in reports) for k in ("computed", "cached", "disk", "stale", "seconds"))),
        goldens=GoldenSummary(counts, unused_across(reports) if complete else [], errors),
        tests=tests,
        run=merged_run(reports),
        not_compared=[g for r in reports for g in r.not_compared],
    )


def worst_exitstatus(statuses: list[int | None]) -> int | None:
    """The worst of the shards' exit statuses (an unknown one, None, is worst of all)."""
    if any(s is None for s in statuses):
        return None
    rank = lambda s: _SEVERITY.index(s) if s in _SEVERITY else len(_SEVERITY)  # noqa: E731
    return max(statuses, key=rank)


def merged_outcomes(reports: list[RunReport]) -> dict[str, int]:
    """pytest's counts summed; ``deselected`` counts the tests no shard selected (when every
    shard collected the same tests, as pytest-split shards do), not the sum of the shards'."""
    counts: dict[str, int] = {}
    for r in reports:
        for key, n in r.outcomes.items():
            counts[key] = counts.get(key, 0) + n
    collected = {r.run.collected for r in reports if r.run is not None}
    if "deselected" in counts and len(collected) == 1 and all(r.run is not None for r in reports):
        counts["deselected"] -= (len(reports) - 1) * collected.pop()
    return {key: n for key, n in counts.items() if n > 0}


def unused_across(reports: list[RunReport]) -> list[str]:
    """Goldens no shard used and none kept, whose deciding tests all passed in some shard."""
    seen: dict[str, list[GoldenSeen]] = {}
    for r in reports:
        for path, entry in (r.run.saw if r.run is not None else {}).items():
            seen.setdefault(path, []).append(entry)
    cleared = {n for entries in seen.values() for e in entries for n in e.cleared}
    unused = []
    for path, entries in seen.items():
        if any(e.used or e.kept for e in entries):
            continue
        if all(n in cleared for e in entries for n in e.needs):
            unused.append(path)
    if any(r.run is None for r in reports):  # a shard that says nothing about its goldens
        unused = sorted(set(unused) & {p for r in reports for p in r.goldens.unused})
    return sorted(unused)


def merged_run(reports: list[RunReport]) -> RunInfo | None:
    """The shards' common version and settings, tests collected, and every golden seen."""
    first = reports[0].run
    if first is None:
        return None
    saw: dict[str, GoldenSeen] = {}
    for r in reports:
        for path, e in (r.run.saw if r.run is not None else {}).items():
            m = saw.setdefault(path, GoldenSeen())
            m.used, m.kept = m.used or e.used, m.kept or e.kept
            m.needs = sorted({*m.needs, *e.needs})
            m.cleared = sorted({*m.cleared, *e.cleared})
    settings = dict(first.settings)
    for r in reports:  # a shard that never loaded the model leaves its fingerprint unknown
        if r.run is not None and r.run.settings.get("model_fingerprint"):
            settings["model_fingerprint"] = r.run.settings["model_fingerprint"]
    return RunInfo(first.version, settings, max(r.run.collected if r.run else 0 for r in reports), saw)


def check_compatible(shards: list[Shard]) -> None:
    """Refuse shards whose verdicts cannot be combined, naming the field and both values."""
    first = shards[0]
    for other in shards[1:]:
        for field_name, a, b in _differences(first.report, other.report):
            raise ShardMismatchError(
                f"cannot merge {other.name} with {first.name}: {field_name} differs "
                f"({b!r} in {other.name}, {a!r} in {first.name}); their verdicts cannot be "
                "combined: run every shard with the same pytest_xai version, model and settings"
            )


def _differences(a: RunReport, b: RunReport) -> list[tuple[str, object, object]]:
    out: list[tuple[str, object, object]] = []
    if a.schema != b.schema:
        out.append(("schema", a.schema, b.schema))
    if (a.run is None) != (b.run is None):
        out.append(("pytest_xai version", a.run and a.run.version, b.run and b.run.version))
    if a.run is None or b.run is None:
        return out + ([("ci", a.ci, b.ci)] if a.ci != b.ci else [])
    if a.run.version != b.run.version:
        out.append(("pytest_xai version", a.run.version, b.run.version))
    for key in sorted({*a.run.settings, *b.run.settings}):
        x, y = a.run.settings.get(key), b.run.settings.get(key)
        if key == "model_fingerprint" and (x is None or y is None):
            continue  # a shard whose tests never loaded the model
        if x != y:
            out.append((key, x, y))
    return out


def check_groups(shards: list[Shard]) -> None:
    """Refuse a shard given twice (the same run id), and pytest-split groups that are split
    differently, given twice or missing: the verdict would count a shard twice or miss one."""
    runs: dict[str, int] = {}
    for index, shard in enumerate(shards):
        run_id = shard.report.run.run_id if shard.report.run is not None else None
        if run_id is not None and runs.setdefault(run_id, index) != index:
            raise ShardMismatchError(
                f"{shard.name} and {shards[runs[run_id]].name} are the same shard (run id {run_id}): "
                "pass each shard's report once"
            )
    split = [s for s in shards if s.report.run is not None and s.report.run.splits is not None]
    if not split:
        return
    first = split[0]
    splits = first.report.run.splits  # type: ignore[union-attr]
    groups: dict[int, str] = {}
    for shard in shards:
        run = shard.report.run
        if run is None or run.splits is None:
            raise ShardMismatchError(
                f"{shard.name} was not split with pytest-split, {first.name} was (--splits {splits}): "
                "merge the reports of one split run, every --group of the same --splits"
            )
        if run.splits != splits:
            raise ShardMismatchError(
                f"cannot merge {shard.name} with {first.name}: --splits differs ({run.splits} in {shard.name}, "
                f"{splits} in {first.name}); merge the reports of one split run"
            )
        other = groups.setdefault(int(run.group or 0), shard.name)
        if other != shard.name:
            raise ShardMismatchError(
                f"group {run.group} of --splits {splits} is in both {other} and {shard.name}: pass each group's report once"
            )
    missing = [g for g in range(1, int(splits or 0) + 1) if g not in groups]
    if missing:
        raise ShardMismatchError(
            f"group {missing[0]} of --splits {splits} is missing" + (f" (and {missing[1:]})" if missing[1:] else "")
            + f": only groups {sorted(groups)} were given; pass every group's report, or the merged "
            "verdict would leave that group's tests out"
        )


def check_disjoint(shards: list[Shard]) -> None:
    """Refuse shards that ran the same test: their counts would be counted twice."""
    where: dict[str, int] = {}
    for index, shard in enumerate(shards):
        for test in shard.report.tests:
            other = where.setdefault(test.nodeid, index)
            if other != index:
                raise ShardMismatchError(
                    f"{test.nodeid!r} ran in both {shards[other].name} and {shard.name}: shards must not overlap "
                    "(give each the same --splits N and its own --group k, or disjoint -k / node ids)"
                )

