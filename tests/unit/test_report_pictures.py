"""Report pictures: a failed check's picture outlines its region."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from report_samples import synthetic_report

from pytest_xai.records.run import RunReport
from pytest_xai.report import write_report as write_run_report
from pytest_xai.report.html import render_html as html_page
from pytest_xai.report.pictures import Pictures


def render_html(data: dict[str, Any], pictures: Pictures | None = None) -> str:
    """The page of report data in its JSON form (read back as a RunReport)."""
    return html_page(RunReport.from_json(data), pictures)


def write_report(data: dict[str, Any], path: Path, **kwargs: Any) -> None:
    write_run_report(RunReport.from_json(data), path, **kwargs)


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


def test_every_picture_reserves_its_box_before_it_loads(tmp_path: Path) -> None:
    """Pictures load lazily: each <img> carries its PNG's own width and height, so the page
    does not shift under a link's target as pictures above it arrive."""
    written = tmp_path / "wide.png"
    Image.fromarray(np.zeros((6, 10, 3), np.uint8)).save(written)
    pictures = Pictures()
    token = pictures.add(path=str(written))
    assert token is not None and pictures.size(token) == (10, 6)
    assert pictures.size(pictures.add(b64=base64.b64encode(b"not a png").decode()) or "") is None
    page = render_html(synthetic_report(2, 2))
    imgs = page.count("<img ")
    boxes = re.findall(r"<img [^>]*src=\"data:image/png;base64,([^\"]+)\" width='(\d+)' height='(\d+)'", page)
    assert imgs > 0 and len(boxes) == imgs
    for b64, width, height in boxes:
        assert Image.open(io.BytesIO(base64.b64decode(b64))).size == (int(width), int(height))
