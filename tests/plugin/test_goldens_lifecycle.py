"""The golden lifecycle through real runs: interrupted runs, failed writes, concurrent temps, shared folders, unused goldens."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_xai._util.atomic import TEMP_SUFFIX

THREE_GOLDENS = """
import os, pathlib, time
import pytest

@pytest.mark.xai(samples=60)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_g(explain, xai_snapshot, shape_image, seed):
    exp = explain(shape_image, seed=seed)
    if seed == 1 and os.environ.get("XAI_BREAK"):
        BREAK_HERE
    xai_snapshot.assert_match(exp)
"""


def _goldens(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "__xai_snapshots__").rglob("*.npz"))


def _write_goldens(pytester: pytest.Pytester, stop: str) -> list[str]:
    pytester.makepyfile(test_s=THREE_GOLDENS.replace("BREAK_HERE", stop))
    pytester.runpytest("--xai-update").assert_outcomes(passed=3)
    names = _goldens(pytester.path)
    assert names == ["test_g[0].npz", "test_g[1].npz", "test_g[2].npz"]
    return names


@pytest.mark.slow
def test_pytest_exit_between_explain_and_assert_match_keeps_every_golden(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _write_goldens(xai_pytester, 'pytest.exit("stopped by the user")')
    monkeypatch.setenv("XAI_BREAK", "1")
    result = xai_pytester.runpytest("--xai-update", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert _goldens(xai_pytester.path) == names  # test_g[1] never reached assert_match: kept
    assert "deleted" not in result.stdout.str()


@pytest.mark.slow
@pytest.mark.parametrize("how", [["-x"], ["--maxfail=1"]])
def test_a_run_stopped_early_deletes_nothing(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: list[str]
) -> None:
    names = _write_goldens(xai_pytester, "assert False, 'broken'")
    # test_g[0] stops using its golden, test_g[1] fails and stops the run before test_g[2]
    xai_pytester.makepyfile(test_s=THREE_GOLDENS.replace("BREAK_HERE", "assert False, 'broken'").replace(
        "    xai_snapshot.assert_match(exp)", "    if seed:\n        xai_snapshot.assert_match(exp)"))
    monkeypatch.setenv("XAI_BREAK", "1")
    result = xai_pytester.runpytest("--xai-update", "-p", "no:randomly", *how)
    result.assert_outcomes(passed=1, failed=1)
    assert _goldens(xai_pytester.path) == names
    result.stdout.fnmatch_lines(["*unused: __xai_snapshots__/test_s/test_g[[]0[]].npz",
                                 "*unused goldens kept: the run did not complete*"])
    # the full run that completes deletes it
    monkeypatch.delenv("XAI_BREAK")
    result = xai_pytester.runpytest("--xai-update", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    assert _goldens(xai_pytester.path) == names[1:]


SLOW_UPDATE = """
import pathlib, time
import pytest

@pytest.mark.xai(samples=60)
@pytest.mark.parametrize("seed", range(4))
def test_g(explain, xai_snapshot, shape_image, seed):
    exp = explain(shape_image, seed=seed)
    if seed == 2 and pathlib.Path("slow").exists():
        pathlib.Path("reached").write_text("x")
        time.sleep(60)
    xai_snapshot.assert_match(exp)
"""


@pytest.mark.slow
def test_sigint_during_an_update_deletes_nothing(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SLOW_UPDATE)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=4)
    names = _goldens(xai_pytester.path)
    assert len(names) == 4
    (xai_pytester.path / "slow").write_text("")
    proc = xai_pytester.popen(
        [sys.executable, "-m", "pytest", "--xai-update", "-p", "no:randomly", "-p", "no:xdist"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (xai_pytester.path / "reached").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the run never reached test_g[2]"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # Ctrl-C while test_g[2] runs, test_g[3] not yet
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out.decode()
    assert b"KeyboardInterrupt" in out
    assert _goldens(xai_pytester.path) == names


NUMPY_PARAMS = """
import numpy as np
import pytest

def test_np(explain, xai_snapshot, shape_image):
    exp = explain(shape_image, n_segments=np.int64(12), samples=np.int32(60), seed=np.uint8(3),
                  baseline=(np.float32(0.5), np.float64(0.5), 0.5))
    assert type(exp.params["n_segments"]) is int and exp.seed == 3
    xai_snapshot.assert_match(exp)

