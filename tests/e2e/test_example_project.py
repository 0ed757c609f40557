"""Release gating on the example project: the clean model passes, a harmless retrain (clean_v2)
passes, and the shortcut model fails on every shapes image where it reads the tag, in its
explanations and in its interventions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from once import once

from example_project.make_images import shapes_names

ROOT = Path(__file__).resolve().parents[2]
SHAPES_SUITES = ("example_project/tests/test_shapes.py", "example_project/tests/test_shapes_interventions.py")
PHOTO_SUITE = "example_project/tests/test_photos.py"  # a pretrained ImageNet network: tests/e2e/test_real_photos.py


def run_example(folder: Path, *args: str) -> dict[str, Any]:
    """The example suite in a fresh pytest process (CI mode: never writes a golden): its exit
    code, its output and its JSON report."""
    report = folder / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--xai-ci",
         f"--xai-results={folder / 'results'}", f"--xai-report={report}", *args],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )
    return {"returncode": proc.returncode, "stdout": proc.stdout, "report": json.loads(report.read_text())}


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A candidate release judged by the shapes suites (explanations and interventions), one run
    per model for the whole session: ``release("shortcut")``."""

    def run_of(model: str) -> dict[str, Any]:
        return once(tmp_path_factory, f"example-{model}", lambda folder: run_example(
            folder, *SHAPES_SUITES, "--xai-model", f"example_project.models:{model}"))

    return run_of


def failed(data: dict, fragment: str) -> list[dict]:
    return [t for t in data["tests"] if t["outcome"] == "failed" and fragment in t["nodeid"]]


def golden_states(data: dict) -> list[str]:
    return [g["state"] for t in data["tests"] for g in t.get("goldens", [])]


@pytest.mark.slow
def test_clean_model_passes(tmp_path: Path) -> None:
    run = run_example(tmp_path, "example_project", f"--ignore={PHOTO_SUITE}")
    assert run["returncode"] == 0, run["stdout"][-3000:]
    states = golden_states(run["report"])
    # 12 shapes images and 2 digits, three methods each
    assert len(states) == 3 * (len(shapes_names()) + 2) and set(states) == {"passed"}


@pytest.mark.slow
def test_harmless_retrain_passes(release) -> None:  # type: ignore[no-untyped-def]
    # clean_v2: the clean recipe with another training seed, judged against clean's goldens
    run = release("clean_v2")
    assert run["returncode"] == 0, run["stdout"][-3000:]  # predictions, focus, avoid, agreement too
    states = golden_states(run["report"])
    assert len(states) == 3 * len(shapes_names()) and set(states) == {"passed"}


@pytest.mark.slow
def test_shortcut_model_fails_on_every_image_where_it_reads_the_tag(release) -> None:  # type: ignore[no-untyped-def]
    run = release("shortcut")
    data = run["report"]
    assert run["returncode"] == 1
    escaped = []
    for name in shapes_names():
        caught = failed(data, f"test_explanations_match_goldens[{name}]") + [
            t for t in failed(data, "test_attribution_avoids_the_watermark") if f"[{name}-" in t["nodeid"]
        ]
        if not caught:
            escaped.append(name)
            # an image may pass only where the shortcut model demonstrably reads the object:
            # every method's focus test passes on it
            assert not [t for t in failed(data, "test_attribution_is_on_the_object") if f"[{name}-" in t["nodeid"]]
    # measured: circle3 and circle4 (the shortcut model also learnt round shapes: object mass
    # 0.73-0.84 with the superpixel methods); every square and triangle is caught
    assert len(escaped) <= 2 and not [n for n in escaped if not n.startswith("circle")], escaped
    # the messages say what moved and where
    assert "attribution rests on region 'watermark'" in run["stdout"]
    for test in failed(data, "test_attribution_avoids_the_watermark"):
        (check,) = [c for c in test["checks"] if c["kind"] == "avoid"]
        assert check["region"] == "watermark" and not check["passed"]
    goldens = [g for t in data["tests"] for g in t.get("goldens", []) if g["state"] == "failed"]
    assert len(goldens) >= 9, "the goldens alone should catch the shortcut model on most images"


def interventions(run: dict[str, Any]) -> dict[str, str]:
    """The outcome of each interventions test of a run, by test name."""
    return {t["nodeid"].split("::")[-1]: t["outcome"] for t in run["report"]["tests"]
            if "test_shapes_interventions.py::" in t["nodeid"]}


@pytest.mark.slow
def test_interventions_catch_the_shortcut_on_every_image_and_pass_the_retrain(release) -> None:  # type: ignore[no-untyped-def]
    retrain = interventions(release("clean_v2"))
    assert len(retrain) == 24 and set(retrain.values()) == {"passed"}
    shortcut = interventions(release("shortcut"))
    swapped = {k: v for k, v in shortcut.items() if k.startswith("test_prediction_ignores_a_swapped_tag")}
    assert len(swapped) == 12 and set(swapped.values()) == {"failed"}  # circle3 and circle4 included
    hidden = {k for k, v in shortcut.items() if k.startswith("test_hiding_the_tag") and v == "failed"}
    # a tag-less image is a circle to the shortcut model: hiding the tag cannot show it on circles
    assert hidden == {f"test_hiding_the_tag_changes_nothing[{s}{n}.png]" for s in ("square", "triangle") for n in ("", "2", "3", "4")}
