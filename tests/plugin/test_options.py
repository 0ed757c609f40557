"""Plugin features through real pytest runs: helpers, report, cache, marker, images, xdist."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

HELPERS = """
import pytest
from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus, assert_explanations_agree

@pytest.mark.xai(samples=200)
def test_focus(explain, shape_image):
    assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name="corner"), min_mass=0.5)

@pytest.mark.xai(samples=200)
def test_avoid(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 64, 64, name="everything"), max_mass=0.1)

@pytest.mark.xai(samples=200)
def test_agree(explain, shape_image):
    assert_explanations_agree(explain(shape_image), explain(shape_image, method="gradient_shap"),
                              min_spearman=0.9, min_top_k_iou=0.9)

@pytest.mark.xai(samples=200)
def test_passes(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 4, 4, name="tiny"), max_mass=0.5)
"""


def test_helper_failure_messages(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=HELPERS)
    result = xai_pytester.runpytest()
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines([
        "*def test_focus(explain, shape_image):",
        ">*assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name=\"corner\"), min_mass=0.5)",
        "E*attribution does not focus on region 'corner': relevance mass 0.0* < min_mass 0.500",
        "E*method=lime target='circle' (p=*) output=logit seed=0 samples=200",
        "E*overlay (heatmap, region outlined): .xai-results*focus-corner.png",
    ])
    result.stdout.fnmatch_lines([
        "E*attribution rests on region 'everything': relevance mass 1.000 > max_mass 0.100",
    ])
    result.stdout.fnmatch_lines([
        "E*explanations disagree: Spearman * < min_spearman 0.900; top-20% IoU * < min_top_k_iou 0.900",
        "E*a: method=lime*", "E*b: method=gradient_shap*", "E*overlays (a | b): .xai-results*",
    ])
    pictures = sorted(p.name for p in (xai_pytester.path / ".xai-results").rglob("*.png"))
    assert pictures == ["01-agree-lime-gradient_shap.png", "01-avoid-everything.png", "01-focus-corner.png"]
    # the helper's own frames are hidden: the user's line is what pytest shows
    assert "assertions.py" not in result.stdout.str()


def test_html_and_json_reports(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=HELPERS)
    xai_pytester.runpytest("--xai-report=out.html").assert_outcomes(failed=3, passed=1)
    page = (xai_pytester.path / "out.html").read_text()
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
    # failures first
    assert page.index("test_h.py::test_agree") < page.index("test_h.py::test_passes")
    xai_pytester.runpytest("--xai-report=out.json").assert_outcomes(failed=3, passed=1)
    data = json.loads((xai_pytester.path / "out.json").read_text())
    # self-contained: every overlay of the (deterministic) run is inline in the page
    overlays = {e["overlay"] for t in data["tests"] for e in t["explanations"]}
    assert len(overlays) == 2  # lime and gradient_shap of the one image
    assert all(f"data:image/png;base64,{b64}" in page for b64 in overlays)
    by_test = {t["nodeid"].split("::")[1]: t for t in data["tests"]}
    assert by_test["test_focus"]["outcome"] == "failed" and by_test["test_passes"]["outcome"] == "passed"
    (check,) = by_test["test_focus"]["checks"]
    assert check["metric"] == "relevance_mass" and check["bound"] == 0.5 and check["passed"] is False
    assert check["region"] == "corner" and check["method"] == "lime"
    # the image and its method agreement are recorded: the values metrics gives for the same
    # two explanations, recomputed here
    (image,) = by_test["test_agree"]["images"].values()
    assert list(image["agreement"]) == ["gradient_shap vs lime"]
    from example_project import models
    from example_project.data import make_shape
    from pytest_xai import explain, metrics

    circle = make_shape(np.random.default_rng(1), 0, tag=None).image
    clf = models.clean(device="cpu")
    lime, gshap = (explain(clf, circle, samples=200, method=m) for m in ("lime", "gradient_shap"))
    recorded = image["agreement"]["gradient_shap vs lime"]
    assert recorded["spearman"] == pytest.approx(metrics.spearman(gshap, lime), abs=1e-4)
    assert recorded["top_k_iou"] == pytest.approx(metrics.top_k_iou(gshap, lime, 0.2), abs=1e-4)
    (exp,) = (e for e in by_test["test_agree"]["explanations"] if e["method"] == "lime")
    assert (exp["target"], exp["samples"]) == ("circle", 200)
    assert exp["probability"] == pytest.approx(lime.probability, abs=1e-6)


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


def test_explain_fixture_takes_what_explain_takes(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_in="""
import numpy as np
import pytest
import torch
import pytest_xai

