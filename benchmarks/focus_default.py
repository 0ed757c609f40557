"""Focus bounds: what harmless and shortcut models score on the object, small objects and large.

    python benchmarks/focus_default.py [--json out.json] [--markdown out.md] [--skip-real] [--skip-toy]

Measures, at the package's default explanation settings (seed 0) for lime, kernel_shap and
gradient_shap, the relevance mass on each image's "object" region and the region's area share:
  - the example project's 12 shapes images (objects cover 4-15% of the image) for clean,
    clean_v2 and shortcut (reads the corner tag);
  - the held-out worlds (``benchmarks/worlds.py``: spot, stripes, frame, tag): the relevance
    ratios ``benchmarks/heldout.py`` measured for clean (seeds), its harmless releases
    (retrain, float16, finetune, prune) and each world's shortcut model, kept in
    ``benchmarks/results/focus_worlds.json`` (``--worlds-json``), with each image's object area
    from the regenerated world (same seeds): mass = ratio × area;
  - a real network on real photos (``benchmarks/real_photos.py``: EfficientNet-Lite0, five
    scikit-image photos at 224×224 with object boxes drawn by hand, covering 12-65% of the image).

From mass m and area a it derives the relevance ratio m / a (at most 1 / a: a region covering
65% of the image caps it at 1.55) and the density ratio (m / a) / ((1 − m) / (1 − a)): how many
times denser the positive evidence is inside the region than outside, 1 for a uniform map and
unbounded for every area. The default focus bound (``pytest_xai.defaults.default_min_ratio``)
is a density ratio D written as a ratio bound: D / (1 + (D − 1)·a). D is chosen MARGIN below the
lowest harmless density ratio of all worlds and photos together, on a 0.05 grid; the script
then counts the shortcut images each bound catches and the harmless ones it fails. (The toy
worlds alone allowed 1.2x; the real photos' lowest, 1.22, leaves no room for more than 1.1x
above chance.)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from example_project import models  # noqa: E402
from example_project.make_images import FOLDER, shapes_names  # noqa: E402
from pytest_xai import explain, metrics  # noqa: E402
from pytest_xai.defaults import DEFAULT_MIN_DENSITY, default_min_ratio  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402

METHODS = ("lime", "kernel_shap", "gradient_shap")
MARGIN = 1.1
OLD_DEFAULT_RATIO = 1.2  # the plain ratio bound this default replaces
QUICKSTART_RATIO = 1.5


def measure(clf: Any, images: list[Any], regions: list[Any], method: str) -> list[dict[str, float]]:
    """Per image: the mass on the region and the region's area share."""
    exps = explain(clf, list(images), method=method, seed=0)
    out = []
    for exp, region in zip(exps, regions):
        area = float(metrics.region_mask(exp, region).mean())
        out.append({"mass": round(metrics.relevance_mass(exp, region), 5), "area": round(area, 5)})
    return out


def density(mass: float, area: float) -> float:
    if mass != mass:
        return math.nan
    if mass >= 1.0:
        return math.inf
    return (mass / area) / ((1.0 - mass) / (1.0 - area))


def example() -> dict[str, Any]:
    images = [load_test_image(FOLDER / n) for n in shapes_names()]
    clfs = {"clean": models.clean("cpu"), "clean_v2": models.clean_v2("cpu"), "shortcut": models.shortcut("cpu")}
    out = {"example": {n: {m: measure(c, images, [i.regions["object"] for i in images], m) for m in METHODS}
                       for n, c in clfs.items()}}  # fmt: skip
    print("example done", file=sys.stderr, flush=True)
    return out


def stored_worlds(path: Path) -> dict[str, Any]:
    """The held-out worlds' stored ratios on "object", with each image's object area."""
    from benchmarks import worlds

    stored = json.loads(path.read_text())
    out: dict[str, Any] = {}
    for cue, row in stored.items():
        areas = [float(i.regions["object"].to_mask(*np.asarray(i).shape[:2]).mean()) for i in worlds.load_world(cue).images]
        out[cue] = {
            case: {m: [{"mass": round(r * a, 5), "area": round(a, 5)} for r, a in zip(per_tol["0"], areas)]
                   for m, per_tol in per_method.items()}
            for case, per_method in row.items()
        }  # fmt: skip
    return out


