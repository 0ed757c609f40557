"""The results folders of tests that no longer exist go away on a complete run of the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

FAILING = """
from pytest_xai import Region, assert_attribution_avoids

def test_{name}(explain, shape_image):
    assert_attribution_avoids(explain(shape_image, samples=30), Region.box(0, 0, 64, 64, name="all"))
"""


def _folders(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()} if path.is_dir() else set()


@pytest.mark.slow
def test_results_of_renamed_tests_are_removed_only_on_a_full_run(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_r=FAILING.format(name="old"), test_z="def test_z():\n    pass\n")  # runs last
    results = xai_pytester.path / ".xai-results"
    xai_pytester.runpytest("--xai-report=r.json").assert_outcomes(failed=1, passed=1)
    assert [n.split("-")[0] for n in _folders(results)] == ["test_r.py_test_old"]
    old = next(iter(results.iterdir()))
    keep = {results / "notes", results / "test_x.py_mine", results / "test_y.py_link"}
    (results / "notes").mkdir()
    (results / "notes" / "a.png").write_bytes(b"x")  # not named as a test's folder
    (results / "test_x.py_mine").mkdir()
    (results / "test_x.py_mine" / "readme.txt").write_text("mine")  # holds more than pictures
    (results / "test_y.py_link").symlink_to(old, target_is_directory=True)  # never followed
    outside = xai_pytester.path / "outside.png"
    outside.write_bytes(b"x")
    xai_pytester.makepyfile(test_r=FAILING.format(name="new"))  # renamed
    for partial in (["test_r.py"], ["test_r.py::test_new"], ["-x", "--xai-report=r.json"], ["--lf"]):
        xai_pytester.runpytest(*partial)
        assert old.is_dir(), partial  # a run of part of the suite keeps it
    xai_pytester.runpytest("-k", "new", "--xai-report=r.json").assert_outcomes(failed=1)  # deselected tests are known
    assert not old.exists()
    assert all(p.exists() or p.is_symlink() for p in keep) and outside.exists()
    assert any(n.startswith("test_r.py_test_new") for n in _folders(results))


def test_an_interrupted_run_keeps_them(xai_pytester: pytest.Pytester) -> None:
    stale = xai_pytester.path / ".xai-results" / "test_gone.py_test_g"
    stale.mkdir(parents=True)
    (stale / "01-overlay.png").write_bytes(b"x")
    xai_pytester.makepyfile(test_s="import pytest\n\ndef test_a():\n    pytest.exit('stop')\n\ndef test_b():\n    pass\n")
    xai_pytester.runpytest()
    assert stale.is_dir()
    xai_pytester.makepyfile(test_s="def test_a():\n    pass\n")
    xai_pytester.runpytest().assert_outcomes(passed=1)
    assert not stale.exists()


@pytest.mark.slow
def test_a_module_that_did_not_collect_keeps_them(pytester: pytest.Pytester) -> None:
    stale = pytester.path / ".xai-results" / "test_broken.py_test_b"
    stale.mkdir(parents=True)
    (stale / "01-overlay.png").write_bytes(b"x")
    pytester.makepyfile(test_ok="def test_a():\n    pass\n", test_broken="import no_such_module\n")
    pytester.runpytest("--continue-on-collection-errors")
    assert stale.is_dir()  # its tests may still exist: they could not be collected
    (pytester.path / "test_broken.py").unlink()
    pytester.runpytest("-p", "xdist", "-n", "2").assert_outcomes(passed=1)  # the controller knows the workers' tests
    assert not stale.exists()


def test_a_results_folder_per_run_keeps_every_runs_pictures(xai_pytester: pytest.Pytester) -> None:
    """docs/ci/README.md: ``--xai-results=.xai-results/<run id>`` keeps earlier runs' pictures,
    where the default folder holds the latest run's only."""
    xai_pytester.makepyfile(test_r=FAILING.format(name="a"))
    root = xai_pytester.path / ".xai-results"
    for run in ("run-1", "run-2"):
        xai_pytester.runpytest(f"--xai-results=.xai-results/{run}").assert_outcomes(failed=1)
    pictures = {run: sorted(p.name for p in (root / run).rglob("*.png")) for run in ("run-1", "run-2")}
    assert pictures["run-1"] and pictures["run-1"] == pictures["run-2"]  # the first run's are still there
    xai_pytester.runpytest().assert_outcomes(failed=1)  # the default folder, beside them
    xai_pytester.runpytest().assert_outcomes(failed=1)
    assert sorted(p.name for p in (root / "run-1").rglob("*.png")) == pictures["run-1"]
    assert len([p for p in root.iterdir() if p.name.startswith("test_r.py_test_a")]) == 1
