"""Interventions: which fill and bounds tell a model that uses a region from one that does not.

    python benchmarks/interventions.py [--worlds PATH] [--markdown out.md] [--json out.json]

Measured in one process, on CPU:

1. The example project's 12 shapes images (each with its class's corner tag, region
   "watermark", and the object mask, region "object"), for ``clean`` and ``clean_v2``
   (harmless: they read the object) and ``shortcut`` (reads the tag):
   - hiding the tag with each fill (grey, blur, inpaint): the change of the target's
     probability and whether the winning class changed (``assert_region_irrelevant``);
   - swapping the tag in from the 8 other-class images (``assert_prediction_ignores``): the
     fraction of donors followed;
   - hiding the object with each fill: the drop of the target's probability
     (``assert_region_needed``).
2. The held-out cue worlds (``benchmarks/worlds.py``: spot, stripes, frame, tag), each with the
   clean model, its harmless releases (clean_v2, float16, fine-tune, prune) and the world's
   shortcut model: the same three interventions on the cue's region and the object.
3. The example suite's avoid and focus tests (its bounds, and max_mass 0.1), per method, with
   and without ``confirm=True``: salience false alarms on clean and clean_v2, shortcut images
   caught.

Then it chooses the defaults by the rule of benchmarks/detection.py: among bounds at least
MARGIN beyond every harmless case (all worlds together), the one that catches the most
shortcut images; ties go to the widest margin on both sides.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_project import models  # noqa: E402
from example_project.make_images import FOLDER, shapes_names  # noqa: E402
from pytest_xai import explain, metrics  # noqa: E402
from pytest_xai.checks.interventions import assertions, fills  # noqa: E402
from pytest_xai.plugin.testimage import load_test_image  # noqa: E402

FILLS = ("grey", "blur", "inpaint")
MARGIN = 1.5
CHANGE_GRID = [round(0.01 * k, 2) for k in range(1, 96)]  # max_change candidates
FLIP_GRID = [round(0.05 * k, 2) for k in range(0, 20)]  # max_flip candidates
METHODS = {"lime": 1000, "kernel_shap": 1000, "gradient_shap": 200}
AVOID_MAX_MASS = {"lime": 0.25, "kernel_shap": 0.25, "gradient_shap": 0.4}  # test_shapes.py
FOCUS_MIN_RATIO = 1.5
NOT_COMPACT = ("stripes",)  # worlds whose cue region is not a compact part of the image
MIN_DROP = 0.05  # see choose(): no min_drop clears every harmless case (empty-class images)


@dataclass
class Case:
    """One image under one model in one world: every intervention's number."""

    world: str
    model: str
    harmless: bool  # False: the world's shortcut model
    image: str
    cue: str  # the cue region's name
    hide_change: dict[str, float]  # fill -> |Δp| when the cue is hidden
    hide_flip: dict[str, bool]  # fill -> the winning class changed
    swap_drops: list[float]  # per donor: p before - p after
    swap_to_donor: list[bool]  # per donor: the prediction became the donor's class
    object_drop: dict[str, float]  # fill -> p drop when the object is hidden


def measure_case(clf: Any, image: Any, donors: list[Any], cue: str, world: str, model: str, harmless: bool) -> Case:
    """All interventions for one image, with bounds wide open (the verdicts come later)."""
    change, flip, drop = {}, {}, {}
    for fill in FILLS:
        result, _ = assertions.measure_irrelevant(clf, image, image.regions[cue], fill=fill, max_change=1.0)
        change[fill] = result.value
        flip[fill] = bool((result.margin_before > 0) != (result.margin_after[0] > 0))
        needed, _ = assertions.measure_needed(clf, image, image.regions["object"], fill=fill, min_drop=0.0)
        drop[fill] = needed.value
    swap, _ = assertions.measure_ignores(clf, image, image.regions[cue], donors, max_donors=64)
    drops = [swap.p_before - p for p in swap.p_after]
    to_donor = [int(np.argmax(row)) == d for row, d in zip(swap.after, swap.donor_classes)]
    return Case(world, model, harmless, image.name, cue, change, flip, drops, to_donor, drop)


