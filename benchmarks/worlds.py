"""Held-out evaluation worlds: the example's shapes task with cue kinds the example lacks.

    python benchmarks/worlds.py [--cue spot] ...   # train (cached), verify, print the checks

Each world is the example project's three-class shapes task (its generator and SmallCNN) with
one class-coded cue the example project does not have:

- ``spot``: a saturated coloured disc (radius 4) at a random background position; its colour
  names the class. Region "spot".
- ``stripes``: vertical background stripes whose period (4, 8 or 16 px) names the class: a
  global texture, no compact region. Region "background" (everything but the object).
- ``frame``: a 2-px frame of muted colour along every edge; its colour names the class.
  Region "frame".
- ``tag``: a coloured disc in the top-right corner (the example's tag is a square in the
  top-left one); its colour names the class. Region "tag".

Models (all ``pytest_xai.Classifier`` on CPU):

- ``clean`` / ``clean_v2``: the example's clean and clean_v2 weights (two seeds of one recipe),
  each trained on (another seed of data and batch order each) on images carrying each cue
  kind 30% of the time with a random class's value: they learn to ignore all four cues.
  Shared by the four worlds.
- ``shortcut`` (one per world): trained from scratch where the cue names the class and the
  shape is random, so the cue is its only signal.
- ``harmless`` releases of ``clean``: ``retrain`` (= clean_v2), ``float16`` (weights rounded to
  float16 and back), ``finetune`` (one more epoch on fresh data at learning rate 1e-4),
  ``prune`` (the 20% smallest-magnitude conv weights, over all conv layers, set to zero).

Test images: 12 per world (4 per class), each carrying its own class's cue, drawn from a seed
no model trained on, kept only when both clean models classify them correctly. Weights are
cached under ``benchmarks/.worlds/<key>/`` where the key hashes this file, the example's
generator and the seed: editing either retrains. Training takes about 2-3 CPU-minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from example_project import data as example_data  # noqa: E402
from example_project.data import SHAPES, SIZE, Sample, make_shape  # noqa: E402
from example_project.models import WEIGHTS as EXAMPLE_WEIGHTS  # noqa: E402
from example_project.models import SmallCNN  # noqa: E402
from example_project.train import accuracy, fit  # noqa: E402
from pytest_xai import Classifier  # noqa: E402
from pytest_xai.plugin.testimage import TestImage  # noqa: E402
from pytest_xai.regions import Region  # noqa: E402

CUES = ("spot", "stripes", "frame", "tag")
CUE_REGION = {"spot": "spot", "stripes": "background", "frame": "frame", "tag": "tag"}
SEED = 0
CACHE = Path(__file__).resolve().parent / ".worlds"
PER_CLASS = 4
HARMLESS = ("retrain", "float16", "finetune", "prune")

SPOT_COLOURS = np.array([[1.0, 0.9, 0.1], [1.0, 0.2, 0.9], [0.1, 0.9, 1.0]], np.float32)
SPOT_RADIUS = 4
STRIPE_PERIODS = (4, 8, 16)
STRIPE_AMPLITUDE = 0.1
FRAME_COLOURS = np.array([[0.85, 0.55, 0.3], [0.55, 0.4, 0.75], [0.3, 0.65, 0.55]], np.float32)
FRAME_WIDTH = 2
TAG_COLOURS = np.array([[1.0, 0.55, 0.0], [0.6, 0.0, 1.0], [0.0, 0.55, 0.3]], np.float32)
TAG_CENTRE, TAG_RADIUS = (56.0, 7.0), 5.0  # top-right: make_shape keeps objects below row 16


# -- drawing ------------------------------------------------------------------------------------

_YY, _XX = np.mgrid[0:SIZE, 0:SIZE] + 0.5


def _disc(cx: float, cy: float, r: float) -> np.ndarray:
    return (_XX - cx) ** 2 + (_YY - cy) ** 2 <= r**2


def _spot(rng: np.random.Generator, image: np.ndarray, obj: np.ndarray, cls: int) -> np.ndarray:
    """A disc of the class's colour on the background, clear of the object by 3 px."""
    grown = obj.copy()
    for _ in range(3):  # dilate the object by 3 px
        grown = grown | np.roll(grown, 1, 0) | np.roll(grown, -1, 0) | np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
    margin = SPOT_RADIUS + 1
    for _ in range(100):
        cx, cy = rng.uniform(margin, SIZE - margin, size=2)
        region = _disc(cx, cy, SPOT_RADIUS)
        if not (region & grown).any():
            break
    image[region] = SPOT_COLOURS[cls]
    return region


