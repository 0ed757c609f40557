"""``pytest --xai-mutate`` end to end on a tiny suite: avoid tests on a tag region catch the
planted mutant on the tag, a mutant on an untested corner survives and says why, and the
harmless mutants raise no false alarm."""

from __future__ import annotations

import json

import pytest

CONFTEST = '''
import numpy as np
import pytest
import torch
from torch import nn

from pytest_xai import Classifier, Region
from pytest_xai.plugin.testimage import TestImage


class ToyCNN(nn.Module):
    """conv -> batch-norm -> relu -> mean -> linear; output j reads colour j: the dominant colour wins."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU())
        self.head = nn.Linear(3, 3)
        with torch.no_grad():
            self.features[0].weight.zero_()
            self.features[0].bias.zero_()
            for j in range(3):
                self.features[0].weight[j, j] = 1.0 / 9
            self.features[1].running_var.fill_(0.8)
            self.head.weight.copy_(torch.eye(3) * 4)
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


@pytest.fixture(scope="session")
def xai_model():
    with open("setups.txt", "a") as log:  # counted by the tests: set up once per phase
        log.write("setup\\n")
    return Classifier(ToyCNN(), class_names=["red", "green", "blue"], device="cpu")


def make(index):
    rng = np.random.default_rng(index)
    array = 0.5 * rng.random((32, 32, 3), dtype=np.float32)
    array[..., index % 3] += 0.4
    array[2:8, 2:8] = rng.random(3)  # a tag of random colour in the top-left corner
    return TestImage(array, f"img{index}", None, {"tag": Region.box(2, 2, 8, 8, name="tag")})


@pytest.fixture
def suite_image():
    return make
'''

TESTS = '''
import pytest
from pytest_xai import assert_attribution_avoids


@pytest.mark.xai(method="lime", samples=300, n_segments=16, seed=0)
@pytest.mark.parametrize("index", range(6))
def test_avoids_the_tag(explain, suite_image, index):
    image = suite_image(index)
    assert_attribution_avoids(explain(image), image.regions["tag"], max_mass=0.3)
'''


@pytest.fixture
def mutate_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_tag=TESTS)
    return pytester


@pytest.mark.slow
def test_tag_mutant_caught_corner_survives_harmless_pass(mutate_suite: pytest.Pytester) -> None:
    report = mutate_suite.path / "out.json"
    result = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=2",
                                    "--xai-seed=0", f"--xai-report={report}")
    result.assert_outcomes(passed=6)  # the mutant runs add no outcome
    # the session model is set up once for the normal run and once for all 5 mutants' 30 runs
    assert (mutate_suite.path / "setups.txt").read_text().count("setup") == 2
    result.stdout.fnmatch_lines([
        "*xai mutation*",
        "the suite catches 1 of 2 planted shortcuts and raises 0 false alarms on 3 harmless releases",
        "planted caught by test file:",
        "  test_tag.py: 1/2",
        "planted caught by region:",
        "  corner-*: 0/1",
        "  tag: 1/1",
        "planted caught by check kind:",
        "  avoid: 1/2",
        "planted caught by method:",
        "  lime: 1/2",
        "SURVIVED xai_model region 'corner-*' (default patch): no avoid test for region 'corner-*'; "
        "no golden for its images",
        "caught xai_model tag: caught by 6/6 tests (avoid)",
        "passed xai_model float16: no test failed (6 run)",
        "passed xai_model bn-fold: no test failed (6 run)",
        "passed xai_model perturb: no test failed (6 run)",
    ])
    data = json.loads(report.read_text())["mutation"]
    assert data["score"] == {"planted_caught": 1, "planted": 2, "false_alarms": 0, "harmless": 3}
    by_name = {m["name"]: m for m in data["mutants"]}
    assert by_name["tag"]["failed_kinds"] == ["avoid"] and len(by_name["tag"]["failed"]) == 6
    assert by_name["tag"]["failed_methods"] == ["lime"]
    survivor = next(m for m in data["mutants"] if m["name"].startswith("corner-"))
    assert survivor["failed"] == [] and survivor["reason"].startswith("no avoid test for region")
    from pytest_xai.records.mutation import MutationReport

    assert MutationReport.from_json(data).to_json() == data  # the typed record round-trips


