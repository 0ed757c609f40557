"""Train the example's models, reproducibly: ``python -m example_project.train [--only NAME]``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from example_project.data import digits_images, shapes_dataset
from example_project.models import WEIGHTS, SmallCNN

SEED = 0
COMMAND = "python -m example_project.train"


def fit(
    model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int, lr: float = 2e-3
) -> None:
    """Adam with a fixed seed and batch order; deterministic on CPU."""
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=g)
        for start in range(0, len(xt), 32):
            idx = order[start : start + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.inference_mode():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def train_shapes(name: str, shortcut: bool, epochs: int, seed: int = SEED) -> dict[str, object]:
    """The shapes CNN on clean or shortcut data; ``seed`` sets the initial weights and batch order."""
    torch.manual_seed(seed)
    model = SmallCNN(3)
    x, y = shapes_dataset(3000, seed=1, shortcut=shortcut)
    fit(model, x, y, epochs, seed)
    xs, ys = shapes_dataset(600, seed=2, shortcut=shortcut)
    xc, yc = shapes_dataset(600, seed=2, shortcut=False)
    return _save(
        name,
        model,
        {
            "data": f"shapes_dataset(3000, seed=1, shortcut={shortcut})",
            "accuracy_own_test": accuracy(model, xs, ys),
            "accuracy_tag_uninformative": accuracy(model, xc, yc),
        },
        seed,
    )


def train_digits(epochs: int) -> dict[str, object]:
    torch.manual_seed(SEED)
    model = SmallCNN(10)
    x, y = digits_images()
    order = np.random.default_rng(SEED).permutation(len(x))
    train, test = order[:1500], order[1500:]
    fit(model, x[train], y[train], epochs, SEED)
    return _save(
        "digits",
        model,
        {
            "data": "sklearn.datasets.load_digits, upsampled to 32x32, first 1500 of a seed-0 permutation",
            "accuracy_held_out": accuracy(model, x[test], y[test]),
        },
    )


def _save(
    name: str, model: nn.Module, info: dict[str, object], seed: int = SEED
) -> dict[str, object]:
    WEIGHTS.mkdir(exist_ok=True)
    torch.save(model.state_dict(), WEIGHTS / f"{name}.pt")
    command = COMMAND if name in ORIGINAL else f"{COMMAND} --only {name}"
    record = {"name": name, "seed": seed, "command": command, "torch": torch.__version__, **info}
    (WEIGHTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


# The original three keep their seed and command, so retraining them stays bit-identical.
ORIGINAL = ("clean", "shortcut", "digits")
JOBS: dict[str, Callable[[int], dict[str, object]]] = {
    "clean": lambda epochs: train_shapes("clean", False, epochs),
    "shortcut": lambda epochs: train_shapes("shortcut", True, epochs),
    "digits": train_digits,
    # A harmless release: the clean recipe with another seed of the weights and batch order. Seed
    # 3 is the first to match clean's accuracy (98.5%); seeds 1 and 2 reached 83% and 97%, not
    # a model anyone would release.
    "clean_v2": lambda epochs: train_shapes("clean_v2", False, epochs, seed=3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--only", choices=sorted(JOBS), action="append", help="train only this model (repeatable)"
    )
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    for name in args.only or JOBS:
        started = time.perf_counter()
        record = JOBS[name](args.epochs)
        print(json.dumps(record), f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
