"""The README's Quickstart, copied as written into a new folder, runs on the first try.

The Quickstart's files are the fenced blocks of its section that carry a title
(```python title="conftest.py"); its commands are the ``pytest ...`` lines of its ```bash
blocks; the untitled block after them is the output it promises. The test writes the files
verbatim and swaps only what belongs to the user: their model (``my_project.model`` and
``weights/net.pt`` become the example project's clean shapes CNN) and their image (a shapes
image from the example project with its own regions, under the README's region names). Then it
runs the commands in order, as subprocesses, and checks what the README says they do.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE_IMAGES = ROOT / "example_project" / "tests" / "images"
EXAMPLE_WEIGHTS = ROOT / "example_project" / "weights" / "clean.pt"
EXAMPLE_IMAGE = "circle.png"
# README region name -> the example image's region standing in for it
REGION_FOR = {"object": "object", "tag": "watermark"}
# the user's model, as the Quickstart's conftest imports it; the stand-in is the clean example
STAND_IN_MODEL = """\
from example_project.data import SHAPES as CLASSES
from example_project.models import SmallCNN


def Net():
    return SmallCNN(len(CLASSES))
"""

FENCE = re.compile(r"^```(\w*)[ \t]*(?:title=\"([^\"]+)\")?[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Quickstart:
    files: dict[str, str]  # path -> text, from the titled blocks
    commands: list[list[str]]  # pytest argument lists, in order
    output: str  # the untitled plain block: the output the commands promise
    image_size: tuple[int, int]  # (width, height) the sidecar example is written for


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    if match is None:
        raise AssertionError(f"README.md has no '## {heading}' section")
    return match.group(1)


def parse_quickstart(markdown: str) -> Quickstart:
    """Files, commands and promised output of the README's Quickstart section."""
    text = section(markdown, "Quickstart")
    files: dict[str, str] = {}
    commands: list[list[str]] = []
    outputs: list[str] = []
    for lang, title, body in FENCE.findall(text):
        if title:
            files[title] = body
        elif lang in ("bash", "sh", "console"):
            commands += [shlex.split(line)[1:] for line in body.splitlines() if line.startswith("pytest")]
        elif not lang:
            outputs.append(body)
    size = re.search(r"for a (\d+)×(\d+) image", text)
    if size is None:
        raise AssertionError("the Quickstart does not say which image size its sidecar is for")
    return Quickstart(files, commands, "\n".join(outputs), (int(size.group(1)), int(size.group(2))))


def test_parse_quickstart_reads_files_commands_and_output() -> None:
    """The extractor on a made-up section: titled blocks are files, pytest lines commands."""
    made_up = (
        "## Quickstart\nfor a 8×6 image\n"
        '```python title="a/b.py"\nx = 1\n```\n'
        "```bash\npytest --xai-update\necho no\npytest -q\n```\n"
        "```\n2 passed\n```\n"
        '## Next\n```python title="not/this.py"\ny = 2\n```\n'
    )
    parsed = parse_quickstart(made_up)
    assert parsed.files == {"a/b.py": "x = 1\n"}
    assert parsed.commands == [["--xai-update"], ["-q"]]
    assert parsed.output == "2 passed\n"
    assert parsed.image_size == (8, 6)


def sidecar_blocks(quickstart: Quickstart) -> dict[str, dict]:
    return {path: json.loads(text) for path, text in quickstart.files.items() if path.endswith(".regions.json")}


