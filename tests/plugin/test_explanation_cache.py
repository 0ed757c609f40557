"""The persistent explanation cache through real runs: modes, corruption, xdist, stale hits, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_xai import Explanation

THREE = """
import pytest

@pytest.mark.xai(samples=60)
@pytest.mark.parametrize("method", ["lime", "kernel_shap", "gradient_shap"])
def test_m(explain, xai_snapshot, shape_image, method):
    xai_snapshot.assert_match(explain(shape_image, method=method))
"""


def _entries(root: Path) -> list[Path]:
    return sorted((root / ".pytest_cache/d/xai-explanations").glob("*/*.npz"))


@pytest.mark.slow
def test_a_second_run_reads_every_explanation_from_disk(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c=THREE)
    result = xai_pytester.runpytest("--xai-update", "--xai-report=r1.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["explanations: 3 computed, 0 from cache, 0 from disk cache, * s explaining"])
    assert len(_entries(xai_pytester.path)) == 3
    result = xai_pytester.runpytest("--xai-report=r2.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["explanations: 0 computed, 0 from cache, 3 from disk cache, 0.0 s explaining",
                                 "goldens: 3 passed, *"])
    first, second = (json.loads((xai_pytester.path / f"r{i}.json").read_text()) for i in (1, 2))
    assert (first["totals"]["computed"], first["totals"]["disk"]) == (3, 0)
    assert (second["totals"]["computed"], second["totals"]["disk"]) == (0, 3)
    assert set(second["totals"]) == {"computed", "cached", "disk", "stale", "seconds", "samples", "fixed_samples"}
    assert second["totals"]["stale"] == 0
    # what the disk gave is what was computed: the recorded overlays are the same pictures
    overlays = [sorted(e["overlay"] for t in run["tests"] for e in t["explanations"]) for run in (first, second)]
    assert overlays[0] == overlays[1]


@pytest.mark.slow
def test_cache_modes_and_ci(xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    xai_pytester.makepyfile(test_c=THREE.replace(
        "xai_snapshot.assert_match(explain(shape_image, method=method))", "explain(shape_image, method=method)"))
    xai_pytester.runpytest("--xai-cache=off").stdout.fnmatch_lines(["explanations: 3 computed, *"])
    assert _entries(xai_pytester.path) == []
    xai_pytester.runpytest("--xai-cache=read").stdout.fnmatch_lines(["explanations: 3 computed, *"])
    assert _entries(xai_pytester.path) == []
    monkeypatch.setenv("CI", "true")  # CI reads, never grows the cache
    xai_pytester.runpytest().stdout.fnmatch_lines(["xai: goldens read-only*; cache=read", "*",
                                                   "explanations: 3 computed, *"])
    assert _entries(xai_pytester.path) == []
    monkeypatch.delenv("CI")
    xai_pytester.runpytest("--xai-cache=write").stdout.fnmatch_lines(["explanations: 3 computed, *"])
    assert len(_entries(xai_pytester.path)) == 3
    xai_pytester.runpytest("--xai-cache=write").stdout.fnmatch_lines(["explanations: 3 computed, *"])
    monkeypatch.setenv("CI", "true")
    xai_pytester.runpytest().stdout.fnmatch_lines(["explanations: 0 computed, 0 from cache, 3 from disk*"])
    monkeypatch.delenv("CI")
    xai_pytester.runpytest("--cache-clear").stdout.fnmatch_lines(["explanations: 3 computed, *"])
    xai_pytester.runpytest().stdout.fnmatch_lines(["explanations: 0 computed, 0 from cache, 3 from disk*"])
    xai_pytester.runpytest("-p", "no:cacheprovider").stdout.fnmatch_lines(["explanations: 3 computed, *"])


@pytest.mark.slow
def test_corrupt_entries_are_ignored_and_replaced(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c=THREE)
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=3)
    entries = _entries(xai_pytester.path)
    entries[0].write_bytes(b"not a zip")
    entries[1].write_bytes(entries[1].read_bytes()[:200])  # truncated
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["explanations: 2 computed, 0 from cache, 1 from disk cache*"])
    assert _entries(xai_pytester.path) == entries
    for entry in entries:
        Explanation.load(entry)  # whole again


OPAQUE = """
import torch
from pytest_xai import Classifier

