"""Planted-shortcut mutants: the model under test, damped, plus a probe that reads one region.

A planted mutant keeps the model's prediction on every suite image, but its logits are driven
by the pixels of one region (a tag, a corner, a border strip): hide or swap the region and its
output moves. A suite that tests what the model reads should fail it.

Two kinds: where the region's content differs between classes, a probe maps that content to
the class (``PlantedShortcut``); where it is the same on images of different classes (a stock
watermark stamped on every image), the probe reads whether that content is there at all and
boosts whatever class the model predicts (``PlantedPresence``), so hiding or perturbing the
region takes the model's confidence away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xai.classifier import Classifier
from pytest_xai.mutation.probe import ALPHA, Probe, region_features

if TYPE_CHECKING:
    from pytest_xai.regions import Region

GRID = 4  # the region is average-pooled to GRID × GRID cells per colour
PATCH = 0.2  # a default corner patch's side, as a share of the image's shorter side
STRIP = 0.1  # a default border strip's thickness, same unit
MARGIN = 2.0  # the probe's logit margin over the damped model's largest logit spread
IDENTICAL = ("the region's content does not tell the suite's predicted classes apart: "
             "images of different classes are identical there")


def default_patches(height: int, width: int) -> dict[str, np.ndarray]:
    """Corner patches and border strips of a height × width image, by name, as boolean masks."""
    s = max(2, round(PATCH * min(height, width)))
    t = max(1, round(STRIP * min(height, width)))
    boxes = {  # (y0, y1, x0, x1)
        "corner-top-left": (0, s, 0, s),
        "corner-top-right": (0, s, width - s, width),
        "corner-bottom-left": (height - s, height, 0, s),
        "corner-bottom-right": (height - s, height, width - s, width),
        "strip-top": (0, t, 0, width),
        "strip-bottom": (height - t, height, 0, width),
        "strip-left": (0, height, 0, t),
        "strip-right": (0, height, width - t, width),
    }
    out = {}
    for name, (y0, y1, x0, x1) in boxes.items():
        mask = np.zeros((height, width), dtype=bool)
        mask[y0:y1, x0:x1] = True
        out[name] = mask
    return out


def union_mask(regions: list[dict[str, Region]], name: str, height: int, width: int) -> np.ndarray | None:
    """The union of region ``name`` over the images that have it (None: none has it)."""
    from pytest_xai.errors import RegionError

    out = np.zeros((height, width), dtype=bool)
    for per_image in regions:
        region = per_image.get(name)
        if region is None:
            continue
        try:
            out |= region.to_mask(height, width)
        except RegionError:
            continue  # a region that does not fit this image size reads nothing
    return out if out.any() else None


class PlantedShortcut(Probe):
    """``ALPHA`` × the model's logits + a kernel probe of the region's pooled pixels.

    ``region``: the region's name; ``mask``: its (H, W) boolean mask at the suite's size
    (resized, nearest, for other sizes). The probe is an RBF kernel machine on the pooled
    region pixels, anchored at the suite's images; ``fit`` sets it (until then it is zero).
    """

    anchors: torch.Tensor
    coef: torch.Tensor
    offset: torch.Tensor
    gamma: torch.Tensor

    def __init__(self, base: Classifier, mask: np.ndarray, region: str, num_classes: int) -> None:
        super().__init__(base, mask, region, ALPHA)
        self.register_buffer("anchors", torch.zeros(1, 3 * GRID * GRID, dtype=torch.float64))
        self.register_buffer("coef", torch.zeros(1, num_classes, dtype=torch.float64))
        self.register_buffer("offset", torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer("gamma", torch.ones((), dtype=torch.float64))

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return region_features(batch, self.mask, GRID)

    def kernel(self, features: torch.Tensor) -> torch.Tensor:
        """exp(-gamma · squared distance) to each anchor: (N, anchors)."""
        distance = ((features[:, None, :] - self.anchors[None].to(features.device)) ** 2).sum(-1)
        return torch.exp(-self.gamma * distance)

    def probe(self, features: torch.Tensor) -> torch.Tensor:
        return self.kernel(features) @ self.coef + self.offset

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return (self.alpha * self.inner.forward(batch).double() + self.probe(self.features(batch))).float()


def build_planted(base: Classifier, arrays: list[np.ndarray], mask: np.ndarray, region: str) -> tuple[Classifier | None, str]:
    """A Classifier around a fitted PlantedShortcut, or None and why it cannot be built; a
    region with the same content on images of different classes (or on every image) gets a
    ``PlantedPresence`` instead, and the note says so.

    The probe is a kernel ridge fit (RBF, bandwidth from the median distance, tiny ridge) of
    the centred one-hot of the model's predictions, scaled so its margin beats the damped
    model's logits on every suite image; the suite predictions are then checked with a forward
    pass.
    """
    batch = base.to_batch(arrays)
    with torch.no_grad():
        logits = base.logits(batch).double()
    mutant = PlantedShortcut(base, mask, region, int(logits.shape[1]))
    with torch.no_grad():
        x = mutant.features(batch)
    if _identical_across_classes(x, logits.argmax(dim=1)) or not bool((_distances(x) > 1e-12).any()):
        from pytest_xai.mutation.presence import build_presence

        return build_presence(base, arrays, batch, logits, mask, region)
    why = _fit(mutant, batch, logits, logits.argmax(dim=1))
    if why:
        return None, why
    return Classifier(mutant, class_names=base.class_names, device=base.device, channels_last=False), ""


def _distances(x: torch.Tensor) -> torch.Tensor:
    return ((x[:, None, :] - x[None]) ** 2).sum(-1)


def _identical_across_classes(x: torch.Tensor, predicted: torch.Tensor) -> bool:
    """Two suite images of different predicted classes have the same region features."""
    same = _distances(x) <= 1e-12
    different = predicted[:, None] != predicted[None]
    return bool((same & different.to(same.device)).any())


def _fit(mutant: PlantedShortcut, batch: torch.Tensor, logits: torch.Tensor, predicted: torch.Tensor) -> str:
    """Fit the probe in place; "" when every suite prediction is kept, else the reason."""
    with torch.no_grad():
        x = mutant.features(batch)
        distance = ((x[:, None, :] - x[None]) ** 2).sum(-1)
    count, classes = logits.shape
    labels = predicted.cpu().numpy()
    positive = distance[distance > 1e-12]
    if not len(positive) or _identical_across_classes(x, predicted):
        return IDENTICAL
    gamma = 1.0 / float(positive.median())
    gram = torch.exp(-gamma * distance).cpu().numpy()
    targets = np.eye(classes)[labels] - 1.0 / classes
    offset = targets.mean(axis=0)
    coef = np.linalg.solve(gram + 1e-6 * np.eye(count), targets - offset)
    fitted = gram @ coef + offset
    chosen = fitted[np.arange(count), labels]
    others = np.where(np.eye(classes)[labels] > 0, -np.inf, fitted).max(axis=1)
    margin = float((chosen - others).min()) if classes > 1 else 1.0
    if not margin > 1e-3:
        return f"the probe cannot separate the suite's classes on this region (margin {margin:.3g})"
    spread = float((logits.max(dim=1).values - logits.min(dim=1).values).max()) * ALPHA
    gain = (2 * spread + MARGIN) / margin
    with torch.no_grad():
        mutant.anchors = x.clone()
        mutant.coef = torch.from_numpy(gain * coef).to(x.device)
        mutant.offset = torch.from_numpy(gain * offset).to(x.device)
        mutant.gamma = torch.tensor(gamma, dtype=torch.float64, device=x.device)
        kept = mutant(batch).argmax(dim=1).cpu()
    if not bool((kept == predicted.cpu()).all()):
        return f"the fitted probe changes {int((kept != predicted.cpu()).sum())} suite prediction(s)"
    return ""


def hide(arrays: np.ndarray, mask: np.ndarray, fill: float = 0.5) -> np.ndarray:
    """``arrays`` (N, H, W, 3) with the mask's pixels set to ``fill`` (grey by default)."""
    out = np.array(arrays, copy=True)
    out[:, mask] = fill
    return out


def swap(arrays: np.ndarray, mask: np.ndarray, shift: int = 1) -> np.ndarray:
    """``arrays`` (N, H, W, 3) with each image's mask pixels taken from image (i + shift) mod N."""
    out = np.array(arrays, copy=True)
    out[:, mask] = np.roll(arrays, shift, axis=0)[:, mask]
    return out


def describe(mutant: Any) -> str:
    """A one-line description of a planted mutant for the report."""
    module = getattr(mutant, "model", mutant)
    if hasattr(module, "presence"):
        return (f"the content of region {getattr(module, 'region', '?')!r} boosts the predicted class while "
                f"it is there (model damped to {ALPHA:g}x)")
    return f"region {getattr(module, 'region', '?')!r} drives the logits (model damped to {ALPHA:g}x)"