@pytest.mark.xai(samples=60)
def test_inputs(explain, xai_model, shape_image):
    def same(a, b):
        assert a.target == b.target and np.array_equal(a.heatmap, b.heatmap)

    as_uint8 = np.round(shape_image * 255).astype(np.uint8)
    reference = pytest_xai.explain(xai_model, as_uint8, samples=60)
    same(explain(as_uint8), reference)
    same(explain(torch.from_numpy(as_uint8).permute(2, 0, 1)), reference)  # uint8 (3, H, W)
    batch = np.stack([shape_image, shape_image[::-1].copy()])
    got = explain(batch)  # a 4-D batch gives a list, like explain
    assert isinstance(got, list) and len(got) == 2
    for a, b in zip(got, pytest_xai.explain(xai_model, batch, samples=60)):
        same(a, b)
    tensor_batch = torch.from_numpy(batch).permute(0, 3, 1, 2)
    for a, b in zip(explain(tensor_batch), got):
        same(a, b)
    per_image = explain([shape_image, batch[1]], target=[1, 2])
    assert [e.target for e in per_image] == [1, 2]
""")
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_explain_fixture_never_shares_between_closures(xai_pytester: pytest.Pytester) -> None:
    # Two models built by one factory share a __qualname__; only their closure differs.
    xai_pytester.makepyfile(test_cl="""
import torch
from pytest_xai import Classifier

def make(k):
    def model(x):
        out = torch.zeros(len(x), 3)
        out[:, k] = 1.0 + x.mean(dim=(1, 2, 3))
        return out
    return model

def test_closures(explain, shape_image):
    a = explain(shape_image, classifier=Classifier(make(0), device="cpu"), samples=30)
    b = explain(shape_image, classifier=Classifier(make(1), device="cpu"), samples=30)
    assert (a.target, b.target) == (0, 1)
""")
    xai_pytester.runpytest().assert_outcomes(passed=1)
    xai_pytester.runpytest().assert_outcomes(passed=1)  # and not through the disk cache either


def test_marker_option_and_ini_precedence(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makeini("[pytest]\nxai_method = kernel_shap\nxai_samples = 120\n")
    xai_pytester.makepyfile(test_m="""
import pytest

def test_ini(explain, shape_image):
    e = explain(shape_image)
    assert (e.method, e.samples, e.seed) == ("kernel_shap", 130, 5)

@pytest.mark.xai(method="lime", samples=90, seed=2, n_segments=20, output="probability", baseline="blur",
                 precision="bfloat16")
def test_marker(explain, shape_image):
    e = explain(shape_image)
    assert (e.method, e.samples, e.seed, e.output) == ("lime", 90, 2, "probability")
    assert (e.params["n_segments"], e.params["baseline"], e.params["precision"]) == (20, "blur", "bfloat16")
    assert explain(shape_image, seed=3).seed == 3

@pytest.mark.xai(colour="red")
def test_bad_marker(explain, shape_image):
    explain(shape_image)
""")
    result = xai_pytester.runpytest("--xai-seed", "5", "--xai-samples", "130")
    result.assert_outcomes(passed=2, errors=1)
    assert "@pytest.mark.xai got ['colour']; it takes keyword arguments" in result.stdout.str()


def test_xai_image_sidecar_regions(xai_pytester: pytest.Pytester) -> None:
    from PIL import Image

    from example_project.data import make_shape

    sample = make_shape(np.random.default_rng(1), 1, tag=1)
    folder = xai_pytester.path / "imgs"
    folder.mkdir()
    Image.fromarray((sample.image * 255).astype(np.uint8)).save(folder / "sq.png")
    Image.fromarray(sample.mask.astype(np.uint8) * 255).save(folder / "sq.object.png")
    (folder / "sq.regions.json").write_text(json.dumps(
        {"object": {"mask": "sq.object.png"}, "tag": {"box": [2, 2, 12, 12]},
         "tri": {"polygon": [[0, 0], [10, 0], [0, 10]]}}))
    (folder / "bad.png").write_bytes((folder / "sq.png").read_bytes())
    (folder / "bad.regions.json").write_text(json.dumps({"tag": {"box": [0, 0, 99, 10]}}))
    xai_pytester.makeini("[pytest]\nxai_images_dir = imgs\n")
    xai_pytester.makepyfile(test_i="""
