"""Which margin criterion separates harmless releases from shortcuts on toy AND real networks.

    python benchmarks/margin_scale.py --measure   # forward passes only (cached worlds/releases)
    python benchmarks/margin_scale.py             # the tables, from benchmarks/results/margin_scale.json
    python benchmarks/margin_scale.py --write     # ... written as the last section of margin_default.md

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
    from pytest_xai.checks.interventions import fills, measure
    from pytest_xai.images import as_image

    array = as_image(image, "image")
    _, mask = measure.region_mask(region, array)
    probs, logits = measure.outputs(clf, [array, fills.hide(array, mask, fill)])
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


def caught(c: dict[str, Any], score: Callable[[dict[str, Any]], float], bound: float) -> bool:
    return score(c) > bound or abs(c["before"]["p"] - c["after"]["p"]) > MAX_CHANGE


def evaluate(cases: list[dict[str, Any]], bounds: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Per candidate: the worst harmless case, the bound (1.5x it, or ``bounds[name]``), the
    harmless cases failing and the shortcut cases caught per group, every fill together."""
    harmless = [c for c in cases if c["harmless"]]
    groups = sorted({kind(c) for c in cases} - {""})
    rows = []
    for name, (words, score) in CANDIDATES.items():
        worst = max(harmless, key=score)
        bound = (bounds or {}).get(name, FACTOR * score(worst))
        row: dict[str, Any] = {"candidate": name, "words": words, "worst_harmless": round(score(worst), 4),
                               "worst_case": f"{worst['world']} / {worst['model']} / {worst['image']} / {worst['region']} / {worst['fill']}",
                               "bound": round(bound, 4), "harmless_failing": sum(caught(c, score, bound) for c in harmless),
                               "harmless": len(harmless), "caught": {}}  # fmt: skip
        for g in groups:
            mine = [c for c in cases if kind(c) == g]
            row["caught"][g] = [sum(caught(c, score, bound) for c in mine), len(mine)]
        rows.append(row)
    return rows


SECTION = "## Scale of the margin:"
CHOSEN = "per_iqr"
DEFAULT = 2.25  # pytest_xai.checks.interventions.DEFAULT_MAX_SCALED_DROP


def table(rows: list[dict[str, Any]]) -> list[str]:
    cols = list(rows[0]["caught"])
    lines = ["| candidate | worst harmless (world / network / image / region / fill) | bound | harmless failing | "
             + " | ".join(cols) + " |", "|" + "---|" * (4 + len(cols))]  # fmt: skip
    for r in rows:
        cells = " | ".join(f"{r['caught'][c][0]}/{r['caught'][c][1]}" for c in cols)
        lines.append(f"| {r['words']} | {r['worst_harmless']:.3f} ({r['worst_case']}) | {r['bound']:.3f} | "
                     f"{r['harmless_failing']} of {r['harmless']} | {cells} |")  # fmt: skip
    return lines


def worst_by_world(cases: list[dict[str, Any]]) -> list[str]:
    score = CANDIDATES[CHOSEN][1]
    lines = ["| world | fill | worst harmless fall / IQR (network, image, region) | its fall in logits | IQR of its logits |",
             "|---|---|---|---|---|"]  # fmt: skip
    for world, fill in sorted({(c["world"], c["fill"]) for c in cases if c["harmless"]}):
        mine = [c for c in cases if c["harmless"] and c["world"] == world and c["fill"] == fill]
        w = max(mine, key=score)
        lines.append(f"| {world} | {fill} | {score(w):.3f} ({w['model']}, {w['image']}, {w['region']}) | "
                     f"{_fall(w):.2f} | {w['before']['iqr']:.2f} |")  # fmt: skip
    return lines


def floor(cases: list[dict[str, Any]]) -> list[str]:
    score = CANDIDATES[CHOSEN][1]
    lines = [f"| shortcut | photo | Δp | margin before | fall, logits | IQR | fall / IQR | caught at {DEFAULT} |",
             "|---|---|---|---|---|---|---|---|"]
    for g in ("real trained watermark", "real trained frame"):
        for c in sorted((c for c in cases if kind(c) == g), key=score):
            dp = c["before"]["p"] - c["after"]["p"]
            lines.append(f"| {g} | {c['image']} | {dp:.3f} | {c['before']['margin']:.2f} | {_fall(c):.2f} | "
                         f"{c['before']['iqr']:.2f} | {score(c):.2f} | {'yes' if caught(c, score, DEFAULT) else 'no'} |")
    return lines


def sweep(cases: list[dict[str, Any]], bounds: list[float]) -> list[str]:
    score = CANDIDATES[CHOSEN][1]
    harmless = [c for c in cases if c["harmless"]]
    real = [c for c in harmless if c["source"] != "toy"]
    groups = ("real trained watermark", "real trained frame", "toy frame", "toy spot", "toy tag")
    lines = ["| bound | harmless failing (real of them) | " + " | ".join(groups) + " |", "|" + "---|" * (2 + len(groups))]
    for b in bounds:
        bad = sum(caught(c, score, b) for c in harmless)
        cells = " | ".join(f"{sum(caught(c, score, b) for c in cases if kind(c) == g)}/{sum(kind(c) == g for c in cases)}"
                           for g in groups)  # fmt: skip
        lines.append(f"| {b:.2f} | {bad} ({sum(caught(c, score, b) for c in real)}) of {len(harmless)} | {cells} |")
    return lines