@pytest.mark.xai(samples=60)
def test_after(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image, method="kernel_shap"))
"""


def test_numpy_parameters_are_plain_python_and_every_golden_is_written(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_n=NUMPY_PARAMS)
    result = xai_pytester.runpytest("--xai-update", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*0 passed, 0 failed, 2 written*"])
    assert result.ret == pytest.ExitCode.OK
    assert _goldens(xai_pytester.path) == ["test_after.npz", "test_np.npz"]
    xai_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_a_failed_write_fails_the_run_and_names_the_path(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_n=NUMPY_PARAMS)
    snap = xai_pytester.path / "__xai_snapshots__" / "test_n"
    (snap / "test_np.png").mkdir(parents=True)  # the preview cannot be written
    result = xai_pytester.runpytest("--xai-update", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*goldens: 0 passed, 1 failed, 1 written, 0 updated*",
        "write failed: __xai_snapshots__/test_n/test_np.npz: *Is a directory*test_np.png*",
    ])
    assert (snap / "test_after.npz").is_file()  # the other write went through
    assert not list(snap.glob(f".*{TEMP_SUFFIX}"))


@pytest.mark.slow
def test_a_failed_write_in_an_xdist_worker_fails_the_run(xai_pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    xai_pytester.makepyfile(test_n=NUMPY_PARAMS)
    (xai_pytester.path / "__xai_snapshots__" / "test_n" / "test_np.png").mkdir(parents=True)
    result = xai_pytester.runpytest_subprocess("--xai-update", "-n", "2", "--xai-report=r.json")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*goldens: 0 passed, 1 failed, 1 written*",
                                 "write failed: __xai_snapshots__/test_n/test_np.npz: *Is a directory*"])
    data = json.loads((xai_pytester.path / "r.json").read_text())
    (error,) = data["goldens"]["write_errors"]
    assert error["path"] == "__xai_snapshots__/test_n/test_np.npz" and error["state"] == "written"
    states = {g["name"]: (g["state"], g.get("reason")) for t in data["tests"] for g in t["goldens"]}
    assert states["__xai_snapshots__/test_n/test_np.npz"] == ("failed", "write")


def test_a_folder_named_like_a_golden_is_skipped_with_a_warning(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_n=NUMPY_PARAMS)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    odd = xai_pytester.path / "__xai_snapshots__" / "test_n" / "notes.npz"
    odd.mkdir()
    (odd / "keep.txt").write_text("mine")
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["warning: __xai_snapshots__/test_n/notes.npz is not a file; skipped*"])
    assert (odd / "keep.txt").read_text() == "mine"


# -- temp files ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_concurrent_updates_both_succeed(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SLOW_UPDATE.replace("range(4)", "range(8)"))
    command = [sys.executable, "-m", "pytest", "--xai-update", "-p", "no:randomly", "-p", "no:xdist", "-q"]
    runs = [xai_pytester.popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
    for run, out in zip(runs, outputs):
        assert run.returncode == 0, out
        assert "write failed" not in out
    assert len(_goldens(xai_pytester.path)) == 8
    assert not list(xai_pytester.path.rglob(f"*{TEMP_SUFFIX}"))


def test_collect_only_and_ci_runs_never_clean_temps(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_s=SLOW_UPDATE)
    snap = xai_pytester.path / "__xai_snapshots__" / "test_s"
    snap.mkdir(parents=True)
    debris = snap / f".test_g[0].npz.00000000-1-abc{TEMP_SUFFIX}"
    debris.write_bytes(b"half")
    os.utime(debris, (time.time() - 7200, time.time() - 7200))  # stale by age
    xai_pytester.runpytest("--collect-only", "--xai-update")
    xai_pytester.runpytest("--xai-ci", "--xai-update", "-k", "nothing")
    assert debris.exists()
    xai_pytester.runpytest("--xai-update", "-k", "nothing")  # a run that may write cleans it
    assert not debris.exists()


# -- golden folders -----------------------------------------------------------------------------
@pytest.mark.slow
def test_two_modules_sharing_one_golden_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    # a plain pytester, no model: the folder check runs at collection
    pytester.makeini("[pytest]\nxai_snapshot_dir = ../snaps\n")
    for sub in ("a", "b"):
        (pytester.path / sub).mkdir()
        (pytester.path / sub / "test_x.py").write_text("def test_one(xai_snapshot):\n    pass\n")
    result = pytester.runpytest("--import-mode=importlib")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*a/test_x.py and b/test_x.py keep their goldens in one folder, snaps/test_x*rename one of the "
        "test files, or set xai_snapshot_dir to a folder beside each test file*"
    ])
    if importlib.util.find_spec("xdist"):  # workers cannot stop the run: every test errors with the reason
        result = pytester.runpytest_subprocess("--import-mode=importlib", "-n", "2")
        result.assert_outcomes(errors=2)
        result.stdout.fnmatch_lines(["*UsageError: a/test_x.py and b/test_x.py keep their goldens in one folder*"])
    pytester.makeini("[pytest]\n")  # the default folder is beside each file: no collision
    pytester.runpytest("--import-mode=importlib").assert_outcomes(passed=2)


SHARED = """
def test_one(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image, samples=60, method="{method}"))
"""


@pytest.mark.slow
def test_a_partial_run_never_uses_or_rewrites_another_files_golden(xai_pytester: pytest.Pytester) -> None:
    """Run one at a time, the two files never meet at collection: the golden says its owner."""
    xai_pytester.makeini("[pytest]\nxai_snapshot_dir = ../snaps\n")
    for sub, method in (("a", "lime"), ("b", "gradient_shap")):
        (xai_pytester.path / sub).mkdir()
        (xai_pytester.path / sub / "test_x.py").write_text(SHARED.format(method=method))
    xai_pytester.runpytest("a", "--xai-update", "--import-mode=importlib").assert_outcomes(passed=1)
    golden = xai_pytester.path / "snaps/test_x/test_one.npz"
    before = golden.read_bytes()
    for args in ((), ("--xai-update",)):
        result = xai_pytester.runpytest("b", *args, "--import-mode=importlib")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*golden snaps/test_x/test_one.npz was recorded by a/test_x.py, not "
                                     "b/test_x.py: the two test files share one golden folder*"])
        assert golden.read_bytes() == before
    xai_pytester.runpytest("a", "--import-mode=importlib").assert_outcomes(passed=1)
    (xai_pytester.path / "a").rename(xai_pytester.path / "c")  # the recording file moved: its golden is free
    xai_pytester.runpytest("c", "--import-mode=importlib").assert_outcomes(passed=1)


@pytest.mark.parametrize("value, message", [
    ("/tmp/goldens", "*xai_snapshot_dir='/tmp/goldens' is absolute*relative to each test file's folder*"),
    (".", "*xai_snapshot_dir='.' is not a folder name*"),
    ("data/..", "*xai_snapshot_dir='data/..' is not a folder name*"),
    ("..", "*xai_snapshot_dir='..' is not a folder name*"),
    ("", "*xai_snapshot_dir='' is not a folder name*"),
])
def test_bad_snapshot_dir_is_a_usage_error(xai_pytester: pytest.Pytester, value: str, message: str) -> None:
    xai_pytester.makeini(f"[pytest]\nxai_snapshot_dir = {value}\n")
    xai_pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = xai_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# -- file modes ---------------------------------------------------------------------------------


def test_goldens_previews_and_reports_follow_the_umask(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_n=NUMPY_PARAMS)
    old = os.umask(0o022)
    try:
        xai_pytester.runpytest("--xai-update", "--xai-report=out/r.json").assert_outcomes(passed=2)
    finally:
        os.umask(old)
    written = [*(xai_pytester.path / "__xai_snapshots__").rglob("*.*"), xai_pytester.path / "out/r.json"]
    assert len(written) == 5
    assert {p.name: p.stat().st_mode & 0o777 for p in written} == {p.name: 0o644 for p in written}


# -- report path --------------------------------------------------------------------------------


TWO = """
import os
import pytest

