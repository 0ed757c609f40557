"""Runs split over two xdist workers write every golden, one report and one shared cache."""

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
    from example_project import models
    from example_project.data import make_shape
    from pytest_xai import Explanation, explain

    xai_pytester.makepyfile(test_x=XDIST)
    result = xai_pytester.runpytest_subprocess("-n", "2", "--xai-update", "--xai-report=r.json")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*0 passed, 0 failed, 12 written, 0 updated, 0 unused*"])
    snap = xai_pytester.path / "__xai_snapshots__/test_x"
    parallel = {p.name: Explanation.load(p).heatmap for p in snap.glob("*.npz")}
    assert len(parallel) == 12 and not list(snap.glob(".*"))  # no temp files left
    cached = xai_pytester.path / ".pytest_cache/d/xai-explanations"
    assert len(list(cached.glob("*/*.npz"))) == 12 and not list(cached.rglob(".*.xai-tmp"))  # both workers wrote
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert len(data["tests"]) == 6 and data["goldens"]["written"] == 12  # one merged report
    # the same bits as explaining each one here, in one process
    model, image = models.clean(device="cpu"), make_shape(np.random.default_rng(1), 0, tag=None).image
    for name, heatmap in parallel.items():
        golden = Explanation.load(snap / name)
        serial = explain(model, image, method=golden.method, seed=golden.seed, samples=100)
        assert np.array_equal(serial.heatmap, heatmap), name
    # unused detection merges across workers: remove one parametrisation, run with -n 2; each
    # worker reads what either worker of the first run cached
    xai_pytester.makepyfile(test_x=XDIST.replace("range(6)", "range(5)"))
    result = xai_pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["explanations: 0 computed, 0 from cache, 10 from disk cache*",
                                 "*10 passed, 0 failed, 0 written, 0 updated, 2 unused*"])
