"""samples="auto" against the fixed budgets: model evaluations, verdicts, wall time.

    OMP_NUM_THREADS=1 python benchmarks/adaptive.py [--suite] [--worlds N] [--photos N] [--wall] [--paired]

--suite    runs the example project's test suite twice (``--xai-samples=fixed`` and ``=auto``,
           cache off) and compares every test's outcome and the model evaluations the JSON
           reports count.
--worlds N explains N images of each held-out world (benchmarks/worlds.py) with every method,
           with the clean and the shortcut model, at both budgets, and judges what the
           example suite judges: focus on the object (default ratio), the cue avoided
           (max_mass 0.1) and the release-mode golden (the clean model's explanation)
           against the shortcut's and a harmless retrain's. A changed verdict is listed.
--photos N explains N of the real-photo benchmark's 12 photos (benchmarks/real_world.py:
           EfficientNet-Lite0 at 224×224, each photo carrying a watermark and a frame cue)
           with lime and kernel_shap, by the clean network, a harmless release (head
           fine-tuned) and the two learned shortcuts, at both budgets, judged at the library's
           defaults: focus on the object, each cue avoided (max_mass 0.15, confirm=True) and
           the release golden (the clean network's fixed explanation). Auto's samples and
           relative error at stop are listed per explanation.
--wall     times one explanation of a 224×224 image on timm's tf_efficientnet_lite0 (random
           weights: the time does not depend on them) at both budgets.
--paired   Kernel SHAP's variance at equal budgets: shap's sampler (enumeration + pairs, the
           fixed budget), the rounds' paired sampler, and the same rounds unpaired.

Results go to benchmarks/results/adaptive.md (and are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_xai import explain  # noqa: E402
from pytest_xai.checks.assertions import assert_attribution_avoids, assert_attribution_focus  # noqa: E402
from pytest_xai.goldens.modes import Bounds, compare  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "adaptive.md"
METHODS = ("lime", "kernel_shap", "gradient_shap")


def run_suite(samples: str, tolerance: float | None = None) -> dict[str, Any]:
    """The example suite's JSON report at ``--xai-samples=samples`` (and another default
    tolerance, set before pytest_xai is imported, to measure candidates)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        path = str(ROOT)
        if tolerance is not None:
            (Path(folder) / "sitecustomize.py").write_text(
                f"import pytest_xai.defaults as d\nd.DEFAULT_TOLERANCE = {tolerance}\n")
            path = os.pathsep.join([folder, path])
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", f"--xai-samples={samples}",
             "--xai-cache=off", f"--xai-report={report}", f"--xai-results={folder}/results"],
            cwd=ROOT / "example_project", env={**os.environ, "PYTHONPATH": path}, check=False,
            capture_output=True,
        )  # fmt: skip
        data: dict[str, Any] = json.loads(report.read_text())
        data["wall"] = time.perf_counter() - started
        return data


def tolerances(candidates: list[float]) -> list[str]:
    """Evaluations and undecided checks of the example suite at other default tolerances."""
    lines = ["## Default tolerance: candidates on the example suite", "",
             "| tolerance | outcomes | model evaluations | undecided checks |", "|---|---|---|---|"]
    for tolerance in candidates:
        data = run_suite("auto", tolerance)
        undecided = sum(bool(c.get("undecided")) for t in data["tests"] for c in t.get("checks", []))
        lines.append(f"| {tolerance} | {data['outcomes']} | {data['totals'].get('samples')} | {undecided} |")
    return [*lines, ""]


def suite() -> list[str]:
    fixed, auto = run_suite("fixed"), run_suite("auto")
    outcome = {t["nodeid"]: t.get("outcome") for t in fixed["tests"]}
    changed = [f"{t['nodeid']}: {outcome.get(t['nodeid'])} -> {t.get('outcome')}"
               for t in auto["tests"] if outcome.get(t["nodeid"]) != t.get("outcome")]
    undecided = [f"{t['nodeid']}: {c['metric']} at {c.get('samples')} samples"
                 for t in auto["tests"] for c in t.get("checks", []) if c.get("undecided")]
    lines = [
        "## Example suite (example_project, cache off)", "",
        "| budget | tests | outcomes | model evaluations | wall (s) |", "|---|---|---|---|---|",
    ]
    for name, data in (("fixed", fixed), ("auto", auto)):
        totals = data["totals"]
        lines.append(f"| {name} | {len(data['tests'])} | {data['outcomes']} | {totals.get('samples')} | {data['wall']:.0f} |")
    ratio = auto["totals"]["samples"] / max(1, fixed["totals"]["samples"])
    lines += ["", f"auto used {ratio:.1%} of the fixed budgets' evaluations.", "",
              f"Tests whose outcome changed: {len(changed)}", *[f"- {c}" for c in changed], "",
              f"Checks undecided at their cap (auto): {len(undecided)}", *[f"- {u}" for u in undecided], ""]
    return lines


