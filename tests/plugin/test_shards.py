"""A suite split into shards (pytest-split, -k, node-id lists): a shard never deletes or reports
as unused the goldens of tests outside it, and the shards' JSON reports merge into the verdict
of one run of the whole suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_xai.report.merge import ShardMismatchError, load_shard, merge_reports

FOUR_GOLDENS = """
import pytest

@pytest.mark.xai(samples=40)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_g(explain, xai_snapshot, shape_image, seed):
    xai_snapshot.assert_match(explain(shape_image, seed=seed))
"""
NODES = [f"test_s.py::test_g[{seed}]" for seed in range(4)]
STALE = "test_gone[0].npz"  # a golden of a test that test_s.py does not define


def goldens(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "__xai_snapshots__" / "test_s").glob("*.npz"))


@pytest.fixture
def suite(xai_pytester: pytest.Pytester) -> pytest.Pytester:
    """test_s.py with four goldens written, a stale one beside them, and equal durations."""
    xai_pytester.makepyfile(test_s=FOUR_GOLDENS)
    xai_pytester.runpytest("--xai-update", "-p", "no:randomly").assert_outcomes(passed=4)
    folder = xai_pytester.path / "__xai_snapshots__" / "test_s"
    shutil.copy(folder / "test_g[0].npz", folder / STALE)
    (xai_pytester.path / "durations.json").write_text(json.dumps(dict.fromkeys(NODES, 1.0)))
    return xai_pytester


def split(group: int, *args: str) -> list[str]:
    return ["-p", "no:randomly", "--splits", "2", "--group", str(group), "--durations-path", "durations.json", *args]


@pytest.mark.slow
@pytest.mark.parametrize("selection", [
    split(1), split(2), ["-k", "test_g and (1 or 2)"], [NODES[3]], [NODES[0], NODES[2]],
], ids=["split-1", "split-2", "k", "node-id", "node-ids"])
def test_update_on_one_shard_keeps_every_other_shards_goldens(suite: pytest.Pytester, selection: list[str]) -> None:
    before = goldens(suite.path)
    assert len(before) == 5
    result = suite.runpytest("--xai-update=all", *selection)
    assert result.ret == 0
    assert goldens(suite.path) == before  # neither the other shard's goldens nor the stale one
    assert "unused" not in result.stdout.str().replace("0 unused", "")


@pytest.mark.slow
def test_pytest_split_reports_its_deselection(suite: pytest.Pytester) -> None:
    result = suite.runpytest(*split(1), "--xai-ci", "--xai-report=shard-1.json")
    result.assert_outcomes(passed=2, deselected=2)
    data = json.loads((suite.path / "shard-1.json").read_text())
    assert data["outcomes"] == {"passed": 2, "deselected": 2} and data["goldens"]["unused"] == []
    seen = data["run"]["saw"]
    # the shard saw all five goldens, used its own two and leaves the rest to the others
    assert sorted(Path(p).name for p in seen) == sorted([*(f"test_g[{s}].npz" for s in range(4)), STALE])
    used = sorted(Path(p).name for p, e in seen.items() if e["used"])
    assert len(used) == 2 and data["run"]["collected"] == 4
    stale = next(e for p, e in seen.items() if p.endswith(STALE))
    assert stale["needs"] == NODES and len(stale["cleared"]) == 2 and not stale["kept"]


@pytest.mark.slow
def test_two_split_shards_merge_into_the_verdict_of_one_run(suite: pytest.Pytester) -> None:
    ci = ("--xai-ci", "-p", "no:randomly")
    suite.runpytest(*ci, "--xai-report=whole.json").assert_outcomes(passed=4)
    for group in (1, 2):
        suite.runpytest(*split(group), *ci, f"--xai-report=shard-{group}.json").assert_outcomes(passed=2, deselected=2)
    whole = load_shard(suite.path / "whole.json").report
    merged = merge_reports([load_shard(suite.path / f"shard-{g}.json") for g in (1, 2)])
    assert merged.goldens.unused == whole.goldens.unused == ["__xai_snapshots__/test_s/" + STALE]
    assert merged.goldens.counts == whole.goldens.counts and merged.goldens.counts["passed"] == 4
    assert (merged.exitstatus, merged.complete, merged.failed) == (whole.exitstatus, whole.complete, whole.failed) == (0, True, [])
    assert merged.outcomes == whole.outcomes == {"passed": 4}
    assert sorted(t.nodeid for t in merged.tests) == sorted(t.nodeid for t in whole.tests)
    assert merged.run is not None and whole.run is not None
    assert merged.run.settings == whole.run.settings and merged.run.settings["model_fingerprint"]

    # a shard judged with another model cannot be merged into this verdict
    suite.runpytest(*split(2), *ci, "--xai-model=example_project.models:shortcut", "--xai-report=other.json")
    with pytest.raises(ShardMismatchError, match=r"model_fingerprint differs \('[0-9a-f]+' in .*other.json, '[0-9a-f]+' in"):
        merge_reports([load_shard(suite.path / "shard-1.json"), load_shard(suite.path / "other.json")])


def test_xai_devices_without_cuda_is_a_usage_error(pytester: pytest.Pytester) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the option is accepted")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest("--xai-devices=cuda:0,cuda:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xai-devices: 'cuda:0' does not exist: there is no CUDA device here*"])
    result = pytester.runpytest("--xai-devices=cpu")
    result.stderr.fnmatch_lines(["*--xai-devices: 'cpu' is not a numbered CUDA device*"])


@pytest.mark.slow
def test_an_xdist_shard_reports_the_model_fingerprint_its_workers_loaded(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_m="def test_a(xai_model):\n    pass\n\ndef test_b(xai_model):\n    pass\n")
    xai_pytester.runpytest("--xai-report=one.json").assert_outcomes(passed=2)
    xai_pytester.runpytest("-n", "2", "--xai-report=two.json").assert_outcomes(passed=2)
    one, two = (json.loads((xai_pytester.path / f"{n}.json").read_text())["run"] for n in ("one", "two"))
    from example_project import models

    assert one["settings"]["model_fingerprint"] == models.clean(device="cpu").fingerprint
    assert two["settings"] == one["settings"] and two["collected"] == one["collected"] == 2


THREE = "def test_a():\n    pass\n\ndef test_b():\n    pass\n\ndef test_c():\n    assert False\n"


def test_a_merge_without_one_pytest_split_group_or_with_one_twice_is_refused(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_xai.report.__main__ import main

    pytester.makepyfile(test_t=THREE)
    for group in (1, 2, 3):
        pytester.runpytest("-p", "no:randomly", "--splits", "3", "--group", str(group), f"--xai-report=shard-{group}.json")
    shard = {g: str(pytester.path / f"shard-{g}.json") for g in (1, 2, 3)}
    run = json.loads(Path(shard[3]).read_text())["run"]
    assert (run["splits"], run["group"]) == (3, 3) and run["run_id"]
    merged = str(pytester.path / "merged.json")
    assert main(["merge", shard[1], shard[2], "--json", merged]) == 2
    assert "merge: group 3 of --splits 3 is missing" in capsys.readouterr().err
    assert main(["merge", shard[1], shard[1], shard[2], shard[3], "--json", merged]) == 2
    assert "are the same shard (run id" in capsys.readouterr().err and not Path(merged).exists()
    assert main(["merge", shard[1], shard[2], shard[3], "--json", merged]) == 0
    data = json.loads(Path(merged).read_text())
    assert data["failed"] == ["test_t.py::test_c"] and data["exitstatus"] == 1 and data["outcomes"] == {"passed": 2, "failed": 1}
