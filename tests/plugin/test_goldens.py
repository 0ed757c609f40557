"""The golden lifecycle through real pytest runs: missing, update, pass, drift, CI, unused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from golden_samples import npy, with_goldens, with_member

from pytest_xai import (
    Explanation,
)
from pytest_xai.defaults import (
    DEFAULT_MAX_REGION_GAIN_BY_METHOD,
    DEFAULT_MAX_RELIANCE_GAIN,
    DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD,
    EVIDENCE_SUPPORT,
)

GOLDEN_TEST = """
import pytest

@pytest.mark.xai(samples=200)
def test_circle(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))
"""
# The shortcut model on this untagged image, at 200 samples, shifts LIME's evidence by 0.18:
# the lifecycle tests bound the shift at 0.12 so that it drifts. The default bounds are
# measured in benchmarks/detection.py (1000 samples, tagged images) and tested there.
SHORTCUT = ("--xai-model", "example_project.models:shortcut", "-o", "xai_max_shift=0.12")


def goldens(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("__xai_snapshots__/**/*") if p.is_file())


def test_first_run_fails_and_writes_nothing(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=GOLDEN_TEST)
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no golden for test_circle at __xai_snapshots__/test_g/test_circle.npz*",
                                 "*run pytest --xai-update to create it*"])
    assert goldens(xai_pytester.path) == []


def test_update_writes_then_rerun_passes(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=GOLDEN_TEST)
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= xai =*", "*goldens: 0 passed, 0 failed, 1 written, 0 updated, 0 unused*"])
    assert goldens(xai_pytester.path) == [
        "__xai_snapshots__/test_g/test_circle.npz", "__xai_snapshots__/test_g/test_circle.png"
    ]
    npz = xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"
    before = npz.read_bytes()
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*goldens: 1 passed, 0 failed, 0 written, 0 updated*"])
    assert npz.read_bytes() == before
    # the golden records what is needed to reproduce it

    golden = Explanation.load(npz)
    assert golden.params["samples"] == 200 and golden.method == "lime"
    assert len(golden.meta["model"]) == 64 and golden.meta["torch"]


@pytest.mark.slow
def test_changed_model_fails_and_leaves_three_overlays(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST)
    result = xai_pytester.runpytest(*SHORTCUT)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    # release mode (the default) says how far the evidence moved, where to, and what is new
    result.stdout.fnmatch_lines([
        "*explanation drifted from golden __xai_snapshots__/test_g/test_circle.npz (release mode):",
        "*evidence shift 0.* > max_shift 0.120: the positive evidence moved *% of the image diagonal*",
        "*its mass centre moved from (x, y) = (*, *) to (*, *) px, to* it now lies in the * of the 64×64 image",
        "*% of the new positive mass lies in cells where the golden had almost none*",
    ])
    assert "--xai-update" in text and "Spearman" not in text
    # the golden's metadata says whether exactness was to be expected
    assert "the model changed (fingerprint " in text  # not "bit-exact": another model is expected to differ
    results = xai_pytester.path / ".xai-results"
    pictures = sorted(p.name for p in results.rglob("*.png"))
    assert pictures == ["test_circle.actual.png", "test_circle.diff.png", "test_circle.expected.png"]
    for name in pictures:
        assert name in text  # the message gives their paths
    xai_pytester.runpytest().assert_outcomes(passed=1)  # the clean model again
    assert not list(results.rglob("*.png"))  # a passing test's old failure pictures are gone


STRICT_TEST = """
import pytest

