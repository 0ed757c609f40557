"""The report's content: strict JSON, bounds in words, the page's structure, pictures stored once
or beside the report, and the display smoothing of pixel-level maps."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image
from report_samples import synthetic_report
from scipy.ndimage import binary_dilation

from example_project.data import Sample
from pytest_xai import explain, render
from pytest_xai.display import display_heatmap
from pytest_xai.report import (
    Pictures,
    check_words,
    fmt,
    golden_measures,
    measure_short,
    measure_words,
    render_html,
    write_report,
)


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN and ±Infinity, as Node's JSON.parse does."""

    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


# -- JSON ----------------------------------------------------------------------------------------


def test_json_report_is_strict_with_null_for_non_finite(tmp_path: Path) -> None:
    data = synthetic_report(2, 1)
    data["totals"]["seconds"] = float("inf")
    check = data["tests"][0]["checks"][0]
    check["value"], check["bound"] = float("nan"), np.float32(0.25)
    data["tests"][0]["goldens"][0]["measures"] = {"evidence_shift": np.float64("nan"), "new_mass": np.int64(3)}
    data["tests"][1]["explanations"][0]["path"] = tmp_path / "x.png"
    with pytest.raises(ValueError):
        json.dumps(data, allow_nan=False, default=str)  # what the sanitising must prevent
    write_report(data, tmp_path / "r.json")
    back = strict_loads((tmp_path / "r.json").read_text())
    assert back["totals"]["seconds"] is None
    assert back["tests"][0]["checks"][0]["value"] is None and back["tests"][0]["checks"][0]["bound"] == 0.25
    assert back["tests"][0]["goldens"][0]["measures"] == {"evidence_shift": None, "new_mass": 3}
    assert back["tests"][1]["explanations"][0]["path"] == str(tmp_path / "x.png")
    assert back["tests"][1]["checks"] == data["tests"][1]["checks"]  # finite values unchanged


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


# -- words ---------------------------------------------------------------------------------------


def _check(kind: str, metric: str, value: float, bound: float, passed: bool, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "metric": metric, "value": value, "bound": bound, "passed": passed,
            "region": None, "method": "lime", **extra}


@pytest.mark.parametrize(("check", "words"), [
    (_check("avoid", "relevance_mass", 0.42, 0.1, False, region="tag"), "mass on 'tag' 0.42 is above max_mass 0.10"),
    (_check("focus", "relevance_mass", 0.02, 0.5, False, region="corner"),
     "mass on 'corner' 0.02 is below min_mass 0.50"),
    (_check("focus", "relevance_mass", 0.613, 0.5, True, region="object"), "mass on 'object' 0.613 ≥ min_mass 0.50"),
    (_check("agree", "spearman", 0.12, 0.9, False, other_method="gradient_shap"),
     "Spearman lime vs gradient_shap 0.12 is below min_spearman 0.90"),
    (_check("sanity", "spearman_abs", 0.8, 0.5, False),
     "Spearman |attribution| of lime to the randomised model's 0.80 is above max_similarity 0.50"),
    (_check("focus", "relevance_mass", float("nan"), 0.5, False, region="object"),
     "mass on 'object' is not a number; the check fails (bound min_mass 0.50)"),
    (_check("avoid", "relevance_mass", 0.00004, 0.0001, True, region="tag"), "mass on 'tag' 4e-05 ≤ max_mass 0.0001"),
    (_check("focus", "relevance_ratio", 1.2, 2.0, False, region="object"),
     "ratio on 'object' 1.20 is below min_ratio 2.00"),
])
def test_check_in_words(check: dict[str, Any], words: str) -> None:
    assert check_words(check) == words


@pytest.mark.parametrize(("value", "text"), [
    (0.0001, "0.0001"), (0.000123456, "0.000123"), (-0.005, "-0.005"), (0.01, "0.01"), (0.42, "0.42"),
    (0.123, "0.123"), (0.0, "0.00"), (2.0, "2.00"), (float("nan"), "NaN"), (None, "n/a"), (3, "3"),
])
def test_numbers_keep_small_values_non_zero(value: Any, text: str) -> None:
    assert fmt(value) == text


