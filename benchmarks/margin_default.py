"""The logit-margin bounds of the interventions: what harmless models reach, what shortcuts reach.

    python benchmarks/margin_default.py [--json out.json] [--markdown out.md]

The margin is the target's logit minus the best other logit. Measured, in one process on CPU:

1. Toy worlds (the example project's tag world and the held-out spot, frame, tag and stripes
   worlds of ``benchmarks/worlds.py``): every image under every harmless model (clean,
   clean_v2 / retrain, float16, fine-tune, prune) and the world's shortcut model:
   - hiding the cue region (grey, blur, inpaint): |Δp| and |Δmargin| (``assert_region_irrelevant``);
   - hiding the object (inpaint): the drops of p and of the margin (``assert_region_needed``);
   - swapping the cue region in from the other images: per donor, the drops of p and margin.
2. A real network (``benchmarks/real_photos.py``: EfficientNet-Lite0 on five scikit-image photos
   at 224×224), its harmless releases (float16, batch norm folded, head pruned 10% and 20%):
   - hiding the watermark region of the clean and the watermarked photo, and six random
     watermark-sized boxes outside the object (seeded), with each fill;
   - hiding the object (inpaint);
   and the hand-spliced watermark shortcut (``WatermarkShortcut``: +8 logits, and +4, on the
   predicted class while the watermark is there) on the watermarked photos.

Then, per fill and world, the worst harmless fall of the margin (and rise: a rise is left to
p), the margin the default ``max_logit_drop`` keeps above it, and the shortcut cases caught by
the probability bound ``max_change`` alone and with the margin's fall. Harmless toy releases
raise the margin by up to 8.5 logits and lower it by up to 6.9 (their logits span 10-27), the
real network's by at most 1.6 (its margins are 0.2-4.5): no one logit bound keeps a 1.5x
margin over every harmless release and catches a +8-logit watermark shortcut, so the default
takes 1.25x over the worst harmless fall (grey, the default fill).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import real_photos  # noqa: E402
from example_project import models  # noqa: E402
from example_project.make_images import FOLDER, shapes_names  # noqa: E402
from pytest_xai import Region  # noqa: E402
from pytest_xai.checks.interventions import assertions  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402

FILLS = ("grey", "blur", "inpaint")
MARGIN = 1.5
NOT_COMPACT = ("stripes",)  # the cue is the whole background: reported, not used to choose
RANDOM_BOXES = 6


@dataclass
class Hide:
    """One region hidden in one image under one model."""

    world: str
    model: str
    harmless: bool
    image: str
    region: str  # the cue's name, "watermark", or "random k"
    dp: dict[str, float] = field(default_factory=dict)  # fill -> |Δp|
    dm: dict[str, float] = field(default_factory=dict)  # fill -> |Δmargin|
    drop: dict[str, float] = field(default_factory=dict)  # fill -> margin before - after (a fall > 0)
    margin_before: float = 0.0


@dataclass
class Need:
    """The object hidden (inpaint) in one image under one model."""

    world: str
    model: str
    harmless: bool
    image: str
    p_drop: float
    margin_drop: float
    p_before: float
    margin_before: float


@dataclass
class Swap:
    world: str
    model: str
    harmless: bool
    image: str
    p_drops: list[float]
    margin_drops: list[float]
    to_donor: list[bool]


def hide(clf: Any, image: Any, region: Any, world: str, model: str, harmless: bool, name: str, label: str) -> Hide:
    out = Hide(world, model, harmless, name, label)
    for fill in FILLS:
        result, _ = assertions.measure_irrelevant(clf, image, region, fill=fill, max_change=1.0, max_scaled_drop=None)
        out.dp[fill] = round(result.value, 5)
        out.dm[fill] = round(abs(float(result.margin_after[0]) - result.margin_before), 4)
        out.drop[fill] = round(result.margin_before - float(result.margin_after[0]), 4)
        out.margin_before = round(result.margin_before, 4)
    return out


def need(clf: Any, image: Any, region: Any, world: str, model: str, harmless: bool, name: str) -> Need:
    result, _ = assertions.measure_needed(clf, image, region, min_drop=0.0, min_logit_drop=None)
    return Need(world, model, harmless, name, round(result.value, 5),
                round(result.margin_before - float(result.margin_after[0]), 4),
                round(result.p_before, 5), round(result.margin_before, 4))  # fmt: skip


def swap(clf: Any, image: Any, region: Any, donors: list[Any], world: str, model: str, harmless: bool, name: str) -> Swap:
    result, _ = assertions.measure_ignores(clf, image, region, donors, max_donors=64, max_logit_drop=None)
    return Swap(world, model, harmless, name,
                [round(result.p_before - p, 5) for p in result.p_after],
                [round(result.margin_before - float(m), 4) for m in result.margin_after],
                [int(np.argmax(row)) == d for row, d in zip(result.after, result.donor_classes)])  # fmt: skip


def toy_cases() -> tuple[list[Hide], list[Need], list[Swap]]:
    from benchmarks import worlds

    hides, needs, swaps = [], [], []
    images = [load_test_image(FOLDER / n) for n in shapes_names()]
    sets = [("example tag", "watermark", images,
             {n: (getattr(models, n)(device="cpu"), n != "shortcut") for n in ("clean", "clean_v2", "shortcut")})]
    for cue in worlds.CUES:
        w = worlds.load_world(cue)
        sets.append((cue, w.region, w.images, {"clean": (w.clean, True), **{n: (c, True) for n, c in w.harmless.items()},
                                               "shortcut": (w.shortcut, False)}))  # fmt: skip
    for world, cue, imgs, clfs in sets:
        for model, (clf, harmless) in clfs.items():
            for k, image in enumerate(imgs):
                hides.append(hide(clf, image, image.regions[cue], world, model, harmless, image.name, cue))
                needs.append(need(clf, image, image.regions["object"], world, model, harmless, image.name))
                donors = imgs[:k] + imgs[k + 1 :]
                swaps.append(swap(clf, image, image.regions[cue], donors, world, model, harmless, image.name))
        print(f"{world}: done", file=sys.stderr, flush=True)
    return hides, needs, swaps


def random_boxes(photo: Any, count: int, seed: int) -> list[Region]:
    """Watermark-sized boxes overlapping the object box by at most a quarter of their area."""
    rng = np.random.default_rng(seed)
    y0, y1, x0, x1 = real_photos.WATERMARK_BOX
    h, w = y1 - y0, x1 - x0
    obj = photo.regions["object"].to_mask(real_photos.SIZE, real_photos.SIZE)
    out: list[Region] = []
    for _ in range(2000):
        top, left = int(rng.integers(0, real_photos.SIZE - h)), int(rng.integers(0, real_photos.SIZE - w))
        if obj[top : top + h, left : left + w].mean() <= 0.25:
            out.append(Region.box(left, top, left + w, top + h, name=f"random {len(out)}"))
        if len(out) == count:
            break
    return out


def real_cases() -> tuple[list[Hide], list[Need]]:
    base = real_photos.network()
    clean_photos = real_photos.photos()
    marked = real_photos.photos(watermark=True)
    hides, needs = [], []
    for model, net in real_photos.releases(base).items():
        clf = real_photos.classifier(net)
        for k, (plain, wm) in enumerate(zip(clean_photos, marked)):
            for photo, suffix in ((plain, ""), (wm, " +wm")):
                name = photo.name + suffix
                hides.append(hide(clf, photo.image, photo.regions["watermark"], "real", model, True, name, "watermark"))
                for box in random_boxes(photo, RANDOM_BOXES, seed=k):
                    hides.append(hide(clf, photo.image, box, "real", model, True, name, box.name))
                needs.append(need(clf, photo.image, photo.regions["object"], "real", model, True, name))
        print(f"real {model}: done", file=sys.stderr, flush=True)
    for boost in (8.0, 4.0):
        clf = real_photos.classifier(real_photos.WatermarkShortcut(base, boost))
        label = f"watermark shortcut +{boost:g}"
        for photo in marked:
            hides.append(hide(clf, photo.image, photo.regions["watermark"], "real", label, False, photo.name + " +wm", "watermark"))
            needs.append(need(clf, photo.image, photo.regions["object"], "real", label, False, photo.name + " +wm"))
    return hides, needs


# -- choice -------------------------------------------------------------------------------------


def choose(hides: list[Hide], max_change: float, max_drop: float) -> dict[str, Any]:
    used = [h for h in hides if h.world not in NOT_COMPACT]
    harmless, bad = [h for h in used if h.harmless], [h for h in used if not h.harmless]
    out: dict[str, Any] = {}
    for fill in FILLS:
        worst = max(harmless, key=lambda h: h.drop[fill])
        by_world: dict[str, Any] = {}
        for world in sorted({h.world for h in used}):
            good = [h for h in used if h.world == world and h.harmless]
            shortcut = [h for h in used if h.world == world and not h.harmless]
            by_world[world] = {
                "harmless_max_fall": max(h.drop[fill] for h in good),
                "harmless_max_rise": -min(h.drop[fill] for h in good),
                "harmless_max_dp": max(h.dp[fill] for h in good),
                "harmless_failing": sum(h.dp[fill] > max_change or h.drop[fill] > max_drop for h in good),
                "harmless": len(good),
                "shortcut_cases": len(shortcut),
                "caught_p_only": sum(h.dp[fill] > max_change for h in shortcut),
                "caught_p_or_margin": sum(h.dp[fill] > max_change or h.drop[fill] > max_drop for h in shortcut),
            }
        out[fill] = {
            "worst_harmless_fall": worst.drop[fill],
            "worst_case": f"{worst.world} / {worst.model} / {worst.image} / {worst.region}",
            "margin_factor": round(max_drop / worst.drop[fill], 2),
            "caught_p_only": sum(h.dp[fill] > max_change for h in bad),
            "caught_p_or_margin": sum(h.dp[fill] > max_change or h.drop[fill] > max_drop for h in bad),
            "shortcut_cases": len(bad),
            "by_world": by_world,
        }
    return out


def need_tradeoff(needs: list[Need], min_drop: float) -> dict[str, Any]:
    """Harmless cases failing / shortcut cases caught, p alone and p-or-margin, per margin bound."""
    used = [n for n in needs if n.world not in NOT_COMPACT]
    good, bad = [n for n in used if n.harmless], [n for n in used if not n.harmless]
    out: dict[str, Any] = {"p_only": {"harmless_fail": sum(n.p_drop < min_drop for n in good),
                                      "shortcut_caught": sum(n.p_drop < min_drop for n in bad)}}  # fmt: skip
    for bound in (0.5, 1.0, 2.0, 3.0, 4.0):
        out[f"p or margin {bound:g}"] = {
            "harmless_fail": sum(n.p_drop < min_drop and n.margin_drop < bound for n in good),
            "shortcut_caught": sum(n.p_drop < min_drop and n.margin_drop < bound for n in bad),
            "real_harmless_fail": sum(n.p_drop < min_drop and n.margin_drop < bound for n in good if n.world == "real"),
        }
    return out


def swap_tradeoff(swaps: list[Swap], max_change: float, max_flip: float) -> dict[str, Any]:
    used = [s for s in swaps if s.world not in NOT_COMPACT]
    out: dict[str, Any] = {}
    for bound in (None, 2.0, 3.0, 4.0, 6.0, 8.0):
        def rate(s: Swap, b: float | None = bound) -> float:
            hits = [t or p > max_change or (b is not None and m > b)
                    for t, p, m in zip(s.to_donor, s.p_drops, s.margin_drops)]
            return sum(hits) / len(hits)
        out["p only" if bound is None else f"p or margin {bound:g}"] = {
            "harmless_worst_rate": max(rate(s) for s in used if s.harmless),
            "harmless_fail": sum(rate(s) > max_flip for s in used if s.harmless),
            "shortcut_caught": sum(rate(s) > max_flip for s in used if not s.harmless),
        }
    return out


def markdown(found: dict[str, Any]) -> str:
    drop, change = found["defaults"]["max_logit_drop"], found["defaults"]["max_change"]
    lines = ["# Logit-margin bounds of the interventions", "",
             "Margin = the target's logit minus the best other logit; its fall = before - after when a region is hidden.",
             f"Judged at the defaults max_change {change:g} and max_logit_drop {drop:g}.", ""]
    for fill, row in found["hide"].items():
        lines += [f"## Hide a region, fill {fill}: worst harmless fall {row['worst_harmless_fall']:.2f} "
                  f"({row['worst_case']}); max_logit_drop {drop:g} is {row['margin_factor']:g}x that", "",
                  "| world | harmless: max fall / max rise of the margin | max Δp | failing (of) | shortcut caught: p only / p or margin fall (of) |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for world, w in row["by_world"].items():
            caught = f"{w['caught_p_only']} / {w['caught_p_or_margin']} ({w['shortcut_cases']})" if w["shortcut_cases"] else "-"
            lines.append(f"| {world} | {w['harmless_max_fall']:.2f} / {w['harmless_max_rise']:.2f} | {w['harmless_max_dp']:.3f} | "
                         f"{w['harmless_failing']} ({w['harmless']}) | {caught} |")
        lines.append("")
    lines += ["## Hide the object (inpaint): min_drop 0.05 on p, or a margin drop", "",
              "| rule | harmless failing (all) | of them real | shortcut caught |", "|---|---|---|---|"]
    for rule, r in found["needed"].items():
        lines.append(f"| {rule} | {r['harmless_fail']} | {r.get('real_harmless_fail', '-')} | {r['shortcut_caught']} |")
    lines += ["", "## Swap the cue in from other images (toy worlds): follow = donor's class, p drop > max_change, or margin drop > bound", "",
              "| rule | harmless worst follow rate | harmless failing (max_flip 0.75) | shortcut caught |", "|---|---|---|---|"]  # fmt: skip
    for rule, r in found["ignores"].items():
        lines.append(f"| {rule} | {r['harmless_worst_rate']:.2f} | {r['harmless_fail']} | {r['shortcut_caught']} |")
    lines += ["", "## Real network, the watermark hidden (fill grey)", "",
              "| model | photo | margin before | Δp | fall of the margin |", "|---|---|---|---|---|"]
    for h in found["real_rows"]:
        lines.append(f"| {h['model']} | {h['image']} | {h['margin_before']:.2f} | {h['dp']['grey']:.3f} | {h['drop']['grey']:.2f} |")
    lines += ["", f"Total {found['seconds']:.0f} s (one process, 1 thread)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--no-toy", action="store_true")
    parser.add_argument("--from-json", type=Path, help="re-derive the tables from an earlier --json's cases")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    if args.from_json:
        old = json.loads(args.from_json.read_text())
        hides = [Hide(**h) for h in old["cases"]["hides"]]
        needs = [Need(**n) for n in old["cases"]["needs"]]
        ignores, seconds = old["ignores"], old["seconds"]
    else:
        toy_hides, needs, swaps = ([], [], []) if args.no_toy else toy_cases()
        real_hides, real_needs = real_cases()
        hides, needs = toy_hides + real_hides, needs + real_needs
        ignores = swap_tradeoff(swaps, assertions.DEFAULT_MAX_CHANGE, assertions.DEFAULT_MAX_FLIP) if swaps else {}
        seconds = time.perf_counter() - started
    found = {
        "defaults": {"max_change": assertions.DEFAULT_MAX_CHANGE, "max_logit_drop": assertions.DEFAULT_MAX_LOGIT_DROP,
                     "min_drop": assertions.DEFAULT_MIN_DROP, "min_logit_drop": assertions.DEFAULT_MIN_LOGIT_DROP},
        "hide": choose(hides, assertions.DEFAULT_MAX_CHANGE, assertions.DEFAULT_MAX_LOGIT_DROP),
        "needed": need_tradeoff(needs, assertions.DEFAULT_MIN_DROP),
        "ignores": ignores,
        "real_rows": [asdict(h) for h in hides if h.world == "real" and (h.region == "watermark" and "+wm" in h.image)],
        "cases": {"hides": [asdict(h) for h in hides], "needs": [asdict(n) for n in needs]},
        "seconds": seconds,
    }
    print(json.dumps({k: found[k] for k in ("defaults", "hide", "needed", "ignores")}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(found))


if __name__ == "__main__":
    main()