@pytest.mark.slow
def test_mutation_runs_write_no_golden_and_leave_the_outcome(mutate_suite: pytest.Pytester) -> None:
    mutate_suite.makepyfile(test_golden='''
import pytest

@pytest.mark.xai(method="lime", samples=300, n_segments=16, seed=0)
def test_golden(explain, suite_image, xai_snapshot):
    xai_snapshot.assert_match(explain(suite_image(0)))
''')
    first = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-update")
    first.assert_outcomes(passed=7)
    goldens = sorted(p.name for p in mutate_suite.path.rglob("*.npz"))
    stamps = {p: p.stat().st_mtime_ns for p in mutate_suite.path.rglob("*.npz")}
    # the mutants never write (they run in CI mode); --xai-update beside --xai-mutate is refused
    result = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider",
                                    "--xai-mutate=1", "--xai-seed=0")
    result.assert_outcomes(passed=7)
    assert sorted(p.name for p in mutate_suite.path.rglob("*.npz")) == goldens
    assert {p: p.stat().st_mtime_ns for p in mutate_suite.path.rglob("*.npz")} == stamps
    result.stdout.fnmatch_lines(["the suite catches 1 of 1 planted shortcuts*", "caught xai_model tag:*golden*"])


def test_bad_budget_is_refused(mutate_suite: pytest.Pytester) -> None:
    result = mutate_suite.runpytest("--xai-mutate=zero")
    result.stderr.fnmatch_lines(["*--xai-mutate='zero' is not a number*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


TWIN = '''
import torch
from pytest_xai import Classifier
from conftest import ToyCNN


def retrained():
    model = ToyCNN()
    with torch.no_grad():  # another training run: the same reading, slightly other weights
        model.head.weight.mul_(1.1)
        model.features[0].weight.mul_(0.95)
    return Classifier(model, class_names=["red", "green", "blue"], device="cpu")


def confused():
    model = ToyCNN()
    with torch.no_grad():  # reads green as red: not a harmless release
        model.head.weight.copy_(torch.tensor([[4.0, 4.5, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 4.0]]))
    return Classifier(model, class_names=["red", "green", "blue"], device="cpu")
'''


@pytest.mark.slow
def test_twin_checkpoint_is_a_harmless_mutant_and_html_gets_the_table(mutate_suite: pytest.Pytester) -> None:
    mutate_suite.makepyfile(twin_models=TWIN)
    mutate_suite.syspathinsert()
    report = mutate_suite.path / "out.html"
    result = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=1",
                                    "--xai-mutate-twin=twin_models:retrained", f"--xai-report={report}")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*raises 0 false alarms on 4 harmless releases",
                                 "passed xai_model twin: no test failed (6 run)"])
    page = report.read_text()
    assert "<section class='xai-mutation' id='mutation'>" in page and "harmless releases</p>" in page
    assert page.index("xai-mutation") < page.rindex("</body>")

    result = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=1",
                                    "--xai-mutate-twin=twin_models:confused")
    result.stdout.fnmatch_lines(["not built xai_model twin: changes * suite prediction(s), so it is not "
                                 "a harmless release here"])