def confirm_table(cases: list[dict[str, Any]]) -> list[str]:
    """Avoid tests on the cue regions with ``confirm=True`` at the default, on the 12 photos: the
    cue masses of ``real_releases.json`` (clean, harmless, shortcut; lime and kernel_shap) and
    the interventions here. A test fails when its mass exceeds max_mass and the hide fails."""
    score = CANDIDATES[CHOSEN][1]
    found = json.loads((RESULTS / "real_releases.json").read_text())
    used = {(c["model"], c["image"], c["cue"]): caught(c, score, DEFAULT) for c in cases if c["source"] == "real12"}
    tests = [("clean", photo, cue, mass) for key, mass in found["clean_cue_mass"].items()
             for _, photo, cue in [key.split("|")]]  # fmt: skip
    tests += [(r["release"], r["photo"], cue, m) for r in found["rows"] for cue, m in r["cue_mass"].items()]
    lines = ["| max_mass | cue | clean + harmless tests failing | shortcut photos caught (any method) |", "|---|---|---|---|"]
    for bound in (0.05, 0.10, 0.15, 0.20):
        for cue in ("watermark", "frame"):
            good = [t for t in tests if t[2] == cue and not t[0].startswith("shortcut")]
            bad = [t for t in tests if t[2] == cue and t[0] == f"shortcut_{cue}"]
            failing = sum(m > bound and used[(r, p, c)] for r, p, c, m in good)
            photos = {p for r, p, c, m in bad if m > bound and used[(r, p, c)]}
            lines.append(f"| {bound:.2f} | {cue} | {failing} of {len(good)} | {len(photos)}/{len({t[1] for t in bad})} |")
    return lines


def markdown(cases: list[dict[str, Any]]) -> str:
    score = CANDIDATES[CHOSEN][1]
    harmless = [c for c in cases if c["harmless"]]
    worst = max(map(score, harmless))
    real_worst = max((c for c in harmless if c["source"] != "toy"), key=score)
    lines = [SECTION + " one criterion for toy and real networks (`max_scaled_drop`)", "",
             "Generated by `benchmarks/margin_scale.py` from `benchmarks/results/margin_scale.json` (forward passes",
             "of the cases of `margin_default.py` and `real_releases.py`: toy worlds, every fill; EfficientNet-Lite0's",
             "harmless releases on 5 photos with the watermark and random boxes hidden, every fill, and on 12 photos",
             "with the watermark and the frame hidden, grey; the hand-spliced watermark, every fill; the trained",
             "watermark and frame shortcuts, grey). Fall = margin before - after the region is hidden. A shortcut case",
             f"is caught when its score exceeds the bound or |Δp| > max_change {MAX_CHANGE}. The toy networks have 3",
             "classes, the real one 1000. Columns count cases (photo × fill).", "",
             f"### Candidates, each bounded at {FACTOR}× its worst harmless case (every world, network, region, fill)", ""]
    lines += table(evaluate(cases))
    lines += ["", f"### The default: the fall over the interquartile range of the image's logits, max_scaled_drop {DEFAULT}", "",
              "The IQR is the spread of the bulk of the classes: the same under a logit temperature, and not widened",
              "by a confident network's few winning classes (the standard deviation is, and catches fewer). The worst",
              f"harmless case is {worst:.3f} (toy); on the real network {score(real_worst):.3f} ({real_worst['model']}, "
              f"{real_worst['image']}, {real_worst['region']}, {real_worst['fill']}); {DEFAULT} is {DEFAULT / worst:.2f}× the first.",
              ""]  # fmt: skip
    lines += table([r for r in evaluate(cases, {CHOSEN: DEFAULT}) if r["candidate"] == CHOSEN])
    lines += ["", "Worst harmless case per world and fill:", "", *worst_by_world(cases)]
    lines += ["", "### The floor on the real shortcuts", "",
              "Cases caught and harmless cases failing as a function of the bound (fall / IQR, or |Δp| > max_change):", ""]
    lines += sweep(cases, [score(real_worst), worst, FACTOR * score(real_worst), DEFAULT])
    lines += ["", "No bound reaches 10 of 12 trained-watermark photos with no harmless release failing: even at the worst",
              "real harmless case itself (no margin) three photos stay below it, as the shortcut network's margin falls",
              "by at most 1.2 logits (0.75 IQR) and p by at most 0.05 when the watermark is hidden. Per photo, grey fill:",
              ""]  # fmt: skip
    lines += floor(cases)
    lines += ["", f"### Avoid tests on the cue regions with confirm=True (max_scaled_drop {DEFAULT}), 12 photos", "",
              *confirm_table(cases)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="re-run the forward passes into margin_scale.json")
    parser.add_argument("--write", action="store_true", help="replace this section of results/margin_default.md")
    args = parser.parse_args()
    if args.measure:
        import torch

        torch.set_num_threads(1)
        cases: list[dict[str, Any]] = []
        toy(cases)
        real_releases12(cases)
        real_photos5(cases)
        for c in cases:
            for side in ("before", "after"):
                c[side] = {k: round(v, 4) for k, v in c[side].items()}
        DATA.write_text(json.dumps(cases, separators=(",", ":")))
    cases = json.loads(DATA.read_text())
    text = markdown(cases)
    if not args.write:
        print(text)
        return
    page = RESULTS / "margin_default.md"
    head = page.read_text().split(SECTION)[0].rstrip("\n")
    page.write_text(f"{head}\n\n{text}")


if __name__ == "__main__":
    main()
