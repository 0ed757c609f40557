"""Release goldens judge the mass gained inside the named regions recorded with them, through
real pytest runs: a golden written from an image with a regions sidecar, the same model passing,
a release that learned to read the watermark failing with the region named, in the terminal,
the JSON report and the HTML report."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
from PIL import Image
from tiny_samples import PATCH, occlusion

from pytest_xai import Explanation
from pytest_xai.registry import METHODS

CONFTEST = f'''
import os

import numpy as np
import pytest
import torch
from pytest_xai.engine.runners import Attribution, Group, Request
from pytest_xai.registry import register_method

PATCH = {PATCH}
{inspect.getsource(occlusion)}
register_method("occlusion", occlusion, default_samples=2)


class Reader(torch.nn.Module):
    """Logit 0 sums the pixels under a weight map; logit 1 is 0."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(weights))

    def forward(self, x):
        score = (x * self.w).sum(dim=(1, 2, 3))
        return torch.stack([score, torch.zeros_like(score)], 1)


@pytest.fixture(scope="session")
def xai_model():
    weights = np.zeros((3, 64, 64), np.float32)
    weights[:, 16:48, 16:48] = 1.0  # the object
    if os.environ.get("RELEASE") == "watermark":
        weights[:, 16:32, 0:16] = 2.0  # the release also reads the watermark, left of the object
    return Reader(weights)
'''

TEST = """
def test_photo(explain, xai_image, xai_snapshot):
    xai_snapshot.assert_match(explain(xai_image("photo.png"), method="occlusion"))
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    image = np.full((64, 64, 3), 0.5, np.float32)
    image[16:48, 16:48] = 1.0  # the object
    image[16:32, 0:16] = 1.0  # the watermark
    folder = pytester.mkdir("imgs")
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / "photo.png")
    (folder / "photo.regions.json").write_text(json.dumps(
        {"object": {"box": [16, 16, 48, 48]}, "watermark": {"box": [0, 16, 16, 32]}}))
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nxai_images_dir = imgs\n")
    pytester.makepyfile(test_photos=TEST)
    yield pytester
    METHODS.pop("occlusion", None)


@pytest.mark.slow
def test_a_release_reading_the_watermark_fails_and_names_it(project: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    project.runpytest("--xai-update", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    golden = Explanation.load(project.path / "__xai_snapshots__/test_photos/test_photo.npz")
    assert sorted(golden.meta["regions"]) == ["object", "watermark"]
    # and how far hiding each region (grey 0.5) lowers the margin, over the logits' IQR: the
    # object's 3072 units at 1 give a score of 3072, an IQR of 1536 and a fall of 1536
    assert golden.meta["reliance"] == pytest.approx({"object": 1.0, "watermark": 0.0})
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)  # the same model passes

    # the release: the watermark's patch now holds 1/3 of the positive mass (768 of 2304);
    # the evidence moved little and stays inside the golden's grown support
    monkeypatch.setenv("RELEASE", "watermark")
    result = project.runpytest("-p", "no:cacheprovider", "--xai-report=r.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*explanation drifted from golden __xai_snapshots__/test_photos/test_photo.npz (release mode):",
        "*mass gained in region 'watermark' 0.333 > max_region_gain 0.*: region 'watermark' holds 33% of "
        "the positive mass, the golden 0%; 'object' -33% (rested on, not judged)",
        "*evidence shift 0.* <= max_shift 0.120*",
        "*support loss 0.* <= max_support_loss 0.450*",
    ])
    (verdict,) = json.loads((project.path / "r.json").read_text())["tests"][0]["goldens"]
    assert verdict["state"] == "failed" and verdict["region"] == "watermark"
    assert verdict["measures"]["region_gain"] == pytest.approx(1 / 3)
    # the release relies on the watermark too: score 4608, IQR 2304, hiding it falls 768 (1/3)
    assert verdict["measures"]["reliance_gain"] == pytest.approx(1 / 3)
    assert verdict["bounds"]["max_reliance_gain"] >= 1 / 3
    html = project.path / "r.html"
    project.runpytest("-p", "no:cacheprovider", f"--xai-report={html.name}")
    assert "gain in &#x27;watermark&#x27; 0.333 &gt;" in html.read_text() or "gain in 'watermark' 0.333" in html.read_text()
