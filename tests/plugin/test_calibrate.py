"""``--xai-calibrate``: a real run measures each check at three seeds and a second model,
prints the section, writes the JSON, and suggests bounds beyond every observed value."""

from __future__ import annotations

import json

import pytest

SUITE = """
import numpy as np
import pytest
from example_project.data import make_shape
from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus

IMAGE = make_shape(np.random.default_rng(1), 0, tag=None)

@pytest.mark.xai(samples=200)
def test_focus(explain):
    assert_attribution_focus(explain(IMAGE.image), Region.mask(IMAGE.mask, "object"))

@pytest.mark.xai(samples=200)
def test_golden(explain, xai_snapshot):
    xai_snapshot.assert_match(explain(IMAGE.image))

@pytest.mark.xai(samples=200)
def test_avoid_fails(explain):
    assert_attribution_avoids(explain(IMAGE.image), Region.box(0, 0, 64, 64, name="everything"), max_mass=0.1)
"""


@pytest.mark.slow
def test_calibrate_measures_every_check_and_suggests_bounds(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxai_model = example_project.models:clean\nxai_device = cpu\n")
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--xai-update", "-k", "golden").assert_outcomes(passed=1)
    result = pytester.runpytest(
        "--xai-calibrate=cal.json", "--xai-calibrate-with=example_project.models:clean_v2", "-p", "no:randomly"
    )
    assert result.ret == 0  # the avoid check fails, the calibration run does not
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*= xai calibration =*",
        "test_suite.py::test_focus · focus 'object' relevance_ratio lime: observed * over 4 passes; "
        "min now 1.2, suggested * (min ÷ 1.5)",
        "test_suite.py::test_golden · golden '__xai_snapshots__/test_suite/test_golden.npz' evidence_shift: "
        "observed 0.000-* over 4 passes; max now 0.21, suggested * (max × 1.5)",
        "test_suite.py::test_avoid_fails · avoid 'everything' relevance_mass lime: observed 1.000 over 4 passes; "
        "max now 0.1, suggested 1 (max × 1.5, clipped to [0, 1])",
        "pass seed 0: 1 failed, 2 passed",
        "pass seed 1: 1 failed, 2 passed",
        "pass example_project.models:clean_v2 seed 0: 1 failed, 2 passed",
        "written to cal.json*",
    ])
    data = json.loads((pytester.path / "cal.json").read_text())
    assert data["passes"] == ["seed 0", "seed 1", "seed 2", "example_project.models:clean_v2 seed 0"]
    focus = next(c for c in data["checks"] if c["kind"] == "focus")
    observed = list(focus["observed"].values())
    assert len(observed) == 4 and len(set(observed)) > 1  # seeds and models change the value
    # a lower bound: below every observed value, above the metric's limit (0)
    assert 0 < focus["suggested"] < min(observed)
    assert focus["suggested"] == pytest.approx(min(observed) / 1.5, abs=1e-4)
    golden = next(c for c in data["checks"] if c["metric"] == "evidence_shift")
    shifts = list(golden["observed"].values())
    assert golden["upper"] and shifts[0] == 0.0 and max(shifts) > 0  # seed 0 is the golden itself
    assert max(shifts) < golden["suggested"] <= 1.0
    assert data["outcomes"]["seed 2"]["test_suite.py::test_avoid_fails"] == "failed"


def test_calibrate_refuses_update(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--xai-calibrate", "--xai-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xai-calibrate measures the goldens as they are; drop --xai-update*"])


def test_a_calibration_file_that_cannot_be_written_at_the_end_fails_the_run_not_pytest(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_x="import pathlib\n\ndef test_x():\n    pathlib.Path('cal.json').mkdir(exist_ok=True)\n")
    result = pytester.runpytest("--xai-calibrate=cal.json", "--xai-calibrate-seeds=2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*= xai calibration =*", "pass seed 1: 1 passed",
                                 "write failed: cal.json: *; the measurements above were not saved"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.no_fnmatch_line("written to cal.json*")