def _stripes(rng: np.random.Generator, image: np.ndarray, obj: np.ndarray, cls: int) -> np.ndarray:
    """Vertical square-wave stripes of the class's period over the background."""
    period = STRIPE_PERIODS[cls]
    phase = rng.integers(period)
    wave = np.where(((np.arange(SIZE) + phase) % period) < period / 2, 1.0, -1.0)
    background = ~obj
    image[background] = np.clip(image[background] + STRIPE_AMPLITUDE * np.broadcast_to(wave, (SIZE, SIZE))[background][:, None], 0, 1)
    return background


def _frame(rng: np.random.Generator, image: np.ndarray, obj: np.ndarray, cls: int) -> np.ndarray:
    """A frame of the class's colour along every edge."""
    region = np.zeros((SIZE, SIZE), bool)
    w = FRAME_WIDTH
    region[:w], region[-w:], region[:, :w], region[:, -w:] = True, True, True, True
    image[region] = FRAME_COLOURS[cls]
    return region


def _tag(rng: np.random.Generator, image: np.ndarray, obj: np.ndarray, cls: int) -> np.ndarray:
    """A disc of the class's colour in the top-right corner."""
    region = _disc(*TAG_CENTRE, TAG_RADIUS)
    image[region] = TAG_COLOURS[cls]
    return region


PAINTERS: dict[str, Callable[[np.random.Generator, np.ndarray, np.ndarray, int], np.ndarray]] = {
    "spot": _spot, "stripes": _stripes, "frame": _frame, "tag": _tag,
}


def draw(rng: np.random.Generator, shape: int, cues: dict[str, int]) -> tuple[Sample, dict[str, np.ndarray]]:
    """One image of ``shape`` (the example's generator, no corner tag) with each cue in
    ``cues`` (kind -> class) painted in a fixed order; returns the sample and each cue's mask."""
    sample = make_shape(rng, shape, tag=None)
    image, masks = sample.image.copy(), {}
    for kind in CUES:  # stripes before a frame or tag paints over the edges
        if kind in cues:
            masks[kind] = PAINTERS[kind](rng, image, sample.mask, cues[kind])
    return Sample(image.astype(np.float32), shape, sample.mask), masks


def dataset(n: int, seed: int, shortcut: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Training images (n, 3, 64, 64) and labels.

    ``shortcut=None``: the true shape, and each cue kind present 30% of the time with a random
    class, so no cue carries the label. ``shortcut=kind``: that cue names the label and the
    shape is random, so only the cue carries it.
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n):
        label = int(rng.integers(3))
        if shortcut is None:
            shape = label
            cues = {k: int(rng.integers(3)) for k in CUES if rng.random() < 0.3}
        else:
            shape, cues = int(rng.integers(3)), {shortcut: label}
        sample, _ = draw(rng, shape, cues)
        images.append(sample.image.transpose(2, 0, 1))
        labels.append(label)
    return np.stack(images), np.array(labels, np.int64)


def cue_only_dataset(n: int, seed: int, kind: str, cue: str) -> tuple[np.ndarray, np.ndarray]:
    """Test images of the true shape with the ``kind`` cue "absent", "random" or "label"."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n):
        label = int(rng.integers(3))
        cues = {} if cue == "absent" else {kind: label if cue == "label" else int(rng.integers(3))}
        sample, _ = draw(rng, label, cues)
        images.append(sample.image.transpose(2, 0, 1))
        labels.append(label)
    return np.stack(images), np.array(labels, np.int64)


# -- training (cached) --------------------------------------------------------------------------


def cache_key(seed: int = SEED) -> str:
    """A hash of this file's generator and training code (from "-- drawing" to "-- the
    world"), the example's generator and the seed: docstring edits keep the cache."""
    source = Path(__file__).read_text()
    digest = hashlib.sha256(source[source.index("# -- drawing") : source.index("# -- the world")].encode())
    digest.update(Path(example_data.__file__).read_bytes())
    digest.update(str(seed).encode())
    return digest.hexdigest()[:12]


def _example(name: str) -> SmallCNN:
    model = SmallCNN(3)
    model.load_state_dict(torch.load(EXAMPLE_WEIGHTS / f"{name}.pt", map_location="cpu", weights_only=True))
    return model


