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


def run(budget: int, seed: int) -> tuple[dict, float, float, str]:
    """The example suite with --xai-mutate: the report's mutation data, wall s, CPU s, summary."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pytest", "example_project", "-q", "-p", "no:randomly",
                   "-p", "no:cacheprovider", f"--xai-mutate={budget}", f"--xai-seed={seed}",
                   f"--xai-report={report}"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if not report.is_file():
            raise SystemExit(f"no report written; pytest said:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        data = json.loads(report.read_text())["mutation"]
    summary = done.stdout[done.stdout.find("xai mutation"):].split("\n= ")[0]
    return data, wall, cpu, summary


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data, wall, cpu, summary = run(args.budget, args.seed)
    lines = [
        "# Mutation score of the example suite",
        "",
        f"`pytest example_project --xai-mutate={args.budget} --xai-seed={args.seed}` "
        f"(`python -m benchmarks.mutation`), CPU, 2 cores shared with other jobs.",
        "",
        f"Whole run (normal tests, then the mutants): **{wall:.0f} s wall, {cpu:.0f} s CPU**; "
        f"the mutant phase alone {data['seconds']:.0f} s wall, {data['cpu_seconds']:.0f} s CPU.",
        "",
        *method_table(data),
        "",
        "The terminal table:",
        "",
        "```",
        summary.strip(),
        "```",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
