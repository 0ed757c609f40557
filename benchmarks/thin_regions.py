"""Thin regions: the focus ratio on a 2-px frame and a radius-4 spot, as drawn and grown.

    python benchmarks/thin_regions.py [--cue frame] [--method lime] [--json out.json]

In the held-out worlds of ``worlds.py`` (``XAI_WORLDS``: the folder holding it), each world's
shortcut model reads only its cue, so its attribution belongs on the cue's region: a thin frame
along the edges (``frame``), a small disc (``spot``). Measures the relevance ratio there at the
default explanation settings, as drawn, grown by 1 and 2 pixels and grown to the superpixels
that touch it (``tolerance=`` of ``assert_attribution_focus``), and how many of the 12 images
pass the default ``min_ratio`` each way.
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

from benchmarks.focus_default import TOLERANCES, ratios  # noqa: E402
from pytest_xai.defaults import DEFAULT_MIN_RATIO  # noqa: E402

WORLDS = Path(os.environ.get("XAI_WORLDS", Path(__file__).resolve().parent))


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
            row = ratios(world.shortcut, world.images, world.region, method, TOLERANCES)
            out[f"{cue} {method}"] = row
            for tol, values in row.items():
                passing = sum(v >= DEFAULT_MIN_RATIO for v in values)
                print(f"{cue:6} {method:13} tolerance {tol:11}: ratio {min(values):.2f}-{max(values):.2f}, "
                      f"{passing}/12 pass min_ratio {DEFAULT_MIN_RATIO}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
