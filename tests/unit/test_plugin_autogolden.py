"""Golden names of a golden=True test and the bare --xai-update flag, as pure functions."""

from __future__ import annotations

from types import SimpleNamespace

from pytest_xai.plugin.autogolden import golden_names
from pytest_xai.plugin.options import bare_update_flag


def test_one_explanation_takes_the_tests_own_golden() -> None:
    exp = SimpleNamespace(method="lime")
    assert golden_names([(None, exp)], taken=0) == [None]
    assert golden_names([(None, exp)], taken=1) == ["image0.lime"]  # assert_match took the test's own


def test_several_explanations_are_named_by_image_and_method() -> None:
    lime, shap = SimpleNamespace(method="lime"), SimpleNamespace(method="kernel_shap")
    cat = SimpleNamespace(name="cat.png")
    pairs = [(cat, lime), (cat, shap), (None, lime), (cat, lime)]
    assert golden_names(pairs, taken=0) == ["cat.lime", "cat.kernel_shap", "image2.lime", "cat.lime-2"]


def test_a_path_after_the_bare_flag_stays_a_path() -> None:
    cases = {
        ("--xai-update", "tests/"): ["--xai-update=all", "tests/"],
        ("--xai-update", "missing"): ["--xai-update", "missing"],
        ("--xai-update", "force", "tests"): ["--xai-update", "force", "tests"],
        ("--xai-update", "-q"): ["--xai-update", "-q"],
        ("tests", "--xai-update"): ["tests", "--xai-update"],
        ("--", "--xai-update", "x"): ["--", "--xai-update", "x"],
    }
    for given, expected in cases.items():
        args = list(given)
        assert bare_update_flag(args) == (args != list(given))
        assert args == expected, given
