"""Interventions in real pytest runs: the explain fixture's model, the JSON report and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

CONFTEST = """
import numpy as np
import pytest
import torch

from pytest_xai import Classifier, Region

SIZE = 16
COLOURS = np.eye(3, dtype=np.float32) * 0.8 + 0.1


class ReadsPatch(torch.nn.Module):
    def forward(self, x):
        mean = x[:, :, 0:4, 0:4].mean(dim=(2, 3))  # class = the top-left patch's colour
        return 20.0 * (mean - mean.mean(dim=1, keepdim=True))


def picture(patch, obj):
    image = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    image[0:4, 0:4] = COLOURS[patch]
    image[6:11, 6:11] = COLOURS[obj]
    return image


@pytest.fixture(scope="session")
def xai_model():
    return Classifier(ReadsPatch(), class_names=["red", "green", "blue"], device="cpu")


@pytest.fixture
def scene():
    grid = (np.arange(SIZE)[:, None] // 4) * 4 + np.arange(SIZE)[None, :] // 4
    return {
        "image": picture(0, 0),
        "donors": [picture(1, 1), picture(2, 2)],
        "patch": Region.box(0, 0, 4, 4, name="patch"),
        "corner": Region.box(12, 12, 16, 16, name="corner"),
        "grid": grid,
    }
"""

TESTS = """
from pytest_xai import assert_attribution_avoids, assert_prediction_ignores, assert_region_irrelevant


def test_patch_is_irrelevant(explain, scene):
    assert_region_irrelevant(explain, scene["image"], scene["patch"])


def test_corner_is_irrelevant(explain, scene):
    assert_region_irrelevant(explain, scene["image"], scene["corner"])


def test_prediction_ignores_the_patch(explain, scene):
    assert_prediction_ignores(explain, scene["image"], scene["patch"], scene["donors"])


def test_avoid_confirmed(explain, scene):
    exp = explain(scene["image"], method="kernel_shap", samples=60, segments=scene["grid"])
    assert_attribution_avoids(exp, scene["patch"], max_mass=0.1, confirm=True)
"""


@pytest.fixture
def run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_region_claims=TESTS)
    return pytester.runpytest("--xai-report=x.json", "--junitxml=j.xml", "-p", "no:randomly", "-p", "no:cacheprovider")


def _by_test(pytester: pytest.Pytester) -> dict[str, dict]:
    data = json.loads((pytester.path / "x.json").read_text())
    return {t["nodeid"].split("::")[-1]: t for t in data["tests"]}


def test_one_run_shows_interventions_in_messages_json_and_junit(
    run: pytest.RunResult, pytester: pytest.Pytester
) -> None:
    _outcomes_and_messages(run)
    _json_report_records_kind_intervention(pytester)
    _junit_properties_show_the_intervention(pytester)


def _outcomes_and_messages(run: pytest.RunResult) -> None:
    run.assert_outcomes(passed=1, failed=3)
    run.stdout.fnmatch_lines([
        "*hiding region 'patch' (grey) changes the output: the model uses it*",
        "*p('red') 1.000 -> 0.33* (logit margin 16.00 -> 0.00)*",
        "*change 0.667 > max_change 0.470; margin drop 16.00 / logit IQR 8.00 = 2.00 <= max_scaled_drop 2.25*",
        "*the prediction follows region 'patch' taken from other images: 2 of 2 donors followed*",
        "*and hiding it (grey) moves p('red') by -0.6* the model uses it (change 0.6* > max_change 0.470; "
        "margin drop 16.00 / logit IQR 8.00 = 2.00 <= max_scaled_drop 2.25)*",
    ])  # fmt: skip


def _json_report_records_kind_intervention(pytester: pytest.Pytester) -> None:
    tests = _by_test(pytester)
    (hide,) = tests["test_patch_is_irrelevant"]["checks"]
    assert hide["kind"] == "intervention" and hide["metric"] == "probability_change" and not hide["passed"]
    assert hide["region"] == "patch" and hide["bound"] == 0.47 and hide["value"] > 0.6
    assert (pytester.path / hide["picture"]).is_file()
    margin = {k: hide["details"][k] for k in ("logit_metric", "logit_value", "logit_bound", "logit_bound_name", "logit_passed")}
    # logits (10.67, -5.33, -5.33) -> 0: the margin falls by 16, twice their IQR (8); p fails alone
    assert margin == {"logit_metric": "scaled_margin_drop", "logit_value": 2.0, "logit_bound": 2.25,
                      "logit_bound_name": "max_scaled_drop", "logit_passed": True}
    (quiet,) = tests["test_corner_is_irrelevant"]["checks"]
    assert quiet["passed"] and quiet["value"] < 1e-6 and quiet["picture"] is None
    (swap,) = tests["test_prediction_ignores_the_patch"]["checks"]
    assert swap["metric"] == "follow_rate" and swap["value"] == 1.0 and swap["details"]["donor_classes"] == ["green", "blue"]
    kinds = {c["kind"]: c for c in tests["test_avoid_confirmed"]["checks"]}
    assert kinds["intervention"]["details"]["role"] == "confirm" and not kinds["intervention"]["passed"]
    assert "the model uses it" in kinds["avoid"]["details"]["confirm"] and not kinds["avoid"]["passed"]


def _junit_properties_show_the_intervention(pytester: pytest.Pytester) -> None:
    root = ET.parse(pytester.path / "j.xml").getroot()
    props = {
        (case.get("name"), p.get("name")): p.get("value")
        for case in root.iter("testcase")
        for p in case.iter("property")
    }
    value = props[("test_patch_is_irrelevant", "xai_intervention_probability_change[patch]")]
    assert value.endswith("<= 0.47 failed") and float(value.split()[0]) > 0.6
    assert props[("test_corner_is_irrelevant", "xai_intervention_probability_change[corner]")].endswith("passed")
    assert props[("test_prediction_ignores_the_patch", "xai_intervention_follow_rate[patch]")] == "1 <= 0.75 failed"