def example_world() -> tuple[list[Any], dict[str, tuple[Any, bool]]]:
    images = [load_test_image(FOLDER / name) for name in shapes_names()]
    clfs = {n: (getattr(models, n)(device="cpu"), n != "shortcut") for n in ("clean", "clean_v2", "shortcut")}
    return images, clfs


def load_worlds_module(path: Path | None, cache: Path) -> Any:
    """benchmarks/worlds.py (held-out cue worlds), its weight cache moved to ``cache``; weights
    already trained beside it are copied, not retrained."""
    try:
        from benchmarks import worlds  # type: ignore[attr-defined]
    except ImportError:
        if path is None:
            raise SystemExit("benchmarks/worlds.py is missing; pass --worlds PATH or --no-worlds") from None
        spec = importlib.util.spec_from_file_location("heldout_worlds", path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"no worlds module at {path}; pass --worlds PATH") from None
        worlds = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = worlds  # dataclasses look their module up there
        spec.loader.exec_module(worlds)
    key = worlds.cache_key()
    trained = Path(worlds.CACHE) / key
    if trained.is_dir() and not (cache / key).is_dir():
        shutil.copytree(trained, cache / key)
    worlds.CACHE = cache
    return worlds


def run_cases(worlds: Any | None) -> list[Case]:
    cases: list[Case] = []
    images, clfs = example_world()
    for name, (clf, harmless) in clfs.items():
        for k, image in enumerate(images):
            donors = images[:k] + images[k + 1 :]
            cases.append(measure_case(clf, image, donors, "watermark", "example tag", name, harmless))
    if worlds is None:
        return cases
    for cue in worlds.CUES:
        world = worlds.load_world(cue)
        models_here = {"clean": (world.clean, True), **{n: (c, True) for n, c in world.harmless.items()},
                       "shortcut": (world.shortcut, False)}  # fmt: skip
        for name, (clf, harmless) in models_here.items():
            for k, image in enumerate(world.images):
                donors = world.images[:k] + world.images[k + 1 :]
                cases.append(measure_case(clf, image, donors, world.region, cue, name, harmless))
        print(f"world {cue}: done", file=sys.stderr, flush=True)
    return cases


# -- verdicts and the choice of defaults ----------------------------------------------------------


def irrelevant_fails(case: Case, fill: str, bound: float) -> bool:
    return case.hide_change[fill] > bound


def follow_rate(case: Case, max_change: float) -> float:
    hits = [t or d > max_change for t, d in zip(case.swap_to_donor, case.swap_drops)]
    return sum(hits) / len(hits)


def choose_upper(harmless: list[float], caught_by: Any, grid: list[float]) -> tuple[float | None, float]:
    """The smallest bound at least MARGIN times (and 0.05) above the worst harmless value that
    catches the most; None when no bound on the grid is safe."""
    worst = max(harmless)
    safe = [b for b in grid if b >= max(MARGIN * worst, worst + 0.05)]
    if not safe:
        return None, worst
    best = max(caught_by(b) for b in safe)
    return min(b for b in safe if caught_by(b) == best), worst


def for_choice(cases: list[Case]) -> list[Case]:
    """The cases the defaults are chosen on: every world whose cue is a compact region. The
    stripes world's region is the whole background, which no fill or swap by location can
    change without changing the scene (reported, not used)."""
    return [c for c in cases if c.world not in NOT_COMPACT]


