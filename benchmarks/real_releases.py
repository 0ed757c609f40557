"""Releases of a real network, measured: what goldens, avoid tests and interventions see.

    python benchmarks/real_releases.py [--samples 300] [--methods lime,kernel_shap]
        [--phase shared|full|all] [--cached-only]

On the 12 test photos of ``benchmarks/real_world.py`` (each carrying the watermark and the frame
cue), the clean EfficientNet-Lite0's explanation of each photo is the golden (seed 0,
``--samples`` model evaluations, SLIC with 50 superpixels, grey fill, logit output). Each
release's explanation (same settings) is compared with it, and per release, photo and method
the script records:

- the release-mode comparison at the library's defaults (``goldens.modes.compare``): evidence
  shift, support loss, new mass, and the gain of positive mass inside each of the golden's
  named regions (object, watermark, frame), with the region that gained most, and the growth of
  the network's reliance on each (``goldens.reliance``: the margin's fall when the region is
  hidden, in IQRs of the logits) against the clean network's;
- the avoid test's number: the positive mass inside each cue region (``metrics.relevance_mass``);
- the intervention's raw numbers for each cue region hidden with grey fill
  (``interventions.assertions.measure_irrelevant``): the change of the top class's probability
  and of its logit margin (top logit minus the best other).

Explanations are cached under ``benchmarks/.real/explanations/<samples>/``; ``--phase shared``
explains only the releases that share the clean trunk (fast), ``full`` the float16 and
bn_fold releases. ``--cached-only`` judges what is cached. Results go to
``benchmarks/results/real_releases.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import real_world as rw  # noqa: E402
from pytest_xai import Explanation, explain, metrics  # noqa: E402
from pytest_xai.checks.interventions import assertions  # noqa: E402
from pytest_xai.goldens import reliance  # noqa: E402
from pytest_xai.goldens.modes import Bounds, compare, region_gain  # noqa: E402
from pytest_xai.goldens.previews import caption_meta  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHARED_PHASE = ("clean", "head_finetune", "head_prune", *rw.SHORTCUTS)
FULL_PHASE = ("float16", "bn_fold")
REGIONS = ("object", *rw.CUES)


@dataclass
class Row:
    """One release's explanation of one photo by one method, against the clean golden."""

    release: str
    kind: str  # "harmless" or "shortcut"
    photo: str
    method: str
    same_prediction: bool
    verdict: str  # the release-mode reason at the defaults: "passed", "prediction" or "drift"
    measures: dict[str, Any] = field(default_factory=dict)  # evidence_shift, support_loss, ...
    region_gain: dict[str, float] = field(default_factory=dict)  # share gained per named region
    cue_mass: dict[str, float] = field(default_factory=dict)  # positive mass in each cue region
    golden_mass: dict[str, float] = field(default_factory=dict)  # the golden's mass per region
    judged_region: str | None = None  # the region release mode judges (goldens.modes.region_gain)
    judged_gain: float | None = None  # its gain (None: no region judged)
    reliance_region: str | None = None  # the region whose reliance grew most (goldens.reliance)
    reliance_gain: float | None = None  # that growth, in IQRs of the logits (None: not judged)


@dataclass
class Intervention:
    """Hiding one cue region of one photo with grey fill, for one release."""

    release: str
    kind: str
    photo: str
    cue: str
    p_change: float  # p(top) before minus after
    margin_change: float  # logit margin before minus after
    margin_before: float
    p_before: float


def kind_of(release: str) -> str:
    return "shortcut" if release.startswith("shortcut") else "clean" if release == "clean" else "harmless"


def explanation(clf: Any, image: Any, release: str, method: str, samples: int, cached_only: bool) -> Explanation | None:
    """The release's explanation of ``image`` (cached as .npz); None when ``cached_only`` and absent."""
    path = rw.CACHE / "explanations" / str(samples) / method / release / f"{image.name}.npz"
    if path.is_file():
        return Explanation.load(path)
    if cached_only:
        return None
    exp = explain(clf, image, method=method, samples=samples, seed=0, n_segments=50)
    assert isinstance(exp, Explanation)
    path.parent.mkdir(parents=True, exist_ok=True)
    exp.save(path)
    return exp


def explain_all(phase: tuple[str, ...], methods: list[str], samples: int, cached_only: bool) -> dict[tuple[str, str, str], Explanation]:
    """Every (release, method, photo) explanation of ``phase``, the trunk shared per photo
    where the method only needs forward passes."""
    nets = rw.releases()
    trunk = rw.SharedTrunk(nets["clean"])
    out = {}
    for method in methods:
        # GradientSHAP differentiates through the whole network: no shared trunk features
        clfs = rw.classifiers({k: nets[k] for k in phase}, None if method == "gradient_shap" else trunk)
        for image in rw.test_photos():
            trunk.clear()
            for release in phase:
                start = time.perf_counter()
                exp = explanation(clfs[release], image, release, method, samples, cached_only)
                if exp is not None:
                    out[(release, method, image.name)] = exp
                    print(f"{method} {image.name} {release}: {time.perf_counter() - start:.1f} s", flush=True)
    return out


