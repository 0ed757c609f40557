"""The figures and the page of ``benchmarks/real_mutation.py``: mutation score, catches per check
kind and region, and the agreement of the planted cue mutants with the real shortcut releases."""

from __future__ import annotations

from typing import Any

from benchmarks.real_mutation_tables import DEFAULTS, caught_by, parse

CUES = ("watermark", "frame")
Catches = dict[str, dict[str, set[str]]]  # photo -> check label -> methods


def _kind(labelled: str) -> str:
    return labelled.split(" (")[0]


def _at_defaults(found: dict[str, set[str]]) -> set[str]:
    return {k for k in found if _kind(k) in DEFAULTS}


def _new_catches(release: Catches, clean: Catches) -> Catches:
    """What fails on the release and passed on the clean network (per method): the suite re-runs
    only the tests that passed, so a check failing on the clean network catches nothing."""
    out: Catches = {}
    for photo, found in release.items():
        for check, methods in found.items():
            kept = methods - clean.get(photo, {}).get(check, set())
            if kept:
                out.setdefault(photo, {})[check] = kept
    return out


def _counts(photos: list[str], mutant: Catches, real: Catches, select: Any) -> dict[str, Any]:
    """Both caught / only the mutant / only the real release / neither, over ``photos``."""
    keys = ("both", "only_mutant", "only_real", "neither")
    out: dict[str, Any] = {k: 0 for k in keys}
    out["photos"] = {k: [] for k in keys}
    for photo in photos:
        m, r = bool(select(mutant.get(photo, {}))), bool(select(real.get(photo, {})))
        key = "both" if m and r else "only_mutant" if m else "only_real" if r else "neither"
        out[key] += 1
        out["photos"][key].append(photo)
    return out


def _mutant_kinds(mutant: dict[str, Any]) -> dict[str, list[int]]:
    """Check label -> [tests failed, tests run] of one mutant."""
    out: dict[str, list[int]] = {}
    failed = set(mutant["failed"])
    for nodeid in mutant["tests"]:
        kind, _, _, cue = parse(nodeid)
        entry = out.setdefault(kind if cue is None else f"{kind} ({cue})", [0, 0])
        entry[1] += 1
        entry[0] += nodeid in failed
    return out


def _untemp(value: Any) -> Any:
    """The project's temporary folder left out of a command or its output."""
    import re

    return re.sub(r"/\S*xai-real-mutation-[^/\s]+/", "", value) if isinstance(value, str) else value


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    mutation = run["mutation"]
    stdout = _untemp(run["mutate"]["stdout"])
    section = stdout[stdout.find("xai mutation"):].split("\n= ")[0] if "xai mutation" in stdout else ""
    normal = run["normal"]
    mutants = [{k: m[k] for k in ("kind", "name", "source", "built", "note", "reason", "seconds", "cpu_seconds",
                                  "failed_kinds", "failed_methods")}
               | {"tests": len(m["tests"]), "failed": len(m["failed"]), "by_check": _mutant_kinds(m)}
               for m in mutation["mutants"]]
    return {
        "methods": run["methods"], "photos": run["photos"], "budget": run["budget"],
        "normal_tests": len(normal), "normal_failed": sorted(n for n, o in normal.items() if o == "failed"),
        "update": {k: _untemp(run["update"][k]) for k in ("command", "exit", "wall", "cpu")},
        "mutate": {k: _untemp(run["mutate"][k]) for k in ("command", "exit", "wall", "cpu")},
        "mutation_seconds": mutation.get("seconds"), "mutation_cpu_seconds": mutation.get("cpu_seconds"),
        "score": mutation["score"], "candidates": mutation.get("candidates"),
        "table": [line for line in section.splitlines()[1:] if line and not line.startswith("=")],
        "mutants": mutants,
        "on_release": {k: {k2: run[k][k2] for k2 in ("exit", "wall", "cpu")} for k in run["on_release"]},
    }


def _union(per_run: list[Catches]) -> Catches:
    out: Catches = {}
    for catches in per_run:
        for photo, found in catches.items():
            for check, methods in found.items():
                out.setdefault(photo, {}).setdefault(check, set()).update(methods)
    return out


