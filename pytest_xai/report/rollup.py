"""The report's roll-up: every check and golden counted across the run, so that a hundred
failures read as a few lines ("avoid 'tag' (lime): failed on 12/12 images"), and the
failed tests grouped by how they failed. Pure functions of the typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_xai.records import CheckResult, GoldenVerdict, TestRecord
from pytest_xai.report.words import FAILED, check_subject

GROUP_MIN = 3  # this many failures alike or more share one card with an expander


@dataclass
class CheckGroup:
    """One check (kind, subject, method) across the run: how many times it was judged and
    failed, on which images, and the tests (by table index) it failed in."""

    kind: str
    subject: str
    method: str | None
    total: int = 0
    failed: int = 0
    images: dict[str, str] = field(default_factory=dict)  # key -> name, every image checked
    failed_images: dict[str, str] = field(default_factory=dict)
    tests: list[int] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.kind}: {self.subject}"


@dataclass
class GoldenGroup:
    """Goldens that ended in one state, for one reason, of one method: their count and tests."""

    state: str
    reason: str | None
    method: str | None
    tests: list[int] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.state + (f" ({self.reason})" if self.reason else "")


@dataclass
class FailureGroup:
    """Failed (or golden-changed) tests that failed the same way: same outcome, same failed
    checks and same golden states, methods included."""

    what: list[str]
    tests: list[int] = field(default_factory=list)


def golden_method(golden: GoldenVerdict, test: TestRecord) -> str | None:
    """The golden's method; for a verdict that names none, the test's only method, if it
    used one."""
    if golden.method:
        return golden.method
    methods = {e.method for e in test.explanations}
    return methods.pop() if len(methods) == 1 else None


def check_groups(tests: list[TestRecord]) -> list[CheckGroup]:
    """Every check of the run grouped by (kind, what it measured, method); the most failed
    first, then in the order they first appear."""
    groups: dict[tuple[Any, ...], CheckGroup] = {}
    for i, test in enumerate(tests):
        for check in test.checks:
            key = (check.kind, check_subject(check), check.method)
            group = groups.setdefault(key, CheckGroup(*key))
            _count(group, check, i, test)
    return sorted(groups.values(), key=lambda g: -g.failed)


def _count(group: CheckGroup, check: CheckResult, i: int, test: TestRecord) -> None:
    group.total += 1
    name = _image_name(check, test)
    if check.image is not None:
        group.images[check.image] = name
    if not check.passed:
        group.failed += 1
        if check.image is not None:
            group.failed_images[check.image] = name
        if not group.tests or group.tests[-1] != i:
            group.tests.append(i)


def _image_name(check: CheckResult, test: TestRecord) -> str:
    """The checked image's name: the test's record of it, else the file it was loaded from,
    else "an image of the test" (its key is a hash, which tells a reader nothing)."""
    entry = test.images.get(check.image) if check.image is not None else None
    if entry is not None:
        return entry.name
    return check.image_name or f"an image of {test.nodeid.rsplit('::', 1)[-1]}"


def golden_groups(tests: list[TestRecord]) -> list[GoldenGroup]:
    """Every golden of the run grouped by (state, reason, method); failed ones first."""
    groups: dict[tuple[Any, ...], GoldenGroup] = {}
    for i, test in enumerate(tests):
        for golden in test.goldens:
            key = (golden.state, golden.reason, golden_method(golden, test))
            groups.setdefault(key, GoldenGroup(*key)).tests.append(i)
    rank = {"failed": 0, "updated": 1, "written": 2}
    return sorted(groups.values(), key=lambda g: (rank.get(g.state, 3), -len(g.tests)))


def failure_signature(test: TestRecord) -> list[str]:
    """How a test failed, in short words: its failed checks and its changed goldens."""
    checks = sorted({f"{c.kind}: {check_subject(c)}" + (f" ({c.method})" if c.method else "")
                     for c in test.checks if not c.passed})
    goldens = sorted({f"golden {g.state}" + (f" ({g.reason})" if g.reason else "")
                      + (f", {m}" if (m := golden_method(g, test)) else "")
                      for g in test.goldens if g.state in ("failed", "updated")})
    what = checks + goldens
    return what or ["failed outside pytest_xai's checks" if test.outcome in FAILED else "changed"]


def failure_groups(tests: list[TestRecord], reviewed: list[int]) -> list[FailureGroup]:
    """The reviewed tests grouped by outcome and ``failure_signature``, in table order."""
    groups: dict[tuple[Any, ...], FailureGroup] = {}
    for i in reviewed:
        what = failure_signature(tests[i])
        groups.setdefault((tests[i].outcome, *what), FailureGroup(what)).tests.append(i)
    return list(groups.values())
