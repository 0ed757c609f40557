"""The run's records: totals, the golden summary, what the run saw (for merging shards) and the
``RunReport`` the report is rendered from. Standard library only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pytest_xai._util.jsonable import JSON
from pytest_xai.defaults import GOLDEN_STATES
from pytest_xai.records import (
    COUNTS,
    SCHEMA,
    Entry,
    ExplanationEntry,
    NotCompared,
    TestRecord,
    WriteError,
    known_fields,
)
from pytest_xai.records.mutation import MutationReport


@dataclass
class Totals:
    """Explanations computed, from this session's memo, from disk, stale; seconds explaining."""

    computed: int = 0
    cached: int = 0
    disk: int = 0
    stale: int = 0
    seconds: float = 0.0
    samples: int = 0  # model evaluations of the distinct explanations the tests read
    fixed_samples: int = 0  # what the methods' fixed budgets would have used for them

    @classmethod
    def of(cls, records: list[TestRecord]) -> Totals:
        totals = cls(*(sum(getattr(r, k) for r in records) for k in (*COUNTS, "seconds")))
        distinct: dict[tuple[str, ...], ExplanationEntry] = {}
        for record in records:  # an explanation read by several tests is computed once
            for entry in record.explanations:
                distinct[(entry.image, entry.method, entry.output, entry.target, entry.budget or "")] = entry
        totals.samples = sum(e.samples for e in distinct.values())
        totals.fixed_samples = sum(e.fixed_budget or e.samples for e in distinct.values())
        return totals


@dataclass
class GoldenSummary:
    """The count of goldens per state, the unused ones and the writes that failed."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GOLDEN_STATES, 0))
    unused: list[str] = field(default_factory=list)
    write_errors: list[WriteError] = field(default_factory=list)

    @classmethod
    def count(cls, records: list[TestRecord], unused: list[str], errors: list[WriteError]) -> GoldenSummary:
        counts = dict.fromkeys(GOLDEN_STATES, 0)
        for record in records:
            for golden in record.goldens:
                counts[golden.state] = counts.get(golden.state, 0) + 1
        return cls(counts, unused, errors)

    def to_json(self) -> JSON:
        return {**self.counts, "unused": self.unused, "write_errors": [e.to_json() for e in self.write_errors]}

    @classmethod
    def from_json(cls, data: JSON) -> GoldenSummary:
        counts = {k: v for k, v in data.items() if k not in ("unused", "write_errors")}
        errors = [WriteError.from_json(e) for e in data.get("write_errors", [])]
        return cls(counts, list(data.get("unused", [])), errors)


@dataclass
class GoldenSeen(Entry):
    """One golden file as one shard saw it, enough to tell across shards whether it is unused:
    ``used`` by a test of the shard; ``kept`` when the shard knows it is not unused (its owner
    ran here and did not pass, its module was collected only in part); ``needs``: the tests
    that must all have run and passed, in some shard, for it to be unused (its owner, or every
    test of its module when no test owns it); ``cleared``: those of them that passed here."""

    used: bool = False
    kept: bool = False
    needs: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)


@dataclass
class RunInfo:
    """What a run's verdict depends on, so that shards' reports are merged only when they
    agree: the pytest_xai ``version``, the ``settings`` that change a verdict (model
    fingerprint, golden mode and bounds, seed, samples, method, precision, CI mode), the
    number of tests ``collected`` (selected or deselected), and every golden file the run
    ``saw``, by path relative to the rootdir. ``run_id`` is unique to the run (the same report
    merged twice is told by it, whatever its file name); ``splits`` and ``group`` are
    pytest-split's ``--splits`` and ``--group`` (None when the run was not split with it), so a
    merge knows how many shards there were."""

    version: str
    settings: dict[str, str | float | int | bool | None] = field(default_factory=dict)
    collected: int = 0
    saw: dict[str, GoldenSeen] = field(default_factory=dict)
    run_id: str | None = None
    splits: int | None = None
    group: int | None = None

    def to_json(self) -> JSON:
        return {"version": self.version, "settings": dict(self.settings), "collected": self.collected,
                "saw": {path: seen.to_json() for path, seen in self.saw.items()},
                "run_id": self.run_id, "splits": self.splits, "group": self.group}

    @classmethod
    def from_json(cls, data: JSON) -> RunInfo:
        saw = {path: GoldenSeen.from_json(seen) for path, seen in data.get("saw", {}).items()}
        return cls(str(data.get("version", "")), dict(data.get("settings", {})), int(data.get("collected", 0)), saw,
                   data.get("run_id"), data.get("splits"), data.get("group"))


@dataclass
class RunReport:
    """The whole run as the HTML and JSON reports show it (fields: ``pytest_xai.report``).

    ``exitstatus``, ``outcomes`` (pytest's counts), ``failed`` node ids and why the run
    ``stopped`` come from pytest; ``complete``, ``ci``, ``totals``, ``goldens`` and ``tests``
    (one record per test, with its ``outcome``) from pytest_xai; ``mutation`` the detection
    table of ``pytest --xai-mutate`` (None without it).
    """

    exitstatus: int | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None
    complete: bool = True
    ci: bool = False
    totals: Totals = field(default_factory=Totals)
    goldens: GoldenSummary = field(default_factory=GoldenSummary)
    tests: list[TestRecord] = field(default_factory=list)
    schema: int = SCHEMA
    run: RunInfo | None = None  # what the verdict depends on (None when a report holds none)
    not_compared: list[NotCompared] = field(default_factory=list)  # goldens no test judged
    mutation: MutationReport | None = None  # pytest --xai-mutate's detection table

    def to_json(self) -> JSON:
        run = ("schema", "exitstatus", "outcomes", "failed", "stopped", "complete", "ci")
        return {
            **{key: getattr(self, key) for key in run},
            "totals": asdict(self.totals),
            "goldens": self.goldens.to_json(),
            "tests": [t.to_json() for t in self.tests],
            **({} if self.run is None else {"run": self.run.to_json()}),
            "not_compared": [g.to_json() for g in self.not_compared],
            **({} if self.mutation is None else {"mutation": self.mutation.to_json()}),
        }

    @classmethod
    def from_json(cls, data: JSON) -> RunReport:
        return cls(
            exitstatus=data.get("exitstatus"),
            outcomes=dict(data.get("outcomes", {})),
            failed=list(data.get("failed", [])),
            stopped=data.get("stopped"),
            complete=data.get("complete", True),
            ci=data.get("ci", False),
            totals=Totals(**known_fields(Totals, data.get("totals", {}))),
            goldens=GoldenSummary.from_json(data.get("goldens", {})),
            tests=[TestRecord.from_json(t) for t in data.get("tests", [])],
            schema=data.get("schema", SCHEMA),
            run=RunInfo.from_json(data["run"]) if data.get("run") else None,
            not_compared=[NotCompared.from_json(g) for g in data.get("not_compared", [])],
            mutation=MutationReport.from_json(data["mutation"]) if data.get("mutation") else None,
        )
