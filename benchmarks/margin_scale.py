"""Which margin criterion separates harmless releases from shortcuts on toy AND real networks.

    python benchmarks/margin_scale.py --measure   # forward passes only (cached worlds/releases)
    python benchmarks/margin_scale.py             # the table, from benchmarks/results/margin_scale.json

The cases are those of ``benchmarks/margin_default.py`` (toy worlds, every fill; the real
network's harmless releases on five photos with the watermark and random boxes hidden; the
hand-spliced +8 / +4 watermark) and of ``benchmarks/real_releases.py`` (EfficientNet-Lite0 on
12 photos, its harmless releases and its trained watermark and colour-cast frame shortcuts,
each cue hidden with grey). ``--measure`` re-runs the forward passes of those cases (no
explanations, no training: the networks come from the benchmarks' caches) and keeps, per case,
the summaries of the logits before and after the region is hidden.

Each candidate turns a case into one number, the larger the more the region is used; its bound
is 1.5x the worst harmless case over every world, network, region and fill; a shortcut case is
caught when it exceeds the bound (the probability bound ``max_change`` is applied too, as the
check does).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
DATA = RESULTS / "margin_scale.json"
FACTOR = 1.5
MAX_CHANGE = 0.47
NOT_COMPACT = ("stripes",)  # the cue is the whole background: reported by margin_default, not used here


# -- measurement ----------------------------------------------------------------------------------


def summary(logits: np.ndarray, probs: np.ndarray, t: int) -> dict[str, float]:
    """What the candidates need of one row of logits, for the watched class ``t``."""
    others = np.delete(logits, t)
    lse = float(np.log(np.exp(others - others.max()).sum()) + others.max())
    q1, med, q3 = np.percentile(logits, [25, 50, 75])
    return {"target": float(logits[t]), "margin": float(logits[t] - others.max()), "p": float(probs[t]),
            "mean": float(logits.mean()), "std": float(logits.std()), "range": float(logits.max() - logits.min()),
            "log_odds": float(logits[t] - lse), "classes": int(logits.size), "std_others": float(others.std()),
            "mad": float(np.median(np.abs(logits - med))), "iqr": float(q3 - q1)}  # fmt: skip


def case(clf: Any, image: Any, region: Any, fill: str) -> tuple[dict[str, float], dict[str, float]]:
    from pytest_xai.checks.interventions import core, fills
    from pytest_xai.images import as_image

    array = as_image(image, "image")
    _, mask = core.region_mask(region, array)
    probs, logits = core.outputs(clf, [array, fills.hide(array, mask, fill)])
    t = int(np.argmax(probs[0]))
    return summary(logits[0], probs[0], t), summary(logits[1], probs[1], t)


def toy(out: list[dict[str, Any]]) -> None:
    from benchmarks import worlds
    from example_project import models
    from example_project.make_images import FOLDER, shapes_names
    from pytest_xai.plugin.testimage import load_test_image

    images = [load_test_image(FOLDER / n) for n in shapes_names()]
    sets = [("example tag", "watermark", images,
             {n: (getattr(models, n)(device="cpu"), n != "shortcut") for n in ("clean", "clean_v2", "shortcut")})]
    for cue in worlds.CUES:
        if cue in NOT_COMPACT:
            continue
        w = worlds.load_world(cue)
        sets.append((cue, w.region, w.images, {"clean": (w.clean, True), **{n: (c, True) for n, c in w.harmless.items()},
                                               "shortcut": (w.shortcut, False)}))  # fmt: skip
    for world, cue, imgs, clfs in sets:
        for model, (clf, harmless) in clfs.items():
            for image in imgs:
                for fill in ("grey", "blur", "inpaint"):
                    before, after = case(clf, image, image.regions[cue], fill)
                    out.append({"source": "toy", "world": world, "cue": cue, "model": model, "harmless": harmless,
                                "image": image.name, "region": cue, "fill": fill, "before": before, "after": after})
        print(f"{world}: done", file=sys.stderr, flush=True)


def real_photos5(out: list[dict[str, Any]]) -> None:
    from benchmarks import margin_default, real_photos

    base = real_photos.network()
    plain, marked = real_photos.photos(), real_photos.photos(watermark=True)
    nets: dict[str, tuple[Any, bool]] = {m: (n, True) for m, n in real_photos.releases(base).items()}
    for boost in (8.0, 4.0):
        nets[f"spliced watermark +{boost:g}"] = (real_photos.WatermarkShortcut(base, boost), False)
    for model, (net, harmless) in nets.items():
        clf = real_photos.classifier(net)
        for k, (p, wm) in enumerate(zip(plain, marked)):
            for photo, suffix in ((p, ""), (wm, " +wm")) if harmless else ((wm, " +wm"),):
                regions = [photo.regions["watermark"]]
                if harmless:
                    regions += margin_default.random_boxes(photo, margin_default.RANDOM_BOXES, seed=k)
                for region in regions:
                    for fill in ("grey", "blur", "inpaint"):
                        before, after = case(clf, photo.image, region, fill)
                        out.append({"source": "real5", "world": "real (5 photos)", "cue": "watermark", "model": model,
                                    "harmless": harmless, "image": photo.name + suffix, "region": region.name or "watermark",
                                    "fill": fill, "before": before, "after": after})  # fmt: skip
        print(f"real5 {model}: done", file=sys.stderr, flush=True)


def real_releases12(out: list[dict[str, Any]]) -> None:
    from benchmarks import real_world as rw

    nets = rw.releases()
    for release, clf in rw.classifiers(nets).items():
        for image in rw.test_photos():
            for cue in rw.CUES:
                before, after = case(clf, image, image.regions[cue], "grey")
                harmless = not release.startswith("shortcut")
                out.append({"source": "real12", "world": "real (12 photos)", "cue": cue, "model": release,
                            "harmless": harmless, "image": image.name, "region": cue, "fill": "grey",
                            "before": before, "after": after})  # fmt: skip
        print(f"real12 {release}: done", file=sys.stderr, flush=True)


# -- candidates -----------------------------------------------------------------------------------


def _fall(c: dict[str, Any]) -> float:
    return c["before"]["margin"] - c["after"]["margin"]


CANDIDATES: dict[str, tuple[str, Callable[[dict[str, Any]], float]]] = {
    "absolute": ("margin fall, logits", _fall),
    "per_margin": ("fall / margin before", lambda c: _fall(c) / max(abs(c["before"]["margin"]), 1e-6)),
    "per_std": ("fall / std of the image's logits", lambda c: _fall(c) / c["before"]["std"]),
    "per_std_others": ("fall / std of the other logits", lambda c: _fall(c) / c["before"]["std_others"]),
    "per_iqr": ("fall / interquartile range of the logits", lambda c: _fall(c) / c["before"]["iqr"]),
    "per_range": ("fall / range of the image's logits", lambda c: _fall(c) / c["before"]["range"]),
    "per_lead": ("fall / (target logit - mean logit)", lambda c: _fall(c) / (c["before"]["target"] - c["before"]["mean"])),
    "z_margin": ("margin/std before - after", lambda c: c["before"]["margin"] / c["before"]["std"] - c["after"]["margin"] / c["after"]["std"]),
    "per_target_swing": ("fall / |target logit change| (min 1)", lambda c: _fall(c) / max(abs(c["before"]["target"] - c["after"]["target"]), 1.0)),
    "log_odds": ("fall of log p/(1-p)", lambda c: c["before"]["log_odds"] - c["after"]["log_odds"]),
}


def kind(c: dict[str, Any]) -> str:
    """The shortcut group a case counts in ('' for harmless cases and cross-cue cases)."""
    if c["harmless"]:
        return ""
    if c["source"] == "real12":
        return f"real trained {c['cue']}" if c["model"] == f"shortcut_{c['cue']}" else ""
    if c["source"] == "real5":
        return c["model"]
    return f"toy {c['world']}"


def evaluate(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    harmless = [c for c in cases if c["harmless"]]
    groups = sorted({kind(c) for c in cases} - {""})
    rows = []
    for name, (words, score) in CANDIDATES.items():
        worst = max(harmless, key=score)
        bound = FACTOR * score(worst)
        row: dict[str, Any] = {"candidate": name, "words": words, "worst_harmless": round(score(worst), 4),
                               "worst_case": f"{worst['world']} / {worst['model']} / {worst['image']} / {worst['region']} / {worst['fill']}",
                               "bound": round(bound, 4), "caught": {}}  # fmt: skip
        for g in groups:
            for fill in ("grey", "blur", "inpaint"):
                mine = [c for c in cases if kind(c) == g and c["fill"] == fill]
                if not mine:
                    continue
                hit = sum(score(c) > bound or c["before"]["p"] - c["after"]["p"] > MAX_CHANGE for c in mine)
                row["caught"][f"{g} ({fill})"] = [hit, len(mine)]
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0]["caught"])
    head = "| candidate | worst harmless (case) | bound (1.5×) | " + " | ".join(cols) + " |"
    lines = ["## Scale of the margin: which criterion holds on toy and real networks", "",
             "Generated by `benchmarks/margin_scale.py` from `benchmarks/results/margin_scale.json` (forward passes of the",
             "cases of `margin_default.py` and `real_releases.py`). Fall = margin before - after the region is hidden.",
             f"Bound = {FACTOR}× the worst harmless case over every world, network, region and fill; a shortcut case is",
             f"caught when its score exceeds the bound or its p falls by more than max_change {MAX_CHANGE}.", "",
             head, "|" + "---|" * (3 + len(cols))]  # fmt: skip
    for r in rows:
        cells = " | ".join(f"{r['caught'][c][0]}/{r['caught'][c][1]}" for c in cols)
        lines.append(f"| {r['words']} | {r['worst_harmless']:.3f} ({r['worst_case']}) | {r['bound']:.3f} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="re-run the forward passes into margin_scale.json")
    args = parser.parse_args()
    if args.measure:
        import torch

        torch.set_num_threads(1)
        cases: list[dict[str, Any]] = []
        toy(cases)
        real_releases12(cases)
        real_photos5(cases)
        DATA.write_text(json.dumps(cases))
    cases = json.loads(DATA.read_text())
    rows = evaluate(cases)
    print(markdown(rows))


if __name__ == "__main__":
    main()
