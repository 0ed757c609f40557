"""Options, ini settings and markers: precedence, merging, validation at start-up."""

from __future__ import annotations

import pytest


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
    assert (s.precision, s.golden_mode, s.max_shift, s.cache_max_mb, s.device) == ("bfloat16", "strict", 0.3, 5, "cpu")
    assert explain(shape_image).params["precision"] == "bfloat16"
    assert explain(shape_image, precision="float32").params["precision"] == "float32"
""")
    xai_pytester.runpytest("--xai-device=cpu", "--xai-cache=off").assert_outcomes(passed=1)


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


def test_a_parameter_set_marker_beats_the_function_marker(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_p="""
import pytest

pytestmark = pytest.mark.xai(samples=50, seed=9)

@pytest.mark.xai(samples=60)
@pytest.mark.parametrize("n, seed", [pytest.param(70, 9, marks=pytest.mark.xai(samples=70)),
                                     pytest.param(60, 4, marks=pytest.mark.xai(seed=4)),
                                     (60, 9)])
def test_p(explain, n, seed):
    assert (explain.defaults()["samples"], explain.defaults()["seed"]) == (n, seed)

@pytest.mark.xai(samples=60)
class TestC:
    @pytest.mark.parametrize("n", [pytest.param(80, marks=[pytest.mark.xai(samples=80)]), 60])
    def test_m(self, explain, n):
        assert explain.defaults()["samples"] == n

@pytest.mark.xai(samples=90)
@pytest.mark.xai(samples=91)
def test_stacked_nearest_the_def_wins(explain):
    assert explain.defaults()["samples"] == 91

@pytest.mark.parametrize("n", [pytest.param(70, marks=pytest.mark.xai(samples=70))])
def test_explained_with_it(explain, shape_image, n):
    assert explain(shape_image).samples == 70
""")
    xai_pytester.runpytest().assert_outcomes(passed=7)