@pytest.mark.xai(samples=200)
def test_circle(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image), mode="strict")
"""


@pytest.mark.slow
def test_strict_mode_compares_the_ranking(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, STRICT_TEST)
    xai_pytester.runpytest().assert_outcomes(passed=1)
    result = xai_pytester.runpytest("--xai-model", "example_project.models:shortcut")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*explanation drifted from golden __xai_snapshots__/test_g/test_circle.npz (strict mode):",
        "*Spearman * min_spearman 0.700",
        "*top-20% IoU * min_top_k_iou 0.550",
    ])
    assert "evidence shift" not in result.stdout.str()
    # the ini key selects strict mode for every golden
    xai_pytester.makepyfile(test_g=GOLDEN_TEST)
    xai_pytester.makeini("[pytest]\nxai_golden_mode = strict\n")
    result = xai_pytester.runpytest("--xai-model", "example_project.models:shortcut")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*(strict mode):*"])


def test_a_bound_of_the_other_mode_is_refused(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=GOLDEN_TEST.replace("explain(shape_image))", "explain(shape_image), min_spearman=0.9)"))
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*min_spearman=0.9 bounds mode='strict', but this golden is compared in mode='release'*"])
    assert goldens(xai_pytester.path) == []


def test_prediction_change_is_drift(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST.replace("explain(shape_image)", "explain(shape_image, target=0)"))
    xai_pytester.makepyfile(test_g=GOLDEN_TEST.replace("explain(shape_image)", "explain(shape_image, target=1)"))
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*prediction changed: golden explains 'circle'*now 'square'*"])


@pytest.mark.slow
def test_ci_mode_never_writes(xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    xai_pytester.makepyfile(test_g=GOLDEN_TEST)
    monkeypatch.setenv("CI", "true")
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "xai: goldens read-only (CI mode: CI environment variable); --xai-update ignored in CI mode*",
        "*CI mode (CI environment variable): --xai-update ignored, nothing was written or deleted*",
    ])
    assert goldens(xai_pytester.path) == []
    monkeypatch.delenv("CI")
    result = xai_pytester.runpytest("--xai-update", "--xai-ci")
    result.assert_outcomes(failed=1)
    assert goldens(xai_pytester.path) == []
    monkeypatch.setenv("CI", "buildkite")  # any value but a false one is CI
    xai_pytester.runpytest("--xai-update").assert_outcomes(failed=1)
    assert goldens(xai_pytester.path) == []
    monkeypatch.setenv("CI", "false")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    assert goldens(xai_pytester.path) != []


@pytest.mark.slow
def test_update_missing_writes_only_missing(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST)
    npz = xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"
    before = npz.read_bytes()
    xai_pytester.makepyfile(test_g=GOLDEN_TEST + """
@pytest.mark.xai(samples=200)
def test_new(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image, method="kernel_shap"))
""")
    result = xai_pytester.runpytest("--xai-update=missing", *SHORTCUT)
    result.assert_outcomes(passed=1, failed=1)  # the changed golden still fails
    assert npz.read_bytes() == before
    assert (xai_pytester.path / "__xai_snapshots__/test_g/test_new.npz").is_file()
    result.stdout.fnmatch_lines(["*0 passed, 1 failed, 1 written, 0 updated*"])


@pytest.mark.slow
def test_update_restores_a_deleted_preview(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST)
    npz = xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"
    png, before, picture = npz.with_suffix(".png"), npz.read_bytes(), npz.with_suffix(".png").read_bytes()
    png.unlink()
    xai_pytester.runpytest().assert_outcomes(passed=1)
    assert not png.exists()  # a plain run writes nothing
    xai_pytester.runpytest("--xai-update=missing").assert_outcomes(passed=1)
    assert png.read_bytes() == picture and npz.read_bytes() == before


@pytest.mark.slow
def test_update_all_rewrites_changed_goldens(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST)
    result = xai_pytester.runpytest("--xai-update", *SHORTCUT)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*0 passed, 0 failed, 0 written, 1 updated*"])
    xai_pytester.runpytest(*SHORTCUT).assert_outcomes(passed=1)


@pytest.mark.slow
def test_params_mismatch_fails_with_what_differs(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST)
    result = xai_pytester.runpytest("--xai-samples", "300")  # the marker wins: unchanged
    result.assert_outcomes(passed=1)
    xai_pytester.makepyfile(test_g=GOLDEN_TEST.replace("samples=200", "samples=250"))
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*was made with other parameters*",
        "*samples: golden 200, now 250*",
        "*fix: call explain with the golden's parameters, or run pytest --xai-update*",
    ])


TWO_TESTS = """
import pytest

