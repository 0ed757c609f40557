"""Install pytest_xai as a user would and run a small project of theirs against it.

    python3 .ci/wheel_smoke.py [--keep]

1. Builds the wheel from a clean copy of the working tree (the files git tracks or would
   track), so nothing from an old ``build/`` folder can slip into it.
2. Creates a fresh venv in a temporary folder: the torch pin of dev.py, then the wheel (its
   dependencies from the package index, as ``pip install`` gives them to a user).
3. Writes a user project in another temporary folder, outside the repository: a hand-built
   "red square" CNN named by ini ``xai_model``, one image with its ``.regions.json`` sidecar,
   tests with focus/avoid assertions and a golden. Nothing in it imports example_project.
4. Runs ``pytest --xai-update`` there (a developer recording goldens), then
   ``CI=true pytest --xai-report=report.json`` (the CI gate), and checks: both exit 0, the
   goldens were written and then passed, pytest loaded the plugin through its pytest11 entry
   point (the header's ``plugins: xai-<version>`` line) from the venv, not from the
   repository, and ``import example_project`` fails in that venv.

Exits non-zero with the failing step's output. ``--keep`` leaves the temporary folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dev import TORCH  # noqa: E402  (the one torch pin of the project)

TINY_MODEL = '''
"""A hand-built two-layer CNN: class "red" scores the mean redness of the image."""

import torch
from torch import nn

from pytest_xai import Classifier


class RedSquare(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.redness = nn.Conv2d(3, 1, kernel_size=1)  # R - (G + B) / 2 - 0.1, then ReLU
        self.head = nn.Linear(1, 2)  # logits: red, not red
        with torch.no_grad():
            self.redness.weight.copy_(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))
            self.redness.bias.fill_(-0.1)
            self.head.weight.copy_(torch.tensor([[20.0], [-20.0]]))
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.redness(x)).mean(dim=(2, 3)))


def build() -> Classifier:
    return Classifier(RedSquare(), class_names=["red", "not red"], device="cpu")
'''

MAKE_IMAGE = '''
"""The test image: a red square on grey, a blue patch in the corner, and their regions."""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

folder = Path(sys.argv[1])
image = np.full((48, 48, 3), 128, dtype=np.uint8)
image[12:28, 10:26] = (220, 30, 30)
image[38:46, 38:46] = (30, 30, 220)
Image.fromarray(image).save(folder / "square.png")
regions = {"square": {"box": [10, 12, 26, 28]}, "corner": {"box": [38, 38, 46, 46]}}
(folder / "square.regions.json").write_text(json.dumps(regions))
'''

TESTS = '''
import pytest

from pytest_xai import assert_attribution_avoids, assert_attribution_focus


def test_reads_the_square(explain, xai_image):
    image = xai_image("square.png")
    exp = explain(image, method="kernel_shap", samples=200, n_segments=16)
    assert exp.target == 0  # "red"
    assert_attribution_focus(exp, image.regions["square"], min_mass=0.8)
    assert_attribution_avoids(exp, image.regions["corner"], max_mass=0.05)


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_golden(explain, xai_image, xai_snapshot, method):
    exp = explain(xai_image("square.png"), method=method, samples=200, n_segments=16)
    xai_snapshot.assert_match(exp)
'''

PYTEST_INI = '''
[pytest]
testpaths = tests
pythonpath = .
xai_model = tiny_model:build
xai_images_dir = tests/images
'''


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str], what: str) -> str:
    """Run ``cmd``; on a non-zero exit print its output and stop with what failed."""
    print(f"+ {' '.join(str(c) for c in cmd)}", flush=True)
    start = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(f"  {what}: {time.monotonic() - start:.1f} s", flush=True)
    if proc.returncode != 0:
        print(proc.stdout[-6000:])
        raise SystemExit(f"wheel smoke test: {what} failed (exit {proc.returncode})")
    return proc.stdout


def check(condition: bool, message: str, output: str = "") -> None:
    if not condition:
        if output:
            print(output[-6000:])
        raise SystemExit(f"wheel smoke test: {message}")


def clean_env() -> dict[str, str]:
    """The environment without anything that would let the repository's code in."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CI", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def copy_tree(target: Path) -> Path:
    """The files git tracks or would track (untracked but not ignored), copied to ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def build_wheel(work: Path, python: Path, env: dict[str, str]) -> Path:
    source = copy_tree(work / "source")
    run([python, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-q", "-w", work / "dist", source],
        work, env, "building the wheel")
    wheels = sorted((work / "dist").glob("pytest_xai-*.whl"))
    check(len(wheels) == 1, f"expected one pytest_xai wheel, found {wheels}")
    return wheels[0]


def fresh_venv(work: Path) -> Path:
    """A new venv with nothing but pip; returns its python."""
    venv.create(work / "venv", with_pip=True)
    return work / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"


def install(work: Path, python: Path, wheel: Path, env: dict[str, str]) -> None:
    """The torch pin, then the wheel with its dependencies."""
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, *TORCH], work, env, "installing torch")
    run([*pip, wheel], work, env, "installing the wheel")


def write_project(project: Path, python: Path, env: dict[str, str]) -> None:
    images = project / "tests" / "images"
    images.mkdir(parents=True)
    (project / "pytest.ini").write_text(PYTEST_INI.lstrip())
    (project / "tiny_model.py").write_text(TINY_MODEL.lstrip())
    (project / "tests" / "test_red_square.py").write_text(TESTS.lstrip())
    (project / "make_image.py").write_text(MAKE_IMAGE.lstrip())
    run([python, "make_image.py", images], project, env, "drawing the test image")


def smoke(work: Path) -> None:
    env = clean_env()
    python = fresh_venv(work)
    wheel = build_wheel(work, python, env)
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], check=True,
                           capture_output=True, text=True).stdout
    check("example_project" not in names, "the wheel ships example_project", names)
    install(work, python, wheel, env)
    project = work / "project"
    write_project(project, python, env)
    pytest = [python.with_name("pytest"), "-p", "no:randomly"]  # the console script, as a user runs it

    where = run([python, "-c", "import pytest_xai; print(pytest_xai.__file__)"], project, env,
                "importing pytest_xai")
    check(str(work / "venv") in where and str(ROOT) not in where,
          f"pytest_xai was imported from {where.strip()}, not from the fresh venv")
    probe = subprocess.run([python, "-c", "import example_project"], cwd=project, env=env,
                           capture_output=True, text=True)
    check(probe.returncode != 0 and "No module named 'example_project'" in probe.stderr,
          "import example_project works in a venv with only the wheel installed", probe.stderr)

    recorded = run([*pytest, "--xai-update"], project, env, "pytest --xai-update")
    version = run([python, "-c", "import pytest_xai; print(pytest_xai.__version__)"], project, env,
                  "reading the version").strip()
    check(f"xai-{version}" in recorded.split("plugins:", 1)[-1].splitlines()[0],
          "the header's plugins: line does not list xai: the pytest11 entry point was not loaded",
          recorded)
    goldens = sorted(p.name for p in project.rglob("*.npz") if "__xai_snapshots__" in p.parts)
    check(len(goldens) == 2, f"expected 2 goldens written, found {goldens}", recorded)

    gate = run([*pytest, "--xai-report=report.json"], project, {**env, "CI": "true"},
               "CI=true pytest (the gate)")
    report = json.loads((project / "report.json").read_text())
    check(report["exitstatus"] == 0 and report["complete"] and not report["failed"],
          f"the JSON report does not pass the gate: exitstatus={report['exitstatus']}, "
          f"complete={report['complete']}, failed={report['failed']}", gate)
    states = [g["state"] for t in report["tests"] for g in t.get("goldens", [])]
    check(states == ["passed", "passed"], f"golden states in CI: {states}", gate)
    # the HTML report draws from the installed package's files: a missing package-data entry
    # shows here, not in the repository's own tests
    page = run([*pytest, "--xai-report=report.html"], project, {**env, "CI": "true"},
               "CI=true pytest with an HTML report")
    html = project / "report.html"
    check(html.is_file() and "<html" in html.read_text()[:2000].lower(), "no HTML report written", page)
    print(f"wheel smoke test: {wheel.name} installed in a fresh venv; a user project recorded "
          "2 goldens and passed 3 tests in CI mode; plugin loaded through pytest11; "
          "example_project not importable")


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pytest-xai-wheel-"))
    try:
        smoke(work)
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel smoke test: {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