import numpy as np
import pytest
from pytest_xai import assert_attribution_focus

@pytest.mark.xai(samples=200)
def test_regions(explain, xai_image):
    image = xai_image("sq.png")
    assert sorted(image.regions) == ["object", "tag", "tri"]
    assert image.regions["tag"].to_mask(64, 64).sum() == 100
    assert image.shape == (64, 64, 3)
    assert_attribution_focus(explain(image), image.regions["object"], min_mass=0.2)

def test_bad_sidecar(xai_image):
    xai_image("bad.png")

def test_missing(xai_image):
    xai_image("nope.png")
""")
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*bad.regions.json: region 'tag'*(x0, y0, x1, y1)=(0, 0, 99, 10) lies outside the 64×64 image*",
        "*xai_image('nope.png'): no file *nope.png; put the image there or set ini xai_images_dir*",
    ])


def test_junit_xml_gets_metrics(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_h=HELPERS)
    xai_pytester.runpytest("--junitxml", "junit.xml")
    xml = (xai_pytester.path / "junit.xml").read_text()
    assert 'name="xai_focus_relevance_mass[' in xml
    assert 'name="xai_agree_spearman[' in xml


def test_help_group_and_nothing_heavy_without_explanations(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["xai: explanation regression testing (pytest_xai):", "*--xai-update*"])
    pytester.makepyfile(test_plain="""
import sys

def test_plain():
    assert [m for m in ("numpy", "PIL", "torch", "matplotlib") if m in sys.modules] == []
""")
    pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly").assert_outcomes(passed=1)


def test_bad_configuration_is_a_usage_error(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_x="def test_x(xai_model):\n    pass\n")
    xai_pytester.makeini("[pytest]\nxai_samples = many\n")
    result = xai_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*xai_samples='many' is not an int*"])
    xai_pytester.makeini("[pytest]\nxai_min_spearman = 2\n")
    result = xai_pytester.runpytest()
    result.stderr.fnmatch_lines(["*xai_min_spearman='2' is out of range*"])


@pytest.mark.parametrize("ini, option, message", [
    ("xai_golden_mode = loose", None, "*xai_golden_mode='loose' is not allowed; use one of release, strict*"),
    ("xai_max_shift = 1.5", None, "*xai_max_shift='1.5' is out of range; set it to a value in [[]0, 1]*"),
    ("xai_max_shift = nan", None, "*xai_max_shift='nan' is out of range*"),
    ("xai_precision = float8", None, "*xai_precision='float8' is not allowed; use one of float32, bfloat16, float16*"),
    ("xai_precision = float16", "--xai-device=cpu", "*xai_precision=float16 needs a CUDA device, and the device is 'cpu'*"),
    ("xai_method = occlusion", None, "*xai_method='occlusion' is not allowed; use one of lime, kernel_shap, gradient_shap*"),
    ("xai_cache_max_mb = -1", None, "*xai_cache_max_mb='-1' is out of range*"),
    ("", "--xai-device=cudafoo", "*--xai-device/xai_device: 'cudafoo' is not a device; use 'auto', 'cpu', 'cuda', "
     "'cuda:N' or 'mps'*"),
    ("", "--xai-cache=sometimes", "*argument --xai-cache: invalid choice: 'sometimes'*"),
])
def test_each_setting_is_validated_at_start_up(
    xai_pytester: pytest.Pytester, ini: str, option: str | None, message: str
) -> None:
    xai_pytester.makeini(f"[pytest]\n{ini}\n")
    xai_pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = xai_pytester.runpytest(*([option] if option else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_settings_reach_the_fixtures(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makeini("[pytest]\nxai_precision = bfloat16\nxai_golden_mode = strict\nxai_max_shift = 0.3\n"
                         "xai_cache_max_mb = 5\n")
    xai_pytester.makepyfile(test_s="""
