"""Held-out check of release goldens: harmless releases against shortcut models, per cue kind.

    python benchmarks/heldout.py [--worlds spot,stripes,frame,tag,example] [--markdown out.md]

Goldens are the clean model's explanations at default settings (``explain`` defaults: LIME and
Kernel SHAP with 1000 samples and the grey fill, GradientSHAP with 200 samples, logit output,
seed 0), one per image and method, in every world of ``benchmarks/worlds.py`` (spot, stripes,
frame, tag) and in the example project (its 12 shapes images and models). Each golden is
judged with the release comparison (``goldens.modes.compare`` in release mode, default bounds):

- harmless: the clean model at explanation seeds 1..5, ``retrain`` (clean_v2), ``float16``,
  ``finetune`` and ``prune``: every failure is a false alarm;
- ``shortcut``: the world's shortcut model: every failing golden is a catch; an image counts as
  caught by "any method" when one of its three goldens fails.

Both before (evidence shift only: ``support_loss`` bound set to 1) and after the support-loss
criterion. The candidate criteria of the choice are tabulated too: the worst harmless value,
the shortcut values and what a bound with a margin would catch. Explanations are cached under
``benchmarks/.worlds/<key>/explanations`` (``--recompute`` drops them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import worlds  # noqa: E402
from pytest_xai import (  # noqa: E402
    Classifier,
    Explanation,
    defaults,
    explain,
    metrics,
)
from pytest_xai.checks import evidence  # noqa: E402
from pytest_xai.goldens.modes import Bounds, compare, default_bound  # noqa: E402
from pytest_xai.plugin.testimage import TestImage, load_test_image  # noqa: E402

METHODS = ("lime", "kernel_shap", "gradient_shap")
SEEDS = (1, 2, 3, 4, 5)
WORLDS = (*worlds.CUES, "example")
MARGIN = 1.5  # a bound sits at least this factor above the worst harmless value
SUPPORTS = (0.7, 0.8, 0.9)  # candidate support shares for support_loss
GROWS = (0, 1, 2)  # candidate support growths (cells)
GAINED = (0.01, 0.05, 0.1)  # candidate "almost none" fractions for the gained-cell share


@dataclass
class Setup:
    """One world's images, its golden model and the models judged against it."""

    name: str
    images: list[TestImage]
    clean: Classifier
    judged: dict[str, tuple[str, Classifier, int]]  # case -> (kind, classifier, seed)


def example_setup(seeds: int = len(SEEDS)) -> Setup:
    """The example project's 12 shapes images and models, with the same harmless releases."""
    from example_project import models
    from example_project.data import shapes_dataset
    from example_project.make_images import FOLDER, shapes_names
    from example_project.train import fit

    def finetune() -> worlds.SmallCNN:
        model = worlds._example("clean")
        x, y = shapes_dataset(600, seed=300, shortcut=False)
        fit(model, x, y, epochs=1, seed=2, lr=1e-4)
        return model

    clean_net = worlds._example("clean")
    key = worlds.cache_key()
    harmless = {
        "retrain": models.clean_v2(device="cpu"),
        "float16": worlds._classifier(worlds.float16_round_trip(clean_net)),
        "finetune": worlds._classifier(worlds._cached(key, "example_finetune", finetune)),
        "prune": worlds._classifier(worlds.prune(clean_net)),
    }
    images = [load_test_image(FOLDER / name) for name in shapes_names()]
    return Setup("example", images, models.clean(device="cpu"), _judged(models.clean(device="cpu"),
                                                                           harmless, models.shortcut(device="cpu"), seeds))


def _judged(clean: Classifier, harmless: dict[str, Classifier], shortcut: Classifier,
            seeds: int = len(SEEDS)) -> dict[str, tuple[str, Classifier, int]]:
    out = {f"seed{s}": ("harmless", clean, s) for s in SEEDS[:seeds]}
    out.update({name: ("harmless", clf, 0) for name, clf in harmless.items()})
    out["shortcut"] = ("shortcut", shortcut, 0)
    return out


