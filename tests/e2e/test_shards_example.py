"""The sharded CI recipe on the example project: three pytest-split shards run with the shard
command of docs/ci/shards.yml, merged with its merge command and gated with its gate, give the
verdict of one run of the same tests with the single-job recipe (docs/ci/github-actions.yml),
for the clean model and for the shortcut model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARDED = ROOT / "docs" / "ci" / "shards.yml"
SINGLE = ROOT / "docs" / "ci" / "github-actions.yml"
# a representative part of the example suite (goldens and watermark checks on four images;
# the whole suite takes minutes on a loaded CPU), chosen the same way for every run
SUBSET = "-k 'test_shapes and (match_goldens or avoids) and (circle.png or square.png or square2.png or triangle.png)'"


def run_lines(recipe: Path) -> list[str]:
    """The recipe's inline ``run:`` commands, in order."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*(?:- )?run:\s*(\S.*)$", recipe.read_text(), re.M)]


def command(recipe: Path, marker: str) -> str:
    (found,) = [line for line in run_lines(recipe) if marker in line]
    return found


def matrix_groups() -> list[str]:
    found = re.search(r"^\s*group:\s*\[([^\]]*)\]", SHARDED.read_text(), re.M)
    assert found, "the shard matrix lists its groups"
    return [g.strip() for g in found.group(1).split(",")]


def project_copy(tmp_path: Path) -> Path:
    """The example project as a fresh checkout: its tests, goldens, durations and weights."""
    copy = tmp_path / "example_project"
    shutil.copytree(ROOT / "example_project", copy, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".xai-results", "*.json.tmp"))
    return copy


def sh(script: str, cwd: Path, model: str | None, ci: bool) -> subprocess.CompletedProcess[str]:
    """One recipe command through bash, as a CI runner runs it (``python`` is this Python)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join([str(cwd.parent), str(ROOT)]),
        PYTEST_ADDOPTS=SUBSET + (f" --xai-model={model}" if model else ""),
        OMP_NUM_THREADS="1",
    )
    if ci:
        env["CI"] = "true"
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def verdict(report: dict) -> dict:
    tests = {t["nodeid"]: (t["outcome"], sorted(g["state"] for g in t["goldens"])) for t in report["tests"]}
    return {key: report[key] for key in ("exitstatus", "complete", "outcomes")} | {
        "failed": sorted(report["failed"]), "goldens": report["goldens"], "tests": tests,
    }


@pytest.mark.slow
@pytest.mark.parametrize(("model", "shards_first"), [(None, False), ("example_project.models:shortcut", True)],
                         ids=["clean", "shortcut"])
def test_three_shards_merged_give_the_verdict_of_one_run(tmp_path: Path, model: str | None, shards_first: bool) -> None:
    project = project_copy(tmp_path)
    shard_cmd = command(SHARDED, "--splits")
    merge_cmd, gate_cmd = command(SHARDED, "pytest_xai.report merge"), command(SHARDED, "xai gate")
    single_cmd = command(SINGLE, "python -m pytest")
    groups = matrix_groups()
    assert f"--splits {len(groups)}" in shard_cmd and len(groups) == 3

    def whole_run() -> None:
        proc = sh(single_cmd, project, model, ci=True)
        assert (project / "report.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        (project / "report.json").rename(project / "whole.json")

    def shards() -> None:
        for group in groups:  # the shared explanation cache, as restored from an earlier job
            proc = sh(shard_cmd.replace("${{ matrix.group }}", group), project, model, ci=True)
            assert (project / f"shard-{group}.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]

    # one order computes in the whole run and reads the cache in the shards, the other the reverse
    for step in ((shards, whole_run) if shards_first else (whole_run, shards)):
        step()
    merged_proc = sh(merge_cmd, project, None, ci=True)
    assert merged_proc.returncode == 0, merged_proc.stderr
    whole = json.loads((project / "whole.json").read_text())
    merged = json.loads((project / "report.json").read_text())
    shard_tests = [len(json.loads((project / f"shard-{g}.json").read_text())["tests"]) for g in groups]
    assert all(shard_tests) and sum(shard_tests) == len(whole["tests"]) == 16  # each shard ran a part
    assert verdict(merged) == verdict(whole)
    assert (project / "report.html").read_text().lstrip().lower().startswith("<!doctype html")

    gate = sh(gate_cmd, project, None, ci=True)
    (project / "report.json").rename(project / "merged.json")
    (project / "whole.json").rename(project / "report.json")
    assert gate.returncode == sh(gate_cmd, project, None, ci=True).returncode == (0 if model is None else 1)
    if model is None:
        assert whole["exitstatus"] == 0 and whole["goldens"]["passed"] == 12
    else:  # the shortcut model reads the tag: its goldens and watermark checks catch it
        assert whole["exitstatus"] == 1 and whole["goldens"]["failed"] >= 2 and whole["failed"]


@pytest.mark.slow
def test_the_committed_durations_cover_the_example_suite_and_balance_three_shards() -> None:
    from pytest_split import algorithms

    durations = json.loads((ROOT / "example_project" / ".test_durations").read_text())
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly"],
                            cwd=ROOT / "example_project", capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    collected = [line for line in listed.stdout.splitlines() if "::" in line]
    assert collected and sorted(collected) == sorted(durations), "re-record with --store-durations"

    class Item:
        def __init__(self, nodeid: str) -> None:
            self.nodeid = nodeid

    groups = algorithms.Algorithms["least_duration"].value(3, [Item(n) for n in collected], durations)
    sums = [sum(durations[i.nodeid] for i in g.selected) for g in groups]
    print("example suite, --splits 3, summed durations:", [round(s, 1) for s in sums], "of", round(sum(sums), 1))
    assert sum(len(g.selected) for g in groups) == len(collected)
    assert max(sums) <= 1.25 * sum(sums) / 3  # no shard a quarter slower than an even share
