"""Engine benchmark: ratios against the model's own forward cost and the reference libraries.

    python benchmarks/bench.py            # both configurations, CPU (or --device cuda)

Prints, per configuration, in one process on the same model, image, segments and samples:
  (a) engine time / best forward-only time for the same number of inputs (target ≤ 1.10)
  (b) lime's LimeImageExplainer time / engine time (target ≥ 2 small CNN, ≥ 1 resnet18)
  (c) shap's GradientExplainer time / gradient_shap time (target ≥ 1.5), and its ceiling:
      shap's time / the model's best forward+backward time for the same number of points
  (d) peak memory growth from 256 to 4096 samples (target ≤ 10%), measured in subprocesses
      (CUDA: torch.cuda.max_memory_allocated and peak RSS; CPU: peak RSS)
Ratios (a) and (c) are medians over rounds in which both sides ran back to back.
Then a multi-image throughput line per model: 8 photographs (scikit-image samples, 224²)
explained in one call with LIME at 1000 samples, in images/s, against the forward floor (the
model's forward throughput at its best batch divided by the samples) at each precision
(float32, bfloat16 autocast, and float16 on CUDA).

    python benchmarks/bench.py --device cuda             # small CNN, resnet18, resnet50
    python benchmarks/bench.py --device cpu --quick      # one repeat, fewer samples and images

On Linux the benchmark re-runs itself with glibc's heap kept (MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_): by default glibc hands freed activation memory back to the OS, every
batch page-faults it in again, and on a small VM those faults took half of a CPU forward pass
and varied 2× from run to run, which swamps the ratios. --system-malloc measures without.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dev import STABLE_HEAP  # noqa: E402

if (
    __name__ == "__main__"
    and sys.platform == "linux"
    and not {"--system-malloc", "--memory"} & set(sys.argv)  # --memory: a child, as its parent
    and any(os.environ.get(k) != v for k, v in STABLE_HEAP.items())
):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STABLE_HEAP})

from pytest_xai import Classifier, explain  # noqa: E402
from pytest_xai.engine.segmentation import segment  # noqa: E402


def best_of(fn: Callable[[], object], repeats: int) -> float:
    return paired([fn], repeats)[0][0]


def paired(fns: list[Callable[[], object]], repeats: int) -> tuple[list[float], list[list[float]]]:
    """Run the functions in alternation, so machine noise hits them alike.

    Returns each function's best time and every round's times (one row per round).
    """
    rounds: list[list[float]] = []
    for _ in range(repeats):
        row = []
        for fn in fns:
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            row.append(time.perf_counter() - start)
        rounds.append(row)
    return [min(column) for column in zip(*rounds)], rounds


def ratio(rounds: list[list[float]], num: int, den: int) -> float:
    """Median over rounds of time[num] / time[den]: both ran back to back in each round, so
    a slow spell of this shared machine cancels out instead of deciding a best-of."""
    return float(np.median([row[num] / row[den] for row in rounds]))


def config(name: str, device: str) -> tuple[Classifier, np.ndarray, int, int]:
    """(classifier, image, n_segments, samples) for a named configuration."""
    if name == "small_cnn":
        from example_project.data import make_shape
        from example_project.models import SmallCNN

        torch.manual_seed(0)
        image = make_shape(np.random.default_rng(0), 0, tag=0).image
        return Classifier(SmallCNN(3), device=device), image, 100, 1000
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None)  # random init: nothing downloaded
    return Classifier(model, device=device), photographs(1)[0], 150, 256


def photographs(n: int, size: int = 224) -> list[np.ndarray]:
    """n of scikit-image's bundled sample photographs (no download), resized to size²."""
    from skimage import data

    from pytest_xai import load_image

    names = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera",
             "hubble_deep_field", "coins")
    return [load_image(np.asarray(getattr(data, name)()), size=size) for name in names[:n]]


