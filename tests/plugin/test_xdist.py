"""Runs split over two xdist workers write every golden and one report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

XDIST = """
import pytest

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.xai(samples=100)
def test_many(explain, xai_snapshot, shape_image, seed):
    xai_snapshot.assert_match(explain(shape_image, seed=seed))
    xai_snapshot.assert_match(explain(shape_image, seed=seed, method="kernel_shap"), name="ks")
"""


@pytest.mark.slow
def test_xdist_two_workers(xai_pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    from pytest_xai import Explanation

    xai_pytester.makepyfile(test_x=XDIST)
    # no persistent cache: the serial run below must compute what the workers computed
    result = xai_pytester.runpytest_subprocess("-n", "2", "--xai-update", "--xai-report=r.json", "--xai-cache=off")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*0 passed, 0 failed, 12 written, 0 updated, 0 unused*"])
    snap = xai_pytester.path / "__xai_snapshots__/test_x"
    parallel = {p.name: Explanation.load(p).heatmap for p in snap.glob("*.npz")}
    assert len(parallel) == 12 and not list(snap.glob(".*"))  # no temp files left
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert len(data["tests"]) == 6 and data["goldens"]["written"] == 12  # one merged report
    # the same goldens as a serial run
    for p in snap.iterdir():
        p.unlink()
    xai_pytester.runpytest_subprocess("-p", "no:xdist", "--xai-update", "--xai-cache=off").assert_outcomes(passed=6)
    serial = {p.name: Explanation.load(p).heatmap for p in snap.glob("*.npz")}
    assert serial.keys() == parallel.keys()
    for name in serial:
        assert np.array_equal(serial[name], parallel[name])
    # unused detection merges across workers: remove one parametrisation, run with -n 2
    xai_pytester.makepyfile(test_x=XDIST.replace("range(6)", "range(5)"))
    result = xai_pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*10 passed, 0 failed, 0 written, 0 updated, 2 unused*"])
