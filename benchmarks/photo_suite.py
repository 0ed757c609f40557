"""A pretrained ImageNet network on real photographs: what one explanation costs on CPU, and how
LIME and SHAP compare on the example project's photo suite.

    python benchmarks/photo_suite.py [--markdown out.md] [--json out.json] [--skip-cost] [--skip-photos]

1. Cost: EfficientNet-Lite0 (example_project.models.efficientnet_lite0) explains chelsea.png
   (224×224) once per method, at each method's fixed budget, under ``samples="auto"`` (the
   default) and at the photo suite's budget, in this process: wall and CPU seconds, model evaluations, and the forward floor
   (evaluations × the best seconds per image of a forward pass at the engine's batch size).
   Threads are torch's default unless OMP_NUM_THREADS says otherwise; with one thread the CPU
   seconds are what an idle core takes, however loaded the machine (the load average is kept
   beside the figures).
2. LIME against SHAP, per photo of example_project/tests/test_photos.py at the suite's budget
   (seed 0): the top-5, Spearman and top-20% IoU between the methods, the positive mass on the
   hand-drawn object and each method's seconds and evaluations.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the example project is importable
    sys.path.insert(0, str(ROOT))

from example_project.make_images import FOLDER, PHOTOS  # noqa: E402
from example_project.models import efficientnet_lite0  # noqa: E402
from example_project.tests.test_photos import SAMPLES  # noqa: E402
from pytest_xai import Classifier, explain  # noqa: E402
from pytest_xai.checks import metrics  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402

METHODS = ("lime", "kernel_shap", "gradient_shap")
DEFAULT_SAMPLES = {"lime": 1000, "kernel_shap": 1000, "gradient_shap": 200}


def forward_seconds(clf: Classifier, image: np.ndarray, batch: int, repeats: int = 3) -> float:
    """Best seconds per image of a forward pass over ``batch`` copies of the image."""
    x = clf.to_batch([image] * batch)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            clf.logits(x)
            best = min(best, (time.perf_counter() - start) / batch)
    return best


def cost(clf: Classifier) -> dict[str, object]:
    image = load_test_image(FOLDER / "chelsea.png").array
    explain(clf, image, method="lime", samples=20)  # warm-up: SLIC, allocator, kernels
    rows: dict[str, object] = {}
    per_forward = None
    auto = dict.fromkeys(METHODS, "auto")  # the default: stops when the heatmap is certain enough
    for budget_name, budget in (("fixed", DEFAULT_SAMPLES), ("auto", auto), ("suite", SAMPLES)):
        for method in METHODS:
            start, cpu = time.perf_counter(), time.process_time()
            exp = explain(clf, image, method=method, samples=budget[method])
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            if per_forward is None:
                per_forward = forward_seconds(clf, image, int(exp.meta["batch_size"]))
            rows[f"{method}@{budget[method]}"] = {
                "budget": budget_name, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                "evaluations": exp.meta["evaluations"],
                "forward_floor_s": round(per_forward * exp.meta["evaluations"], 2),
            }
    return {"threads": torch.get_num_threads(), "load_average": os.getloadavg(),
            "seconds_per_forward": per_forward, "runs": rows}


def compare(clf: Classifier) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in PHOTOS:
        image = load_test_image(FOLDER / f"{name}.png")
        exps = {}
        for method in METHODS:
            start = time.perf_counter()
            exps[method] = explain(clf, image.array, method=method, samples=SAMPLES[method])
            exps[method].meta["wall"] = time.perf_counter() - start
        top = clf.predict(image.array, top_k=5)
        pairs = {}
        for a, b in (("lime", "kernel_shap"), ("lime", "gradient_shap"), ("kernel_shap", "gradient_shap")):
            found = metrics.agreement(exps[a], exps[b])
            pairs[f"{a} vs {b}"] = {"spearman": round(found.spearman, 3), "top_k_iou": round(found.top_k_iou, 3)}
        out[name] = {
            "top5": [[n, round(p, 4)] for n, p in zip(top.names, top.probabilities)],
            "object_area": round(float(metrics.region_mask(exps["lime"], image.regions["object"]).mean()), 3),
            "agreement": pairs,
            "methods": {m: {"mass_on_object": round(metrics.relevance_mass(e, image.regions["object"]), 3),
                            "seconds": round(e.meta["wall"], 2), "evaluations": e.meta["evaluations"]}
                        for m, e in exps.items()},
        }
    return out


def markdown(results: dict[str, object]) -> str:
    lines = ["| photo | top-1 (p) | LIME vs Kernel SHAP: Spearman / top-20% IoU | mass on object (area): "
             "LIME / KS / GS | seconds: LIME / KS / GS |", "|---|---|---|---|---|"]
    for name, row in results["photos"].items():  # type: ignore[attr-defined]
        top, pair, m = row["top5"][0], row["agreement"]["lime vs kernel_shap"], row["methods"]
        lines.append(
            f"| {name} | {top[0]} ({top[1]:.3f}) | {pair['spearman']:.2f} / {pair['top_k_iou']:.2f} | "
            + " / ".join(f"{m[k]['mass_on_object']:.2f}" for k in METHODS) + f" ({row['object_area']:.2f}) | "
            + " / ".join(f"{m[k]['seconds']:.1f}" for k in METHODS) + " |"
        )
    if "cost" in results:
        lines += ["", "| run | wall seconds | CPU seconds | evaluations | forward floor (s) |", "|---|---|---|---|---|"]
        for key, run in results["cost"]["runs"].items():  # type: ignore[index]
            lines.append(f"| {key} | {run['seconds']} | {run['cpu_seconds']} | {run['evaluations']} | "
                         f"{run['forward_floor_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-photos", action="store_true")
    args = parser.parse_args()
    clf = efficientnet_lite0(device="cpu")
    results: dict[str, object] = {}
    if not args.skip_cost:
        results["cost"] = cost(clf)
    results["photos"] = {} if args.skip_photos else compare(clf)
    text = markdown(results)
    print(json.dumps(results, indent=1))
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
