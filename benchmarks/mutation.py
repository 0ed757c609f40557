"""The mutation score of the example suite: ``pytest example_project --xai-mutate``, timed.

Runs the example suite once with ``--xai-mutate`` (wall and CPU time of the whole run, the
normal tests included) and writes ``benchmarks/results/mutation.md``: the headline, planted
mutants caught per method / check kind / region against harmless false alarms, and every
survivor with its reason.

    PYTHONPATH=$PWD python -m benchmarks.mutation [--budget 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "mutation.md"


CONFIGS = {  # name -> (title, extra pytest arguments)
    "full": ("the whole example suite", []),
    "avoid-interventions": ("the avoid and intervention tests alone (`-k \"avoid or irrelevant or ignores\"`)",
                            ["-k", "avoid or irrelevant or ignores"]),
}


def run(budget: int, seed: int, extra: list[str]) -> dict:
    """The example suite with --xai-mutate: the report's mutation data, with the whole run's
    wall and CPU seconds and the terminal table added."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pytest", "example_project", "-q", "-p", "no:randomly",
                   "-p", "no:cacheprovider", f"--xai-mutate={budget}", f"--xai-seed={seed}",
                   f"--xai-report={report}", *extra]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if not report.is_file():
            raise SystemExit(f"no report written; pytest said:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        data = json.loads(report.read_text())["mutation"]
    data["run_wall"] = wall
    data["run_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    data["command"] = " ".join(["pytest", *command[3:]])
    text = done.stdout[done.stdout.find("xai mutation"):].split("\n= ")[0]
    data["table"] = [line for line in text.splitlines()[1:] if not line.startswith("=")]
    return data


def method_table(data: dict) -> list[str]:
    """Planted caught against harmless false alarms, per method."""
    built = [m for m in data["mutants"] if m["built"]]
    planted = [m for m in built if m["kind"] == "planted"]
    harmless = [m for m in built if m["kind"] == "harmless"]
    methods = sorted({x for m in built for x in m["failed_methods"]} | {"lime", "kernel_shap", "gradient_shap"})
    rows = ["| method | planted shortcuts caught | harmless releases failed (false alarms) |", "|---|---|---|"]
    for method in methods:
        caught = sum(method in m["failed_methods"] for m in planted)
        alarms = sum(method in m["failed_methods"] for m in harmless)
        rows.append(f"| {method} | {caught} of {len(planted)} | {alarms} of {len(harmless)} |")
    caught = sum(bool(m["failed"]) for m in planted)
    alarms = sum(bool(m["failed"]) for m in harmless)
    rows.append(f"| any test | **{caught} of {len(planted)}** | **{alarms} of {len(harmless)}** |")
    return rows


def section(name: str, data: dict) -> list[str]:
    title = CONFIGS[name][0]
    return [
        f"## {title}",
        "",
        f"`{data['command']}`",
        "",
        f"Whole run (the normal tests, then the mutants): **{data['run_wall']:.0f} s wall, "
        f"{data['run_cpu']:.0f} s CPU**; the mutant phase alone {data['seconds']:.0f} s wall, "
        f"{data['cpu_seconds']:.0f} s CPU.",
        "",
        *method_table(data),
        "",
        "```",
        *data["table"],
        "```",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(CONFIGS), help="run one configuration; keep the other's result")
    args = parser.parse_args()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for name in [args.only] if args.only else list(CONFIGS):
        data = run(args.budget, args.seed, CONFIGS[name][1])
        (OUT.parent / f"mutation-{name}.json").write_text(json.dumps(data, indent=1))
    lines = ["# Mutation score of the example suite", "",
             "`python -m benchmarks.mutation`: CPU, 2 cores shared with other jobs (so the wall time "
             "overstates; the CPU time is the cost).", ""]
    for name in CONFIGS:
        path = OUT.parent / f"mutation-{name}.json"
        if path.is_file():
            lines += section(name, json.loads(path.read_text()))
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
