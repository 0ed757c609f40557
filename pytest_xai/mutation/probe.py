"""What every planted probe shares: the damping of the model's own logits and the region's
pooled pixels it reads."""

from __future__ import annotations

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