def test_xdist_is_refused(mutate_suite: pytest.Pytester) -> None:
    result = mutate_suite.runpytest("--xai-mutate", "-n", "2")
    result.stderr.fnmatch_lines(["*--xai-mutate re-runs tests in this process; drop -n*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.slow
def test_mutant_runs_write_nothing_to_the_explanation_cache(mutate_suite: pytest.Pytester) -> None:
    mutate_suite.makepyfile(test_tag=TESTS.replace("range(6)", "range(2)"))
    first = mutate_suite.runpytest("-p", "no:randomly")
    first.assert_outcomes(passed=2)
    cache = mutate_suite.path / ".pytest_cache" / "d" / "xai-explanations"
    entries = sorted(p.name for p in cache.rglob("*.npz"))
    assert len(entries) == 2  # one per image: the model's explanations
    result = mutate_suite.runpytest("-p", "no:randomly", "--xai-mutate=1", "--xai-seed=0")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*2 from disk cache*"])  # the normal run read the model's entries
    result.stdout.fnmatch_lines(["the suite catches 1 of 1 planted shortcuts*"])
    assert sorted(p.name for p in cache.rglob("*.npz")) == entries  # no mutant's explanation kept


@pytest.mark.slow
def test_intervention_tests_run_against_the_mutants(mutate_suite: pytest.Pytester) -> None:
    mutate_suite.makepyfile(test_tag=TESTS.replace("range(6)", "range(2)") + '''

from pytest_xai import assert_region_irrelevant


def test_hiding_the_tag(explain, suite_image):
    image = suite_image(0)
    assert_region_irrelevant(explain, image, image.regions["tag"], max_change=0.9)


def test_hiding_the_tag_given_the_model(xai_model, suite_image):
    image = suite_image(0)
    assert_region_irrelevant(xai_model, image, image.regions["tag"], max_change=0.9)
''')
    report = mutate_suite.path / "out.json"
    result = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=1",
                                    "--xai-seed=0", f"--xai-report={report}")
    result.assert_outcomes(passed=4)
    mutation = json.loads(report.read_text())["mutation"]
    tag = next(m for m in mutation["mutants"] if m["name"] == "tag")
    assert "test_tag.py::test_hiding_the_tag" in tag["tests"]  # it explains nothing, yet uses the model
    assert len(tag["tests"]) == 3
    # the model object itself cannot be swapped for a mutant: the summary says which test no mutant reached
    assert mutation["not_rerun"] == ["test_tag.py::test_hiding_the_tag_given_the_model"]
    result.stdout.fnmatch_lines(["not re-run: 1 passing test(s) take the model fixture itself, not the explain "
                                 "fixture, so no mutant reaches them (*): test_tag.py::test_hiding_the_tag_given_the_model"])


WATERMARK_TESTS = '''
import numpy as np
import pytest
from pytest_xai import Region, assert_attribution_avoids
from pytest_xai.plugin.testimage import TestImage


def stamped(index):
    rng = np.random.default_rng(index)
    array = 0.5 * rng.random((32, 32, 3), dtype=np.float32)
    array[..., index % 3] += 0.4
    rows, cols = np.mgrid[12:18, 2:14]
    array[rows, cols] = ((rows + cols) % 2)[..., None]  # the same stamp on every image
    return TestImage(array, f"img{index}", None, {"watermark": Region.box(2, 12, 14, 18, name="watermark")})


@pytest.mark.xai(method="lime", samples=300, n_segments=16, seed=0)
@pytest.mark.parametrize("index", range(3))
def test_avoids_the_watermark(explain, index):
    image = stamped(index)
    assert_attribution_avoids(explain(image), image.regions["watermark"], max_mass=0.3, confirm=True)
'''


@pytest.mark.slow
def test_a_watermark_identical_on_every_image_is_planted_and_caught(mutate_suite: pytest.Pytester) -> None:
    """The stamp cannot tell the classes apart, so it is planted as a cue whose presence boosts the
    predicted class; the avoid tests with confirm=True catch it."""
    mutate_suite.makepyfile(test_tag=WATERMARK_TESTS)
    report = mutate_suite.path / "out.json"
    result = mutate_suite.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=1",
                                    "--xai-seed=0", f"--xai-report={report}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "the suite catches 1 of 1 planted shortcuts and raises 0 false alarms on * harmless releases",
        "caught xai_model watermark [the region is the same on images of different classes: its presence boosts "
        "the predicted class]: caught by 3/3 tests (avoid, intervention assert_region_irrelevant (confirm=))",
    ])
    mutants = json.loads(report.read_text())["mutation"]["mutants"]
    watermark = next(m for m in mutants if m["name"] == "watermark")
    assert watermark["built"] and watermark["source"] == "avoid test" and len(watermark["failed"]) == 3


