"""The tables of ``benchmarks/real_mutation.py``: the mutation score of the real-photo suite,
and per photo whether each planted cue mutant and the real shortcut release on that cue were
caught.

    PYTHONPATH=$PWD python benchmarks/real_mutation_tables.py

The real releases' catches are judged here at the library's current defaults, from the
explanations ``benchmarks/real_releases.py`` cached (the same settings; its golden is the clean
network's explanation): the release-mode golden, ``assert_attribution_avoids`` with
``confirm=`` the release and without, ``assert_attribution_focus`` at its default, and
``assert_region_irrelevant``. Where ``run`` also ran the suite itself against each shortcut
release (``--xai-model``), its outcomes are tabulated beside them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import real_world as rw  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RUNS = rw.CACHE / "real_mutation"
# test function -> the check kind it makes
KINDS = {"test_golden": "golden", "test_avoids_confirmed": "avoid+confirm", "test_avoids": "avoid",
         "test_focus": "focus", "test_hiding_changes_nothing": "intervention"}
DEFAULTS = ("golden", "avoid+confirm", "intervention")  # the checks a release checklist runs at defaults


def parse(nodeid: str) -> tuple[str, str, str | None, str | None]:
    """``test_x.py::test_avoids[chelsea-lime-watermark]`` -> (kind, photo, method, cue)."""
    function, _, params = nodeid.split("::")[-1].partition("[")
    parts = params.rstrip("]").split("-")
    kind = KINDS[function]
    if kind == "intervention":
        return kind, parts[0], None, parts[1]
    return kind, parts[0], parts[1], parts[2] if len(parts) > 2 else None


def label(kind: str, cue: str | None) -> str:
    return kind if cue is None else f"{kind} ({cue})"


def caught_by(nodeids: list[str]) -> dict[str, dict[str, set[str]]]:
    """photo -> check label -> the methods (or "-") of the failed tests."""
    out: dict[str, dict[str, set[str]]] = {}
    for nodeid in nodeids:
        kind, photo, method, cue = parse(nodeid)
        out.setdefault(photo, {}).setdefault(label(kind, cue), set()).add(method or "-")
    return out


# -- the real releases, judged at the library's defaults -----------------------------------------


def _fails(check: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    try:
        check(*args, **kwargs)
    except AssertionError:
        return True
    return False


def _judge_photo(clf: Any, image: Any, exps: dict[str, Any], golden_failed: set[str]) -> dict[str, set[str]]:
    """Check label -> methods whose check failed on one photo (``exps``: method -> explanation)."""
    from pytest_xai import assert_attribution_avoids as avoids
    from pytest_xai import assert_attribution_focus as focus
    from pytest_xai import assert_region_irrelevant as irrelevant

    found: dict[str, set[str]] = {}
    for cue in rw.CUES:
        if _fails(irrelevant, clf, image, image.regions[cue]):
            found.setdefault(label("intervention", cue), set()).add("-")
    for method, exp in exps.items():
        if method in golden_failed:
            found.setdefault("golden", set()).add(method)
        if _fails(focus, exp, image.regions["object"]):
            found.setdefault("focus", set()).add(method)
        for cue in rw.CUES:
            if _fails(avoids, exp, image.regions[cue], confirm=clf):
                found.setdefault(label("avoid+confirm", cue), set()).add(method)
            if _fails(avoids, exp, image.regions[cue]):
                found.setdefault(label("avoid", cue), set()).add(method)
    return found


def real_catches(methods: list[str], photos: list[str]) -> dict[str, dict[str, dict[str, set[str]]]]:
    """release -> photo -> check label -> methods whose check failed, for the clean network
    and the two shortcut releases, from real_releases.py's cached explanations."""
    from benchmarks import real_releases as rr
    from pytest_xai.checks.recorder import Recorder, recording
    from pytest_xai.records import TestRecord

    exps = rr.cached(methods, 200)
    golden_failed = {(r.release, r.photo, r.method) for r in rr.judged(exps) if r.verdict != "passed"}
    nets = rw.releases()
    clfs = rw.classifiers({k: nets[k] for k in ("clean", *rw.SHORTCUTS)})
    images = {t.name: t for t in rw.test_photos()}
    out: dict[str, dict[str, dict[str, set[str]]]] = {}
    with tempfile.TemporaryDirectory() as tmp, recording(Recorder(TestRecord("real"), Path(tmp), pictures=False)):
        for release, clf in clfs.items():
            for photo in photos:
                mine = {m: exps[(release, m, photo)] for m in methods if (release, m, photo) in exps}
                failed = {m for m in methods if (release, photo, m) in golden_failed}
                out.setdefault(release, {})[photo] = _judge_photo(clf, images[photo], mine, failed)
    return out