class Model:  # a callable object: its state cannot be fingerprinted
    def __call__(self, x):
        return torch.stack([x.mean(dim=(1, 2, 3)), -x.mean(dim=(1, 2, 3))], dim=1)

def test_opaque(explain, shape_image):
    clf = Classifier(Model(), device="cpu")
    assert clf.cache_key is None
    explain(shape_image, classifier=clf, samples=30)
    explain(shape_image, classifier=clf, samples=30)  # the same object: memoised
"""


def test_a_classifier_without_an_exact_key_is_never_persisted(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_o=OPAQUE)
    for _ in range(2):
        result = xai_pytester.runpytest()
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["explanations: 1 computed, 1 from cache, 0 from disk cache*"])
    assert _entries(xai_pytester.path) == []


# -- unit: keys and eviction --------------------------------------------------------------------


def test_cache_size_cap_is_applied_at_session_end(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c=THREE)
    xai_pytester.makeini("[pytest]\nxai_cache_max_mb = 0.000001\n")
    xai_pytester.runpytest("--xai-update").assert_outcomes(passed=3)
    assert _entries(xai_pytester.path) == []
    xai_pytester.makeini("[pytest]\nxai_cache_max_mb = lots\n")
    result = xai_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*xai_cache_max_mb='lots' is not a number*"])


def test_unrecorded_explanations_are_cached_but_not_shown(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_u="""
import pytest

@pytest.mark.xai(samples=60)
def test_aux(explain, shape_image):
    aux = explain.unrecorded(shape_image, method="kernel_shap")
    assert aux.method == "kernel_shap" and aux.samples == 60
    explain(shape_image)
""")
    for disk in (0, 2):
        result = xai_pytester.runpytest("--xai-report=r.json")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines([f"explanations: {2 - disk} computed, 0 from cache, {disk} from disk cache*"])
        (test,) = json.loads((xai_pytester.path / "r.json").read_text())["tests"]
        assert [e["method"] for e in test["explanations"]] == ["lime"]


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c=THREE)
    folder = xai_pytester.path / ".pytest_cache/d/xai-explanations"
    folder.mkdir(parents=True)
    for i in range(256):  # every shard folder name is taken by a file
        (folder / f"{i:02x}").write_text("")
    result = xai_pytester.runpytest("--xai-update")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["warning: explanation cache: *xai-explanations/* not stored, so it is "
                                 "recomputed next time: * (and 2 more)"])


@pytest.mark.slow
def test_a_file_in_place_of_the_cache_folder_is_a_warning(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c=THREE)
    (xai_pytester.path / ".pytest_cache/d").mkdir(parents=True)
    (xai_pytester.path / ".pytest_cache/d/xai-explanations").write_text("x")
    for args in (("--xai-update",), ("-o", "xai_cache_max_mb=0")):
        result = xai_pytester.runpytest(*args)
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(["explanations: 3 computed, *",
                                     "warning: explanation cache: the cache folder cannot be used, so it is off "
                                     "for this run: *"])


STALE = """
import json, os
from pathlib import Path
import pytest
import torch
from pytest_xai import Classifier

class Scaled(torch.nn.Module):  # reads a setting the fingerprint cannot see (as edited code would)
    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(3, 3)
        torch.nn.init.eye_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, x):
        scale = float(os.environ.get("XAI_TEST_SCALE", "1"))
        return self.head(x.mean(dim=(2, 3)) * torch.tensor([scale, 1.0, -scale]))

MODEL = Classifier(Scaled(), device="cpu")