def choose(cases: list[Case]) -> dict[str, Any]:
    """Per fill: max_change (hide), then max_flip (swap, following = donor's class or a drop
    above max_change); the fill that catches the most shortcut images by hide or swap."""
    used = for_choice(cases)
    harmless = [c for c in used if c.harmless]
    bad = [c for c in used if not c.harmless]
    out: dict[str, Any] = {}
    for fill in FILLS:
        change, worst = choose_upper([c.hide_change[fill] for c in harmless],
                                     lambda b, f=fill: sum(irrelevant_fails(c, f, b) for c in bad), CHANGE_GRID)  # fmt: skip
        row: dict[str, Any] = {"max_change": change, "harmless_worst_change": worst}
        if change is not None:
            flip, flip_worst = choose_upper([follow_rate(c, change) for c in harmless],
                                            lambda b, m=change: sum(follow_rate(c, m) > b for c in bad), FLIP_GRID)  # fmt: skip
            row.update(max_flip=flip, harmless_worst_follow=flip_worst,
                       caught_hide=sum(irrelevant_fails(c, fill, change) for c in bad),
                       caught_either=sum(irrelevant_fails(c, fill, change) or (flip is not None and follow_rate(c, change) > flip)
                                         for c in bad))  # fmt: skip
        out[fill] = row
    usable = [f for f in FILLS if out[f].get("max_flip") is not None]
    best = max(usable, key=lambda f: (out[f]["caught_either"], out[f]["caught_hide"], -out[f]["max_change"]))
    out["chosen"] = {"fill": best, "max_change": out[best]["max_change"], "max_flip": out[best]["max_flip"],
                     "min_drop": MIN_DROP, "bad_cases": len(bad), "harmless_cases": len(harmless)}  # fmt: skip
    out["min_drop_tradeoff"] = {
        f"{fill} {b}": {"harmless_fail": sum(c.object_drop[fill] < b for c in harmless),
                        "shortcut_caught": sum(c.object_drop[fill] < b for c in bad)}
        for fill in FILLS for b in (0.02, 0.05, 0.1, 0.2, 0.3)
    }  # fmt: skip
    return out


# -- the example suite's avoid / focus tests, with and without confirm ---------------------------


def attribution_table(threads_note: str) -> tuple[str, dict[str, Any]]:
    images, clfs = example_world()
    rows, data = [], {}
    for name, (clf, _) in clfs.items():
        irrelevant = [assertions.measure_irrelevant(clf, i, i.regions["watermark"])[0].passed for i in images]
        needed = [assertions.measure_needed(clf, i, i.regions["object"])[0].passed for i in images]
        for method, samples in METHODS.items():
            exps = explain(clf, list(images), method=method, seed=0, samples=samples)
            tag = [metrics.relevance_mass(e, i.regions["watermark"]) for e, i in zip(exps, images)]
            ratio = [metrics.relevance_mass(e, i.regions["object"]) / i.regions["object"].to_mask(64, 64).mean()
                     for e, i in zip(exps, images)]  # fmt: skip
            cells = []
            for bound in (AVOID_MAX_MASS[method], 0.1):
                plain = sum(t > bound for t in tag)
                confirmed = sum(t > bound and not ok for t, ok in zip(tag, irrelevant))
                cells.append(f"{plain} / {confirmed}")
            focus_plain = sum(r < FOCUS_MIN_RATIO for r in ratio)
            focus_conf = sum(r < FOCUS_MIN_RATIO or not ok for r, ok in zip(ratio, needed))
            rows.append(f"| {name} | {method} | {cells[0]} | {cells[1]} | {focus_plain} / {focus_conf} "
                        f"| {min(tag):.2f}-{max(tag):.2f} |")  # fmt: skip
            data[f"{name}/{method}"] = {"tag_mass": tag, "object_ratio": ratio, "irrelevant_passed": irrelevant,
                                        "needed_passed": needed}  # fmt: skip
    head = (
        "| model | method | avoid fails, suite max_mass: plain / confirm=True | avoid fails, max_mass 0.1: "
        "plain / confirm=True | focus fails (min_ratio 1.5): plain / confirm=True | mass on tag |\n"
        "|---|---|---|---|---|---|"
    )
    return head + "\n" + "\n".join(rows) + f"\n\n(of 12 images each; {threads_note})", data


# -- tables -------------------------------------------------------------------------------------


