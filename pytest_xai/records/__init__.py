"""The typed records that cross module boundaries: what a check, an explanation, an image and a
golden comparison left in a test's record, and the record itself (the run's report is in
``records.run``).

Writers build them, readers (the report, the pytest-html extras, the JUnit properties) read
their attributes. Each has ``to_json`` / ``from_json``: the JSON form travels from xdist
workers on the test report, is the JSON report, and reads back losslessly, so shard reports
can be merged. Standard library only: the plugin imports this module at every pytest start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar, TypeVar

from pytest_xai._util.jsonable import JSON

SCHEMA = 2  # the JSON report's format version; 1 had no run totals and no "schema" field


R = TypeVar("R", bound="Entry")


def known_fields(cls: type, data: JSON) -> JSON:
    """The keys of ``data`` that are fields of ``cls`` (a newer writer's extra keys are skipped)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


class Entry:
    """JSON for a flat record: its fields, less the optional ones (``OPTIONAL``) left None."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> JSON:
        data = asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in data.items() if not (k in self.OPTIONAL and v is None)}

    @classmethod
    def from_json(cls: type[R], data: JSON) -> R:
        return cls(**known_fields(cls, data))


@dataclass
class CheckResult(Entry):
    """One bound one assertion judged: ``kind`` (focus, avoid, agree, sanity, or any other
    kind a new assertion brings), ``metric`` measured on ``region`` / ``method`` (against
    ``other_method``), ``value`` (None when not a number) against ``bound``, a maximum when
    ``upper``; ``passed``; ``picture`` the PNG drawn on failure; ``cascade`` the randomisation
    steps of a sanity check ({layer, similarity}); ``details`` what else a kind reports (an
    intervention's outputs before and after, the salience an intervention overruled);
    ``image`` the image's key and ``image_name`` its file name when it was loaded from one;
    ``interval`` the measure's 95% interval from the heatmaps' sampling errors, ``samples``
    the samples it was measured at, and ``undecided`` True when the interval still held the
    bound at the cap, so the point estimate decided (``pytest_xai.checks.adaptive``)."""

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
    interval: list[float] | None = None
    samples: int | None = None
    undecided: bool | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "other_method", "cascade", "details", "image_name", "interval", "samples", "undecided",
    )

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
class GoldenVerdict(Entry):
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
    ``region`` names the golden's named region that failed a region criterion (mass gained,
    ``region_gain``, or reliance gained, ``reliance_gain``), else the one that gained the most
    positive mass; None when the golden records no regions.
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
    intervals: dict[str, list[float]] | None = None
    undecided: list[str] | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "expected_png", "actual_png", "diff_png", "method", "region", "intervals", "undecided",
    )

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
class ExplanationEntry(Entry):
    """An explanation a test obtained: of which ``image`` (key), by which method, its target
    and confidence, the model's ``top`` classes, its cost (``seconds``, model ``evaluations``),
    the positive ``mass`` per named region, its ``overlay`` (base64 PNG) and, for superpixel
    methods, lime's ``boundaries`` picture (the top superpixels with their outlines).
    ``samples`` it used (after every check's growth), ``budget`` how they were chosen ("auto
    (...)" or "fixed N"), ``fixed_budget`` what the method's fixed default would have used,
    ``relative_error`` its Σ standard error / Σ |attribution|, and ``asked_by`` the checks that
    asked it for more rounds."""

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
    budget: str | None = None
    fixed_budget: int | None = None
    relative_error: float | None = None
    asked_by: list[str] | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "evaluations", "top", "boundaries", "budget", "fixed_budget", "relative_error", "asked_by",
    )

    @classmethod
    def from_json(cls, data: JSON) -> ExplanationEntry:
        known = known_fields(cls, data)
        if known.get("top") is not None:
            known["top"] = [ClassScore(**score) for score in known["top"]]
        return cls(**known)



@dataclass
class ImageEntry(Entry):
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
class WriteError(Entry):
    """A golden or report that could not be written: its path, what was being written
    ("written", "updated", "preview", "report") and the error."""

    path: str
    state: str
    error: str


@dataclass
class NotCompared(Entry):
    """A golden of a selected test that no comparison judged in the run: its ``path``, the
    test's ``nodeid``, the test's ``outcome`` ("failed", "error", "skipped", "not run") and the
    ``reason`` in words."""

    path: str
    nodeid: str
    outcome: str
    reason: str
