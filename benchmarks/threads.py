"""CPU seconds of one explanation per method at 1 and at N torch threads, each in a fresh process.

    .venv/bin/python benchmarks/threads.py            # 1 thread against one per core
    .venv/bin/python benchmarks/threads.py --threads 4

On a machine whose cores are all busy (the test suite under ``-n 2`` on 2 cores), every extra
intra-op thread waits for a core and spins meanwhile: the CPU seconds, not the wall time, show it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ONE_RUN = """
import resource, sys
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from example_project import models
from example_project.data import make_shape
from pytest_xai import explain

clf = models.clean(device="cpu")
image = make_shape(np.random.default_rng(0), 0).image
explain(clf, image, samples=100)  # every library loaded

def cpu():
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime

start = cpu()
for method, samples in (("lime", 1000), ("kernel_shap", 1000), ("gradient_shap", 200)):
    explain(clf, image, method=method, samples=samples)
print(f"{cpu() - start:.3f}")
"""


def cpu_seconds(threads: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OMP_NUM_THREADS", None)
    done = subprocess.run([sys.executable, "-c", ONE_RUN, str(threads)], env=env, capture_output=True,
                          text=True, check=True, cwd=ROOT)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="the other thread count")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.rounds):
        one, many = cpu_seconds(1), cpu_seconds(args.threads)
        print(f"lime + kernel_shap (1000 samples) + gradient_shap (200), small CNN 64×64: "
              f"1 thread {one:.2f} CPU s, {args.threads} threads {many:.2f} CPU s, ratio {many / one:.2f}")


if __name__ == "__main__":
    main()