FOCUS_IN_CODE = '''
import pytest
from pytest_xai import Region, assert_attribution_focus


@pytest.mark.xai(method="lime", samples=100, n_segments=16, seed=0)
def test_focus(explain, suite_image):
    assert_attribution_focus(explain(suite_image(0)), Region.box(16, 16, 32, 32, name="object"), min_mass=0.0)
'''


def test_planted_mutants_never_land_on_a_focus_region_given_in_code(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_focus=FOCUS_IN_CODE)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=8", "--xai-report=out.json")
    result.assert_outcomes(passed=1)
    mutants = json.loads((pytester.path / "out.json").read_text())["mutation"]["mutants"]
    planted = {m["name"] for m in mutants if m["kind"] == "planted"}
    # the bottom-right quadrant touches the bottom-right corner and the bottom and right strips
    assert planted == {"corner-top-left", "corner-top-right", "corner-bottom-left", "strip-top", "strip-left"}


BN_ACT_CONFTEST = '''
import numpy as np
import pytest
import torch
from torch import nn

from pytest_xai import Classifier, Region
from pytest_xai.plugin.testimage import TestImage


class BatchNormReLU(nn.BatchNorm2d):
    """A batch norm that applies its activation inside, as timm's BatchNormAct2d does."""

    def __init__(self, channels):
        super().__init__(channels)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(super().forward(x))


class Net(nn.Module):
    """Channel j reads colour j centred at 0.5 and keeps what lies above: red stripes (0 and 1)
    beat a flat green of 0.6, but only through the ReLU (their plain mean is 0.5)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.bn = BatchNormReLU(2)
        self.head = nn.Linear(2, 2)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            self.conv.weight[0, 0] = 1.0
            self.conv.weight[1, 1] = 1.0
            self.bn.running_mean.fill_(0.5)
            self.head.weight.copy_(torch.eye(2) * 4)
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(self.bn(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture(scope="session")
def xai_model():
    return Classifier(Net().eval(), class_names=["stripes", "flat"], device="cpu")


def make(index):
    rng = np.random.default_rng(index)
    array = 0.5 + rng.uniform(-0.05, 0.05, (16, 16, 3)).astype(np.float32)
    array[..., 1] += 0.1
    if index % 2 == 0:
        array[::2, :, 0] += 0.5
        array[1::2, :, 0] -= 0.5
    return TestImage(np.clip(array, 0, 1), f"img{index}", None, {"corner": Region.box(0, 0, 4, 4, name="corner")})
'''

BN_ACT_TESTS = '''
import pytest
from conftest import make
from pytest_xai import assert_attribution_avoids


@pytest.mark.xai(method="lime", samples=100, n_segments=16, seed=0)
@pytest.mark.parametrize("index", range(4))
def test_reads_the_stripes(explain, xai_model, index):
    image = make(index)
    assert xai_model.predict(image).name == ("stripes" if index % 2 == 0 else "flat")
    assert_attribution_avoids(explain(image), image.regions["corner"], max_mass=1.0)
'''


@pytest.mark.slow
def test_batch_norm_with_its_own_activation_folds_into_a_harmless_mutant(pytester: pytest.Pytester) -> None:
    """A batch norm that applies an activation (timm's BatchNormAct2d, in EfficientNets) keeps it
    when folded: the harmless mutant predicts as the model does and is run, not refused."""
    pytester.makeconftest(BN_ACT_CONFTEST)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_stripes=BN_ACT_TESTS)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--xai-mutate=1",
                                "--xai-report=out.json")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["passed xai_model bn-fold: no test failed (4 run)"])
    mutants = json.loads((pytester.path / "out.json").read_text())["mutation"]["mutants"]
    fold = next(m for m in mutants if m["name"] == "bn-fold")
    assert fold["built"] and fold["failed"] == [] and len(fold["tests"]) == 4
