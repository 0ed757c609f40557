"""The tables of ``benchmarks/real_releases.py``: releases of EfficientNet-Lite0 on 12 photos,
judged by goldens, avoid tests and interventions, and the choice of ``max_region_gain`` and
``max_reliance_gain``.

    python benchmarks/real_tables.py      # rewrites benchmarks/results/real_releases.md from the JSON
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_xai import defaults  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CUES = ("watermark", "frame")
MARGIN = 1.5  # a bound sits at least this factor above the worst harmless value
REGION_GAIN_GRID = (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3)
RELIANCE_GRID = (0.25, 0.4, 0.55, 0.75, 1.0, 1.5)
P_GRID = (0.02, 0.05, 0.1, 0.2, 0.47)  # 0.47: the interventions' default max_change
MARGIN_GRID = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
MASS_GRID = (0.05, 0.1, 0.15, 0.2, 0.3)


def _f(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _table(head: list[str], rows: Iterable[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cue_of(release: str) -> str | None:
    return release.removeprefix("shortcut_") if release.startswith("shortcut_") else None


def max_gain(row: dict[str, Any]) -> float:
    """The gain release mode judges: the largest over the regions the golden did not rest on
    (``goldens.modes.region_gain``); 0 when none is judged."""
    if "judged_gain" in row:
        return 0.0 if row["judged_gain"] is None else row["judged_gain"]
    values = [v for v in row["region_gain"].values() if v == v]
    return max(values) if values else float("nan")


def failed_before(row: dict[str, Any]) -> bool:
    """The release comparison at the defaults without the region criterion."""
    m, method = row["measures"], row["method"]
    shift_bound = defaults.DEFAULT_MAX_SHIFT_BY_METHOD.get(method, defaults.DEFAULT_MAX_SHIFT)
    loss_bound = defaults.DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD.get(method, defaults.DEFAULT_MAX_SUPPORT_LOSS)
    shift, loss = m.get("evidence_shift"), m.get("support_loss")
    return (not row["same_prediction"] or shift is None or loss is None
            or shift > shift_bound or loss > loss_bound)


def reliance(row: dict[str, Any]) -> float:
    """The growth of reliance release mode judges (``goldens.reliance``); 0 when none is judged."""
    value = row.get("reliance_gain")
    return 0.0 if value is None else value


def failed_with(row: dict[str, Any], bound: float | dict[str, float], reliance_bound: float | None = None) -> bool:
    """The comparison with the region-gain criterion at ``bound`` (and, given a bound, the
    reliance criterion)."""
    limit = bound[row["method"]] if isinstance(bound, dict) else bound
    relied = reliance_bound is not None and not reliance(row) <= reliance_bound
    return failed_before(row) or not max_gain(row) <= limit or relied


def worst_harmless_gain(rows: list[dict[str, Any]], method: str | None = None,
                        measure: Callable[[dict[str, Any]], float] = max_gain) -> float:
    values = [measure(r) for r in rows if r["kind"] == "harmless" and r["same_prediction"]
              and (method is None or r["method"] == method)]
    return max(values) if values else float("nan")


def choose_reliance(real: list[dict[str, Any]], *toys: list[dict[str, Any]]) -> float:
    """``MARGIN`` × the worst harmless growth of reliance over the real and toy releases."""
    worst = max(v for v in (worst_harmless_gain(rows, measure=reliance) for rows in (real, *toys)) if v == v)
    return math.ceil(MARGIN * worst * 100) / 100


def choose_bounds(real: list[dict[str, Any]], toy: list[dict[str, Any]]) -> dict[str, float]:
    """Per method, ``MARGIN`` × the worst harmless judged region gain over the real and toy
    releases, rounded up to a hundredth."""
    out = {}
    for method in sorted({r["method"] for r in real} | {r["method"] for r in toy}):
        worst = max(v for v in (worst_harmless_gain(real, method), worst_harmless_gain(toy, method)) if v == v)
        out[method] = math.ceil(MARGIN * worst * 100) / 100
    return out


def photos_caught(rows: list[dict[str, Any]], release: str, fails: Callable[[dict[str, Any]], bool],
                  method: str | None = None) -> int:
    return len({r["photo"] for r in rows if r["release"] == release and (method is None or r["method"] == method)
                and fails(r)})


def harmless_fails(rows: list[dict[str, Any]], fails: Callable[[dict[str, Any]], bool]) -> str:
    judged = [r for r in rows if r["kind"] == "harmless"]
    return f"{sum(fails(r) for r in judged)} of {len(judged)}"


# -- tables -------------------------------------------------------------------------------------


def checks_table(checks: dict[str, Any]) -> str:
    rows = [[k, f"{v['same_top1_clean_photos']}/12", f"{v['same_top1_cued_photos']}/12",
             _f(v["logit_drop_watermark"]), _f(v["logit_drop_frame"])] for k, v in checks.items()]
    return _table(["network", "top-1 as clean, clean photos", "top-1 as clean, cue photos",
                   "mean top-logit drop, watermark hidden", "mean top-logit drop, frame hidden"], rows)


def golden_table(rows: list[dict[str, Any]], bound: dict[str, float], relied: float) -> str:
    out = []
    releases = sorted({r["release"] for r in rows}, key=lambda k: (cue_of(k) is not None, k))
    methods = sorted({r["method"] for r in rows})
    for release in releases:
        cells = []
        for method in methods:
            judged = [r for r in rows if r["release"] == release and r["method"] == method]
            if not judged:
                cells.append("not measured")
                continue
            before = sum(failed_before(r) for r in judged)
            gain = sum(failed_with(r, bound) for r in judged)
            after = sum(failed_with(r, bound, relied) for r in judged)
            cells.append(f"{before} -> {gain} -> {after} of {len(judged)}")
        judged = [r for r in rows if r["release"] == release]
        anyb = photos_caught(rows, release, failed_before)
        anyg = photos_caught(rows, release, lambda r: failed_with(r, bound))
        anya = photos_caught(rows, release, lambda r: failed_with(r, bound, relied))
        photos = len({r["photo"] for r in judged})
        out.append([release, *cells, f"{anyb} -> {anyg} -> {anya} of {photos}"])
    return _table(["release", *(f"{m}: goldens failing" for m in methods), "photos failing (any method)"], out)


def gain_grid_table(rows: list[dict[str, Any]], toy: list[dict[str, Any]]) -> str:
    out = []
    for bound in REGION_GAIN_GRID:
        line = [f"{bound:.2f}", harmless_fails(rows, lambda r, b=bound: failed_with(r, b)),
                harmless_fails(toy, lambda r, b=bound: not max_gain(r) <= b) if toy else "n/a"]
        for cue in CUES:
            line.append(f"{photos_caught(rows, 'shortcut_' + cue, lambda r, b=bound: failed_with(r, b))}/12")
        toy_short = [r for r in toy if r["kind"] == "shortcut"]
        line.append(f"{len({r['photo'] for r in toy_short if not max_gain(r) <= bound})}/12" if toy_short else "n/a")
        out.append(line)
    return _table(["max_region_gain", "real harmless goldens failing", "toy harmless goldens gaining more",
                   "shortcut_watermark photos caught (any method)", "shortcut_frame photos caught (any method)",
                   "toy tag shortcut photos gaining more (any method)"], out)


def reliance_grid_table(rows: list[dict[str, Any]], toy: list[dict[str, Any]], heldout: list[dict[str, Any]],
                        bound: dict[str, float]) -> str:
    out = []
    grid = sorted({*RELIANCE_GRID, choose_reliance(rows, toy, heldout)})
    for relied in grid:
        def more(r: dict[str, Any], b: float = relied) -> bool:
            return r["same_prediction"] and not reliance(r) <= b
        line = [f"{relied:.2f}", harmless_fails(rows, lambda r, b=relied: failed_with(r, bound, b)),
                harmless_fails(toy, more) if toy else "n/a", harmless_fails(heldout, more) if heldout else "n/a"]
        for cue in CUES:
            line.append(f"{photos_caught(rows, 'shortcut_' + cue, lambda r, b=relied: failed_with(r, bound, b))}/12")
        short = [r for r in heldout if r["kind"] == "shortcut"]
        line.append(f"{sum(not reliance(r) <= relied for r in short)} of {len(short)}" if short else "n/a")
        out.append(line)
    return _table(["max_reliance_gain", "real harmless goldens failing (all criteria)",
                   "toy example harmless relying more", "held-out worlds harmless relying more",
                   "shortcut_watermark photos caught (any method)", "shortcut_frame photos caught (any method)",
                   "held-out shortcut images relying more"], out)


def spread(values: list[float]) -> str:
    values = sorted(v for v in values if v == v)
    if not values:
        return "n/a"
    return f"{values[0]:.3f} / {values[len(values) // 2]:.3f} / {values[-1]:.3f}"


def measure_table(rows: list[dict[str, Any]], toy: list[dict[str, Any]]) -> str:
    """Min / median / max of each golden measure, per release kind and method."""
    out = []
    for method in sorted({r["method"] for r in rows}):
        for label, pick in (("harmless (real)", lambda r: r["kind"] == "harmless"),
                            ("shortcut_watermark", lambda r: r["release"] == "shortcut_watermark"),
                            ("shortcut_frame", lambda r: r["release"] == "shortcut_frame")):
            judged = [r for r in rows if r["method"] == method and pick(r)]
            cue = cue_of(label)
            out.append([method, label, spread([r["measures"]["evidence_shift"] or math.nan for r in judged]),
                        spread([r["measures"]["support_loss"] or 0.0 for r in judged]),
                        spread([max_gain(r) for r in judged]),
                        spread([r["region_gain"][cue] for r in judged]) if cue else "-"])
        toy_h = [r for r in toy if r["method"] == method and r["kind"] == "harmless"]
        if toy_h:
            out.append([method, "harmless (toy example)", "-", "-", spread([max_gain(r) for r in toy_h]), "-"])
    return _table(["method", "releases", "evidence shift min / median / max", "support loss min / median / max",
                   "largest region gain min / median / max", "gain in the cue's own region"], out)


def intervention_table(interventions: list[dict[str, Any]]) -> str:
    out = []
    for release in sorted({i["release"] for i in interventions}, key=lambda k: (cue_of(k) is not None, k)):
        for cue in CUES:
            rows = [i for i in interventions if i["release"] == release and i["cue"] == cue]
            out.append([release, cue, spread([i["p_change"] for i in rows]), spread([i["margin_change"] for i in rows]),
                        spread([i["p_before"] for i in rows])])
    return _table(["network", "cue hidden (grey)", "Δp min / median / max", "Δlogit-margin min / median / max",
                   "p(top) before"], out)


def intervention_grid(interventions: list[dict[str, Any]]) -> str:
    """Photos flagged by hiding the cue: by Δp alone and by Δlogit-margin alone."""
    out = []
    for name, key, grid in (("Δp", "p_change", P_GRID), ("Δlogit-margin", "margin_change", MARGIN_GRID)):
        for bound in grid:
            line = [f"{name} > {bound}"]
            for cue in CUES:
                own = [i for i in interventions if i["cue"] == cue]
                clean = sum(i[key] > bound for i in own if i["kind"] in ("clean", "harmless"))
                judged = sum(1 for i in own if i["kind"] in ("clean", "harmless"))
                short = sum(i[key] > bound for i in own if i["release"] == f"shortcut_{cue}")
                line += [f"{clean} of {judged}", f"{short}/12"]
            out.append(line)
    head = ["bound"]
    for cue in CUES:
        head += [f"{cue}: clean+harmless photos flagged", f"{cue}: shortcut_{cue} photos caught"]
    return _table(head, out)


def avoid_table(rows: list[dict[str, Any]], interventions: list[dict[str, Any]], clean_mass: dict[tuple[str, str, str], float]) -> str:
    """The avoid test (positive mass in the cue region > max_mass), alone and with a confirming
    intervention (Δp > 0.47, the current default, or Δlogit-margin > a bound)."""
    by = {(i["release"], i["photo"], i["cue"]): i for i in interventions}
    out = []
    for mass_bound in MASS_GRID:
        for confirm in ("none", "Δp > 0.47", "Δmargin > 1", "Δmargin > 2"):
            line = [f"{mass_bound:.2f}", confirm]
            for cue in CUES:
                def fails(release: str, photo: str, method: str, mass: float, cue: str = cue,
                          mass_bound: float = mass_bound, confirm: str = confirm) -> bool:
                    if not mass > mass_bound:
                        return False
                    i = by[(release, photo, cue)]
                    return {"none": True, "Δp > 0.47": i["p_change"] > 0.47, "Δmargin > 1": i["margin_change"] > 1.0,
                            "Δmargin > 2": i["margin_change"] > 2.0}[confirm]
                harmless = [(r["release"], r["photo"], r["method"], r["cue_mass"][cue]) for r in rows
                            if r["kind"] == "harmless"]
                harmless += [("clean", p, m, v) for (m, p, c), v in clean_mass.items() if c == cue]
                flagged = sum(fails(*h) for h in harmless)
                caught = len({r["photo"] for r in rows if r["release"] == f"shortcut_{cue}"
                              and fails(r["release"], r["photo"], r["method"], r["cue_mass"][cue])})
                line += [f"{flagged} of {len(harmless)}", f"{caught}/12"]
            out.append(line)
    head = ["max_mass", "confirm"]
    for cue in CUES:
        head += [f"{cue}: clean+harmless tests failing", f"{cue}: shortcut photos caught (any method)"]
    return _table(head, out)


def per_photo_table(rows: list[dict[str, Any]], interventions: list[dict[str, Any]]) -> str:
    by = {(i["release"], i["photo"], i["cue"]): i for i in interventions}
    out = []
    for r in rows:
        cue = cue_of(r["release"])
        if cue is None:
            continue
        i = by.get((r["release"], r["photo"], cue), {})
        m = r["measures"]
        top = max(r["region_gain"], key=lambda k: r["region_gain"][k] if r["region_gain"][k] == r["region_gain"][k] else -1)
        out.append([r["release"], r["photo"], r["method"], "yes" if r["same_prediction"] else "no",
                    _f(m.get("evidence_shift")), _f(m.get("support_loss")), _f(r["region_gain"][cue]),
                    f"{top} {_f(r['region_gain'][top])}", f"{r.get('reliance_region')} {_f(r.get('reliance_gain'))}",
                    _f(r["cue_mass"][cue]), _f(i.get("p_change")), _f(i.get("margin_change"))])
    return _table(["release", "photo", "method", "same top-1", "evidence shift", "support loss",
                   "gain in cue region", "region that gained most", "reliance gained (region)",
                   "mass in cue region (avoid)", "Δp cue hidden", "Δmargin cue hidden"], out)


def markdown(found: dict[str, Any], toy: list[dict[str, Any]] | None = None) -> str:
    if toy is None:
        path = RESULTS / "region_gain_toy.json"
        toy = json.loads(path.read_text()) if path.is_file() else []
    rows, interventions = found["rows"], found["interventions"]
    bounds = choose_bounds(rows, toy)
    path = RESULTS / "reliance_worlds.json"
    heldout = json.loads(path.read_text()) if path.is_file() else []
    relied = choose_reliance(rows, toy, heldout)
    worst_reliance = [worst_harmless_gain(r, measure=reliance) for r in (rows, toy, heldout)]
    clean_mass = {tuple(k.split("|")): v for k, v in found.get("clean_cue_mass", {}).items()}
    worst = {m: worst_harmless_gain(rows, m) for m in found["methods"]}
    toy_worst = {m: worst_harmless_gain(toy, m) for m in sorted({r["method"] for r in toy})}
    chosen = ", ".join(f"{m} {b:.2f}" for m, b in bounds.items())
    return "\n\n".join([
        "# Releases of a real network (EfficientNet-Lite0, 12 photos)",
        "Generated by `benchmarks/real_releases.py` (tables: `benchmarks/real_tables.py`). Budget: "
        f"{found['samples']} model evaluations per explanation, SLIC with 50 superpixels, grey fill, "
        "logit output, seed 0, for " + ", ".join(found["methods"]) + "; the golden is the clean network's "
        "explanation. Harmless releases with explanations: "
        + ", ".join(sorted({r['release'] for r in rows if r['kind'] == 'harmless'}))
        + "; shortcuts: shortcut_watermark, shortcut_frame. Every test photo carries both cues.",
        "## Model checks\n\n" + checks_table(found["checks"]),
        f"## Goldens: before -> region gain -> reliance (max_region_gain: {chosen}; max_reliance_gain {relied:.2f})\n\n"
        "A golden fails on a changed prediction, an evidence shift or support loss over the defaults "
        "(before), then also on a judged region gain over max_region_gain, then also on a judged "
        "growth of reliance over max_reliance_gain (all of release mode's criteria).\n\n"
        + golden_table(rows, bounds, relied),
        "## Choice of max_reliance_gain\n\nWorst harmless growth of reliance on a judged region (the margin's "
        "fall when the region is hidden with grey, in interquartile ranges of the logits, release minus "
        f"golden's model; prediction unchanged): real {_f(worst_reliance[0])}, toy example world {_f(worst_reliance[1])}, "
        f"held-out worlds (benchmarks/reliance_worlds.py: spot, stripes, frame, tag) {_f(worst_reliance[2])}. "
        f"Bound: {MARGIN}× the worst of all, rounded up to a hundredth: **{relied:.2f}** (one bound: "
        "reliance depends on the model, not on the method).\n\n" + reliance_grid_table(rows, toy, heldout, bounds),
        "## Choice of max_region_gain\n\nWorst harmless judged region gain (the largest gain over the "
        "golden's named regions but the one it rests on, prediction unchanged): real "
        + ", ".join(f"{m} {_f(v)}" for m, v in worst.items()) + "; toy example world (clean at seed 1, "
        "retrain, float16, fine-tune, prune) "
        + (", ".join(f"{m} {_f(v)}" for m, v in toy_worst.items()) or "not measured")
        + f". Bound per method: {MARGIN}× the worst of both, rounded up to a hundredth: **{chosen}**.\n\n"
        "As a function of one bound for every method:\n\n" + gain_grid_table(rows, toy),
        "## Golden measures (min / median / max)\n\n" + measure_table(rows, toy),
        "## Interventions: the cue region hidden with grey fill\n\n" + intervention_table(interventions)
        + "\n\nPhotos flagged, as a function of the bound (12 photos × 5 clean and harmless networks "
        "per cue):\n\n" + intervention_grid(interventions),
        "## Avoid tests on the cue regions, with and without confirm\n\n"
        + avoid_table(rows, interventions, clean_mass),
        "## Per photo (shortcut releases)\n\n" + per_photo_table(rows, interventions),
    ]) + "\n"


def main() -> None:
    found = json.loads((RESULTS / "real_releases.json").read_text())
    text = markdown(found)
    (RESULTS / "real_releases.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