def throughput(name: str, device: str, repeats: int, quick: bool) -> dict[str, object]:
    """Images/s explaining several photographs in one call, against the forward floor."""
    clf, _, _, _ = config(name, device)
    images = photographs(2 if quick else 8)
    samples = 200 if quick else 1000
    precisions = ["float32", "bfloat16"] + (["float16"] if clf.device.type == "cuda" else [])
    out: dict[str, object] = {"config": name, "images": len(images), "samples": samples}
    for precision in precisions:
        explain(clf, images[:1], samples=50, precision=precision)  # warm-up
        batches = (64, 128, 256, 512) if clf.device.type == "cuda" else (8, 16, 32)
        batch, sweep = best_batch(
            lambda b, p=precision: forward_only(clf, images[0], 2 * b, b, p), batches, repeats
        )
        per_input = sweep[batch] / (2 * batch)
        engine = best_of(lambda p=precision: explain(clf, images, samples=samples, precision=p), repeats)
        out[precision] = {
            "engine_images_per_s": round(len(images) / engine, 2),
            "floor_images_per_s": round(1 / (per_input * samples), 2),
            "engine_over_floor": round(engine / (per_input * samples * len(images)), 3),
            "best_forward_batch": batch,
        }
    return out


def forward_only(clf: Classifier, image: np.ndarray, n: int, batch: int, precision: str = "float32") -> None:
    """The model alone on n copies of the image, inputs prepared in the model's best layout."""
    dtype = getattr(torch, precision)
    with torch.inference_mode(), torch.autocast(clf.device.type, dtype=dtype, enabled=precision != "float32"):
        for x in _copies(clf, image, n, batch):
            clf.model(x)


def forward_backward(clf: Classifier, image: np.ndarray, n: int, batch: int) -> None:
    """The model's forward and input-gradient backward on n copies of the image: the cost
    every expected-gradients implementation pays."""
    for x in _copies(clf, image, n, batch):
        point = x.clone().requires_grad_(True)
        torch.autograd.grad(clf.model(point)[:, 0].sum(), point)


def _copies(clf: Classifier, image: np.ndarray, n: int, batch: int) -> list[torch.Tensor]:
    x = clf.to_batch([image])
    full = x.expand(batch, -1, -1, -1).contiguous(memory_format=clf.memory_format)
    return [full[: min(batch, n - start)] for start in range(0, n, batch)]


def best_batch(fn: Callable[[int], object], batches: tuple[int, ...], repeats: int) -> tuple[int, dict[int, float]]:
    """The batch size at which fn(batch) is fastest, and the time at each."""
    best, _ = paired([lambda b=b: fn(b) for b in batches], repeats)
    sweep = dict(zip(batches, best))
    return min(sweep, key=sweep.__getitem__), sweep