def test_golden_measures_from_verdicts_and_flat_keys() -> None:
    release = {"state": "failed", "reason": "drift", "measures": {"evidence_shift": 0.31, "new_mass": 0.4},
               "bounds": {"max_evidence_shift": 0.12}}
    shift, new = golden_measures(release)
    assert (shift["name"], shift["bound"], shift["upper"], shift["passed"]) == ("evidence_shift", 0.12, True, False)
    assert measure_words(shift) == "evidence shift 0.31 exceeds the bound 0.12"
    assert measure_short(shift) == "shift 0.31 > 0.12"
    assert new["bound"] is None and measure_words(new) == "mass in new cells 0.40"
    passing = golden_measures({"measures": {"evidence_shift": 0.04}, "bounds": {"max_evidence_shift": 0.12}})
    assert measure_short(passing[0]) == "shift 0.04 ≤ 0.12" and passing[0]["passed"] is True
    strict = {"measures": {"spearman": 0.65, "top_k_iou": 0.8}, "bounds": {"min_spearman": 0.7, "min_top_k_iou": 0.55}}
    flat = {"spearman": 0.65, "min_spearman": 0.7, "top_k_iou": 0.8, "min_top_k_iou": 0.55}
    for golden in (strict, flat):
        rho, iou = golden_measures(golden)
        assert measure_words(rho) == "Spearman 0.65 is below the bound 0.70"
        assert measure_words(iou) == "top-20% IoU 0.80 is within the bound 0.55" and iou["upper"] is False


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


# -- the page ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return synthetic_report(40, 12, failed_every=4)


def test_page_has_a_filterable_table_with_failures_first(small: dict[str, Any]) -> None:
    page = render_html(small)
    rows = re.findall(r"<tr id='t(\d+)' class='(\w+)' data-failed='(\d)' data-changed='(\d)'", page)
    assert len(rows) == 40
    outcomes = [outcome for _, outcome, _, _ in rows]
    assert outcomes == ["failed"] * 10 + ["passed"] * 30
    assert all(f == str(int(o == "failed")) == c for _, o, f, c in rows)
    for button in ("data-mode='failed'>failed (10)", "data-mode='changed'>golden changed (10)",
                   "data-mode='all'>all (40)"):
        assert button in page
    # every failed row links to its section, which exists; passed rows have none
    for i in range(10):
        assert f"<a href='#f{i}'>" in page and f"<section id='f{i}'" in page
    assert "<section id='f10'" not in page and "href='#f10'" not in page
    assert html.escape("mass on 'object' 0.08 is below min_mass 0.25") in page
    assert "evidence shift 0.31 exceeds the bound 0.12" in page and html.escape("shift 0.31 > 0.12") in page
    assert "http" not in page and "<link" not in page  # self-contained: nothing fetched


def test_each_image_appears_once(small: dict[str, Any]) -> None:
    page = render_html(small)
    assert page.count("<section id='img-") == 12
    for test in small["tests"][:12]:
        (image,) = test["images"].values()
        assert page.count(image["picture"]) == 1  # its picture row: in the Images section only
        (key,) = test["images"]
        assert f"href='#img-{key}'" in page  # the test rows refer to it
    assert page.count('loading=\'lazy\' decoding=\'async\' src="data:image/png;base64,') == page.count("<img ")


def test_failed_check_picture_outlines_its_region(tmp_path: Path) -> None:
    """A named region of the image: the recorded overlay (regions outlined, drawn like the
    Images section); an ad-hoc region: the picture the assertion wrote with it outlined."""
    data = synthetic_report(1, 1)
    (test,) = data["tests"]
    test["goldens"] = []  # its pictures are these overlays; keep the section to the check
    written = tmp_path / "focus-corner.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(written)
    focus = test["checks"][0]
    focus["picture"] = str(written)
    recorded = next(e["overlay"] for e in test["explanations"] if e["method"] == focus["method"])
    section = render_html(data).split("<section id='f0'", 1)[1].split("</section>", 1)[0]
    assert recorded in section and base64.b64encode(written.read_bytes()).decode() not in section
    focus["region"] = "corner"  # not one of the image's named regions
    section = render_html(data).split("<section id='f0'", 1)[1].split("</section>", 1)[0]
    assert recorded not in section and base64.b64encode(written.read_bytes()).decode() in section
    assert "region &#x27;corner&#x27; outlined" in section