@pytest.mark.xai(samples=60, method="gradient_shap")
def test_one(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))

@pytest.mark.xai(samples=60, method="gradient_shap")
def test_two(explain, xai_snapshot, shape_image):
    assert os.environ.get("XAI_TEST_FAIL") != "two"
    xai_snapshot.assert_match(explain(shape_image))
"""


@pytest.mark.slow
def test_runs_that_hide_tests_never_delete_their_goldens(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--lf, --pyargs node ids and a conftest that filters items without deselecting them all
    leave tests out that the plugin cannot see: their goldens stay."""
    xai_pytester.makepyfile(test_m=TWO)
    (xai_pytester.path / "__init__.py").write_text("")
    xai_pytester.runpytest("--xai-update", "-p", "cacheprovider").assert_outcomes(passed=2)
    one = xai_pytester.path / "__xai_snapshots__/test_m/test_one.npz"
    monkeypatch.setenv("XAI_TEST_FAIL", "two")
    xai_pytester.runpytest("-p", "cacheprovider").assert_outcomes(passed=1, failed=1)
    monkeypatch.delenv("XAI_TEST_FAIL")
    xai_pytester.runpytest("--lf", "--xai-update", "-p", "cacheprovider").assert_outcomes(passed=1)
    assert one.is_file()
    xai_pytester.makeconftest(xai_pytester.path.joinpath("conftest.py").read_text() + """
def pytest_collection_modifyitems(config, items):
    items[:] = [i for i in items if i.name == "test_two"]  # no pytest_deselected call
""")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    assert one.is_file()


