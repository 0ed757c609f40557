"""Synthetic report data of any size, shaped like RunReport.to_json(), for report tests.

Pictures are real PNGs: example-project shapes images and heatmap overlays drawn by
pytest_xai.pictures.render, so their size and variety match a real run's.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from example_project.data import WATERMARK, make_shape
from pytest_xai.pictures import render

METHODS = ("lime", "kernel_shap", "gradient_shap")


def png_b64(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _heatmap(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    noise = rng.normal(0, 0.3, mask.shape)
    return np.where(mask, 1.0, 0.0) + noise


def _image_entry(rng: np.random.Generator, index: int) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """One image's record entry and its three explanations."""
    sample = make_shape(rng, index % 3, tag=index % 3)
    key = f"{index:012x}"
    tag = np.zeros(sample.mask.shape, dtype=bool)
    x0, y0, x1, y1 = WATERMARK
    tag[y0:y1, x0:x1] = True
    image = {"name": f"shape{index:04d}.png", "picture": png_b64(render.to_uint8(sample.image)),
             "regions": ["object", "tag"],
             "agreement": {"kernel_shap vs lime": {"spearman": 0.93, "top_k_iou": 1.0}}}
    exps = []
    for method in METHODS:
        picture = render.draw_outline(render.overlay(_heatmap(rng, sample.mask), sample.image), sample.mask)
        exps.append({"image": key, "method": method, "output": "logit", "target": "circle",
                     "probability": 0.98, "samples": 200, "seconds": 0.05,
                     "mass": {"object": 0.61, "tag": 0.02}, "overlay": png_b64(picture)})
    return key, image, exps


def _golden(name: str, failed: bool, pictures: list[str]) -> dict[str, Any]:
    shift = 0.31 if failed else 0.04
    golden: dict[str, Any] = {
        "path": f"__xai_snapshots__/test_shapes/{name}.npz", "name": f"test_shapes/{name}",
        "state": "failed" if failed else "passed", "reason": "drift" if failed else None,
        "mode": "release", "measures": {"evidence_shift": shift, "new_mass": 0.4 if failed else 0.01},
        "bounds": {"max_evidence_shift": 0.12},
        "message": "evidence moved 0.31 of the diagonal towards the top-left corner" if failed else None,
        "pictures": {},
    }
    if failed:
        golden.update(expected_png=pictures[0], actual_png=pictures[1], diff_png=pictures[2])
    return golden


def synthetic_report(n_tests: int, n_images: int, failed_every: int = 10, seed: int = 0) -> dict[str, Any]:
    """Report data for ``n_tests`` tests over ``n_images`` images; every ``failed_every``-th
    test fails a focus check and its golden (with expected / actual / difference pictures)."""
    rng = np.random.default_rng(seed)
    images = [_image_entry(rng, i) for i in range(n_images)]
    tests = []
    for i in range(n_tests):
        key, image, exps = images[i % n_images]
        failed = i % failed_every == 0
        checks = [
            {"kind": "focus", "metric": "relevance_mass", "value": 0.08 if failed else 0.61, "bound": 0.25,
             "passed": not failed, "upper": False, "region": "object", "method": "kernel_shap", "target": "circle",
             "image": key, "picture": None},
            {"kind": "avoid", "metric": "relevance_mass", "value": 0.02, "bound": 0.1, "passed": True,
             "upper": True, "region": "tag", "method": "kernel_shap", "target": "circle", "image": key, "picture": None},
        ]
        overlays = [e["overlay"] for e in exps]
        tests.append({
            "nodeid": f"tests/test_shapes.py::test_shape[{i:04d}]", "outcome": "failed" if failed else "passed",
            "explanations": exps, "checks": checks, "images": {key: image},
            "goldens": [_golden(f"test_shape[{i:04d}]", failed, overlays)],
            "computed": 3, "cached": 0, "seconds": 0.15,
        })
    failures = sum(1 for t in tests if t["outcome"] == "failed")
    return {
        "totals": {"computed": 3 * n_tests, "cached": 0, "disk": 0, "seconds": 0.15 * n_tests},
        "goldens": {"passed": n_tests - failures, "failed": failures, "written": 0, "updated": 0, "unused": []},
        "ci": True, "tests": tests,
    }


def _check(kind: str, key: str, method: str, region: str, value: float, bound: float, upper: bool) -> dict[str, Any]:
    passed = value <= bound if upper else value >= bound
    return {"kind": kind, "metric": "relevance_mass", "value": value, "bound": bound, "passed": passed,
            "upper": upper, "region": region, "method": method, "target": "circle", "image": key, "picture": None}