def test_the_readme_sidecar_is_valid_for_its_image(tmp_path: Path) -> None:
    """The sidecar example, as written, loads through pytest_xai on an image of its stated size."""
    from pytest_xai.plugin.testimage import load_test_image

    quickstart = parse_quickstart(README.read_text())
    sidecars = sidecar_blocks(quickstart)
    assert sidecars, "the Quickstart shows no <name>.regions.json block"
    width, height = quickstart.image_size
    for path, regions in sidecars.items():
        sidecar = tmp_path / Path(path).name
        sidecar.write_text(quickstart.files[path])
        for spec in regions.values():
            if "mask" in spec:  # a mask of the image's size, a square inside it
                mask = np.zeros((height, width), np.uint8)
                mask[: height // 4, : width // 4] = 255
                Image.fromarray(mask).save(tmp_path / spec["mask"])
        image = sidecar.with_name(sidecar.name.removesuffix(".regions.json") + ".png")
        Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(image)
        loaded = load_test_image(image)
        assert set(loaded.regions) == set(regions)
        for name, region in loaded.regions.items():
            assert region.to_mask(height, width).any(), f"region {name!r} of {path} covers no pixel"


def write_project(folder: Path, quickstart: Quickstart) -> list[Path]:
    """The Quickstart's files as written; the user's model and images swapped for the example's.
    Returns the images' sidecar paths."""
    for path, text in quickstart.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    conftest = quickstart.files.get("conftest.py", "")
    assert "from my_project.model import CLASSES, Net" in conftest and '"weights" / "net.pt"' in conftest, (
        "the Quickstart's conftest.py does not load Net and CLASSES from my_project.model and "
        "weights/net.pt; update the stand-in model in this test to match"
    )
    (folder / "my_project").mkdir()
    (folder / "my_project" / "__init__.py").write_text("")
    (folder / "my_project" / "model.py").write_text(STAND_IN_MODEL)
    (folder / "weights").mkdir()
    shutil.copy(EXAMPLE_WEIGHTS, folder / "weights" / "net.pt")

    example = json.loads((EXAMPLE_IMAGES / EXAMPLE_IMAGE).with_suffix("").with_suffix(".regions.json").read_text())
    sidecars = []
    for path, regions in sidecar_blocks(quickstart).items():
        unknown = set(regions) - set(REGION_FOR)
        assert not unknown, f"README region names {sorted(unknown)} have no stand-in in REGION_FOR"
        swapped = {name: example[REGION_FOR[name]] for name in regions}
        for spec in swapped.values():
            if "mask" in spec:
                shutil.copy(EXAMPLE_IMAGES / spec["mask"], (folder / path).parent / spec["mask"])
        (folder / path).write_text(json.dumps(swapped))
        shutil.copy(EXAMPLE_IMAGES / EXAMPLE_IMAGE, folder / (path.removesuffix(".regions.json") + ".png"))
        sidecars.append(folder / path)
    return sidecars


def run_pytest(folder: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "XAI_"))}
    env.pop("CI", None)  # the Quickstart runs on a developer's machine, where goldens may be written
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def promised(output: str, prefix: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(prefix)]
    assert lines, f"the Quickstart's output shows no line starting with {prefix!r}"
    return lines[0]


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    quickstart = parse_quickstart(README.read_text())
    assert {"conftest.py"} <= set(quickstart.files), sorted(quickstart.files)
    assert quickstart.commands == [["--xai-update"], []], quickstart.commands
    write_project(tmp_path, quickstart)

    update = run_pytest(tmp_path, quickstart.commands[0])
    log = update.stdout + update.stderr
    assert update.returncode == 0, log
    goldens = sorted(tmp_path.rglob("__xai_snapshots__/**/*.npz"))
    assert goldens, log
    assert all(g.with_suffix(".png").is_file() for g in goldens), goldens
    written = f"goldens: 0 passed, 0 failed, {len(goldens)} written, 0 updated, 0 unused"
    assert written in log, log
    # what the README shows for this run: its goldens line, its counts and its test count
    assert promised(quickstart.output, "goldens:") == written
    shown = re.sub(r", [\d.]+ s explaining", "", promised(quickstart.output, "explanations:"))
    assert shown in log, log
    passed = re.search(r"(\d+ passed) in", quickstart.output)
    assert passed is not None and f"{passed.group(1)} in" in log, log

    again = run_pytest(tmp_path, quickstart.commands[1])
    log = again.stdout + again.stderr
    assert again.returncode == 0, log
    assert f"goldens: {len(goldens)} passed, 0 failed, 0 written, 0 updated, 0 unused" in log, log
    assert re.search(r"explanations: 0 computed, \d+ from cache, [1-9]\d* from disk cache", log), log
    assert f"{passed.group(1)} in" in log, log
