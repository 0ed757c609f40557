"""HTML and JSON reports of real runs."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import numpy as np
import pytest
from report_samples import HELPERS

from pytest_xai import explain


@pytest.mark.slow
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
    from pytest_xai import metrics

    circle = make_shape(np.random.default_rng(1), 0, tag=None).image
    clf = models.clean(device="cpu")
    lime, gshap = (explain(clf, circle, samples=200, method=m) for m in ("lime", "gradient_shap"))
    recorded = image["agreement"]["gradient_shap vs lime"]
    assert recorded["spearman"] == pytest.approx(metrics.spearman(gshap, lime), abs=1e-4)
    assert recorded["top_k_iou"] == pytest.approx(metrics.top_k_iou(gshap, lime, 0.2), abs=1e-4)
    (exp,) = (e for e in by_test["test_agree"]["explanations"] if e["method"] == "lime")
    assert (exp["target"], exp["samples"]) == ("circle", 200)
    assert exp["probability"] == pytest.approx(lime.probability, abs=1e-6)


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN and ±Infinity, as Node's JSON.parse does."""

    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_report_of_a_real_run_is_strict(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_j="""
        import pytest
        from pytest_xai import Region, assert_attribution_focus

        @pytest.mark.xai(samples=100)
        def test_focus(explain, shape_image):
            assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name="corner"), min_mass=0.5)
    """)
    xai_pytester.runpytest("--xai-report=r.json").assert_outcomes(failed=1)
    data = strict_loads((xai_pytester.path / "r.json").read_text())
    (test,) = data["tests"]
    (check,) = test["checks"]
    assert test["outcome"] == "failed" and check["passed"] is False and check["bound"] == 0.5


def test_bounds_in_a_real_report_keep_their_api_names_and_digits(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_b="""
        import pytest
        from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus

        @pytest.mark.xai(samples=60)
        def test_tag(explain, shape_image):
            assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 8, 8, name="tag"), max_mass=0.0001)

        @pytest.mark.xai(samples=60)
        def test_ratio(explain, shape_image):
            assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name="corner"), min_ratio=9.5)
    """)
    xai_pytester.runpytest("--xai-report=r.html").assert_outcomes(failed=2)
    page = html.unescape((xai_pytester.path / "r.html").read_text())
    assert re.search(r"mass on 'tag' [\d.e-]+ is above max_mass 0\.0001", page)
    assert re.search(r"mass on 'tag' [\d.e-]+ > 0\.0001", page)  # the table's cell
    assert re.search(r"ratio on 'corner' [\d.e-]+ is below min_ratio 9\.50", page)
    assert "relevance_ratio" not in page and "0.00<" not in page


def test_a_real_report_rolls_up_checks_and_names_each_goldens_method(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_r="""
        import pytest
        from pytest_xai import Region, assert_attribution_focus

        @pytest.mark.xai(samples=60)
        def test_focus(explain, shape_image):
            assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name="corner"), min_mass=0.5)

        @pytest.mark.xai(samples=60)
        def test_golden(explain, shape_image, xai_snapshot):
            xai_snapshot.assert_match(explain(shape_image, method="gradient_shap"))

        def test_prediction():
            assert 1 + 1 == 2
    """)
    result = xai_pytester.runpytest("--xai-update", "--xai-report=r.json", "--xai-report=r.html")
    result.assert_outcomes(failed=1, passed=2)
    data = json.loads((xai_pytester.path / "r.json").read_text())
    (golden,) = [g for t in data["tests"] for g in t["goldens"]]
    assert (golden["state"], golden["method"]) == ("written", "gradient_shap")
    page = html.unescape((xai_pytester.path / "r.html").read_text())
    rollup = page[page.index("<h2 id='rollup'>"):page.index("<h2 id='tests-head'>")]
    # the failed check: kind, subject, method, failed / checked, the images it failed on
    assert re.search(r"<td>focus: mass on 'corner'</td><td>lime</td><td class='bad count'>1/1</td>"
                     r"<td><b>1/1 images</b>", rollup)
    assert "<td>written (missing)</td><td>gradient_shap</td>" in rollup
    assert "gradient_shap written (missing)" in page  # the table's golden cell names the method
    assert ("3 tests: 2 with explanations, checks or goldens (or a failure) are in the table; 1 without "
            "any") in page