def summary(runs: list[dict[str, Any]], real: dict[str, Catches], effects: dict[str, Any],
            methods: list[str], photos: list[str]) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (sets become sorted lists on writing)."""
    mutant: dict[str, Catches] = {}
    on_release: dict[str, Catches] = {}
    for cue in CUES:
        mutant[cue] = _union([caught_by(m["failed"]) for r in runs for m in r["mutation"]["mutants"]
                              if m["kind"] == "planted" and m["name"] == cue and m["built"]])
        release = f"shortcut_{cue}"
        if all(release in r["on_release"] for r in runs):  # a test failing on the clean network catches nothing
            on_release[cue] = _union([caught_by([n for n in r["on_release"][release] if r["normal"].get(n) == "passed"])
                                      for r in runs])
    real_new = {cue: _new_catches(real[f"shortcut_{cue}"], real["clean"]) for cue in CUES}
    agreement: dict[str, dict[str, Any]] = {}
    for cue in CUES:
        selections = {
            "any check at the defaults (golden, avoid+confirm, intervention)": _at_defaults,
            "golden": lambda f: "golden" in f,
            f"avoid+confirm ({cue})": lambda f, c=cue: f"avoid+confirm ({c})" in f,
            f"intervention ({cue})": lambda f, c=cue: f"intervention ({c})" in f,
            "any test (plain avoid and focus too)": bool,
        }
        sources = {"cached explanations": real_new[cue], "the suite run on it": on_release.get(cue)}
        agreement[cue] = {f"{what}, real judged by {source}": _counts(photos, mutant[cue], catches, select)
                          for source, catches in sources.items() if catches is not None
                          for what, select in selections.items()}
    return {
        "methods": methods, "photos": photos, "runs": [_run_summary(r) for r in runs],
        "mutant_catches": mutant, "real_catches": real, "real_new_catches": real_new,
        "suite_on_release": on_release, "agreement": agreement, "effects": effects,
    }


# -- the page --------------------------------------------------------------------------------------


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _checks(found: dict[str, Any]) -> str:
    if not found:
        return "-"
    return ", ".join(f"{k} [{', '.join(sorted(v))}]" if sorted(v) != ["-"] else k for k, v in sorted(found.items()))


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(v for v in values if v == v)


def _runs_part(found: dict[str, Any]) -> list[str]:
    out = ["## The runs", ""]
    for run in found["runs"]:
        s = run["score"]
        out += [
            f"### {', '.join(run['methods'])} on {len(run['photos'])} photos, `--xai-mutate={run['budget']}`", "",
            f"- `{run['mutate']['command']}`: **{run['mutate']['wall']:.0f} s wall, {run['mutate']['cpu']:.0f} s CPU** "
            f"(the normal run and every mutant; the mutants alone {run['mutation_seconds']:.0f} s wall, "
            f"{run['mutation_cpu_seconds']:.0f} s CPU). The goldens (`--xai-update`): "
            f"{run['update']['wall']:.0f} s wall, {run['update']['cpu']:.0f} s CPU.",
            f"- Normal run: {run['normal_tests']} tests, {len(run['normal_failed'])} failed on the clean network "
            "(not re-run against the mutants).",
            f"- **Score: {s['planted_caught']} of {s['planted']} planted caught, {s['false_alarms']} false alarms "
            f"on {s['harmless']} harmless mutants.**", "", "```", *run["table"], "```", "",
        ]
        rows = []
        for m in run["mutants"]:
            if not m["built"]:
                continue
            for check, (failed, ran) in sorted(m["by_check"].items()):
                rows.append([m["kind"], m["name"], check, f"{failed}/{ran}"])
        out += ["Tests failed per mutant and check kind (region):", "",
                _table(["mutant", "name", "check (region)", "failed / run"], rows), ""]
    return out


def _agreement_part(found: dict[str, Any]) -> list[str]:
    out = ["## Agreement with the real shortcut releases", "",
           "Per photo: was the planted mutant on the cue caught by the suite, and was the real release "
           "that learned the cue caught? Real catches count a check only where it passed on the clean "
           "network (the suite re-runs only passing tests).", ""]
    rows = []
    for cue in CUES:
        for what, c in found["agreement"][cue].items():
            rows.append([cue, what, c["both"], c["only_mutant"], c["only_real"], c["neither"]])
    out += [_table(["cue", "caught by", "both caught", "only the planted mutant", "only the real release",
                    "neither"], rows), ""]
    for cue in CUES:
        on_release = found["suite_on_release"].get(cue)
        head = ["photo", "planted mutant caught by", f"real shortcut_{cue} caught by (defaults, cached explanations)"]
        head += ["the suite run on the real release: failed tests"] if on_release is not None else []
        rows: list[list[Any]] = []
        for photo in found["photos"]:
            row = [photo, _checks(found["mutant_catches"][cue].get(photo, {})),
                   _checks(found["real_new_catches"][cue].get(photo, {}))]
            if on_release is not None:
                row.append(_checks(on_release.get(photo, {})))
            rows.append(row)
        out += [f"### {cue}", "", _table(head, rows), ""]
    return out


def _effects_part(found: dict[str, Any]) -> list[str]:
    rows = []
    for cue, entry in found["effects"].items():
        for who in ("mutant", "real", "clean"):
            data = entry.get(who)
            if not data:
                continue
            values = list(data.values())
            rows.append([cue, who if who != "mutant" else f"planted ({entry['probe']} probe)",
                         *(f"{min(v[k] for v in values):.2f} / {_median([v[k] for v in values]):.2f} / "
                           f"{max(v[k] for v in values):.2f}" for k in ("p", "dp", "dmargin", "scaled", "margin"))])
    return ["## What each shortcut does to the output", "",
            "Hiding the cue with grey fill (the interventions' default), per photo (min / median / max):", "",
            _table(["cue", "network", "p(top)", "Δp(top)", "Δ logit margin", "Δ margin / logit IQR (bound 2.25)",
                    "logit margin before"], rows), ""]


def markdown(found: dict[str, Any]) -> str:
    lines = [
        "# `--xai-mutate` on a real network's photo suite (EfficientNet-Lite0, 12 photos)", "",
        "Generated by `benchmarks/real_mutation.py` (tables: `benchmarks/real_mutation_tables.py`, "
        "`benchmarks/real_mutation_pages.py`). The suite, written as a user would: the 12 test photos of "
        "`benchmarks/real_world.py` as PNGs with `object`, `watermark` and `frame` regions in sidecars; "
        "per photo and method (200 samples, SLIC 50, seed 0, as `benchmarks/real_releases.py`) a "
        "release-mode golden, a focus test on the object at the default bound, and avoid tests on "
        "the watermark and the frame with `confirm=True` and without; per photo and cue "
        "`assert_region_irrelevant` at its defaults. `xai_model` is the clean network.", "",
        *NOTES, "",
        *_runs_part(found), *_agreement_part(found), *_effects_part(found),
    ]
    return "\n".join(lines) + "\n"


NOTES: list[str] = []