@pytest.mark.xai(samples=100)
def test_a(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))

@pytest.mark.xai(samples=100)
def test_b(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image, method="kernel_shap"))
"""


@pytest.mark.slow
def test_unused_goldens_listed_and_deleted_safely(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=TWO_TESTS)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    snap = xai_pytester.path / "__xai_snapshots__/test_g"
    # -k selects test_a only: test_b's golden is neither unused nor deleted
    result = xai_pytester.runpytest("-k", "test_a", "--xai-update")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*0 unused*"])
    assert (snap / "test_b.npz").is_file()
    # a node id selects test_a only: same
    xai_pytester.runpytest("test_g.py::test_a", "--xai-update").assert_outcomes(passed=1)
    assert (snap / "test_b.npz").is_file()
    # test_b errors: its golden is kept
    xai_pytester.makepyfile(test_g=TWO_TESTS.replace(
        "def test_b(explain, xai_snapshot, shape_image):\n    xai_snapshot",
        "def test_b(explain, xai_snapshot, shape_image):\n    raise RuntimeError('boom')\n    xai_snapshot"))
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1, failed=1)
    assert (snap / "test_b.npz").is_file()
    # test_b is removed: its golden is unused, listed, then deleted by a full --xai-update run
    xai_pytester.makepyfile(test_g=TWO_TESTS.split("@pytest.mark.xai(samples=100)\ndef test_b")[0])
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 unused*", "*unused: __xai_snapshots__/test_g/test_b.npz*",
                                 "*to delete unused goldens: pytest --xai-update on a full run*"])
    assert (snap / "test_b.npz").is_file()
    result = xai_pytester.runpytest("--xai-update")
    result.stdout.fnmatch_lines(["*1 unused (1 deleted)*"])
    assert sorted(p.name for p in snap.iterdir()) == ["test_a.npz", "test_a.png"]


@pytest.mark.slow
def test_names_with_special_characters_do_not_collide(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g="""
import pytest

@pytest.mark.xai(samples=100)
@pytest.mark.parametrize("tag", ["a/b", "a_b", "a:b"])
def test_p(explain, xai_snapshot, shape_image, tag):
    xai_snapshot.assert_match(explain(shape_image, seed=len(tag) + ord(tag[1])))
""")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=3)
    names = sorted(p.name for p in (xai_pytester.path / "__xai_snapshots__/test_g").glob("*.npz"))
    assert len(names) == 3 and "test_p[a_b].npz" in names
    xai_pytester.runpytest().assert_outcomes(passed=3)


def test_corrupt_golden_fails_clearly(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, GOLDEN_TEST)
    npz = xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden __xai_snapshots__/test_g/test_circle.npz cannot be used*corrupt, truncated*"])


@pytest.mark.slow
def test_the_verdict_is_recorded_in_the_report(xai_pytester: pytest.Pytester) -> None:
    import json

    with_goldens(xai_pytester, GOLDEN_TEST)
    xai_pytester.runpytest(*SHORTCUT, "--xai-report=r.json")
    report = json.loads((xai_pytester.path / "r.json").read_text(), parse_constant=lambda c: 1 / 0)
    (verdict,) = report["tests"][0]["goldens"]
    assert {k: verdict[k] for k in ("path", "name", "state", "reason", "mode")} == {
        "path": str(xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"),
        "name": "__xai_snapshots__/test_g/test_circle.npz", "state": "failed", "reason": "drift", "mode": "release"}
    assert verdict["bounds"] == {"max_evidence_shift": 0.12, "max_support_loss": DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD["lime"],
                                 "max_region_gain": DEFAULT_MAX_REGION_GAIN_BY_METHOD["lime"],
                                 "max_reliance_gain": DEFAULT_MAX_RELIANCE_GAIN}
    assert verdict["measures"]["evidence_shift"] > 0.12 and 0 <= verdict["measures"]["new_mass"] <= 1
    assert verdict["message"].startswith("explanation drifted from golden")
    assert sorted(verdict["pictures"]) == ["actual", "difference", "expected"]
    assert all(verdict[k] for k in ("expected_png", "actual_png", "diff_png"))
    # a pass records its measures too, and the JUnit properties carry them
    xai_pytester.runpytest("--xai-report=r.json", "--junitxml=j.xml").assert_outcomes(passed=1)
    (verdict,) = json.loads((xai_pytester.path / "r.json").read_text())["tests"][0]["goldens"]
    assert (verdict["state"], verdict["reason"]) == ("passed", None)
    # the same explanation again: no shift, nothing new; the support loss is the golden's own
    # mass outside its grown support, at most 1 - EVIDENCE_SUPPORT
    assert verdict["measures"]["evidence_shift"] == 0.0 and verdict["measures"]["new_mass"] == 0.0
    assert 0 <= verdict["measures"]["support_loss"] <= 1 - EVIDENCE_SUPPORT + 1e-9
    assert ('name="xai_golden_evidence_shift[__xai_snapshots__/test_g/test_circle.npz]" value="0 &lt;= '
            in (xai_pytester.path / "j.xml").read_text())


@pytest.mark.slow
def test_a_deleted_test_file_leaves_unused_goldens(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_g=GOLDEN_TEST, test_old=GOLDEN_TEST)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    old = xai_pytester.path / "__xai_snapshots__/test_old/test_circle.npz"
    assert old.is_file()
    (xai_pytester.path / "test_old.py").unlink()
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 unused", "  unused: __xai_snapshots__/test_old/test_circle.npz"])
    assert old.is_file()  # listed, not deleted, without --xai-update
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=1)
    assert not old.exists() and not old.with_suffix(".png").exists()
    assert (xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz").is_file()


BAD_TYPE_TEST = """
import pytest

