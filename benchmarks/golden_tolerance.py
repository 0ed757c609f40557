"""Measure what strict-mode golden bounds must absorb and what they must catch.

    python benchmarks/golden_tolerance.py

Strict mode asks whether one and the same model still explains the same way. On the example
project's 12 shapes images, at the suite's default settings (grey fill for LIME / Kernel SHAP,
1000 samples, 200 for GradientSHAP), each method's explanation of the clean model at seed 0
(the golden) is compared with:

- the same model and seed at ``batch_size=1`` (what another machine changes: float summation
  order);
- the same model at seeds 1..5 (the worst case of run-to-run variation; a golden keeps its seed);
- the clean recipe retrained with another seed (clean_v2) and the shortcut model (both must fail).

Prints, per method and case, Spearman and top-20% IoU (min / median) and how many comparisons
strict mode fails at the default bounds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_project import models  # noqa: E402
from example_project.make_images import FOLDER, shapes_names  # noqa: E402
from pytest_xai import explain, metrics  # noqa: E402
from pytest_xai.defaults import DEFAULT_MIN_SPEARMAN, DEFAULT_MIN_TOP_K_IOU  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402

SAMPLES = {"lime": 1000, "kernel_shap": 1000, "gradient_shap": 200}
SEEDS = range(1, 6)


def run(classifier: Any, images: list[Any], method: str, **options: Any) -> list[Any]:
    out = explain(classifier, images, method=method, samples=SAMPLES[method], **options)
    return out if isinstance(out, list) else [out]


def row(method: str, case: str, pairs: list[tuple[Any, Any]]) -> str:
    found = [metrics.agreement(g, e) for g, e in pairs]
    rho = np.array([f.spearman for f in found])
    iou = np.array([f.top_k_iou for f in found])
    fails = sum(
        g.target != e.target or not (r >= DEFAULT_MIN_SPEARMAN and i >= DEFAULT_MIN_TOP_K_IOU)
        for (g, e), r, i in zip(pairs, rho, iou)
    )
    return (
        f"| {method} | {case} | {np.nanmin(rho):.2f} / {np.nanmedian(rho):.2f} | "
        f"{np.nanmin(iou):.2f} / {np.nanmedian(iou):.2f} | {fails} of {len(pairs)} |"
    )


def main() -> None:
    clean = models.clean(device="cpu")
    others = {"clean_v2 (retrained)": models.clean_v2(device="cpu"), "shortcut model": models.shortcut(device="cpu")}
    images = [load_test_image(FOLDER / name) for name in shapes_names()]
    print("| method | compared with the golden | Spearman min / median | top-20% IoU min / median | strict fails |")
    print("|---|---|---|---|---|")
    for method in SAMPLES:
        golden = run(clean, images, method, seed=0)
        print(row(method, "same seed, batch_size=1", list(zip(golden, run(clean, images, method, seed=0, batch_size=1)))))
        reseeded = [p for seed in SEEDS for p in zip(golden, run(clean, images, method, seed=seed))]
        print(row(method, f"seeds {SEEDS.start}..{SEEDS.stop - 1}", reseeded))
        for case, model in others.items():
            print(row(method, case, list(zip(golden, run(model, images, method, seed=0)))))


if __name__ == "__main__":
    main()