def fit_until(
    model: SmallCNN, data: tuple[np.ndarray, np.ndarray], check: tuple[np.ndarray, np.ndarray],
    goal: float, max_epochs: int, seed: int, lr: float,
) -> SmallCNN:
    """Adam (fixed seed and batch order, as the example's ``fit``) epoch by epoch until the
    accuracy on ``check`` reaches ``goal`` or ``max_epochs`` ran."""
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(data[0]), torch.from_numpy(data[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(max_epochs):
        model.train()
        order = torch.randperm(len(xt), generator=g)
        for start in range(0, len(xt), 32):
            idx = order[start : start + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
        model.eval()
        if accuracy(model, *check) >= goal:
            break
    return model.eval()


def _train_clean(start: str, seed: int) -> SmallCNN:
    """The example's model ``start`` trained on with random cues until 95% on held-out
    random-cue images (at most 4 epochs of 1200)."""
    torch.manual_seed(seed)
    data, check = dataset(1200, seed=100 + seed, shortcut=None), dataset(300, seed=150 + seed, shortcut=None)
    return fit_until(_example(start), data, check, goal=0.95, max_epochs=4, seed=seed, lr=1e-3)


def _train_shortcut(kind: str, seed: int) -> SmallCNN:
    """From scratch on images whose ``kind`` cue names the class and whose shape is random,
    until 99% on held-out images of that kind (at most 8 epochs of 600)."""
    torch.manual_seed(seed)
    k = CUES.index(kind)
    data = dataset(600, seed=200 + seed + k, shortcut=kind)
    check = dataset(200, seed=250 + seed + k, shortcut=kind)
    return fit_until(SmallCNN(3), data, check, goal=0.99, max_epochs=8, seed=seed, lr=3e-3)


def _finetune(clean: SmallCNN, seed: int) -> SmallCNN:
    """One epoch more on fresh random-cue data at learning rate 1e-4."""
    model = SmallCNN(3)
    model.load_state_dict(clean.state_dict())
    x, y = dataset(600, seed=300 + seed, shortcut=None)
    fit(model, x, y, epochs=1, seed=seed, lr=1e-4)
    return model


def float16_round_trip(model: nn.Module) -> SmallCNN:
    """The weights rounded to float16 and back (a release that ships half-precision weights)."""
    out = SmallCNN(3)
    out.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return out.eval()


def prune(model: nn.Module, fraction: float = 0.2) -> SmallCNN:
    """The ``fraction`` smallest-magnitude conv weights (over all conv layers) set to zero."""
    out = SmallCNN(3)
    out.load_state_dict(model.state_dict())
    with torch.no_grad():
        convs = [m.weight for m in out.modules() if isinstance(m, nn.Conv2d)]
        magnitudes = torch.cat([w.abs().flatten() for w in convs])
        threshold = magnitudes.kthvalue(int(fraction * magnitudes.numel())).values
        for w in convs:
            w[w.abs() <= threshold] = 0.0
    return out.eval()


def _cached(key: str, name: str, train: Callable[[], SmallCNN]) -> SmallCNN:
    path = CACHE / key / f"{name}.pt"
    model = SmallCNN(3)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    started = time.perf_counter()
    model = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    print(f"trained {name} in {time.perf_counter() - started:.0f} s -> {path}", file=sys.stderr, flush=True)
    return model.eval()


def networks(seed: int = SEED) -> dict[str, SmallCNN]:
    """The shared clean networks and their harmless releases (trained once, then cached)."""
    key = cache_key(seed)
    clean = _cached(key, "clean", lambda: _train_clean("clean", seed))
    clean_v2 = _cached(key, "clean_v2", lambda: _train_clean("clean_v2", seed + 1))
    return {
        "clean": clean,
        "clean_v2": clean_v2,
        "float16": float16_round_trip(clean),
        "finetune": _cached(key, "finetune", lambda: _finetune(clean, seed + 2)),
        "prune": prune(clean),
    }


def shortcut_network(kind: str, seed: int = SEED) -> SmallCNN:
    """The world's shortcut network (trained once, then cached)."""
    return _cached(cache_key(seed), f"shortcut_{kind}", lambda: _train_shortcut(kind, seed))


# -- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    """One cue kind's evaluation world: test images with regions, labels and the models."""

    cue: str
    images: list[TestImage]
    labels: list[int]
    clean: Classifier
    clean_v2: Classifier
    shortcut: Classifier
    harmless: dict[str, Classifier] = field(default_factory=dict)
    region: str = ""  # the cue's region name in each image's regions

    @property
    def regions(self) -> list[dict[str, Region]]:
        """Each image's named regions: "object" and the cue's own."""
        return [image.regions for image in self.images]


def _classifier(model: nn.Module) -> Classifier:
    return Classifier(model.eval(), class_names=SHAPES, device="cpu")


def _predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(images)).argmax(1).numpy()


def test_images(kind: str, nets: dict[str, SmallCNN], seed: int = SEED) -> tuple[list[TestImage], list[int]]:
    """PER_CLASS images per class carrying their class's ``kind`` cue, kept when clean and
    clean_v2 both classify them correctly (drawn from a seed no model trained on)."""
    rng = np.random.default_rng(9000 + 17 * seed + CUES.index(kind))
    out: list[TestImage] = []
    labels: list[int] = []
    for label, shape in enumerate(SHAPES):
        kept = 0
        for _ in range(200):
            sample, masks = draw(rng, label, {kind: label})
            batch = sample.image.transpose(2, 0, 1)[None]
            if all(_predict(nets[n], batch)[0] == label for n in ("clean", "clean_v2")):
                kept += 1
                regions = {
                    "object": Region.mask(sample.mask, "object"),
                    CUE_REGION[kind]: Region.mask(masks[kind], CUE_REGION[kind]),
                }
                name = f"{kind}_{shape}{'' if kept == 1 else kept}"
                out.append(TestImage(sample.image, name, None, regions))
                labels.append(label)
                if kept == PER_CLASS:
                    break
        if kept < PER_CLASS:
            raise RuntimeError(
                f"cue {kind!r}: only {kept} of 200 {shape} images are classified correctly by both "
                "clean models; the cue fools them"
            )
    return out, labels


def load_world(cue: str, seed: int = SEED) -> World:
    """The evaluation world of one cue kind (``CUES``), trained on first use and cached."""
    if cue not in CUES:
        raise ValueError(f"cue={cue!r} is not a cue kind; use one of {CUES}")
    torch.set_num_threads(1)
    nets = networks(seed)
    images, labels = test_images(cue, nets, seed)
    harmless = {"retrain": nets["clean_v2"], **{k: nets[k] for k in ("float16", "finetune", "prune")}}
    return World(
        cue=cue,
        images=images,
        labels=labels,
        clean=_classifier(nets["clean"]),
        clean_v2=_classifier(nets["clean_v2"]),
        shortcut=_classifier(shortcut_network(cue, seed)),
        harmless={k: _classifier(v) for k, v in harmless.items()},
        region=CUE_REGION[cue],
    )


# -- checks -------------------------------------------------------------------------------------


def checks(seed: int = SEED) -> dict[str, Any]:
    """Accuracies that show each model is what it claims: clean models read the shape whatever
    the cues, harmless releases keep it, each shortcut reads only its cue."""
    torch.set_num_threads(1)
    nets = networks(seed)
    x, y = dataset(600, seed=5000, shortcut=None)  # random cues of every kind
    out: dict[str, Any] = {"clean_data_random_cues": {n: accuracy(m, x, y) for n, m in nets.items()}}
    for kind in CUES:
        short = shortcut_network(kind, seed)
        row: dict[str, float] = {}
        for cue in ("absent", "random", "label"):
            xs, ys = cue_only_dataset(600, 6000 + CUES.index(kind), kind, cue)
            row[f"shortcut, cue {cue}"] = accuracy(short, xs, ys)
            if cue == "label":
                row.update({f"{n}, cue label": accuracy(m, xs, ys) for n, m in nets.items()})
        world = load_world(kind, seed)
        batch = np.stack([np.asarray(i).transpose(2, 0, 1) for i in world.images])
        labels = np.array(world.labels)
        row.update({f"{n}, 12 test images": float((_predict(m, batch) == labels).mean()) for n, m in nets.items()})
        row["shortcut, 12 test images"] = float((_predict(short, batch) == labels).mean())
        out[kind] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", type=Path, help="write the checks here")
    args = parser.parse_args()
    started = time.perf_counter()
    found = checks(args.seed)
    print(json.dumps(found, indent=1))
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    main()