def test_sanity_check_section_shows_the_cascade() -> None:
    data = synthetic_report(1, 1)
    (test,) = data["tests"]
    test["goldens"] = []
    test["checks"] = [_check("sanity", "spearman_abs", 0.83, 0.5, False, image=next(iter(test["images"])),
                             cascade=[{"layer": "fc", "similarity": 0.91}, {"layer": "conv1", "similarity": 0.83}])]
    section = render_html(data).split("<section id='f0'", 1)[1].split("</section>", 1)[0]
    assert html.escape("0.83 is above max_similarity 0.50") in section
    assert "<th>fc</th><th>conv1</th>" in section and "<td>0.91</td><td>0.83</td>" in section


def test_text_is_escaped() -> None:
    data = synthetic_report(1, 1)
    data["tests"][0]["nodeid"] = "t.py::test[<b>&'\"]"
    data["tests"][0]["checks"][0]["region"] = "<img src=x>"
    page = render_html(data)
    assert "<b>&" not in page and "<img src=x>" not in page
    assert "t.py::test[&lt;b&gt;&amp;&#x27;&quot;]" in page


def test_large_reports_link_pictures_from_files_beside(tmp_path: Path, small: dict[str, Any]) -> None:
    path = tmp_path / "report.html"
    pictures = Pictures()
    render_html(small, pictures)
    write_report(small, path, inline_limit=pictures.inline_size() - 1)
    folder = tmp_path / "report.files"
    page = path.read_text()
    linked = re.findall(r'src="([^"]+)"', page)
    assert "data:image" not in page and linked
    assert {Path(src).parent.name for src in linked} == {"report.files"}
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{d}.png" for d in pictures.data)
    for src in linked:
        assert (tmp_path / src).read_bytes() in pictures.data.values()
    (folder / "notes.txt").write_text("mine")
    write_report(small, path)  # small enough now: embedded, our pictures cleared away
    assert 'src="data:image/png;base64,' in path.read_text()
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


# -- display -------------------------------------------------------------------------------------


def test_display_keeps_superpixel_maps() -> None:
    rng = np.random.default_rng(0)
    segments = np.repeat(np.arange(8), 8)[None, :].repeat(64, axis=0)
    weights = rng.normal(size=8)
    exp = SimpleNamespace(heatmap=weights[segments].astype(np.float32), segments=segments)
    assert np.array_equal(display_heatmap(exp), exp.heatmap)


def test_display_smooths_pixel_maps_to_show_where_the_mass_is() -> None:
    """Speckle of both signs with a positive bias on a disc: the displayed map is positive on
    the disc and near zero elsewhere, scaled so its 99th percentile |value| is 1."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    disc = (yy - 40) ** 2 + (xx - 24) ** 2 < 10**2
    heat = rng.choice([-1.0, 1.0], size=(64, 64)) + 0.6 * disc
    shown = display_heatmap(SimpleNamespace(heatmap=heat, segments=None))
    inner = binary_dilation(~disc, iterations=3)  # pixels the blur may mix with the outside
    assert (heat[disc] > 0).mean() < 0.85 and (shown[disc & ~inner] > 0).all()
    assert np.abs(shown[~binary_dilation(disc, iterations=4)]).mean() < 0.25
    assert 0.005 <= (np.abs(shown) == 1.0).mean() <= 0.011  # the top 1% drawn at full colour


def test_gradient_shap_overlay_shows_the_object(shapes_clf: Any, shapes_samples: list[Sample]) -> None:
    """The issue's complaint: GradientSHAP's overlay looked blank although its mass is on the
    object. Drawn from display_heatmap, a visible share of the object's surroundings is red."""
    for sample in shapes_samples:
        exp = explain(shapes_clf, sample.image, method="gradient_shap", samples=64)
        near = binary_dilation(sample.mask, iterations=2)
        shown = _red_share(display_heatmap(exp), sample.image, near)
        raw = _red_share(exp.heatmap, sample.image, near)
        assert shown >= 0.2 and shown >= 2.5 * raw, (shown, raw)
        assert _red_share(display_heatmap(exp), sample.image, ~near) < 0.02  # nothing far from it


def _red_share(heat: np.ndarray, image: np.ndarray, where: np.ndarray) -> float:
    """The share of ``where`` that the overlay draws clearly red."""
    picture = render.overlay(heat, image).astype(int)
    return float((picture[..., 0] - picture[..., 2] > 40)[where].mean())