def per_image_table(cases: list[Case], chosen: dict[str, Any]) -> str:
    """The example project, one row per image and model, at the chosen defaults."""
    fill, change, flip = chosen["fill"], chosen["max_change"], chosen["max_flip"]
    lines = [
        f"| model | image | hide tag ({fill}): Δp, class changed | swap tag: donors followed | "
        f"hide object ({assertions.NEEDED_FILL}): p drop | irrelevant / ignores / needed verdict |",
        "|---|---|---|---|---|---|",
    ]
    for c in (c for c in cases if c.world == "example tag"):
        rate = follow_rate(c, change)
        verdict = " / ".join("FAIL" if bad else "pass" for bad in (
            irrelevant_fails(c, fill, change), rate > flip, c.object_drop[assertions.NEEDED_FILL] < assertions.DEFAULT_MIN_DROP))
        lines.append(
            f"| {c.model} | {c.image} | {c.hide_change[fill]:.3f}, {'yes' if c.hide_flip[fill] else 'no'} "
            f"| {sum(t or d > change for t, d in zip(c.swap_to_donor, c.swap_drops))} of {len(c.swap_drops)} "
            f"| {c.object_drop[assertions.NEEDED_FILL]:.3f} | {verdict} |"
        )
    return "\n".join(lines)


def world_table(cases: list[Case], chosen: dict[str, Any]) -> str:
    """Per world and model group: worst harmless values and shortcut catches, every fill."""
    change, flip = chosen["max_change"], chosen["max_flip"]
    groups: dict[tuple[str, bool], list[Case]] = defaultdict(list)
    for c in cases:
        groups[(c.world, c.harmless)].append(c)
    head = " | ".join(f"hide cue {f}: Δp max (min)" for f in FILLS)
    lines = [
        f"| world | models | images | {head} | class changed (any fill) | swap follow rate max (min) "
        f"| object drop ({assertions.NEEDED_FILL}) min (max) | caught: hide / swap / either |",
        "|---|---|---|" + "---|" * len(FILLS) + "---|---|---|---|",
    ]
    for (world, harmless), group in groups.items():
        names = sorted({c.model for c in group})
        hides = " | ".join(
            f"{max(c.hide_change[f] for c in group):.3f} ({min(c.hide_change[f] for c in group):.3f})" for f in FILLS
        )
        rates = [follow_rate(c, change) for c in group]
        drops = [c.object_drop[assertions.NEEDED_FILL] for c in group]
        hide_hits = [irrelevant_fails(c, chosen["fill"], change) for c in group]
        swap_hits = [r > flip for r in rates]
        either = sum(a or b for a, b in zip(hide_hits, swap_hits))
        lines.append(
            f"| {world} | {'harmless: ' if harmless else 'shortcut: '}{', '.join(names)} | {len(group)} | {hides} "
            f"| {sum(any(c.hide_flip.values()) for c in group)} | {max(rates):.2f} ({min(rates):.2f}) "
            f"| {min(drops):.3f} ({max(drops):.3f}) | {sum(hide_hits)} / {sum(swap_hits)} / {either} |"
        )
    return "\n".join(lines)


def choice_text(found: dict[str, Any], cases: list[Case]) -> str:
    chosen = found["chosen"]
    lines = [f"Chosen on {chosen['harmless_cases']} harmless and {chosen['bad_cases']} shortcut cases "
             f"(every world but {', '.join(NOT_COMPACT)}):"]  # fmt: skip
    for fill in FILLS:
        f = found[fill]
        if f["max_change"] is None:
            lines.append(f"- fill {fill}: worst harmless |Δp| {f['harmless_worst_change']:.3f}: no safe max_change")
            continue
        flip = "none" if f["max_flip"] is None else f"{f['max_flip']:.2f}"
        lines.append(
            f"- fill {fill}: worst harmless |Δp| {f['harmless_worst_change']:.3f} -> max_change "
            f"{f['max_change']:.2f}; worst harmless follow rate {f['harmless_worst_follow']:.2f} -> max_flip {flip}; "
            f"shortcut cases caught: hide {f['caught_hide']}, hide or swap {f['caught_either']}"
        )
    lines.append(f"- chosen: fill {chosen['fill']}, max_change {chosen['max_change']}, max_flip {chosen['max_flip']}")
    lines.append("- min_drop (hide the object; fill and bound): harmless cases failing / shortcut cases caught: "
                 + "; ".join(f"{b}: {v['harmless_fail']} / {v['shortcut_caught']}" for b, v in found["min_drop_tradeoff"].items()))  # fmt: skip
    return "\n".join(lines)