def golden_gains(methods: list[str]) -> dict[str, dict[str, dict[str, list[Any]]]]:
    """release -> photo -> method -> [the region release mode judged, its gain, the verdict], from
    real_releases.py's cached explanations."""
    from benchmarks import real_releases as rr

    out: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for row in rr.judged(rr.cached(methods, 200)):
        out.setdefault(row.release, {}).setdefault(row.photo, {})[row.method] = [
            row.judged_region, row.judged_gain, row.verdict]
    return out


# -- what the planted mutants and the real shortcuts do to the model's output ----------------------


def cue_effects(photos: list[str]) -> dict[str, dict[str, Any]]:
    """Per cue, for its planted mutant (built as the runner builds it, on the suite's PNG pixels)
    and for the real shortcut release: per photo, hiding the cue with grey fill moves p(top) by
    ``dp``, the logit margin by ``dmargin`` (logits) and ``scaled`` (logit IQRs); and how the
    mutant was planted."""
    import torch

    from pytest_xai.checks.interventions.assertions import measure_irrelevant
    from pytest_xai.mutation import planted

    torch.set_num_threads(1)
    nets = rw.releases()
    clfs = rw.classifiers({k: nets[k] for k in ("clean", *rw.SHORTCUTS)})
    images = [t for t in rw.test_photos() if t.name in photos]
    arrays = [np.round(np.clip(np.asarray(t.array), 0, 1) * 255).astype(np.float32) / 255 for t in images]
    out: dict[str, dict[str, Any]] = {}
    for cue in rw.CUES:
        mask = images[0].regions[cue].to_mask(rw.SIZE, rw.SIZE)
        mutant, note = planted.build_planted(clfs["clean"], arrays, mask, cue)
        entry: dict[str, Any] = {"note": note, "probe": "presence" if "boosts" in note else "content"}
        for who, clf in (("mutant", mutant), ("real", clfs[f"shortcut_{cue}"]), ("clean", clfs["clean"])):
            if clf is None:
                continue
            rows = {}
            for image, array in zip(images, arrays):
                result, _ = measure_irrelevant(clf, array, image.regions[cue])
                t = result.target
                fall = float(result.margin_before - result.margin_after[0])
                rows[image.name] = {"dp": float(result.before[t] - result.after[0, t]), "dmargin": fall,
                                    "scaled": fall / result.logit_spread if result.logit_spread else float("nan"),
                                    "margin": float(result.margin_before), "p": float(result.before[t])}
            entry[who] = rows
        out[cue] = entry
    return out


# -- the runs --------------------------------------------------------------------------------------


def load_runs() -> list[dict[str, Any]]:
    """Every kept run: its timings, the mutation report and the suite's runs on the releases."""
    out = []
    for folder in sorted(RUNS.glob("*")):
        if not (folder / "runs.json").is_file() or not (folder / "report.json").is_file():
            continue
        runs = json.loads((folder / "runs.json").read_text())
        report = json.loads((folder / "report.json").read_text())
        runs["mutation"] = report["mutation"]
        runs["normal"] = {t["nodeid"]: t.get("outcome") for t in report.get("tests", [])}
        runs["on_release"] = {}
        for name in rw.SHORTCUTS:
            path = folder / f"{name}.json"
            if path.is_file():
                data = json.loads(path.read_text())
                runs["on_release"][name] = [t["nodeid"] for t in data.get("tests", []) if t.get("outcome") == "failed"]
        out.append(runs)
    return out


def main() -> None:
    from benchmarks import real_mutation_pages as pages

    runs = load_runs()
    if not runs:
        raise SystemExit(f"no run kept under {RUNS}; run `python benchmarks/real_mutation.py run` first")
    methods = sorted({m for r in runs for m in r["methods"]})
    photos = list(dict.fromkeys(p for r in runs for p in r["photos"]))
    real = real_catches(methods, photos)
    effects = cue_effects(photos)
    found = pages.summary(runs, real, effects, methods, photos)
    found["golden_gains"] = {k: v for k, v in golden_gains(methods).items() if k in rw.SHORTCUTS}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "real_mutation.json").write_text(json.dumps(found, indent=1, default=sorted) + "\n")
    (RESULTS / "real_mutation.md").write_text(pages.markdown(found))
    print(pages.markdown(found))


if __name__ == "__main__":
    main()