def test_a(explain, shape_image):
    Path("a.json").write_text(json.dumps(explain(shape_image, classifier=MODEL, samples=40).heatmap.tolist()))

def test_b_in_place(explain, shape_image):
    first = explain(shape_image, classifier=MODEL, samples=40)
    with torch.no_grad():
        MODEL.model.head.weight.mul_(-2.0)  # the fingerprint was taken before this
    try:
        second = explain(shape_image, classifier=MODEL, samples=40)
    finally:
        with torch.no_grad():
            MODEL.model.head.weight.div_(-2.0)
    assert second.probability != first.probability and not (second.heatmap == first.heatmap).all()
    with pytest.raises(ValueError, match="read-only"):  # shared with later tests: nobody edits it
        first.heatmap[0, 0] = 0.0
"""


@pytest.mark.slow
def test_a_stale_cache_hit_is_recomputed(xai_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key misses what a model reads outside its weights; one forward pass per hit catches it."""
    xai_pytester.makepyfile(test_s=STALE)
    xai_pytester.runpytest().assert_outcomes(passed=2)  # test_b: the memo hit is stale in place
    computed = json.loads((xai_pytester.path / "a.json").read_text())
    result = xai_pytester.runpytest("-k", "test_a")
    result.stdout.fnmatch_lines(["explanations: 0 computed, 0 from cache, 1 from disk cache*"])
    monkeypatch.setenv("XAI_TEST_SCALE", "3")  # same weights, same key, another model
    result = xai_pytester.runpytest("-k", "test_a")
    result.stdout.fnmatch_lines(["explanations: 1 computed, 0 from cache, 0 from disk cache*",
                                 "warning: 1 cached explanation(s) were stale and recomputed*"])
    recomputed = json.loads((xai_pytester.path / "a.json").read_text())
    monkeypatch.setenv("XAI_TEST_SCALE", "1")
    xai_pytester.runpytest("-k", "test_a", "--xai-cache=off")
    assert recomputed != computed and json.loads((xai_pytester.path / "a.json").read_text()) == computed


def test_cache_hits_and_time_in_summary(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_c="""
import pytest

@pytest.mark.parametrize("i", range(3))
@pytest.mark.xai(samples=100)
def test_same(explain, shape_image, i):
    assert explain(shape_image).samples == 100
""")
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*= xai =*", "explanations: 1 computed, 2 from cache, * s explaining"])


SWAPPED = """
import json
from pathlib import Path

import numpy as np
import torch
from pytest_xai import Classifier, Region
from pytest_xai.checks import metrics

# brightness in, two classes out: an image and its upside-down copy get the same output
HEAD = torch.nn.Linear(3, 2)
with torch.no_grad():
    HEAD.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
    HEAD.bias.zero_()
MODEL = Classifier(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), HEAD), device="cpu")
TOP = np.zeros((16, 16, 3), np.float32)
TOP[:8] = 1.0

def test_pair(explain):
    found = {}
    for name, image in (("top", TOP), ("bottom", TOP[::-1].copy())):
        exp = explain(image, classifier=MODEL, samples=40, n_segments=4, target=0)
        found[name] = metrics.relevance_mass(exp, Region.box(0, 0, 16, 8, name="top half"))
    Path("mass.json").write_text(json.dumps(found))
"""


def test_a_disk_entry_of_another_image_is_never_served(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_p=SWAPPED)
    xai_pytester.runpytest().assert_outcomes(passed=1)
    computed = json.loads((xai_pytester.path / "mass.json").read_text())
    assert computed["top"] > 0.8 > 0.2 > computed["bottom"]
    first, second = _entries(xai_pytester.path)
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["explanations: 2 computed, 0 from cache, 0 from disk cache*",
                                 "warning: 2 cached explanation(s) were stale and recomputed*"])
    assert json.loads((xai_pytester.path / "mass.json").read_text()) == computed
    xai_pytester.runpytest().stdout.fnmatch_lines(["explanations: 0 computed, 0 from cache, 2 from disk cache*"])
