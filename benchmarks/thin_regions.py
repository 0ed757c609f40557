"""Thin regions: the focus ratio on a 2-px frame and a radius-4 spot, as drawn and grown.

    python benchmarks/thin_regions.py [--cue frame] [--method lime] [--json out.json]

In the held-out worlds of ``worlds.py`` (``XAI_WORLDS``: the folder holding it), each world's
shortcut model reads only its cue, so its attribution belongs on the cue's region: a thin frame
along the edges (``frame``), a small disc (``spot``). Measures the relevance ratio there at the
default explanation settings, as drawn, grown by 1 and 2 pixels and grown to the superpixels
that touch it (``tolerance=`` of ``assert_attribution_focus``), and how many of the 12 images
pass the default focus bound each way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pytest_xai import explain, metrics  # noqa: E402
from pytest_xai.defaults import default_min_ratio  # noqa: E402
from pytest_xai.regions import Region, dilate_mask, touching_segments  # noqa: E402

WORLDS = Path(os.environ.get("XAI_WORLDS", Path(__file__).resolve().parent))
TOLERANCES: tuple[Any, ...] = (0, 1, 2, "superpixels")


def grown(exp: Any, mask: np.ndarray, tolerance: Any) -> np.ndarray:
    if tolerance == "superpixels":
        return mask if exp.segments is None else touching_segments(mask, exp.segments)
    return dilate_mask(mask, tolerance)


def ratios(clf: Any, images: list[Any], region: str, method: str) -> dict[str, list[tuple[float, float]]]:
    """Per tolerance: (relevance ratio, area share) of the grown region on each image."""
    exps = explain(clf, list(images), method=method, seed=0)
    out: dict[str, list[tuple[float, float]]] = {}
    for tol in TOLERANCES:
        masks = [grown(e, metrics.region_mask(e, i.regions[region]), tol) for e, i in zip(exps, images)]
        out[str(tol)] = [
            (round(metrics.relevance_mass(e, Region.mask(m)) / m.mean(), 3), round(float(m.mean()), 4))
            for e, m in zip(exps, masks)
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cue", action="append", choices=("frame", "spot"))
    parser.add_argument("--method", action="append", choices=("lime", "kernel_shap", "gradient_shap"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sys.path.append(str(WORLDS))
    import worlds as held_out  # type: ignore[import-not-found]

    out: dict[str, Any] = {}
    for cue in args.cue or ["frame", "spot"]:
        world = held_out.load_world(cue)
        for method in args.method or ["lime", "kernel_shap", "gradient_shap"]:
            row = ratios(world.shortcut, world.images, world.region, method)
            out[f"{cue} {method}"] = row
            for tol, pairs in row.items():
                values = [r for r, _ in pairs]
                passing = sum(r >= default_min_ratio(a) for r, a in pairs)
                print(f"{cue:6} {method:13} tolerance {tol:11}: ratio {min(values):.2f}-{max(values):.2f}, "
                      f"{passing}/12 pass the default focus bound", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