@pytest.mark.slow
def test_a_test_file_run_alone_never_deletes_goldens_another_file_recorded(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makeini("[pytest]\nxai_snapshot_dir = ../snaps\n")
    for sub, test in (("a", "test_one"), ("b", "test_two")):
        (xai_pytester.path / sub).mkdir()
        (xai_pytester.path / sub / "test_x.py").write_text(
            f"def {test}(explain, xai_snapshot, shape_image):\n"
            "    xai_snapshot.assert_match(explain(shape_image, samples=60, method='gradient_shap'))\n")
    xai_pytester.runpytest("b", "--xai-update", "--import-mode=importlib").assert_outcomes(passed=1)
    theirs = xai_pytester.path / "snaps/test_x/test_two.npz"
    result = xai_pytester.runpytest("a", "--xai-update", "--import-mode=importlib")
    result.assert_outcomes(passed=1)
    assert theirs.is_file() and "(deleted)" not in result.stdout.str()


def test_a_doctest_golden_is_not_an_orphan(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makefile(".txt", test_doc=">>> getfixture('xai_snapshot').assert_match("
                          "getfixture('explain')(getfixture('shape_image'), samples=60, method='gradient_shap'))\n")
    for _ in range(2):
        result = xai_pytester.runpytest("--doctest-glob=test_*.txt", "--xai-update")
        result.assert_outcomes(passed=1)
        assert "(deleted)" not in result.stdout.str()
    assert (xai_pytester.path / "__xai_snapshots__/test_doc/test_doc.txt.npz").is_file()


@pytest.mark.slow
def test_two_classes_with_one_method_name_keep_two_goldens(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c="""
import pytest

class TestA:
    def test_c(self, explain, xai_snapshot, shape_image):
        xai_snapshot.assert_match(explain(shape_image, samples=60, method="gradient_shap"))

class TestB:
    def test_c(self, explain, xai_snapshot, shape_image):
        xai_snapshot.assert_match(explain(shape_image[::-1].copy(), samples=60, method="gradient_shap"))
""")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    names = sorted(p.name for p in (xai_pytester.path / "__xai_snapshots__/test_c").glob("*.npz"))
    assert names == ["TestA.test_c.npz", "TestB.test_c.npz"]
    xai_pytester.runpytest().assert_outcomes(passed=2)


# -- golden names, foreign files, hidden tests, lost writes, failing deletes ---------------------


def test_parameter_ids_that_differ_only_in_punctuation_keep_two_goldens(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_p="""
import pytest

@pytest.mark.parametrize("flip", [pytest.param(False, id="a::b"), pytest.param(True, id="a.b")])
def test_g(explain, xai_snapshot, shape_image, flip):
    image = shape_image[:, ::-1].copy() if flip else shape_image
    xai_snapshot.assert_match(explain(image, samples=60, method="gradient_shap"))
""")
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*0 failed, 2 written*"])
    assert len(_goldens(xai_pytester.path)) == 2
    assert "test_g[a.b].npz" in _goldens(xai_pytester.path)  # an id kept as it was keeps its name
    xai_pytester.runpytest("--xai-update").stdout.fnmatch_lines(["*goldens: 2 passed, 0 failed, 0 written*0 unused*"])


def test_a_long_test_id_with_a_long_name_is_written(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_l=f"""
import pytest

@pytest.mark.parametrize("x", [pytest.param(1, id="{'p' * 200}")])
def test_g(explain, xai_snapshot, shape_image, x):
    xai_snapshot.assert_match(explain(shape_image, samples=60, method="gradient_shap"), name="{'n' * 119}")
""")
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1)
    assert "write failed" not in result.stdout.str()
    (golden,) = (xai_pytester.path / "__xai_snapshots__/test_l").glob("*.npz")
    assert len(golden.name.encode()) <= 220 and golden.with_suffix(".png").is_file()
    xai_pytester.runpytest("--xai-update").stdout.fnmatch_lines(["*goldens: 1 passed*0 unused*"])
    assert golden.is_file()


def test_npz_files_that_are_not_goldens_are_never_unused_or_deleted(xai_pytester: pytest.Pytester) -> None:
    import numpy as np

    xai_pytester.makeini("[pytest]\nxai_snapshot_dir = data\n")
    xai_pytester.makepyfile(test_x="def test_one(explain, xai_snapshot, shape_image):\n"
                                   "    xai_snapshot.assert_match(explain(shape_image, samples=60, method='gradient_shap'))\n")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    data = xai_pytester.path / "data"
    (data / "common").mkdir()
    np.savez(data / "test_x" / "expected_values.npz", values=np.arange(3))
    np.savez(data / "common" / "reference.npz", header=np.array('{"format": "mine"}'))
    stale = data / "test_x" / "test_gone.npz"
    (data / "test_x" / "test_one.npz").rename(stale)  # a real golden no test uses
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 written, 0 updated*1 unused (1 deleted)*", "*unused: data/test_x/test_gone.npz (deleted)"])
    assert not stale.exists()
    assert (data / "test_x" / "expected_values.npz").is_file() and (data / "common" / "reference.npz").is_file()


def test_a_tryfirst_conftest_filter_never_deletes_the_dropped_tests_golden(xai_pytester: pytest.Pytester) -> None:
    """A conftest below the rootdir registers after the plugin, so its tryfirst hook runs first."""
    sub = xai_pytester.mkpydir("sub")
    (sub / "test_m.py").write_text(TWO)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    one = sub / "__xai_snapshots__/test_m/test_one.npz"
    assert one.is_file()
    (sub / "conftest.py").write_text("""
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    items[:] = [i for i in items if i.name == "test_two"]  # no pytest_deselected call
""")
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1)
    assert one.is_file() and "deleted" not in result.stdout.str()