def _row(nodeid: str, failed: bool, image: tuple[str, dict[str, Any], list[dict[str, Any]]],
         checks: list[dict[str, Any]], goldens: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    key, entry, exps = image
    return {"nodeid": nodeid, "outcome": "failed" if failed else "passed", "explanations": exps, "checks": checks,
            "images": {key: entry}, "goldens": list(goldens), "computed": 1, "cached": 0, "seconds": 0.05}


def watermark_run(n_images: int = 12, seed: int = 0) -> dict[str, Any]:
    """A release that reads a corner watermark, against goldens of the clean model: report data
    with 100 failed tests at 12 images, and 12 prediction tests that have no record.

    Per image: ``test_avoids_tag`` per method (lime and kernel_shap fail, gradient_shap
    passes), ``test_golden`` per method (all three fail on drift), ``test_background``
    (fails), ``test_methods_agree`` and ``test_focus_ratio`` (fail), ``test_focus`` (fails on
    the first four images). 120 rows, 100 of them failed.
    """
    rng = np.random.default_rng(seed)
    images = [_image_entry(rng, i) for i in range(n_images)]
    tests = []
    for i, image in enumerate(images):
        key, pictures = image[0], [e["overlay"] for e in image[2]]
        name = image[1]["name"].removesuffix(".png")
        for method in METHODS:
            leak = 0.04 if method == "gradient_shap" else 0.55
            tests.append(_row(f"tests/test_release.py::test_avoids_tag[{name}-{method}]", leak > 0.1, image,
                              [_check("avoid", key, method, "tag", leak, 0.1, True)]))
            golden = _golden(f"test_golden[{name}-{method}]", True, pictures) | {"method": method}
            tests.append(_row(f"tests/test_release.py::test_golden[{name}-{method}]", True, image, [], [golden]))
        tests.append(_row(f"tests/test_release.py::test_background[{name}]", True, image,
                          [_check("avoid", key, "kernel_shap", "background", 0.4, 0.3, True)]))
        agree = {"kind": "agree", "metric": "spearman", "value": 0.21, "bound": 0.5, "passed": False,
                 "upper": False, "method": "lime", "other_method": "kernel_shap", "image": key, "picture": None}
        tests.append(_row(f"tests/test_release.py::test_methods_agree[{name}]", True, image, [agree]))
        ratio = _check("focus", key, "gradient_shap", "object", 0.9, 1.5, False) | {"metric": "relevance_ratio"}
        tests.append(_row(f"tests/test_release.py::test_focus_ratio[{name}]", True, image, [ratio]))
        focus = 0.08 if i < 4 else 0.6
        tests.append(_row(f"tests/test_release.py::test_focus[{name}]", focus < 0.25, image,
                          [_check("focus", key, "kernel_shap", "object", focus, 0.25, False)]))
    failed = [t["nodeid"] for t in tests if t["outcome"] == "failed"]
    goldens = sum(len(t["goldens"]) for t in tests)
    return {
        "exitstatus": 1, "outcomes": {"failed": len(failed), "passed": len(tests) - len(failed) + n_images},
        "failed": failed, "totals": {"computed": len(tests), "cached": 0, "disk": 0, "seconds": 0.05 * len(tests)},
        "goldens": {"passed": 0, "failed": goldens, "written": 0, "updated": 0, "unused": []},
        "ci": True, "tests": tests,
    }


# A test file for pytester runs: three helpers that fail (focus, avoid, agree) and one that passes.
HELPERS = """
import pytest
from pytest_xai import Region, assert_attribution_avoids, assert_attribution_focus, assert_explanations_agree

@pytest.mark.xai(samples=200)
def test_focus(explain, shape_image):
    assert_attribution_focus(explain(shape_image), Region.box(0, 0, 8, 8, name="corner"), min_mass=0.5)

@pytest.mark.xai(samples=200)
def test_avoid(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 64, 64, name="everything"), max_mass=0.1)

@pytest.mark.xai(samples=200)
def test_agree(explain, shape_image):
    assert_explanations_agree(explain(shape_image), explain(shape_image, method="gradient_shap"),
                              min_spearman=0.9, min_top_k_iou=0.9)

@pytest.mark.xai(samples=200)
def test_passes(explain, shape_image):
    assert_attribution_avoids(explain(shape_image), Region.box(0, 0, 4, 4, name="tiny"), max_mass=0.5)
"""
