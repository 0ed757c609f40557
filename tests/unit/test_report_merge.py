"""Merging shards' JSON reports: the same schema and gate as one run, unused goldens decided
across shards, incompatible shards refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_xai.records import CheckResult, GoldenVerdict, NotCompared, TestRecord
from pytest_xai.records.run import GoldenSeen, GoldenSummary, RunInfo, RunReport, Totals
from pytest_xai.report.__main__ import main
from pytest_xai.report.merge import (
    Shard,
    ShardMismatchError,
    load_shard,
    merge_reports,
    worst_exitstatus,
)

SETTINGS = {"model_fingerprint": "abc", "golden_mode": "release", "max_shift": None, "min_spearman": 0.8,
            "min_top_k_iou": 0.5, "seed": None, "samples": None, "method": None, "precision": None, "ci": True}


def golden(path: str, state: str = "passed") -> GoldenVerdict:
    return GoldenVerdict(path=path, name=path, state=state, reason=None if state == "passed" else "drift", mode="release")


def shard(name: str, tests: list[TestRecord], *, exitstatus: int = 0, complete: bool = True,
          outcomes: dict[str, int] | None = None, saw: dict[str, GoldenSeen] | None = None,
          collected: int = 4, **settings: object) -> Shard:
    failed = [t.nodeid for t in tests if t.outcome == "failed"]
    report = RunReport(
        exitstatus=exitstatus, outcomes=outcomes or {}, failed=failed, complete=complete, ci=True,
        totals=Totals.of(tests), goldens=GoldenSummary.count(tests, [], []), tests=tests,
        run=RunInfo("0.1.0", {**SETTINGS, **settings}, collected, saw or {}),
    )
    return Shard(name, RunReport.from_json(json.loads(json.dumps(report.to_json()))))


def record(nodeid: str, outcome: str = "passed", goldens: list[GoldenVerdict] | None = None, computed: int = 1) -> TestRecord:
    return TestRecord(nodeid, goldens=goldens or [], computed=computed, seconds=1.5, outcome=outcome)


def test_the_merge_sums_counts_and_keeps_the_worst_verdict() -> None:
    a = shard("a.json", [record("t.py::a", goldens=[golden("g/a.npz")])],
              outcomes={"passed": 1, "deselected": 3})
    b = shard("b.json", [record("t.py::b", "failed", [golden("g/b.npz", "failed")]), record("t.py::c")],
              exitstatus=1, outcomes={"passed": 2, "failed": 1, "deselected": 1})
    b.report.not_compared = [NotCompared("g/c.npz", "t.py::b", "failed", "the test failed before comparing")]
    merged = merge_reports([a, b])
    assert merged.exitstatus == 1 and merged.complete
    assert [g.path for g in merged.not_compared] == ["g/c.npz"]
    # 4 collected in each shard, every one selected by exactly one: none deselected overall
    assert merged.outcomes == {"passed": 3, "failed": 1}
    assert merged.failed == ["t.py::b"]
    assert merged.goldens.counts["passed"] == 1 and merged.goldens.counts["failed"] == 1
    assert merged.totals.computed == 3 and merged.totals.seconds == pytest.approx(4.5)
    assert [t.nodeid for t in merged.tests] == ["t.py::a", "t.py::b", "t.py::c"]
    assert RunReport.from_json(merged.to_json()) == merged  # the same schema as one run's


def test_complete_only_when_every_shard_completed() -> None:
    merged = merge_reports([shard("a.json", [record("t::a")]), shard("b.json", [record("t::b")], complete=False, exitstatus=2)])
    assert not merged.complete and merged.exitstatus == 2


def test_worst_exit_status_ranks_errors_above_failures() -> None:
    assert worst_exitstatus([0, 5]) == 5  # one shard that collected nothing
    assert worst_exitstatus([5, 1, 0]) == 1
    assert worst_exitstatus([1, 2]) == 2 and worst_exitstatus([2, 4]) == 4 and worst_exitstatus([4, 3]) == 3
    assert worst_exitstatus([0, None]) is None


def test_an_owner_less_golden_is_unused_only_when_every_test_of_its_module_passed_somewhere() -> None:
    # test_m.py has tests x and y, split over two shards; the stale golden "gone.npz" names
    # neither, so neither shard alone can call it unused
    needs = ["test_m.py::x", "test_m.py::y"]
    a = shard("a.json", [record("test_m.py::x")], saw={"gone.npz": GoldenSeen(needs=needs, cleared=["test_m.py::x"])})
    b = shard("b.json", [record("test_m.py::y")], saw={"gone.npz": GoldenSeen(needs=needs, cleared=["test_m.py::y"])})
    assert merge_reports([a, b]).goldens.unused == ["gone.npz"]
    failing = shard("b.json", [record("test_m.py::y", "failed")], exitstatus=1,
                    saw={"gone.npz": GoldenSeen(kept=True, needs=needs)})
    assert merge_reports([a, failing]).goldens.unused == []
    incomplete = shard("b.json", [record("test_m.py::y")], complete=False,
                       saw={"gone.npz": GoldenSeen(needs=needs, cleared=["test_m.py::y"])})
    assert merge_reports([a, incomplete]).goldens.unused == []


def test_a_golden_one_shard_used_is_never_unused() -> None:
    a = shard("a.json", [record("t.py::a", goldens=[golden("g.npz")])], saw={"g.npz": GoldenSeen(used=True, needs=["t.py::a"], cleared=["t.py::a"])})
    b = shard("b.json", [record("t.py::b")], saw={"g.npz": GoldenSeen(needs=["t.py::a"])})
    assert merge_reports([a, b]).goldens.unused == []
    c = shard("c.json", [record("t.py::c")], saw={"g.npz": GoldenSeen(needs=["t.py::a"])})
    # nobody ran t.py::a clean: its golden is not unused
    assert merge_reports([b, c]).goldens.unused == []


@pytest.mark.parametrize(("field", "other"), [
    ("model_fingerprint", "def"), ("golden_mode", "strict"), ("max_shift", 0.2), ("seed", 3),
    ("samples", 500), ("method", "lime"), ("ci", False),
])
def test_shards_with_other_settings_are_refused_naming_the_field_and_both_values(field: str, other: object) -> None:
    a = shard("a.json", [record("t::a")])
    b = shard("b.json", [record("t::b")], **{field: other})
    with pytest.raises(ShardMismatchError) as info:
        merge_reports([a, b])
    message = str(info.value)
    assert f"{field} differs" in message and repr(other) in message and repr(SETTINGS[field]) in message
    assert "a.json" in message and "b.json" in message


def test_shards_of_another_pytest_xai_version_are_refused() -> None:
    a, b = shard("a.json", [record("t::a")]), shard("b.json", [record("t::b")])
    b.report.run.version = "0.2.0"  # type: ignore[union-attr]
    with pytest.raises(ShardMismatchError, match=r"pytest_xai version differs \('0.2.0' in b.json, '0.1.0' in a.json\)"):
        merge_reports([a, b])


def test_a_shard_that_never_loaded_the_model_merges() -> None:
    merged = merge_reports([shard("a.json", [record("t::a")]), shard("b.json", [], model_fingerprint=None)])
    assert merged.run is not None and merged.run.settings["model_fingerprint"] == "abc"


def test_overlapping_shards_are_refused() -> None:
    with pytest.raises(ShardMismatchError, match=r"'t::a' ran in both a\.json and b\.json"):
        merge_reports([shard("a.json", [record("t::a")]), shard("b.json", [record("t::a")])])


def test_the_command_line_writes_html_and_json_and_refuses_a_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = shard("a", [record("t.py::a", goldens=[golden("g/a.npz")])], outcomes={"passed": 1})
    b = shard("b", [record("t.py::b", "failed")], exitstatus=1, outcomes={"failed": 1})
    paths = []
    for s in (a, b):
        paths.append(tmp_path / f"shard-{s.name}.json")
        paths[-1].write_text(json.dumps(s.report.to_json()))
    html, out = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["merge", *map(str, paths), "--html", str(html), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["exitstatus"] == 1 and data["failed"] == ["t.py::b"] and data["outcomes"] == {"passed": 1, "failed": 1}
    assert "t.py::b" in html.read_text() and html.read_text().lstrip().lower().startswith("<!doctype html")
    other = tmp_path / "shard-c.json"
    other.write_text(json.dumps(shard("c", [record("t.py::c")], golden_mode="strict").report.to_json()))
    assert main(["merge", str(paths[0]), str(other), "--json", str(tmp_path / "x.json")]) == 2
    assert "golden_mode differs ('strict' in" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    (tmp_path / "junk.json").write_text("[1, 2]")
    assert main(["merge", str(tmp_path / "junk.json"), "--json", str(tmp_path / "y.json")]) == 2
    assert "is not a pytest_xai JSON report" in capsys.readouterr().err


def split_shard(name: str, group: int, splits: int, tests: list[TestRecord], run_id: str | None = None) -> Shard:
    made = shard(name, tests)
    assert made.report.run is not None
    made.report.run.splits, made.report.run.group = splits, group
    made.report.run.run_id = run_id or f"run-{group}"
    return made


def test_a_missing_pytest_split_group_is_refused_naming_it() -> None:
    one, two = split_shard("shard-1.json", 1, 3, [record("t::a")]), split_shard("shard-2.json", 2, 3, [record("t::b")])
    with pytest.raises(ShardMismatchError, match=r"group 3 of --splits 3 is missing"):
        merge_reports([one, two])
    three = split_shard("shard-3.json", 3, 3, [record("t::c", "failed")])
    assert merge_reports([one, two, three]).failed == ["t::c"]


def test_shards_split_differently_or_not_at_all_are_refused() -> None:
    one, other = split_shard("a.json", 1, 2, [record("t::a")]), split_shard("b.json", 2, 3, [record("t::b")])
    with pytest.raises(ShardMismatchError, match=r"--splits differs \(3 in b.json, 2 in a.json\)"):
        merge_reports([one, other])
    plain = shard("c.json", [record("t::c")])
    with pytest.raises(ShardMismatchError, match=r"c.json was not split with pytest-split"):
        merge_reports([one, plain])


def test_the_same_shard_twice_is_refused_whatever_its_file_name() -> None:
    one = split_shard("shard-1.json", 1, 2, [])  # no test record: only its identity tells
    copy = split_shard("copy.json", 1, 2, [], run_id="run-1")
    with pytest.raises(ShardMismatchError, match=r"copy.json and shard-1.json are the same shard \(run id run-1\)"):
        merge_reports([one, copy])
    rerun = split_shard("rerun.json", 1, 2, [], run_id="another")
    with pytest.raises(ShardMismatchError, match=r"group 1 of --splits 2 is in both shard-1.json and rerun.json"):
        merge_reports([one, rerun])
    same = shard("a.json", [record("t::a")])
    with pytest.raises(ShardMismatchError, match=r"'t::a' ran in both a.json and a.json"):
        merge_reports([same, same])  # one file passed twice (reports without a run id)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "shard.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.pop("complete"), "complete"),
    (lambda d: d.update(complete="false"), "complete"),
    (lambda d: d.update(exitstatus="0"), "exitstatus"),
    (lambda d: d.update(outcomes={"passed": "2"}), "outcomes.passed"),
    (lambda d: d.update(failed="t::a"), "failed"),
    (lambda d: d.update(totals={"computed": "many"}), "totals.computed"),
    (lambda d: d["goldens"].update(unused=[3]), "goldens.unused[0]"),
    (lambda d: d["goldens"].update(passed=None), "goldens.passed"),
    (lambda d: d.update(tests=[{"nodeid": 5}]), "tests[0].nodeid"),
    (lambda d: d["tests"][0]["checks"][0].update(passed="yes"), "tests[0].checks[0].passed"),
    (lambda d: d["tests"][0]["checks"][0].pop("bound"), "tests[0].checks[0].bound"),
    (lambda d: d["tests"][0].update(goldens={"a": 1}), "tests[0].goldens"),
    (lambda d: d["run"].update(collected="4"), "run.collected"),
    (lambda d: d["run"].update(splits=True), "run.splits"),
    (lambda d: d["run"]["saw"].update({"g.npz": {"used": "no"}}), "run.saw['g.npz'].used"),
    (lambda d: d.update(not_compared=[{"path": "g.npz"}]), "not_compared[0].nodeid"),
])
def test_a_malformed_shard_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, field: str
) -> None:
    check = CheckResult(kind="focus", metric="relevance_mass", value=0.5, bound=0.25, passed=True)
    data = shard("a", [TestRecord("t::a", checks=[check], outcome="passed")]).report.to_json()
    change(data)  # type: ignore[operator]
    path = _write(tmp_path, data)
    with pytest.raises(ShardMismatchError) as info:
        load_shard(path)
    assert str(path) in str(info.value) and f"field {field}" in str(info.value)
    assert main(["merge", str(path), "--json", str(tmp_path / "out.json")]) == 2
    assert "merge: " in capsys.readouterr().err and not (tmp_path / "out.json").exists()
