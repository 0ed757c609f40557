"""The explain fixture takes what explain takes, never shares results between closures, and uses xai_model."""

from __future__ import annotations

import inspect

import pytest
from tiny_samples import PATCH, occlusion

from pytest_xai.registry import METHODS


@pytest.mark.slow
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


def test_model_spec_that_cannot_load(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(xai_model):\n    pass\n")
    result = pytester.runpytest("--xai-model", "no_such_pkg.models:make")
    result.stdout.fnmatch_lines(["*module 'no_such_pkg.models' cannot be imported*"])
    result = pytester.runpytest("--xai-model", "torchvision:resnet18=missing.pth")  # seen at start-up
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*weights file *missing.pth does not exist*"])
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*no model under test: pass --xai-model SPEC*"])


@pytest.mark.slow
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
                                 "fixture in use (*conftest.py:*) overrides the plugin's and did not read the option*"])
    conftest = pytester.path / "conftest.py"
    for reader in ('pytestconfig.getini("xai_model")', 'pytestconfig.getoption("xai_model")'):
        conftest.write_text(conftest.read_text().replace("def xai_model():", "def xai_model(pytestconfig):")
                            .replace("    return torch.nn.Sequential", f"    _ = {reader}\n    return torch.nn.Sequential"))
        outcomes = pytester.runpytest("--xai-model=example_project.models:shortcut").parseoutcomes()
        assert ("passed" in outcomes) == ("getoption" in reader)  # only reading the option counts
        conftest.write_text(conftest.read_text().replace(f"    _ = {reader}\n", ""))


def test_a_registered_method_runs_through_the_explain_fixture(xai_pytester: pytest.Pytester) -> None:
    source = inspect.getsource(occlusion)
    xai_pytester.makepyfile(
        test_occ=f"""
import numpy as np
from pytest_xai.engine.runners import Attribution, Group, Request
from pytest_xai.registry import register_method

PATCH = {PATCH}
{source}
register_method("occlusion", occlusion, default_samples=2)


def test_it(explain, shape_image):
    exp = explain(shape_image, method="occlusion")
    assert exp.method == "occlusion" and exp.params["patch"] == PATCH
    assert np.abs(exp.heatmap).sum() > 0
"""
    )
    try:
        xai_pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    finally:
        METHODS.pop("occlusion", None)


READERS = {
    "getoption": 'pytestconfig.getoption("xai_model")',
    "getoption flag": 'pytestconfig.getoption("--xai-model")',
    "option attribute": "pytestconfig.option.xai_model",
    "getattr": 'getattr(pytestconfig.option, "xai_model")',
    "vars": 'vars(pytestconfig.option)["xai_model"]',
    "a helper": "helper(pytestconfig)",
}


@pytest.mark.parametrize("reader", [*READERS, "a dependency"])
def test_an_override_that_reads_the_option_in_any_way_is_accepted(pytester: pytest.Pytester, reader: str) -> None:
    if reader == "a dependency":
        body, args = "    return spec", "spec"
    else:
        body, args = f"    _ = {READERS[reader]}\n    return object()", "pytestconfig"
    pytester.makeconftest(f"""
import pytest

def helper(config):
    return config.option.xai_model

@pytest.fixture(scope="session")
def spec(pytestconfig):
    return pytestconfig.getoption("xai_model")

@pytest.fixture(scope="session")
def xai_model({args}):
{body}
""")
    pytester.makepyfile(test_x="def test_x(xai_model):\n    pass\n")
    pytester.runpytest("--xai-model=some.pkg:make").assert_outcomes(passed=1)


def test_an_override_that_only_looks_as_if_it_read_the_option_fails_every_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import pytest

@pytest.fixture(scope="session")
def xai_model(pytestconfig):
    getoption, name = None, "xai_model"  # the words are there; the option is never read
    return object()
""")
    pytester.makepyfile(test_x="def test_x(xai_model):\n    pass\n\ndef test_y(xai_model):\n    pass\n")
    result = pytester.runpytest("--xai-model=some.pkg:make")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*--xai-model=some.pkg:make was given, but the xai_model fixture in use "
                                 "(*conftest.py:*) overrides the plugin's and did not read the option*"])
    pytester.runpytest().assert_outcomes(passed=2)  # without the option the override is the model