import pytest

@pytest.mark.xai(samples=60)
def test_s(explain, shape_image, pytestconfig):
    from pytest_xai.plugin import xai_key
    s = pytestconfig.stash[xai_key].settings
    assert (s.precision, s.golden_mode, s.max_shift, s.cache_max_mb, s.device) == ("bfloat16", "strict", 0.3, 5, "mps")
    assert explain(shape_image).params["precision"] == "bfloat16"
    assert explain(shape_image, precision="float32").params["precision"] == "float32"
""")
    xai_pytester.runpytest("--xai-device=mps", "--xai-cache=off").assert_outcomes(passed=1)


def test_model_spec_that_cannot_load(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(xai_model):\n    pass\n")
    result = pytester.runpytest("--xai-model", "no_such_pkg.models:make")
    result.stdout.fnmatch_lines(["*module 'no_such_pkg.models' cannot be imported*"])
    result = pytester.runpytest("--xai-model", "torchvision:resnet18=missing.pth")
    result.stdout.fnmatch_lines(["*weights file *missing.pth does not exist*"])
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*no model under test: pass --xai-model SPEC*"])


XDIST = """
import pytest

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.xai(samples=100)
def test_many(explain, xai_snapshot, shape_image, seed):
    xai_snapshot.assert_match(explain(shape_image, seed=seed))
    xai_snapshot.assert_match(explain(shape_image, seed=seed, method="kernel_shap"), name="ks")
"""


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


def test_an_override_that_ignores_xai_model_fails_instead_of_testing_another_model(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest("""
import numpy as np
import pytest
import torch

@pytest.fixture(scope="session")
def xai_model():
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 3))

@pytest.fixture
def image():
    return np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
""")
    pytester.makepyfile(test_x="def test_x(explain, image):\n    explain(image, samples=20)\n"
                                "def test_direct(xai_model):\n    assert xai_model is not None\n")
    pytester.runpytest().assert_outcomes(passed=2)  # no option: the override is the model
    result = pytester.runpytest("--xai-model=example_project.models:shortcut")
    outcomes = result.parseoutcomes()  # explaining or not, no test runs against another model
    assert "passed" not in outcomes and outcomes.get("errors", 0) + outcomes.get("failed", 0) == 2
    result.stdout.fnmatch_lines(["*--xai-model=example_project.models:shortcut was given, but the xai_model "
                                 "fixture in use (*conftest.py:*) overrides the plugin's and never reads it*"])
    conftest = pytester.path / "conftest.py"
    for reader in ('pytestconfig.getini("xai_model")', 'pytestconfig.getoption("xai_model")'):
        conftest.write_text(conftest.read_text().replace("def xai_model():", "def xai_model(pytestconfig):")
                            .replace("    return torch.nn.Sequential", f"    _ = {reader}\n    return torch.nn.Sequential"))
        outcomes = pytester.runpytest("--xai-model=example_project.models:shortcut").parseoutcomes()
        assert ("passed" in outcomes) == ("getoption" in reader)  # only reading the option counts
        conftest.write_text(conftest.read_text().replace(f"    _ = {reader}\n", ""))


def test_markers_merge_from_module_class_and_test(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_m="""
import pytest

pytestmark = pytest.mark.xai(seed=5)

@pytest.mark.xai(method="kernel_shap")
class TestCls:
    @pytest.mark.xai(samples=60)
    def test_in_class(self, explain, shape_image):
        exp = explain(shape_image)
        assert (exp.method, exp.samples, exp.seed) == ("kernel_shap", 60, 5)

    @pytest.mark.xai(samples=40, method="lime")
    def test_closest_wins(self, explain, shape_image):
        exp = explain(shape_image)
        assert (exp.method, exp.samples, exp.seed) == ("lime", 40, 5)
""")
    xai_pytester.runpytest().assert_outcomes(passed=2)
