"""The .png preview beside each golden, reviewable in a pull request: a caption (also in the
PNG's text chunks), the image's named regions outlined, a third panel that fits the method, and
old | new | difference after an update."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

PREVIEW_TEST = """
import pytest

@pytest.mark.parametrize("method", ["lime", "gradient_shap"])
@pytest.mark.xai(samples=200, golden=True)
def test_shape(explain, xai_image, method):
    explain(xai_image("shape.png"), method=method)
"""
BOX = [4, 6, 20, 22]  # x0, y0, x1, y1 of the "corner" region in the sidecar
YELLOW = (255, 215, 0)  # the first region's outline colour


@pytest.fixture
def preview_project(xai_pytester: pytest.Pytester) -> pytest.Pytester:
    from example_project.data import make_shape

    image = make_shape(np.random.default_rng(1), 0, tag=None).image
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(xai_pytester.path / "shape.png")
    (xai_pytester.path / "shape.regions.json").write_text(json.dumps({"corner": {"box": BOX}}))
    xai_pytester.makepyfile(test_p=PREVIEW_TEST)
    return xai_pytester


def png(project: pytest.Pytester, method: str) -> Image.Image:
    return Image.open(project.path / f"__xai_snapshots__/test_p/test_shape[{method}].png")


@pytest.mark.slow
def test_the_preview_is_captioned_outlined_and_fits_the_method(preview_project: pytest.Pytester) -> None:
    preview_project.runpytest("--xai-update").assert_outcomes(passed=2)
    lime, grad = png(preview_project, "lime"), png(preview_project, "gradient_shap")
    golden = __import__("pytest_xai").Explanation.load(
        preview_project.path / "__xai_snapshots__/test_p/test_shape[lime].npz")
    caption = lime.text["Description"]
    for shown in ("test_p.py::test_shape[lime]", "lime, target 'circle'", f"model {golden.meta['model'][:12]}",
                  "float32", f"recorded {golden.meta['recorded'][:10]}", "regions: corner (yellow)"):
        assert shown in caption, (shown, caption)
    assert lime.text["Panels"].split(" | ")[2] == "top-5 positive superpixels"
    assert grad.text["Panels"].split(" | ")[2] == "|attribution| (either sign)"
    assert "superpixels" not in grad.text["Panels"]
    # three 192-px panels (64 px enlarged 3×) side by side, 6 px apart, under the caption
    assert lime.size[0] == 3 * 192 + 2 * 6 and lime.size[1] > 192
    # the region's outline is drawn on the image panel, along the box's edges and nowhere else
    pixels = np.asarray(lime.convert("RGB"))
    panel = pixels[-192:, :192]
    outline = np.all(panel == YELLOW, axis=-1)
    ys, xs = np.nonzero(outline)
    assert outline.sum() > 100
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == tuple(3 * v for v in BOX)


@pytest.mark.slow
def test_an_update_shows_old_new_and_difference(preview_project: pytest.Pytester) -> None:
    preview_project.runpytest("--xai-update", "-k", "lime").assert_outcomes(passed=1, deselected=1)
    before = png(preview_project, "lime")
    assert "old | new" not in before.text["Panels"]
    result = preview_project.runpytest("--xai-update=force", "-k", "lime",
                                       "--xai-model", "example_project.models:shortcut")
    result.stdout.fnmatch_lines(["*1 updated*"])
    after = png(preview_project, "lime")
    assert after.text["Panels"].splitlines()[1] == "old | new | difference"
    assert "updated: the second row compares the golden it replaced" in after.text["Description"]
    assert after.size[0] == before.size[0] and after.size[1] > before.size[1] + 192


def test_a_preview_that_cannot_be_written_leaves_no_golden_behind(preview_project: pytest.Pytester) -> None:
    folder = preview_project.path / "__xai_snapshots__" / "test_p"
    golden, picture = folder / "test_shape[lime].npz", folder / "test_shape[lime].png"
    picture.mkdir(parents=True)  # the preview cannot be written
    result = preview_project.runpytest("--xai-update", "-k", "lime")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*write failed: __xai_snapshots__/test_p/test_shape[[]lime[]].npz*"])
    assert not golden.exists()  # so the next run cannot pass against it
    picture.rmdir()
    preview_project.runpytest("-k", "lime").stdout.fnmatch_lines(["*no golden for*"])
    # an update whose preview fails keeps the old golden and the old preview, as a pair
    preview_project.runpytest("--xai-update", "-k", "lime").assert_outcomes(passed=1, deselected=1)
    old_golden = golden.read_bytes()
    picture.unlink()
    picture.mkdir()
    result = preview_project.runpytest("--xai-update=force", "-k", "lime", "--xai-model", "example_project.models:shortcut")
    assert result.ret == pytest.ExitCode.TESTS_FAILED and golden.read_bytes() == old_golden
    picture.rmdir()