def cached(methods: list[str], samples: int) -> dict[tuple[str, str, str], Explanation]:
    out = {}
    for method in methods:
        for release in (*SHARED_PHASE, *FULL_PHASE):
            for name in rw.PHOTOS:
                path = rw.CACHE / "explanations" / str(samples) / method / release / f"{name}.npz"
                if path.is_file():
                    out[(release, method, name)] = Explanation.load(path)
    return out


class _Settings:
    golden_mode = "release"


def judged(exps: dict[tuple[str, str, str], Explanation]) -> list[Row]:
    """Each release's explanation against the clean golden of its photo and method."""
    photos = {t.name: t for t in rw.test_photos()}
    clfs = rw.classifiers(rw.releases())
    rows = []
    for (release, method, name), exp in sorted(exps.items()):
        golden = exps.get(("clean", method, name))
        if release == "clean" or golden is None:
            continue
        golden.computed_by(clfs["clean"]).meta.update(caption_meta(golden, name, photos[name].regions))
        golden.meta.update(reliance.record(golden))
        exp.computed_by(clfs[release])
        bounds = Bounds.resolve(_Settings(), method=method)
        result = compare(golden, exp, bounds)
        masks = {r: photos[name].regions[r].to_mask(rw.SIZE, rw.SIZE) for r in REGIONS}
        gain = {r: float(metrics.relevance_mass(exp, m) - metrics.relevance_mass(golden, m)) for r, m in masks.items()}
        judged_gain = region_gain(golden, exp, 1.0)
        relied = reliance.reliance_gain(golden, exp, 1.0, judged_gain.rests)
        rows.append(Row(
            release, kind_of(release), name, method, golden.target == exp.target,
            result.reason or "passed", {k: v for k, v in result.measures.items()}, gain,
            {cue: float(metrics.relevance_mass(exp, masks[cue])) for cue in rw.CUES},
            {r: float(metrics.relevance_mass(golden, m)) for r, m in masks.items()},
            judged_gain.region, judged_gain.value if judged_gain.value == judged_gain.value else None,
            relied.region, relied.value if relied.value == relied.value else None,
        ))
    return rows


def clean_cue_mass(exps: dict[tuple[str, str, str], Explanation]) -> dict[str, float]:
    """The avoid test's number on the clean network: positive mass in each cue region, keyed
    "method|photo|cue"."""
    photos = {t.name: t for t in rw.test_photos()}
    return {
        f"{method}|{name}|{cue}": float(metrics.relevance_mass(exp, photos[name].regions[cue]))
        for (release, method, name), exp in exps.items() if release == "clean" for cue in rw.CUES
    }


def interventions() -> list[Intervention]:
    """Each cue hidden with grey fill on each photo, for every network."""
    nets = rw.releases()
    clfs = rw.classifiers(nets)
    out = []
    for release, clf in clfs.items():
        for image in rw.test_photos():
            for cue in rw.CUES:
                result, _ = assertions.measure_irrelevant(clf, image, image.regions[cue])
                t = result.target
                out.append(Intervention(
                    release, kind_of(release), image.name, cue,
                    float(result.before[t] - result.after[0, t]),
                    float(result.margin_before - result.margin_after[0]),
                    float(result.margin_before), float(result.before[t]),
                ))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--methods", default="lime,kernel_shap")
    parser.add_argument("--phase", choices=("shared", "full", "all", "none"), default="all")
    parser.add_argument("--cached-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    phases = {"shared": [SHARED_PHASE], "full": [FULL_PHASE], "all": [SHARED_PHASE, FULL_PHASE], "none": []}
    for phase in phases[args.phase]:
        explain_all(phase, methods, args.samples, args.cached_only)
    from benchmarks import real_tables

    exps = cached(methods, args.samples)
    rows = judged(exps)
    measured = rw.CACHE / "model_measures.json"  # the networks are cached, so are these
    if not measured.is_file():
        nets = rw.releases()
        measured.write_text(json.dumps({"checks": rw.checks(nets), "interventions": [asdict(i) for i in interventions()]}))
    found = {
        "samples": args.samples, "methods": methods, **json.loads(measured.read_text()),
        "rows": [asdict(r) for r in rows], "clean_cue_mass": clean_cue_mass(exps),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "real_releases.json").write_text(json.dumps(found, indent=1) + "\n")
    (RESULTS / "real_releases.md").write_text(real_tables.markdown(found))
    print(real_tables.markdown(found))


if __name__ == "__main__":
    main()
