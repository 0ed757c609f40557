"""Set up and run pytest_xai's two jobs from a fresh clone with nothing but Python 3.10+.

    python3 dev.py report   # the example suite, with its HTML report (example-report.html)
    python3 dev.py test     # ruff, mypy and the project's tests

Each command creates .venv on first use (torch from the pinned wheels, then this project
with its dev extras) and reuses it while pyproject.toml and this file are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".pytest-xai-setup"
# torch and torchvision pins that install from this machine's local wheels (x86_64: CUDA build
# usable on CPU; aarch64: CPU build); pyproject.toml admits both.
TORCH = {
    "aarch64": ["torch==2.9.1", "torchvision==0.24.1"],
    "arm64": ["torch==2.9.1", "torchvision==0.24.1"],
}.get(platform.machine().lower(), ["torch==2.14.1", "torchvision==0.29.1"])


# Keep glibc's heap between forward passes: by default it returns freed activation memory to
# the OS and page-faults it back in every batch (on a 2-core VM: half of each CPU forward pass;
# the test suite runs 15% faster with these). See "Speed on CPU" in README.md.
STABLE_HEAP = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(4 << 30)}


def run(*args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, check=True, env=env)


def setup() -> None:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "dev.py"):
        digest.update((ROOT / name).read_bytes())
    wanted = digest.hexdigest()
    if STAMP.is_file() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run(*pip, *TORCH)
    run(*pip, "-e", ".[dev]")
    STAMP.write_text(wanted)


def main() -> int:
    job = sys.argv[1] if len(sys.argv) > 1 else ""
    if job not in ("report", "test"):
        print(__doc__)
        return 2
    setup()
    extra = sys.argv[2:]
    env = {**os.environ, **STABLE_HEAP}
    try:
        if job == "report":
            run(
                PYTHON, "-m", "pytest", "example_project", "--xai-report=example-report.html", *extra,
                env=env,
            )
            print(f"report: {ROOT / 'example-report.html'}")
        else:
            run(PYTHON, "-m", "ruff", "check", "pytest_xai", "tests", "example_project", "benchmarks")
            run(PYTHON, "-m", "mypy")
            # worksteal: a worker that runs out of tests takes queued ones from the other, so the
            # slow end-to-end tests never leave one core idle at the end of the run
            run(PYTHON, "-m", "pytest", "tests", "-n", "2", "--dist", "worksteal", *extra, env=env)
    except subprocess.CalledProcessError as e:
        return e.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