def judge(clean_golden: Any, exp: Any, sample: Any, cue: str) -> dict[str, bool]:
    """The verdicts the example suite draws: focus, avoid, release golden."""
    verdict = {}
    for name, check in (
        ("focus", lambda: assert_attribution_focus(exp, sample.regions["object"])),
        ("avoid", lambda: assert_attribution_avoids(exp, sample.regions[cue], max_mass=0.1)),
    ):
        try:
            check()
            verdict[name] = True
        except AssertionError:
            verdict[name] = False
    bounds = Bounds("release", {"max_shift": 0.2, "max_support_loss": 0.3})
    verdict["golden"] = compare(clean_golden, exp, bounds).passed
    return verdict


def worlds(count: int, tolerance: float | None = None) -> list[str]:
    from benchmarks import worlds as w

    rows, changed, evaluations = [], [], {"fixed": 0, "auto": 0}
    for cue in w.CUES:
        world = w.load_world(cue)
        models = {"clean": world.clean, "retrain": world.harmless["retrain"], "shortcut": world.shortcut}
        chosen = world.images[:: max(1, len(world.images) // count)][:count]  # across the classes
        for method in METHODS:
            for sample in chosen:
                golden = explain(world.clean, sample.array, method=method, samples="fixed")
                for model_name, model in models.items():
                    verdicts = {}
                    for budget in ("fixed", "auto"):
                        extra = {"tolerance": tolerance} if budget == "auto" and tolerance else {}
                        exp = explain(model, sample.array, method=method, samples=budget, **extra)
                        verdicts[budget] = judge(golden, exp, sample, world.region)
                        evaluations[budget] += exp.samples
                    rows.append((cue, method, model_name, verdicts))
                    if verdicts["fixed"] != verdicts["auto"]:
                        changed.append(f"{cue} {method} {model_name}: fixed {verdicts['fixed']} auto {verdicts['auto']}")
    lines = [f"## Held-out worlds (auto at tolerance {tolerance or 'default'})", "", f"{count} image(s) per world, {len(rows)} (model, image, method) cases, "
             "each judged by focus, avoid and a release golden (the clean model's fixed explanation).", ""]
    for kind in ("clean", "retrain", "shortcut"):
        for budget in ("fixed", "auto"):
            caught = sum(not all(r[3][budget].values()) for r in rows if r[2] == kind)
            total = sum(1 for r in rows if r[2] == kind)
            lines.append(f"- {kind}, {budget}: {caught}/{total} cases with a failing check")
    ratio = evaluations["auto"] / max(1, evaluations["fixed"])
    lines += ["", f"model evaluations: fixed {evaluations['fixed']}, auto {evaluations['auto']} ({ratio:.1%}; "
              "checks' extra rounds included)", "", f"Changed verdicts: {len(changed)}", *[f"- {c}" for c in changed], ""]
    return lines


def judge_photo(golden: Any, exp: Any, photo: Any) -> dict[str, bool]:
    """Focus, the two avoid tests (confirmed) and the release golden at the library defaults;
    the checks grow an auto explanation whose interval straddles a bound."""
    from pytest_xai.goldens.previews import caption_meta

    verdict = {}
    checks = {"focus": lambda: assert_attribution_focus(exp, photo.regions["object"])}
    for cue in ("watermark", "frame"):
        checks[f"avoid {cue}"] = lambda cue=cue: assert_attribution_avoids(
            exp, photo.regions[cue], max_mass=0.15, confirm=True)
    for name, check in checks.items():
        try:
            check()
            verdict[name] = True
        except AssertionError:
            verdict[name] = False
    golden.meta.update(caption_meta(golden, photo.name, photo.regions))
    verdict["golden"] = compare(golden, exp, Bounds.resolve(_ReleaseSettings(), method=exp.method)).passed
    return verdict


class _ReleaseSettings:
    golden_mode = "release"


def photos(count: int) -> list[str]:
    from benchmarks import real_world as rw

    nets = rw.releases()
    kept = {k: nets[k] for k in ("clean", "head_finetune", *rw.SHORTCUTS)}
    trunk = rw.SharedTrunk(nets["clean"])
    clfs = rw.classifiers(kept, trunk)
    chosen = rw.test_photos()[:: max(1, 12 // count)][:count]
    rows, changed, evaluations = [], [], {"fixed": 0, "auto": 0}
    for method in ("lime", "kernel_shap"):
        for photo in chosen:
            trunk.clear()
            golden = explain(clfs["clean"], photo.array, method=method, samples="fixed")
            for release, clf in clfs.items():
                verdicts, stop = {}, ""
                for budget in ("fixed", "auto"):
                    exp = explain(clf, photo.array, method=method, samples=budget)
                    first = exp.samples
                    verdicts[budget] = judge_photo(golden, exp, photo)
                    evaluations[budget] += exp.samples
                    if budget == "auto":
                        error = exp.relative_error
                        stop = f"{first} -> {exp.samples} ({error:.2f})" if error is not None else str(exp.samples)
                rows.append((photo.name, method, release, verdicts, stop))
                print(rows[-1], flush=True)
                if verdicts["fixed"] != verdicts["auto"]:
                    changed.append(f"{photo.name} {method} {release}: fixed {verdicts['fixed']} auto {verdicts['auto']}")
    lines = [
        "## Real photos (EfficientNet-Lite0, 224×224)", "",
        f"{count} photos × lime, kernel_shap × 4 networks = {len(rows)} cases, each judged by focus on the object, "
        "the watermark and the frame avoided (max_mass 0.15, confirm=True) and the release golden (the clean "
        "network's fixed explanation), all at the library's defaults.", "",
        "| network | fixed: cases with a failing check | auto: cases with a failing check |", "|---|---|---|",
    ]
    for release in clfs:
        cells = [sum(not all(r[3][b].values()) for r in rows if r[2] == release) for b in ("fixed", "auto")]
        total = sum(1 for r in rows if r[2] == release)
        lines.append(f"| {release} | {cells[0]}/{total} | {cells[1]}/{total} |")
    ratio = evaluations["auto"] / max(1, evaluations["fixed"])
    lines += ["", f"model evaluations: fixed {evaluations['fixed']}, auto {evaluations['auto']} ({ratio:.1%}; "
              "checks' extra rounds included); wall time per explanation: --wall (the releases here share "
              "trunk passes, so their seconds are not comparable)", "",
              "Auto per case: samples at the stop -> after the checks (relative error Σ stderr / Σ |attribution| at the end):", "",
              "| photo | method | network | auto samples |", "|---|---|---|---|",
              *[f"| {r[0]} | {r[1]} | {r[2]} | {r[4]} |" for r in rows], "",
              f"Changed verdicts: {len(changed)}", *[f"- {c}" for c in changed], ""]
    return lines


def wall() -> list[str]:
    import timm

    from pytest_xai import Classifier

    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    clf = Classifier(model, device="cpu")
    image = np.random.default_rng(0).random((224, 224, 3), dtype=np.float32)
    lines = ["## Wall time per explanation, 224×224, tf_efficientnet_lite0 (random weights), CPU, 1 thread", "",
             "| method | fixed: samples, s | auto: samples, s |", "|---|---|---|"]
    for method in METHODS:
        cells = []
        for budget in ("fixed", "auto"):
            started = time.perf_counter()
            exp = explain(clf, image, method=method, samples=budget)
            cells.append(f"{exp.samples}, {time.perf_counter() - started:.1f}")
        lines.append(f"| {method} | {cells[0]} | {cells[1]} |")
    return [*lines, ""]


def paired(repeats: int = 12) -> list[str]:
    """Kernel SHAP's seed-to-seed variance at equal budgets, on the example's clean model."""
    from example_project import models
    from example_project.data import make_shape
    from pytest_xai.engine import sampling

    clf = models.clean(device="cpu")
    image = make_shape(np.random.default_rng(123), 0, tag=0).image
    lines = ["## Kernel SHAP: paired sampling (seed-to-seed variance of the weights, summed)", "",
             "| budget | shap's sampler (fixed) | rounds, paired | rounds, unpaired |", "|---|---|---|---|"]
    original = sampling.paired_coalitions
    for budget in (200, 500, 1000):
        cells = []
        for variant in ("fixed", "paired", "unpaired"):
            if variant == "unpaired":
                def unpaired(generator: Any, plan: Any, pairs: int, m: int) -> torch.Tensor:
                    drawn = torch.multinomial(plan.probs.float(), 2 * pairs, replacement=True, generator=generator)
                    return sampling._random_subsets(generator, drawn + plan.first_sampled, m)
                sampling.paired_coalitions = unpaired  # type: ignore[assignment]
            try:
                weights = [
                    explain(clf, image, method="kernel_shap", seed=s, n_segments=50,
                            **({"samples": budget} if variant == "fixed" else
                               {"samples": "auto", "tolerance": 1e-6, "max_samples": budget})).weights
                    for s in range(repeats)
                ]  # fmt: skip
            finally:
                sampling.paired_coalitions = original
            cells.append(f"{np.var(np.stack(weights), axis=0).sum():.3g}")
        lines.append(f"| {budget} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", action="store_true")
    parser.add_argument("--worlds", type=int, default=0)
    parser.add_argument("--photos", type=int, default=0)
    parser.add_argument("--wall", action="store_true")
    parser.add_argument("--paired", action="store_true")
    parser.add_argument("--tolerances", type=float, nargs="*", default=[])
    parser.add_argument("--tolerance", type=float, default=None, help="auto's tolerance in --worlds")
    args = parser.parse_args()
    lines = ["# samples=\"auto\" against the fixed budgets", "", "Made by `benchmarks/adaptive.py` "
             f"({' '.join(sys.argv[1:])}), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}.", ""]
    if args.suite:
        lines += suite()
    if args.tolerances:
        lines += tolerances(args.tolerances)
    if args.worlds:
        lines += worlds(args.worlds, args.tolerance)
    if args.photos:
        lines += photos(args.photos)
    if args.wall:
        lines += wall()
    if args.paired:
        lines += paired()
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as handle:
        handle.write(text + "\n")


if __name__ == "__main__":
    main()
