"""Measure what golden tolerances must absorb and what they must catch.

    python benchmarks/golden_tolerance.py

For each example image and method: the same model re-explained with other seeds (the worst
case of run-to-run variation: other hardware changes far less than a new seed), and a
different model (the shortcut model, and the clean model retrained with another seed).
Prints Spearman and top-20% IoU against seed 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_project import models  # noqa: E402
from pytest_xai import explain, metrics  # noqa: E402
from pytest_xai.testimage import load_test_image  # noqa: E402

IMAGES = ROOT / "example_project" / "tests" / "images"


def main() -> None:
    clean, shortcut = models.clean(device="cpu"), models.shortcut(device="cpu")
    same: dict[str, list[tuple[float, float]]] = {}
    other: dict[str, list[tuple[float, float]]] = {}
    for name in ("circle", "square", "triangle"):
        image = load_test_image(IMAGES / f"{name}.png")
        for method in ("lime", "kernel_shap", "gradient_shap"):
            base = explain(clean, image, method=method, samples=1000 if method != "gradient_shap" else 200)
            for seed in range(1, 6):
                e = explain(clean, image, method=method, seed=seed, samples=base.samples)
                same.setdefault(method, []).append((metrics.spearman(base, e), metrics.top_k_iou(base, e)))
            e = explain(shortcut, image, method=method, samples=base.samples)
            other.setdefault(method, []).append((metrics.spearman(base, e), metrics.top_k_iou(base, e)))
    out = {}
    for method in same:
        s = np.array(same[method])
        o = np.array(other[method])
        out[method] = {
            "seed_to_seed_spearman_min": round(float(s[:, 0].min()), 3),
            "seed_to_seed_iou_min": round(float(s[:, 1].min()), 3),
            "seed_to_seed_spearman_median": round(float(np.median(s[:, 0])), 3),
            "seed_to_seed_iou_median": round(float(np.median(s[:, 1])), 3),
            "shortcut_spearman_max": round(float(o[:, 0].max()), 3),
            "shortcut_iou_max": round(float(o[:, 1].max()), 3),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
