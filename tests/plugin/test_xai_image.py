"""The xai_image fixture: sidecar regions, bad sidecars and missing images."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_xai_image_sidecar_regions(xai_pytester: pytest.Pytester) -> None:
    from PIL import Image

    from example_project.data import make_shape

    sample = make_shape(np.random.default_rng(1), 1, tag=1)
    folder = xai_pytester.path / "imgs"
    folder.mkdir()
    Image.fromarray((sample.image * 255).astype(np.uint8)).save(folder / "sq.png")
    Image.fromarray(sample.mask.astype(np.uint8) * 255).save(folder / "sq.object.png")
    (folder / "sq.regions.json").write_text(json.dumps(
        {"object": {"mask": "sq.object.png"}, "tag": {"box": [2, 2, 12, 12]},
         "tri": {"polygon": [[0, 0], [10, 0], [0, 10]]}}))
    (folder / "bad.png").write_bytes((folder / "sq.png").read_bytes())
    (folder / "bad.regions.json").write_text(json.dumps({"tag": {"box": [0, 0, 99, 10]}}))
    xai_pytester.makeini("[pytest]\nxai_images_dir = imgs\n")
    xai_pytester.makepyfile(test_i="""
import numpy as np
import pytest
from pytest_xai import assert_attribution_focus

@pytest.mark.xai(samples=200)
def test_regions(explain, xai_image):
    image = xai_image("sq.png")
    assert sorted(image.regions) == ["object", "tag", "tri"]
    assert image.regions["tag"].to_mask(64, 64).sum() == 100
    assert image.shape == (64, 64, 3)
    assert_attribution_focus(explain(image), image.regions["object"], min_mass=0.2)

def test_bad_sidecar(xai_image):
    xai_image("bad.png")

def test_missing(xai_image):
    xai_image("nope.png")
""")
    result = xai_pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*bad.regions.json: region 'tag'*(x0, y0, x1, y1)=(0, 0, 99, 10) lies outside the 64×64 image*",
        "*xai_image('nope.png'): no file *nope.png; put the image there or set ini xai_images_dir*",
    ])
