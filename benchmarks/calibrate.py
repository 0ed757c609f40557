"""Calibrated bounds on the example project: do they pass harmless releases and fail the shortcut?

    python benchmarks/calibrate.py [--json out.json]

Applies the ``pytest --xai-calibrate`` rule (``pytest_xai.plugin.calibrate.rule``) to the example suite's
focus check (relevance ratio on "object") and avoid check (relevance mass on "watermark") for
each of the 12 shapes images and lime, kernel_shap, gradient_shap at default settings:
  - calibration passes, as ``--xai-calibrate --xai-calibrate-with=...clean_v2`` runs them: the
    clean model at seeds 0, 1, 2 and clean_v2 at seed 0;
  - each check's suggested bound from those four values;
  - the suggested bounds applied to runs the calibration never saw: the clean model at seeds
    3, 4, 5, three harmless releases of it (float16, finetune, prune) and the shortcut model
    (reads the corner tag), and to the calibration passes themselves.
Explanations come from the held-out worlds' cache (``--cached``) where present, else are computed.
Prints, per method and check kind, how many of the 12 checks each run fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_project import models  # noqa: E402
from example_project.make_images import FOLDER, shapes_names  # noqa: E402
from pytest_xai import Explanation, explain, metrics  # noqa: E402
from pytest_xai.plugin.calibrate.rule import CalibratedCheck  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402

METHODS = ("lime", "kernel_shap", "gradient_shap")
CALIBRATION = [("clean", 0), ("clean", 1), ("clean", 2), ("clean_v2", 0)]
# never seen by the calibration: the clean model at other seeds, three harmless releases of it
# (weights rounded to float16, fine-tuned one epoch, 20% of conv weights pruned; worlds.py
# builds them, its cache holds their explanations) and the shortcut model
HELD_OUT = [("clean", 3), ("clean", 4), ("clean", 5), ("float16", 0), ("finetune", 0), ("prune", 0), ("shortcut", 0)]
# the worlds cache's folder names (benchmarks/heldout.py in the worlds' project)
CASES = {"clean": {0: "golden", 1: "seed1", 2: "seed2", 3: "seed3", 4: "seed4", 5: "seed5"},
         "clean_v2": {0: "retrain"}, "float16": {0: "float16"}, "finetune": {0: "finetune"},
         "prune": {0: "prune"}, "shortcut": {0: "shortcut"}}
def _cached() -> Path:
    """Where benchmarks/heldout.py keeps the example's explanations (default settings)."""
    from benchmarks import worlds

    return worlds.CACHE / worlds.cache_key() / "explanations" / "example"


CACHED = _cached()
CHECKS = {"focus": ("object", "relevance_ratio", False), "avoid": ("watermark", "relevance_mass", True)}


def measures(clf: Any, images: list[Any], method: str, seed: int, cached: Path | None) -> dict[str, list[float]]:
    paths = [cached / f"{method}.{i}.npz" for i in range(len(images))] if cached else []
    if paths and all(p.is_file() for p in paths):
        exps = [Explanation.load(p) for p in paths]  # the same default settings, computed once
    elif clf is None:
        raise SystemExit(f"no cached explanations in {cached} and no model to compute them")
    else:
        exps = explain(clf, list(images), method=method, seed=seed)
    return {
        kind: [getattr(metrics, metric)(e, i.regions[region]) for e, i in zip(exps, images)]
        for kind, (region, metric, _) in CHECKS.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cached", type=Path, default=CACHED,
                        help="the worlds cache's explanations/example folder (used when present)")
    parser.add_argument("--method", action="append", choices=METHODS, help="only these methods (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = [load_test_image(FOLDER / n) for n in shapes_names()]
    clfs = {"clean": models.clean("cpu"), "clean_v2": models.clean_v2("cpu"), "shortcut": models.shortcut("cpu")}
    out: dict[str, Any] = {}
    for method in args.method or METHODS:
        runs = {
            f"{m} seed {s}": measures(clfs.get(m), images, method, s, args.cached / CASES[m][s] if args.cached else None)
            for m, s in CALIBRATION + HELD_OUT
        }
        row: dict[str, Any] = {}
        for kind, (region, metric, upper) in CHECKS.items():
            checks = []
            for k, image in enumerate(images):
                check = CalibratedCheck(image.name, kind, metric, upper, None, region=region, method=method)
                check.observed = {f"{m} seed {s}": runs[f"{m} seed {s}"][kind][k] for m, s in CALIBRATION}
                check.settle()
                checks.append(check)
            fails = {
                label: sum(
                    not (v[kind][k] <= c.suggested if upper else v[kind][k] >= c.suggested)  # NaN fails
                    for k, c in enumerate(checks) if c.suggested is not None
                )
                for label, v in runs.items()
            }
            row[kind] = {
                "suggested": [c.suggested for c in checks],
                "observed": {label: [round(x, 4) for x in v[kind]] for label, v in runs.items()},
                "failed_of_12": fails,
            }
            print(f"{method:13} {kind:5} suggested {min(row[kind]['suggested']):.3f}-{max(row[kind]['suggested']):.3f}  "
                  + "  ".join(f"{label}: {n}/12 fail" for label, n in fails.items()), flush=True)
        out[method] = row
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