def world_setup(cue: str, seeds: int = len(SEEDS)) -> Setup:
    world = worlds.load_world(cue)
    return Setup(cue, world.images, world.clean, _judged(world.clean, world.harmless, world.shortcut, seeds))


def explanations(
    setup: Setup, case: str, clf: Classifier, method: str, seed: int, folder: Path, cached_only: bool = False
) -> list[Explanation] | None:
    """The case's explanations of every image at default settings (cached as .npz); None
    when ``cached_only`` and they are not cached."""
    paths = [folder / setup.name / case / f"{method}.{i}.npz" for i in range(len(setup.images))]
    if all(p.is_file() for p in paths):
        return [Explanation.load(p) for p in paths]
    if cached_only:
        return None
    out = explain(clf, list(setup.images), method=method, seed=seed)
    out = out if isinstance(out, list) else [out]
    for exp, path in zip(out, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        exp.save(path)
    return out


# -- measures ------------------------------------------------------------------------------------


def gained_share(golden: Explanation, new: Explanation, fraction: float) -> float:
    """``evidence.gained_cells``' share at another "almost none" fraction."""
    a, _ = evidence.evidence_grid(golden)
    b, _ = evidence.evidence_grid(new)
    if a.sum() == 0 or b.sum() == 0:
        return float("nan")
    gained = (a < fraction * a.max()) & (b >= fraction * b.max())
    return float(b[gained].sum())


def _support_loss(q: float, d: int) -> Callable[[Explanation, Explanation], float]:
    return lambda g, e: evidence.support_loss(g, e, support=q, grow=d)


def _gained(f: float, lost: bool) -> Callable[[Explanation, Explanation], float]:
    return lambda g, e: gained_share(e, g, f) if lost else gained_share(g, e, f)


CANDIDATES: dict[str, Callable[[Explanation, Explanation], float]] = {
    **{f"support_loss, support {q}, grow {d}": _support_loss(q, d) for q in SUPPORTS for d in GROWS},
    **{f"gained-cell share at {f}": _gained(f, False) for f in GAINED},
    **{f"lost-cell share at {f}": _gained(f, True) for f in GAINED},
}


@dataclass
class Pair:
    """One golden and one judged explanation, with every measure."""

    world: str
    case: str
    kind: str
    method: str
    image: int
    changed_class: bool
    failed_before: bool  # the release comparison with the evidence shift alone
    failed_after: bool  # with the default support-loss bound too
    reason_after: str | None
    measures: dict[str, float] = field(default_factory=dict)


def judge_pair(world: str, case: str, kind: str, method: str, i: int, golden: Explanation, new: Explanation) -> Pair:
    shift_bound = default_bound(_Settings(), "max_shift", method)
    before = Bounds("release", {"max_shift": shift_bound, "max_support_loss": 1.0, "max_region_gain": 1.0})
    after = Bounds("release", {"max_shift": shift_bound, "max_support_loss":
                   defaults.DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD.get(method, defaults.DEFAULT_MAX_SUPPORT_LOSS),
                   "max_region_gain": 1.0})  # the support-loss choice predates the region criterion
    found_before, found_after = compare(golden, new, before), compare(golden, new, after)
    no_evidence = bool(metrics.no_evidence(new))  # the judge fails these before comparing
    measures = {"evidence_shift": evidence.evidence_shift(golden, new)}
    measures.update({name: fn(golden, new) for name, fn in CANDIDATES.items()})
    return Pair(world, case, kind, method, i, golden.target != new.target,
                no_evidence or not found_before.passed, no_evidence or not found_after.passed,
                "no_evidence" if no_evidence else found_after.reason, measures)


@dataclass
class _Settings:
    """What ``default_max_shift`` reads from the session settings: no ini override."""

    max_shift: float | None = None


def measure(setup: Setup, folder: Path, cached_only: bool = False) -> list[Pair]:
    pairs: list[Pair] = []
    for method in METHODS:
        started = time.perf_counter()
        goldens = explanations(setup, "golden", setup.clean, method, 0, folder, cached_only)
        for case, (kind, clf, seed) in setup.judged.items():
            news = explanations(setup, case, clf, method, seed, folder, cached_only)
            if goldens is None or news is None:
                print(f"{setup.name} {method} {case}: not measured (not cached)", file=sys.stderr)
                continue
            pairs += [judge_pair(setup.name, case, kind, method, i, g, e) for i, (g, e) in enumerate(zip(goldens, news))]
        print(f"{setup.name} {method}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return pairs


# -- tables --------------------------------------------------------------------------------------


def outcome_table(pairs: list[Pair], worlds_: list[str]) -> str:
    """Per world: harmless false alarms and shortcut catches, per method and any method,
    before -> after the support-loss criterion."""
    head = "| world | " + " | ".join(f"{m}: harmless false alarms / shortcut caught" for m in METHODS)
    lines = [head + " | shortcut images caught by any method |", "|---|" + "---|" * (len(METHODS) + 1)]
    for w in worlds_:
        cells = []
        for m in METHODS:
            harm = [p for p in pairs if p.world == w and p.method == m and p.kind == "harmless"]
            bad = [p for p in pairs if p.world == w and p.method == m and p.kind == "shortcut"]
            cells.append(
                f"{sum(p.failed_before for p in harm)} -> {sum(p.failed_after for p in harm)} of {len(harm)} / "
                f"{sum(p.failed_before for p in bad)} -> {sum(p.failed_after for p in bad)} of {len(bad)}"
            )
        bad = [p for p in pairs if p.world == w and p.kind == "shortcut"]
        n = len({p.image for p in bad})
        any_before = len({p.image for p in bad if p.failed_before})
        any_after = len({p.image for p in bad if p.failed_after})
        lines.append(f"| {w} | " + " | ".join(cells) + f" | {any_before} -> {any_after} of {n} |")
    return "\n".join(lines)


def false_alarm_table(pairs: list[Pair], worlds_: list[str]) -> str:
    """Harmless failures per release kind (after), so a false alarm is traced to its cause."""
    cases = sorted({p.case for p in pairs if p.kind == "harmless"})
    lines = ["| world | " + " | ".join(cases) + " |", "|---|" + "---|" * len(cases)]
    for w in worlds_:
        row = []
        for c in cases:
            sel = [p for p in pairs if p.world == w and p.case == c]
            fails = [p for p in sel if p.failed_after]
            why = ", ".join(sorted({f"{p.method}:{p.reason_after}" for p in fails}))
            row.append(f"{len(fails)}/{len(sel)}" + (f" ({why})" if why else ""))
        lines.append(f"| {w} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _bound(worst: float) -> float:
    """MARGIN above the worst harmless value, rounded up to 0.01; 1.0 (no bound) past 1."""
    return min(1.0, float(np.ceil(MARGIN * worst * 100 - 1e-9) / 100))


def candidate_rows(pairs: list[Pair]) -> list[dict[str, Any]]:
    """Per candidate measure: each method's worst harmless value over every world (goldens that
    pass the evidence shift; a changed prediction fails whatever the bound), its bound MARGIN
    above (``_bound``), and the shortcut images caught per world by any method, counting the
    evidence shift, a changed prediction or the measure above its bound."""
    rows = []
    for name in CANDIDATES:
        row: dict[str, Any] = {"measure": name}
        bounds = {}
        for m in METHODS:
            harm = [p.measures[name] for p in pairs if p.method == m and p.kind == "harmless" and not p.failed_before]
            worst = max((v for v in harm if v == v), default=float("nan"))
            bounds[m] = _bound(worst)
            row[m] = (worst, bounds[m])
        for w in sorted({p.world for p in pairs}):
            bad = [p for p in pairs if p.world == w and p.kind == "shortcut"]
            hit = {p.image for p in bad if p.failed_before or p.measures[name] > bounds[p.method]}
            row[w] = (len(hit), len({p.image for p in bad}))
        rows.append(row)
    return rows


def candidate_table(rows: list[dict[str, Any]], worlds_: list[str]) -> str:
    head = "| measure | " + " | ".join(f"{m}: worst harmless, bound" for m in METHODS) + " | " + " | ".join(
        f"{w}: caught (any method)" for w in worlds_) + " |"
    lines = [head, "|---|" + "---|" * (len(METHODS) + len(worlds_))]
    for r in rows:
        cells = [f"{r[m][0]:.3f}, {r[m][1]:.2f}" for m in METHODS]
        cells += [f"{r[w][0]} of {r[w][1]}" for w in worlds_]
        lines.append(f"| {r['measure']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def choose(rows: list[dict[str, Any]], worlds_: list[str]) -> str:
    """The support-loss setting that catches the most texture (stripes) shortcut images by any
    method, then the most shortcut images over every world, each method's bound MARGIN above
    its worst harmless value."""
    ranked = [r for r in rows if r["measure"].startswith("support_loss")]
    texture = "stripes" if "stripes" in worlds_ else worlds_[0]
    best = max(ranked, key=lambda r: (r[texture][0], sum(r[w][0] for w in worlds_)))
    bounds = ", ".join(f"{m} {best[m][1]:.2f} (worst harmless {best[m][0]:.3f})" for m in METHODS)
    caught = ", ".join(f"{w} {best[w][0]} of {best[w][1]}" for w in worlds_)
    return f"Chosen: {best['measure']}; bounds {bounds}; shortcut images caught by any method: {caught}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", default=",".join(WORLDS), help="comma-separated world names")
    parser.add_argument("--markdown", type=Path, help="write the tables here")
    parser.add_argument("--json", type=Path, help="write every pair's measures here")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="clean-model seeds 1..N (at most 5)")
    parser.add_argument("--from-json", type=Path, action="append", default=[],
                        help="add the pairs of an earlier --json run (its worlds are not measured again)")
    parser.add_argument("--cached-only", action="store_true",
                        help="judge only the explanations already cached; list the ones missing")
    parser.add_argument("--recompute", action="store_true", help="drop cached explanations first")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    folder = worlds.CACHE / worlds.cache_key() / "explanations"
    if args.recompute and folder.is_dir():
        shutil.rmtree(folder)
    chosen = [w for w in args.worlds.split(",") if w]
    unknown = sorted(set(chosen) - set(WORLDS))
    if unknown:
        raise SystemExit(f"--worlds: {unknown} are not worlds; use {','.join(WORLDS)}")
    pairs = [Pair(**p) for path in args.from_json for p in json.loads(path.read_text())]
    done = {p.world for p in pairs}
    for w in chosen:
        if w not in done:
            setup = example_setup(args.seeds) if w == "example" else world_setup(w, args.seeds)
            pairs += measure(setup, folder, args.cached_only)
    chosen = [w for w in chosen if any(p.world == w for p in pairs)]  # measured ones
    rows = candidate_rows(pairs)
    text = (
        "Release goldens, before -> after the support-loss criterion (false alarms of harmless "
        "goldens; shortcut goldens that fail):\n\n" + outcome_table(pairs, chosen)
        + "\n\nHarmless goldens that fail, per release (after):\n\n" + false_alarm_table(pairs, chosen)
        + "\n\nCandidate measures (worst harmless over every world; shortcut images caught by "
        "the evidence shift or the measure above its bound):\n\n" + candidate_table(rows, chosen)
        + "\n\n" + choose(rows, chosen) + "\n"
    )
    print(text)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        data = [p.__dict__ for p in pairs]
        args.json.write_text(json.dumps(data, default=float) + "\n")


if __name__ == "__main__":
    main()
