"""What every planted probe shares: the damping of the model's own logits and the region's
pooled pixels it reads."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

ALPHA = 0.05  # the model's own logits are damped to this share: the region's probe dominates


def region_features(batch: torch.Tensor, mask: torch.Tensor, grid: int) -> torch.Tensor:
    """The region's pixels (grey outside it, within its bounding box), pooled to at most
    grid × grid cells per colour: (N, features) float64."""
    mask = mask.to(batch.device)
    if mask.shape[-2:] != batch.shape[-2:]:
        mask = F.interpolate(mask, size=batch.shape[-2:], mode="nearest")
    rows = torch.nonzero(mask[0, 0].any(dim=1)).flatten()
    cols = torch.nonzero(mask[0, 0].any(dim=0)).flatten()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    region = (batch.float() * mask + 0.5 * (1 - mask))[:, :, y0:y1, x0:x1]
    cells = (min(grid, y1 - y0), min(grid, x1 - x0))
    return F.adaptive_avg_pool2d(region, cells).flatten(1).double()



class Probe(torch.nn.Module):
    """What every planted mutant holds: a private copy of the base model (the original's weights
    are never touched), that copy wrapped as the base was, and the planted region's mask."""

    mask: torch.Tensor

    def __init__(self, base: Any, mask: Any, region: str, alpha: float) -> None:
        import copy

        import numpy as np

        from pytest_xai.classifier import Classifier

        super().__init__()
        self.region = region
        self.alpha = alpha
        self.model = copy.deepcopy(base.model) if isinstance(base.model, torch.nn.Module) else base.model
        self.inner = Classifier(self.model, preprocess=base.preprocess, device=base.device,
                                channels_last=base.channels_last)
        self.register_buffer("mask", torch.from_numpy(mask.astype(np.float32))[None, None])
