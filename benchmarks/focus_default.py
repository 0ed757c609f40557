"""Focus bounds: the relevance ratio (mass / area share) harmless and shortcut models reach.

    python benchmarks/focus_default.py [--json out.json] [--worlds /path/to/benchmarks]

Measures, at the package's default explanation settings (seed 0) for lime, kernel_shap and
gradient_shap, the relevance ratio on each image's "object" region
  - on the example project's 12 shapes images for clean, clean_v2 and shortcut (reads the tag);
  - on the held-out worlds (``worlds.py``'s ``load_world(cue)``, when found) for clean,
    clean_v2 and each world's shortcut model;
and, for thin regions, the ratio each world's shortcut model puts on its own cue's region (a
2-px frame, a radius-4 spot, a corner disc) as drawn, grown by 1 and 2 pixels
(``tolerance=N``), and grown to the superpixels that touch it (``tolerance="superpixels"``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_project import models  # noqa: E402
from example_project.make_images import FOLDER, shapes_names  # noqa: E402
from pytest_xai import Explanation, explain, metrics  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402
from pytest_xai.regions import Region, dilate_mask, touching_segments  # noqa: E402

METHODS = ("lime", "kernel_shap", "gradient_shap")
TOLERANCES: tuple[Any, ...] = (0, 1, 2, "superpixels")
WORLDS = Path(os.environ.get("XAI_WORLDS", Path(__file__).resolve().parent))


def ratio(exp: Any, mask: np.ndarray) -> float:
    """The relevance ratio on a boolean mask."""
    return float(metrics.relevance_mass(exp, Region.mask(mask)) / mask.mean())


def grown(exp: Any, mask: np.ndarray, tolerance: Any) -> np.ndarray:
    if tolerance == "superpixels":
        return mask if exp.segments is None else touching_segments(mask, exp.segments)
    return dilate_mask(mask, tolerance)


def ratios(clf: Any, images: list[Any], region: str, method: str, tolerances: tuple[Any, ...] = (0,)) -> dict[str, list[float]]:
    exps = explain(clf, list(images), method=method, seed=0)
    out: dict[str, list[float]] = {}
    for tol in tolerances:
        out[str(tol)] = [
            round(ratio(e, grown(e, metrics.region_mask(e, i.regions[region]), tol)), 3)
            for e, i in zip(exps, images)
        ]
    return out


def example() -> dict[str, Any]:
    images = [load_test_image(FOLDER / n) for n in shapes_names()]
    clfs = {"clean": models.clean("cpu"), "clean_v2": models.clean_v2("cpu"), "shortcut": models.shortcut("cpu")}
    return {
        name: {m: ratios(clf, images, "object", m, TOLERANCES) for m in METHODS}
        for name, clf in clfs.items()
    }


def worlds(cues: list[str] | None = None) -> dict[str, Any]:
    if not (WORLDS / "worlds.py").is_file():
        return {}
    sys.path.append(str(WORLDS))
    import worlds as held_out

    out: dict[str, Any] = {}
    for cue in cues or held_out.CUES:
        world = held_out.load_world(cue)
        row: dict[str, Any] = {
            name: {m: ratios(getattr(world, name), world.images, "object", m, TOLERANCES) for m in METHODS}
            for name in ("clean", "clean_v2", "shortcut")
        }
        row["shortcut_on_cue"] = {
            m: ratios(world.shortcut, world.images, world.region, m, TOLERANCES) for m in METHODS
        }
        out[cue] = row
        print(cue, "done", flush=True)
    return out


def cached_worlds(folder: Path, cues: list[str] | None) -> dict[str, Any]:
    """The ratio on "object" from the worlds cache's explanations (``<folder>/<cue>/<case>/
    <method>.<i>.npz``, the default settings): every case and method cached there."""
    sys.path.append(str(WORLDS))
    import worlds as held_out

    out: dict[str, Any] = {}
    for cue in cues or held_out.CUES:
        images = held_out.load_world(cue).images
        row: dict[str, Any] = {}
        for case in sorted(p.name for p in (folder / cue).iterdir()):
            for method in METHODS:
                paths = [folder / cue / case / f"{method}.{i}.npz" for i in range(len(images))]
                if all(p.is_file() for p in paths):
                    exps = [Explanation.load(p) for p in paths]
                    values = [round(metrics.relevance_ratio(e, i.regions["object"]), 3) for e, i in zip(exps, images)]
                    row.setdefault(case, {})[method] = {"0": values}
        out[cue] = row
    return out


def summary(results: dict[str, Any]) -> str:
    lines = []
    for world, row in results.items():
        for model, per_method in row.items():
            for method, per_tol in per_method.items():
                spans = "  ".join(f"tol {t}: {min(v):.2f}-{max(v):.2f} (min)" for t, v in per_tol.items())
                lines.append(f"{world:9} {model:16} {method:13} {spans}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-worlds", action="store_true")
    parser.add_argument("--cached-worlds", type=Path, help="read the worlds' explanations from this cache folder")
    parser.add_argument("--cue", action="append", help="only these held-out worlds (default: all), no example")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, Any] = {}
    if not args.cue:
        results["example"] = example()
        print(summary(results), flush=True)
    if args.cached_worlds:
        results.update(cached_worlds(args.cached_worlds, args.cue))
    elif not args.skip_worlds:
        results.update(worlds(args.cue))
    print(summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