def bench(name: str, device: str, repeats: int) -> dict[str, object]:
    clf, image, n_segments, samples = config(name, device)
    seg = segment(image, "slic", n_segments)
    m = int(seg.max()) + 1
    h, w = image.shape[:2]
    out: dict[str, object] = {"config": name, "device": str(clf.device), "segments": m, "samples": samples,
                              "auto_batch": clf.auto_batch_size(h, w)}
    explain(clf, image, samples=50, segments=seg)  # warm-up
    batch, sweep = best_batch(lambda b: forward_only(clf, image, samples, b), (4, 8, 16, 32, 64, 128, 256), repeats)
    (forward_t, engine), rounds = paired(
        [lambda: forward_only(clf, image, samples, batch), lambda: explain(clf, image, samples=samples, segments=seg)],
        2 * repeats,
    )
    out["forward_sweep_s"] = {b: round(t, 4) for b, t in sweep.items()}
    out["best_forward_batch"] = batch
    out["best_forward_s"] = round(forward_t, 4)
    out["engine_s"] = round(engine, 4)
    out["a_engine_over_forward"] = round(ratio(rounds, 1, 0), 3)
    out["a_best_over_best"] = round(engine / forward_t, 3)

    from lime import lime_image

    def classifier_fn(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch.astype(np.float32)).permute(0, 3, 1, 2).to(clf.device)
        with torch.inference_mode():
            return clf.logits(x).cpu().numpy()

    def run_lime() -> None:
        lime_image.LimeImageExplainer(random_state=0).explain_instance(
            image.astype(np.float64), classifier_fn, labels=(0,), top_labels=None, hide_color=None,
            num_samples=samples, segmentation_fn=lambda _: seg,
        )

    # not alternated with the engine: lime's BLAS threads keep spinning after each call and slow
    # whatever runs next, which would flatter neither side
    lime_t = best_of(run_lime, repeats)
    out["lime_s"] = round(lime_t, 4)
    out["b_lime_over_engine"] = round(lime_t / engine, 2)

    import shap

    background = np.stack([image[::-1].copy(), np.full_like(image, 0.5)])
    bg_t = torch.from_numpy(background).permute(0, 3, 1, 2).contiguous().to(clf.device)
    x_t = torch.from_numpy(image[None]).permute(0, 3, 1, 2).contiguous().to(clf.device)
    n_grad = 200 if name == "small_cnn" else 64
    explainer = shap.GradientExplainer(clf.model, bg_t, batch_size=50)
    grad_batch, _ = best_batch(lambda b: forward_backward(clf, image, n_grad, b), (4, 8, 16, 32, 64), repeats)
    (ours_g, shap_t, floor_g), rounds = paired(
        [lambda: explain(clf, image, method="gradient_shap", samples=n_grad, background=list(background)),
         lambda: explainer.shap_values(x_t, nsamples=n_grad, ranked_outputs=1),
         lambda: forward_backward(clf, image, n_grad, grad_batch)],
        2 * repeats,
    )
    out["gradient_samples"] = n_grad
    out["gradient_shap_s"] = round(ours_g, 4)
    out["shap_gradient_s"] = round(shap_t, 4)
    out["forward_backward_s"] = round(floor_g, 4)
    out["c_shap_over_gradient_shap"] = round(ratio(rounds, 1, 0), 2)
    out["c_ceiling_shap_over_forward_backward"] = round(ratio(rounds, 1, 2), 2)
    out["gradient_shap_over_forward_backward"] = round(ratio(rounds, 0, 2), 3)

    out.update(memory_growth(name, device))
    return out


def memory_growth(name: str, device: str) -> dict[str, object]:
    """(d): peak memory at 256 and 4096 samples, each in a fresh process."""
    peaks = {}
    for n in (256, 4096):
        proc = subprocess.run(
            [sys.executable, __file__, "--memory", name, "--samples", str(n), "--device", device],
            capture_output=True, text=True, check=True,
        )
        peaks[n] = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict[str, object] = {}
    for kind in peaks[256]:
        out[f"{kind}_256"] = peaks[256][kind]
        out[f"{kind}_4096"] = peaks[4096][kind]
        out[f"d_{kind}_growth"] = round(peaks[4096][kind] / peaks[256][kind] - 1, 3)
    return out


def memory(name: str, samples: int, device: str) -> None:
    clf, image, n_segments, _ = config(name, device)
    seg = segment(image, "slic", n_segments)
    explain(clf, image, samples=samples, segments=seg)
    peaks = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if clf.device.type == "cuda":
        peaks["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(peaks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--config", choices=("small_cnn", "resnet18", "resnet50", "all"), default="all",
                        help="all: small_cnn and resnet18, and resnet50 on CUDA")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat; throughput on 2 images at 200 samples")
    parser.add_argument("--memory", default=None)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--system-malloc", action="store_true", help="keep glibc's defaults")
    args = parser.parse_args()
    if args.memory:
        memory(args.memory, args.samples, args.device)
        return
    heap = "system malloc" if args.system_malloc else "stable heap"
    cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    card = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device} ({card}), {heap}")
    names = ("small_cnn", "resnet18", *(("resnet50",) if cuda else ())) if args.config == "all" else (args.config,)
    repeats = 1 if args.quick else args.repeats
    for name in names:
        print(json.dumps(bench(name, args.device, repeats), indent=1), flush=True)
    for name in names[1:] or names:  # photographs: the torchvision models
        print(json.dumps(throughput(name, args.device, repeats, args.quick), indent=1), flush=True)


if __name__ == "__main__":
    main()
