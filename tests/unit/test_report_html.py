"""The report's content: strict JSON, bounds in words, the page's structure, pictures stored once
or beside the report, and the display smoothing of pixel-level maps."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from report_samples import synthetic_report

from pytest_xai.records.run import RunReport
from pytest_xai.report import write_report as write_run_report
from pytest_xai.report.html import render_html as html_page
from pytest_xai.report.pictures import Pictures

# -- JSON ----------------------------------------------------------------------------------------

def render_html(data: dict[str, Any], pictures: Pictures | None = None) -> str:
    """The page of report data in its JSON form (read back as a RunReport)."""
    return html_page(RunReport.from_json(data), pictures)


def write_report(data: dict[str, Any], path: Path, **kwargs: Any) -> None:
    write_run_report(RunReport.from_json(data), path, **kwargs)


# -- words ---------------------------------------------------------------------------------------


def _check(kind: str, metric: str, value: float, bound: float, passed: bool, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "metric": metric, "value": value, "bound": bound, "passed": passed,
            "upper": kind in ("avoid", "sanity"), "region": None, "method": "lime"} | extra


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


def _photo_report() -> dict[str, Any]:
    """One photo explained by LIME (with its boundaries picture) and GradientSHAP, with the
    network's top-5 and each explanation's cost; an avoid check its confirm overruled; an
    intervention on an image the test never explained, loaded from a file."""
    data = synthetic_report(1, 1, failed_every=99)
    test = data["tests"][0]
    top = [{"name": n, "probability": p} for n, p in
           [("Egyptian cat", 0.394), ("tiger cat", 0.323), ("tabby", 0.168), ("lynx", 0.034), ("plastic bag", 0.002)]]
    for e in test["explanations"]:
        e.update(top=top, evaluations=500 if e["method"] != "gradient_shap" else 50)
        if e["method"] == "lime":
            e["boundaries"] = e["overlay"]
    test["checks"] = [
        _check("avoid", "relevance_mass", 0.42, 0.1, True, region="tag",
               details={"salience_passed": False, "confirm": "hiding it moves p by +0.002: not used"}),
        _check("intervention", "probability_change", 0.3, 0.1, False, region="tag", image="ffffffffffff",
               image_name="cat.png", upper=True),
    ]
    return data


def test_an_image_shows_the_top5_each_methods_cost_and_limes_superpixel_outlines() -> None:
    page = render_html(_photo_report())
    top = re.search(r"<table class='top'>(.*?)</table>", page)
    assert top is not None
    assert re.findall(r"<tr><td>(\d)</td><td>([^<]+)</td><td>([\d.]+)</td></tr>", top.group(1)) == [
        ("1", "Egyptian cat", "0.394"), ("2", "tiger cat", "0.323"), ("3", "tabby", "0.168"),
        ("4", "lynx", "0.034"), ("5", "plastic bag", "0.002")]
    assert "<th>seconds</th><th title='forward passes (gradient_shap: forward and backward)'>model evaluations</th>" in page
    assert "<td>0.05</td><td>500</td></tr>" in page and "<td>0.05</td><td>50</td></tr>" in page
    # lime's only: GradientSHAP has no superpixels
    assert re.findall(r"<figcaption>(\w+): top superpixels, outlined</figcaption>", page) == ["lime"]


def test_a_check_its_confirm_overruled_reads_true_and_green_and_images_go_by_file_name() -> None:
    page = render_html(_photo_report())
    cell = html.escape("avoid: mass on 'tag' 0.42 > 0.10, salient but not used (confirm)")
    assert f"<li class='ok'>{cell}</li>" in page
    rollup = page.split("<h2 id='rollup'>Roll-up</h2>")[1].split("<h2")[0]
    assert ">cat.png</a>" in rollup and ">ffffffffffff<" not in rollup  # the file's name, not the hash