def real() -> dict[str, Any]:
    from benchmarks import real_photos

    shots = real_photos.photos()
    clf = real_photos.classifier(real_photos.network())
    row: dict[str, Any] = {}
    for method in METHODS:
        started = time.perf_counter()
        row[method] = measure(clf, [p.image for p in shots], [p.regions["object"] for p in shots], method)
        for value, photo in zip(row[method], shots):
            value["photo"] = photo.name
        print(f"real {method} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return {"real photos": {"clean": row}}


def values(results: dict[str, Any], harmless: bool) -> list[tuple[str, str, str, dict[str, float]]]:
    return [
        (world, model, method, v)
        for world, row in results.items()
        for model, per_method in row.items()
        if (model != "shortcut") == harmless
        for method, vs in per_method.items()
        for v in vs
    ]


def choose(results: dict[str, Any]) -> dict[str, Any]:
    good, bad = values(results, True), values(results, False)
    finite = [(density(v["mass"], v["area"]), w, m, meth) for w, m, meth, v in good if density(v["mass"], v["area"]) == density(v["mass"], v["area"])]
    lowest = min(finite)
    chosen = math.floor(lowest[0] / MARGIN * 20) / 20  # rounded down to 0.05

    def fails(vs: list[tuple[str, str, str, dict[str, float]]], rule: Any) -> int:
        return sum(not rule(v["mass"], v["area"]) for *_, v in vs)

    rules = {
        f"ratio >= {OLD_DEFAULT_RATIO} (the plain ratio bound)": lambda m, a: m / a >= OLD_DEFAULT_RATIO,
        f"ratio >= {QUICKSTART_RATIO} (the plain ratio bound)": lambda m, a: m / a >= QUICKSTART_RATIO,
    }
    for d in sorted({1.1, 1.2, DEFAULT_MIN_DENSITY, 1.5, 2.0, chosen}):
        rules[f"density >= {d:g} (ratio >= {d:g} / (1 + {d - 1:g}·area))"] = lambda m, a, d=d: m / a >= d / (1 + (d - 1) * a)
    table = {}
    for name, rule in rules.items():
        per_world = {}
        for world in results:
            g = [x for x in good if x[0] == world]
            b = [x for x in bad if x[0] == world]
            per_world[world] = {"harmless_fail": fails(g, rule), "harmless": len(g), "shortcut_caught": fails(b, rule), "shortcut": len(b)}
        table[name] = per_world
    return {"lowest_harmless_density": {"value": round(lowest[0], 3), "world": lowest[1], "model": lowest[2], "method": lowest[3]},
            "chosen_density": chosen, "rules": table}  # fmt: skip


def markdown(results: dict[str, Any], choice: dict[str, Any]) -> str:
    lines = ["# Focus bounds on small and large objects", "",
             "Ratio = mass / area share (at most 1 / area); density = (mass / area) / ((1 - mass) / (1 - area)).", "",
             "| world | model | method | area share | ratio min-max | density min-max |", "|---|---|---|---|---|---|"]
    for world, row in results.items():
        for model, per_method in row.items():
            for method, vs in per_method.items():
                r = [v["mass"] / v["area"] for v in vs if v["mass"] == v["mass"]]
                d = [density(v["mass"], v["area"]) for v in vs if v["mass"] == v["mass"]]
                a = [v["area"] for v in vs]
                lines.append(f"| {world} | {model} | {method} | {min(a):.2f}-{max(a):.2f} | {min(r):.2f}-{max(r):.2f} | "
                             f"{min(d):.2f}-{max(d):.2f} |")
    real_rows = results.get("real photos", {}).get("clean", {})
    if real_rows:
        lines += ["", "## Real photos, per photo (clean EfficientNet-Lite0)", "",
                  "| photo | area share | most a ratio can be | method | mass | ratio | density | default ratio bound |",
                  "|---|---|---|---|---|---|---|---|"]
        for method, vs in real_rows.items():
            for v in vs:
                lines.append(f"| {v['photo']} | {v['area']:.3f} | {1 / v['area']:.2f} | {method} | {v['mass']:.3f} | "
                             f"{v['mass'] / v['area']:.2f} | {density(v['mass'], v['area']):.2f} | "
                             f"{default_min_ratio(v['area']):.2f} |")
    low = choice["lowest_harmless_density"]
    lines += ["", f"Lowest harmless density ratio: {low['value']} ({low['world']}, {low['model']}, {low['method']}); "
              f"chosen default density {choice['chosen_density']:g} (÷ {MARGIN}, rounded down to 0.05).", "",
              "| bound | " + " | ".join(choice["rules"][next(iter(choice["rules"]))]) + " |",
              "|---|" + "---|" * len(results)]
    for name, per_world in choice["rules"].items():
        cells = [f"{w['harmless_fail']}/{w['harmless']} false, {w['shortcut_caught']}/{w['shortcut']} caught" if w["shortcut"]
                 else f"{w['harmless_fail']}/{w['harmless']} false" for w in per_world.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--skip-toy", action="store_true")
    parser.add_argument("--worlds-json", type=Path, default=Path(__file__).parent / "results" / "focus_worlds.json")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--from-json", type=Path, help="re-derive the tables from an earlier --json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    if args.from_json:
        results = json.loads(args.from_json.read_text())["results"]
    else:
        results = {}
        if not args.skip_toy:
            results.update(example())
            results.update(stored_worlds(args.worlds_json))
        if not args.skip_real:
            results.update(real())
    choice = choose(results)
    print(json.dumps(choice, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "choice": choice,
                                         "seconds": time.perf_counter() - started}, indent=1) + "\n")  # fmt: skip
    if args.markdown:
        args.markdown.write_text(markdown(results, choice))
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
