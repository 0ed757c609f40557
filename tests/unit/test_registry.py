"""The method registry: a new method is one function and one registry line; defaults come from it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from tiny_samples import PATCH, occlusion

from pytest_xai import (
    Classifier,
    explain,
)
from pytest_xai.errors import (
    XaiValueError,
)
from pytest_xai.registry import METHODS, MethodSpec, register_method


@pytest.mark.parametrize("method", ["lime", "kernel_shap", "gradient_shap"])
def test_baseline_none_is_accepted_by_every_method(method: str, img: np.ndarray, clf: Classifier) -> None:
    exp = explain(clf, img, method=method, baseline=None, samples=40, n_segments=10)
    default = METHODS[method].default_baseline
    # params hold JSON-plain values: an RGB fill is recorded as a list
    assert exp.params.get("baseline") == (list(default) if isinstance(default, tuple) else default)


@pytest.fixture
def registered_occlusion() -> Iterator[MethodSpec]:
    spec = register_method("occlusion", occlusion, default_samples=2)
    yield spec
    METHODS.pop("occlusion", None)


def test_a_fourth_method_is_one_function_and_one_registry_line(
    registered_occlusion: MethodSpec, shapes_clf: Classifier, shapes_image: np.ndarray
) -> None:
    exp = explain(shapes_clf, shapes_image, method="occlusion")
    assert exp.method == "occlusion" and exp.params["patch"] == PATCH
    assert exp.meta["evaluations"] == 1 + (64 // PATCH) ** 2
    # known answer: the drop of the target logit with the top-left patch greyed, computed here
    grey = shapes_image.copy()
    grey[:PATCH, :PATCH] = 0.5
    with torch.inference_mode():
        logits = shapes_clf.logits(shapes_clf.to_batch([shapes_image, grey]))
    expected = float(logits[0, exp.target] - logits[1, exp.target])
    assert exp.heatmap[0, 0] == pytest.approx(expected, abs=1e-4)
    assert exp.heatmap[PATCH, PATCH] != exp.heatmap[0, 0]


def test_register_method_refuses_what_cannot_work() -> None:
    from pytest_xai.errors import XaiTypeError

    with pytest.raises(XaiValueError, match="name='my method'"):
        register_method("my method", occlusion, default_samples=2)
    with pytest.raises(XaiTypeError, match="runner='nowhere'"):
        register_method("occ", "nowhere", default_samples=2)
    with pytest.raises(XaiValueError, match="default_samples=1 is out of range"):
        register_method("occ", occlusion, default_samples=1)
    with pytest.raises(XaiValueError, match="'seed'"):
        register_method("occ", occlusion, default_samples=2, options=("seed",))
    with pytest.raises(XaiValueError, match=r"default_baseline=\(2, 0, 0\) is not a baseline"):
        register_method("occ", occlusion, default_samples=2, default_baseline=(2, 0, 0))
    assert "occ" not in METHODS


def test_baseline_none_is_the_registry_default(
    monkeypatch: pytest.MonkeyPatch, shapes_clf: Classifier, shapes_image: np.ndarray
) -> None:
    registered = METHODS["lime"].default_baseline
    default = explain(shapes_clf, shapes_image, samples=100)
    assert registered is not None
    # params hold JSON-plain values: an RGB fill is recorded as a list
    assert default.params["baseline"] == (list(registered) if isinstance(registered, tuple) else registered)
    given = explain(shapes_clf, shapes_image, samples=100, baseline=registered)
    assert np.array_equal(default.heatmap, given.heatmap)
    monkeypatch.setitem(METHODS, "lime", MethodSpec(METHODS["lime"].runner, 1000, "blur", METHODS["lime"].options))
    blurred = explain(shapes_clf, shapes_image, samples=100)
    assert blurred.params["baseline"] == "blur"
    assert np.array_equal(blurred.heatmap, explain(shapes_clf, shapes_image, samples=100, baseline="blur").heatmap)
    gradient = explain(shapes_clf, shapes_image, method="gradient_shap", samples=20)
    assert "baseline" not in gradient.params


def test_default_samples_come_from_the_registry(
    monkeypatch: pytest.MonkeyPatch, shapes_clf: Classifier, shapes_image: np.ndarray
) -> None:
    spec = METHODS["gradient_shap"]
    monkeypatch.setitem(METHODS, "gradient_shap", MethodSpec(spec.runner, 24, None, spec.options))
    exp = explain(shapes_clf, shapes_image, method="gradient_shap")
    assert exp.samples == 24 == exp.meta["evaluations"]


def test_grey_names_the_same_fill_for_baselines_and_interventions(img: np.ndarray, clf: Classifier) -> None:
    """One vocabulary: baseline="grey" is the interventions' grey fill, recorded as its triple."""
    from pytest_xai.checks.interventions.fills import hide
    from pytest_xai.engine.explain import check_baseline

    assert check_baseline("grey") == (0.5, 0.5, 0.5)
    mask = np.zeros(img.shape[:2], bool)
    mask[:4, :4] = True
    assert np.all(hide(img, mask, "grey")[:4, :4] == 0.5)
    named = explain(clf, img, method="lime", samples=30, n_segments=8, baseline="grey")
    triple = explain(clf, img, method="lime", samples=30, n_segments=8, baseline=(0.5, 0.5, 0.5))
    assert named.params["baseline"] == triple.params["baseline"]
    np.testing.assert_array_equal(named.heatmap, triple.heatmap)


def test_a_method_reads_only_the_options_it_declared(
    registered_occlusion: MethodSpec, shapes_clf: Classifier, shapes_image: np.ndarray
) -> None:
    from pytest_xai.errors import XaiTypeError

    with pytest.raises(XaiTypeError, match=r"patch=8, which method='occlusion' does not read"):
        explain(shapes_clf, shapes_image, method="occlusion", patch=8)
    for bad in (-1, 10**400, float("nan"), True):  # 10**400 has no float
        with pytest.raises(XaiValueError, match=r"golden_bounds=\{'max_shift': .*\} is not a dict"):
            register_method("occ2", occlusion, default_samples=2, golden_bounds={"max_shift": bad})


@pytest.mark.parametrize(("declared", "message"), [
    ({"max_shfit": 0.1}, r"register_method\('occ3', golden_bounds=...\) names 'max_shfit', which bounds no golden mode"),
    ({"max_shift": 2}, r"max_shift=2.0 must be a number in \[0, 1\]: fix register_method\('occ3', golden_bounds=...\)"),
])
def test_a_declared_golden_bound_must_bound_a_mode_within_its_range(declared: dict[str, float], message: str) -> None:
    from pytest_xai.goldens.modes import Bounds, SessionBounds

    register_method("occ3", occlusion, default_samples=2, golden_bounds=declared)
    try:
        with pytest.raises(XaiValueError, match=message):
            Bounds.resolve(SessionBounds(), method="occ3")
    finally:
        METHODS.pop("occ3", None)