@pytest.mark.xai(samples=100)
def test_circle(explain, xai_snapshot, shape_image):
    xai_snapshot.assert_match(explain(shape_image))
"""


@pytest.mark.slow
def test_update_repairs_a_golden_with_a_string_heatmap(xai_pytester: pytest.Pytester) -> None:
    with_goldens(xai_pytester, BAD_TYPE_TEST)
    path = xai_pytester.path / "__xai_snapshots__/test_g/test_circle.npz"
    with_member(path, "heatmap.npy", npy(np.full((64, 64), "x")))
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden __xai_snapshots__/test_g/test_circle.npz cannot be used:*"
                                 "member 'heatmap' is <U1 (64, 64), which a golden cannot hold*"])
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*0 passed, 0 failed, 0 written, 1 updated*"])
    xai_pytester.runpytest().assert_outcomes(passed=1)


TWO_IMAGES = """
import numpy as np
import pytest
from example_project.data import make_shape

IMAGES = {name: make_shape(np.random.default_rng(seed), 0, tag=None).image for name, seed in (("a", 1), ("b", 2))}
ORDER = ["a", "b"]

@pytest.mark.xai(samples=60)
@pytest.mark.parametrize("index", [0, 1])
def test_image(explain, xai_snapshot, index):
    xai_snapshot.assert_match(explain(IMAGES[ORDER[index]]))
"""


def test_a_golden_of_another_input_image_fails_first_and_ci_refuses_it(
    xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    xai_pytester.makepyfile(test_i=TWO_IMAGES)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=2)
    xai_pytester.makepyfile(test_i=TWO_IMAGES.replace('ORDER = ["a", "b"]', 'ORDER = ["b", "a"]'))
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*golden __xai_snapshots__/test_i/test_image[[]0[]].npz was made from another input image*",
                                 "*goldens: 0 passed, 2 failed*"])
    monkeypatch.setenv("CI", "true")
    xai_pytester.runpytest("--xai-update").assert_outcomes(failed=2)
    monkeypatch.delenv("CI")
    # an image changed on purpose is re-recorded by --xai-update, then passes
    xai_pytester.runpytest("--xai-update").stdout.fnmatch_lines(["*0 passed, 0 failed, 0 written, 2 updated*"])
    xai_pytester.runpytest().assert_outcomes(passed=2)