@pytest.mark.slow
def test_a_golden_queued_by_a_crashed_worker_is_not_reported_written(xai_pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    xai_pytester.makepyfile(test_c="""
import os

def test_a(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image, samples=60, method="gradient_shap"))

def test_b():
    os._exit(1)  # a segfault or the OOM killer
""")
    result = xai_pytester.runpytest_subprocess("--xai-update", "-n", "1", "-p", "no:randomly", "--xai-report=r.json")
    assert not list((xai_pytester.path / "__xai_snapshots__").rglob("*.npz"))
    result.stdout.fnmatch_lines(["*goldens: 0 passed, 1 failed, 0 written*",
                                 "write failed: __xai_snapshots__/test_c/test_a.npz: *ended before writing it*"])
    data = json.loads((xai_pytester.path / "r.json").read_text())
    assert data["goldens"]["written"] == 0
    assert result.ret != pytest.ExitCode.OK


def test_an_unused_golden_that_cannot_be_deleted_is_a_warning(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    xai_pytester.makepyfile(test_m=TWO)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    snap = xai_pytester.path / "__xai_snapshots__/test_m"
    (snap / "test_one.npz").rename(snap / "test_old.npz")
    (snap / "test_one.png").rename(snap / "test_old.png")
    (snap / "test_gone.npz").write_bytes((snap / "test_two.npz").read_bytes())
    (snap / "test_gone.png").mkdir()  # a folder where its preview should be
    real_unlink = Path.unlink

    def read_only(path: Path, missing_ok: bool = False) -> None:
        if path.name == "test_old.npz":
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)  # a read-only folder, even for root
    result = xai_pytester.runpytest("--xai-update", "--xai-report=r.json", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*could not delete unused golden __xai_snapshots__/test_m/test_gone.png: *",
        "*could not delete unused golden __xai_snapshots__/test_m/test_old.npz: Permission denied*",
    ])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert (xai_pytester.path / "r.json").is_file() and (snap / "test_old.npz").is_file()
    assert not (snap / "test_gone.npz").exists()  # the golden went; only its odd preview stayed


def test_a_project_without_goldens_may_have_a_doctest_file_named_like_a_test_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_calc="def test_add():\n    assert 1 + 1 == 2\n")
    pytester.makefile(".txt", test_calc=">>> 1 + 1\n2\n")
    result = pytester.runpytest("--doctest-glob=*.txt")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
