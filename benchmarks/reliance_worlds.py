"""Release mode's reliance criterion on the held-out toy worlds (``benchmarks/worlds.py``).

    python benchmarks/reliance_worlds.py

For each world (spot, stripes, frame and tag cues; small CNNs trained in this repository) and
each of its images, the growth of reliance on every named region but the object
(``goldens.reliance``: how far hiding the region with grey lowers the target's logit margin, in
interquartile ranges of the logits, release minus the clean model), for the harmless releases
(retrain, float16, fine-tune, prune) and the shortcut model. No explanation is needed: reliance
depends on the model alone. Results go to ``benchmarks/results/reliance_worlds.json``;
``benchmarks/real_tables.py`` reads them with the real network's to choose
``DEFAULT_MAX_RELIANCE_GAIN``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import worlds  # noqa: E402
from pytest_xai.checks.interventions.measure import outputs, region_reliance  # noqa: E402
from pytest_xai.goldens.reliance import FILL  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "reliance_worlds.json"


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for cue in worlds.CUES:
        world = worlds.load_world(cue)
        releases = {**{k: ("harmless", v) for k, v in world.harmless.items()}, "shortcut": ("shortcut", world.shortcut)}
        for image in world.images:
            h, w = image.array.shape[:2]
            masks = {n: r.to_mask(h, w) for n, r in image.regions.items() if n != "object"}
            masks = {n: m for n, m in masks.items() if m.any()}
            target = int(np.argmax(outputs(world.clean, [image.array])[0][0]))
            before = region_reliance(world.clean, image.array, masks, target, FILL)
            for release, (kind, clf) in releases.items():
                same = int(np.argmax(outputs(clf, [image.array])[0][0])) == target
                after = region_reliance(clf, image.array, masks, target, FILL)
                gains = {n: after[n] - before[n] for n in masks}
                top = max(gains, key=lambda n: gains[n])
                rows.append({"world": cue, "release": release, "kind": kind, "photo": image.name,
                             "same_prediction": same, "reliance_region": top, "reliance_gain": gains[top]})
        print(f"{cue}: done", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
