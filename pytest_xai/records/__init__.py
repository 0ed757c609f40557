"""The typed records that cross module boundaries: what a check, an explanation, an image and a
golden comparison left in a test's record, the record itself and the run's report.

Writers build them, readers (the report, the pytest-html extras, the JUnit properties) read
their attributes. Each has ``to_json`` / ``from_json``: the JSON form travels from xdist
workers on the test report, is the JSON report, and reads back losslessly, so shard reports
can be merged. Standard library only: the plugin imports this module at every pytest start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar, TypeVar

from pytest_xai._util.jsonable import JSON
from pytest_xai.defaults import GOLDEN_STATES
from pytest_xai.records.mutation import MutationReport

SCHEMA = 2  # the JSON report's format version; 1 had no run totals and no "schema" field


R = TypeVar("R", bound="_Entry")


def _known(cls: type, data: JSON) -> JSON:
    """The keys of ``data`` that are fields of ``cls`` (a newer writer's extra keys are skipped)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


class _Entry:
    """JSON for a flat record: its fields, less the optional ones (``OPTIONAL``) left None."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> JSON:
        data = asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in data.items() if not (k in self.OPTIONAL and v is None)}

    @classmethod
    def from_json(cls: type[R], data: JSON) -> R:
        return cls(**_known(cls, data))


@dataclass
class CheckResult(_Entry):
    """One bound one assertion judged: ``kind`` (focus, avoid, agree, sanity, or any other
    kind a new assertion brings), ``metric`` measured on ``region`` / ``method`` (against
    ``other_method``), ``value`` (None when not a number) against ``bound``, a maximum when
    ``upper``; ``passed``; ``picture`` the PNG drawn on failure; ``cascade`` the randomisation
    steps of a sanity check ({layer, similarity}); ``details`` what else a kind reports (an
    intervention's outputs before and after, the salience an intervention overruled);
    ``image`` the image's key and ``image_name`` its file name when it was loaded from one."""

    kind: str
    metric: str
    value: float | None
    bound: float
    passed: bool
    upper: bool = False
    region: str | None = None
    method: str | None = None
    target: str | None = None
    image: str | None = None
    picture: str | None = None
    other_method: str | None = None
    cascade: list[dict[str, str | float | None]] | None = None
    details: JSON | None = None
    image_name: str | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("other_method", "cascade", "details", "image_name")

    @property
    def bound_name(self) -> str:
        """The assertion's own name for the bound: min_mass, max_mass, min_spearman, ..."""
        short = {
            "relevance_mass": "mass", "relevance_ratio": "ratio", "spearman_abs": "similarity",
            "probability_change": "change", "follow_rate": "flip", "probability_drop": "drop",
        }
        return ("max_" if self.upper else "min_") + short.get(self.metric, self.metric)

    @property
    def overruled(self) -> bool:
        """Passed although its value is beyond its bound: an avoid check whose region holds the
        mass but whose ``confirm`` intervention showed the model does not use it."""
        details = self.details if isinstance(self.details, dict) else {}
        return self.passed and details.get("salience_passed") is False

    @property
    def subject(self) -> str | None:
        """What it was measured on: the region, "a vs b" for two methods, else the method."""
        if self.region:
            return self.region
        if self.other_method:
            return f"{self.method} vs {self.other_method}"
        return self.method



@dataclass
class Measure:
    """A golden measure with its bound, when it has one (``upper``: the bound caps it)."""

    name: str
    value: float | None
    bound: float | None = None
    upper: bool | None = None

    @property
    def passed(self) -> bool | None:
        """Within the bound (a value that is not a number never is); None without a bound."""
        if self.bound is None:
            return None
        if self.value is None or self.value != self.value:
            return False
        return self.value <= self.bound if self.upper else self.value >= self.bound


@dataclass
class GoldenVerdict(_Entry):
    """What one golden comparison decided and why; the test record, the report and the
    failure message all come from it.

    ``state`` is one of ``defaults.GOLDEN_STATES``. ``reason`` says why a golden failed or
    was (re)written: "missing", "unreadable", "owner" (recorded by another test file sharing the
    folder), "image" (made from another input image), "params", "no_evidence" (the new explanation carries no positive evidence,
    ``metrics.no_evidence``), "prediction", "drift", "force" (rewritten while it passed, by
    ``--xai-update=force``) or "write" (it could not be written); None when it passed. ``measures`` (e.g. ``evidence_shift``, ``new_mass``) hold None where a value
    was not measured or not a number, so the record is strict JSON; ``bounds`` are keyed
    ``max_`` or ``min_`` + the measure. ``message`` is the failure text, or a one-line summary.
    ``pictures`` are the expected / actual / difference PNG paths written on drift, and
    ``expected_png`` / ``actual_png`` / ``diff_png`` the same pictures inlined as base64.
    ``method`` is the explanation method the golden holds (None in reports written before it).
    ``region`` names the golden's named region that gained the most positive mass (the
    ``region_gain`` measure; None when the golden records no regions).
    """

    path: str
    name: str
    state: str
    reason: str | None
    mode: str
    measures: dict[str, float | None] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    message: str = ""
    pictures: dict[str, str] = field(default_factory=dict)
    expected_png: str | None = None
    actual_png: str | None = None
    diff_png: str | None = None
    method: str | None = None
    region: str | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("expected_png", "actual_png", "diff_png", "method", "region")

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    def measured(self) -> list[Measure]:
        """Each measure with its bound: ``max_<m>`` caps measure ``<m>``, ``min_<m>`` floors it."""
        out = []
        for name, value in self.measures.items():
            upper = f"max_{name}" in self.bounds
            bound = self.bounds.get(f"max_{name}", self.bounds.get(f"min_{name}"))
            out.append(Measure(name, value, bound, None if bound is None else upper))
        return out



@dataclass
class ClassScore:
    """One of the model's most probable classes for an image: its name and softmax probability."""

    name: str
    probability: float


@dataclass
class ExplanationEntry(_Entry):
    """An explanation a test obtained: of which ``image`` (key), by which method, its target
    and confidence, the model's ``top`` classes, its cost (``seconds``, model ``evaluations``),
    the positive ``mass`` per named region, its ``overlay`` (base64 PNG) and, for superpixel
    methods, lime's ``boundaries`` picture (the top superpixels with their outlines)."""

    image: str
    method: str
    output: str
    target: str
    probability: float
    samples: int
    seconds: float | None = None
    mass: dict[str, float | None] = field(default_factory=dict)
    overlay: str | None = None
    evaluations: int | None = None
    top: list[ClassScore] | None = None
    boundaries: str | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("evaluations", "top", "boundaries")

    @classmethod
    def from_json(cls, data: JSON) -> ExplanationEntry:
        known = _known(cls, data)
        if known.get("top") is not None:
            known["top"] = [ClassScore(**score) for score in known["top"]]
        return cls(**known)



@dataclass
class ImageEntry(_Entry):
    """An image a test explained: its ``name``, ``picture`` (base64 PNG), named ``regions`` and
    the ``agreement`` (Spearman, top-k IoU) between each pair of methods that explained it."""

    name: str
    picture: str | None = None
    regions: list[str] = field(default_factory=list)
    agreement: dict[str, dict[str, float | None]] = field(default_factory=dict)



COUNTS = ("computed", "cached", "disk", "stale")


@dataclass
class TestRecord:
    """Explanations, checks and golden outcomes of one test.

    ``computed`` explanations ran the engine; ``cached`` came from this session's memo and
    ``disk`` from the persistent cache; ``stale`` cache hits failed their check and were
    recomputed; ``seconds`` were spent explaining. ``outcome`` (passed, failed, error, skipped)
    is set once the run report is made.
    """

    __test__ = False  # not a pytest test class

    nodeid: str
    explanations: list[ExplanationEntry] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    images: dict[str, ImageEntry] = field(default_factory=dict)
    goldens: list[GoldenVerdict] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    disk: int = 0
    stale: int = 0
    seconds: float = 0.0
    outcome: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.explanations or self.checks or self.goldens)

    def to_json(self) -> JSON:
        data: JSON = {
            "nodeid": self.nodeid,
            "explanations": [e.to_json() for e in self.explanations],
            "checks": [c.to_json() for c in self.checks],
            "images": {k: v.to_json() for k, v in self.images.items()},
            "goldens": [g.to_json() for g in self.goldens],
            **{k: getattr(self, k) for k in (*COUNTS, "seconds")},
        }
        if self.outcome is not None:
            data["outcome"] = self.outcome
        return data

    @classmethod
    def from_json(cls, data: JSON) -> TestRecord:
        return cls(
            nodeid=data["nodeid"],
            explanations=[ExplanationEntry.from_json(e) for e in data.get("explanations", [])],
            checks=[CheckResult.from_json(c) for c in data.get("checks", [])],
            images={k: ImageEntry.from_json(v) for k, v in data.get("images", {}).items()},
            goldens=[GoldenVerdict.from_json(g) for g in data.get("goldens", [])],
            **{k: data.get(k, 0) for k in COUNTS},
            seconds=data.get("seconds", 0.0),
            outcome=data.get("outcome"),
        )


@dataclass
class WriteError(_Entry):
    """A golden or report that could not be written: its path, what was being written
    ("written", "updated", "preview", "report") and the error."""

    path: str
    state: str
    error: str


@dataclass
class NotCompared(_Entry):
    """A golden of a selected test that no comparison judged in the run: its ``path``, the
    test's ``nodeid``, the test's ``outcome`` ("failed", "error", "skipped", "not run") and the
    ``reason`` in words."""

    path: str
    nodeid: str
    outcome: str
    reason: str


@dataclass
class Totals:
    """Explanations computed, from this session's memo, from disk, stale; seconds explaining."""

    computed: int = 0
    cached: int = 0
    disk: int = 0
    stale: int = 0
    seconds: float = 0.0

    @classmethod
    def of(cls, records: list[TestRecord]) -> Totals:
        return cls(*(sum(getattr(r, k) for r in records) for k in (*COUNTS, "seconds")))


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
class GoldenSeen(_Entry):
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
    run: RunInfo | None = None  # what the verdict depends on (None in reports of older versions)
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
            totals=Totals(**_known(Totals, data.get("totals", {}))),
            goldens=GoldenSummary.from_json(data.get("goldens", {})),
            tests=[TestRecord.from_json(t) for t in data.get("tests", [])],
            schema=data.get("schema", SCHEMA),
            run=RunInfo.from_json(data["run"]) if data.get("run") else None,
            not_compared=[NotCompared.from_json(g) for g in data.get("not_compared", [])],
            mutation=MutationReport.from_json(data["mutation"]) if data.get("mutation") else None,
        )
