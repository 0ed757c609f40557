"""Planted mutants for a cue that is the same on every image (a stock watermark): its presence
boosts whatever class the model predicts.

Such a region cannot tell the classes apart, so no probe can map its content to a class. The
realistic shortcut is another one: a network that saw the watermark on its training photos
grows more confident while it is there. ``PlantedPresence`` is that network, built by
perturbing the cue: the suite's own region content is "present", the same region hidden or
perturbed (grey, blur, inpaint: the fills the interventions use) is "absent", and a kernel on
the region's pooled pixels is set so that every perturbed copy reads as nearly absent.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from pytest_xai.classifier import Classifier
from pytest_xai.mutation.probe import ALPHA, Probe, region_features

GRID = 16  # pooled finer than a content probe: a blurred watermark must read as gone
OFF = 0.05  # the most presence a perturbed copy of a suite image's region may keep
ON = 0.5  # the least presence every suite image's own region must keep
PERTURBATIONS = ("grey", "blur", "inpaint")
# The boost, in logits over twice the damped model's largest logit spread: what a watermark
# shortcut spliced into a real network gives (benchmarks/real_photos.py, WatermarkShortcut).
BOOST = 8.0
NOTE = "the region is the same on images of different classes: its presence boosts the predicted class"


class PlantedPresence(Probe):
    """``ALPHA`` × the model's logits + ``gain`` × presence × the centred one-hot of the model's
    predicted class. Presence is ``max_i exp(-gamma · |features − anchor_i|²)`` over the suite's
    own region features: 1 on a suite image, near 0 once the region is hidden or perturbed."""

    anchors: torch.Tensor
    gamma: torch.Tensor
    gain: torch.Tensor

    def __init__(self, base: Classifier, mask: np.ndarray, region: str) -> None:
        super().__init__(base, mask, region, ALPHA)
        self.register_buffer("anchors", torch.zeros(1, 1, dtype=torch.float64))
        self.register_buffer("gamma", torch.zeros((), dtype=torch.float64))
        self.register_buffer("gain", torch.zeros((), dtype=torch.float64))

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return region_features(batch, self.mask, GRID)

    def presence(self, batch: torch.Tensor) -> torch.Tensor:
        """(N,) in [0, 1]: how much the region looks like one of the suite's own."""
        x = self.features(batch)
        distance = ((x[:, None, :] - self.anchors[None].to(x.device)) ** 2).sum(-1)
        return torch.exp(-self.gamma * distance.min(dim=1).values)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self.inner.forward(batch).double()
        classes = logits.shape[1]
        top = F.one_hot(logits.argmax(dim=1), classes).double() - 1.0 / classes
        return (self.alpha * logits + self.gain * self.presence(batch)[:, None] * top).float()


def build_presence(
    base: Classifier, arrays: list[np.ndarray], batch: torch.Tensor, logits: torch.Tensor, mask: np.ndarray,
    region: str,
) -> tuple[Classifier | None, str]:
    """A Classifier around a fitted ``PlantedPresence``, or None and why it cannot be built.

    ``gamma`` puts the closest perturbed copy of any suite image's region at presence ``OFF``;
    ``gain`` lifts the predicted class BOOST logits over twice the damped model's largest logit
    spread. Every suite prediction is then checked.
    """
    mutant = PlantedPresence(base, mask, region)
    with torch.no_grad():
        anchors = mutant.features(batch)
        mutant.anchors = anchors.clone()
        closest = min(_closest_perturbed(mutant, arrays, mask, fill) for fill in PERTURBATIONS)
    if not closest > 1e-9:
        return None, "hiding or blurring the region leaves its pooled pixels as they were: nothing to read"
    spread = float((logits.max(dim=1).values - logits.min(dim=1).values).max()) * ALPHA
    with torch.no_grad():
        mutant.gamma = torch.tensor(math.log(1.0 / OFF) / closest, dtype=torch.float64, device=anchors.device)
        mutant.gain = torch.tensor(2 * spread + BOOST, dtype=torch.float64, device=anchors.device)
        present = mutant.presence(batch)
        kept = mutant(batch).argmax(dim=1).cpu()
    if float(present.min()) < ON:
        return None, f"the region's presence on a suite image is {float(present.min()):.2f} (< {ON})"
    if not bool((kept == logits.argmax(dim=1).cpu()).all()):
        return None, f"the presence probe changes {int((kept != logits.argmax(dim=1).cpu()).sum())} suite prediction(s)"
    return Classifier(mutant, class_names=base.class_names, device=base.device, channels_last=False), NOTE


def _closest_perturbed(mutant: PlantedPresence, arrays: list[np.ndarray], mask: np.ndarray, fill: str) -> float:
    """The smallest squared distance from a perturbed suite region to any suite region."""
    from pytest_xai.checks.interventions.fills import hide

    changed = [hide(np.asarray(a, dtype=np.float32), mask, fill) for a in arrays]
    x = mutant.features(mutant.inner.to_batch(changed))
    distance = ((x[:, None, :] - mutant.anchors[None]) ** 2).sum(-1)
    return float(distance.min())
