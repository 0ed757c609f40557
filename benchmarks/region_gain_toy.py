"""The region-gain criterion of release goldens on the toy world: the example project.

    python benchmarks/region_gain_toy.py [--methods lime,kernel_shap,gradient_shap]

The example project's 12 shapes images carry two named regions in their sidecars, "object" and
"watermark" (the corner box where the shortcut model's tag sits). Goldens are the clean model's
explanations at default settings (seed 0); the judged explanations are those of
``benchmarks/heldout.py``'s example setup (clean at seed 1, clean_v2, float16, fine-tune, 20%
pruned: harmless; the tag shortcut model), cached with it under ``benchmarks/.worlds/``. For
each, the gain of positive mass inside each named region (``metrics.region_gains``) and the gain
release mode judges (``goldens.modes.region_gain``: regions the golden rested on left out), and
the growth of the model's reliance on a judged region (``goldens.reliance``) go to
``benchmarks/results/region_gain_toy.json``; ``benchmarks/real_tables.py`` reads it with the
real-network results to choose ``DEFAULT_MAX_REGION_GAIN`` and ``DEFAULT_MAX_RELIANCE_GAIN``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import heldout, worlds  # noqa: E402
from pytest_xai import metrics  # noqa: E402
from pytest_xai.goldens import reliance  # noqa: E402
from pytest_xai.goldens.modes import region_gain  # noqa: E402
from pytest_xai.goldens.previews import caption_meta  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "region_gain_toy.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", default=",".join(heldout.METHODS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    setup = heldout.example_setup(seeds=1)
    folder = worlds.CACHE / worlds.cache_key() / "explanations"
    rows = []
    for method in args.methods.split(","):
        goldens = heldout.explanations(setup, "golden", setup.clean, method, 0, folder)
        assert goldens is not None
        for case, (kind, clf, seed) in setup.judged.items():
            news = heldout.explanations(setup, case, clf, method, seed, folder)
            assert news is not None
            for image, golden, new in zip(setup.images, goldens, news):
                gains = metrics.region_gains(golden, new, image.regions)
                golden.computed_by(setup.clean).meta.update(caption_meta(golden, image.name, image.regions))
                golden.meta.update(reliance.record(golden))
                judged = region_gain(golden, new, 1.0)
                relied = reliance.reliance_gain(golden, new.computed_by(clf), 1.0, judged.rests)
                rows.append({"world": "example", "release": case, "kind": kind, "method": method,
                             "photo": image.name, "same_prediction": golden.target == new.target,
                             "region_gain": gains, "judged_region": judged.region,
                             "judged_gain": judged.value if judged.value == judged.value else None,
                             "reliance_region": relied.region,
                             "reliance_gain": relied.value if relied.value == relied.value else None})
            print(f"{method} {case}: done", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