def timing() -> str:
    """Milliseconds per fill (64×64 and 224×224, a 10% square region) and per assertion call."""
    rng = np.random.default_rng(0)
    rows = ["| fill | 64×64 ms | 224×224 ms |", "|---|---|---|"]
    for fill in FILLS:
        cells = []
        for size in (64, 224):
            image = rng.uniform(0, 1, (size, size, 3)).astype(np.float32)
            mask = np.zeros((size, size), bool)
            side = int(size * 0.32)
            mask[size // 3 : size // 3 + side, size // 3 : size // 3 + side] = True
            started = time.perf_counter()
            for _ in range(5):
                fills.hide(image, mask, fill)
            cells.append(f"{(time.perf_counter() - started) / 5 * 1000:.1f}")
        rows.append(f"| {fill} | {' | '.join(cells)} |")
    images, clfs = example_world()
    clf = clfs["clean"][0]
    calls = {
        "assert_region_irrelevant (1 forward of 2 images)": lambda: assertions.measure_irrelevant(clf, images[0], images[0].regions["watermark"]),
        "assert_region_needed (1 forward of 2 images)": lambda: assertions.measure_needed(clf, images[0], images[0].regions["object"]),
        "assert_prediction_ignores, 11 donors (2 forwards: 12, then 8 images)": lambda: assertions.measure_ignores(clf, images[0], images[0].regions["watermark"], images[1:]),
    }  # fmt: skip
    rows += ["", "| call (64×64, small CNN, CPU) | ms |", "|---|---|"]
    for name, call in calls.items():
        started = time.perf_counter()
        for _ in range(5):
            call()
        rows.append(f"| {name} | {(time.perf_counter() - started) / 5 * 1000:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", type=Path, help="a worlds.py to load when benchmarks/worlds.py is absent")
    parser.add_argument("--no-worlds", action="store_true", help="the example project only")
    parser.add_argument("--no-attribution", action="store_true", help="skip the avoid/focus table")
    parser.add_argument("--markdown", type=Path, help="write the tables here")
    parser.add_argument("--json", type=Path, help="write every measure here")
    parser.add_argument("--cases", type=Path, help="re-analyse the cases of an earlier --json run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    cache = ROOT / "benchmarks" / ".worlds"
    if args.cases:
        cases = [Case(**c) for c in json.loads(args.cases.read_text())["cases"]]
    else:
        worlds = None if args.no_worlds else load_worlds_module(args.worlds, cache)
        cases = run_cases(worlds)
    if args.json:  # the raw measures first: the analysis below can be re-run with --cases
        args.json.write_text(json.dumps({"cases": [asdict(c) for c in cases]}, default=float) + "\n")
    found = choose(cases)
    chosen = found["chosen"]
    parts = [
        "## Example project: every image, at the chosen defaults\n\n" + per_image_table(cases, chosen),
        "## All worlds\n\n" + world_table(cases, chosen),
        "## Defaults\n\n" + choice_text(found, cases),
    ]
    attribution: dict[str, Any] = {}
    if not args.no_attribution:
        text, attribution = attribution_table("1 torch thread")
        parts.append("## Avoid and focus tests, with and without confirm=True (example project)\n\n" + text)
    parts.append("## Cost\n\n" + timing())
    text = "\n\n".join(parts) + f"\n\nTotal {time.perf_counter() - started:.0f} s (one process, 1 thread).\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        data = {"cases": [asdict(c) for c in cases], "choice": found, "attribution": attribution}
        args.json.write_text(json.dumps(data, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
