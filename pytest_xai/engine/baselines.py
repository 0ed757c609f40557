"""Baselines: what hidden superpixels become while LIME and Kernel SHAP sample (per-superpixel
mean colours, a blur, zero or a constant colour such as grey). The interventions' fills
(checks/interventions/fills.py) hide a whole region once and share the names grey and blur."""

from __future__ import annotations

import numpy as np
import torch
from skimage.filters import gaussian


def segment_means(image: torch.Tensor, segments: torch.Tensor, m: int) -> torch.Tensor:
    """Per-superpixel mean colour painted back: (3, H, W) (lime's ``hide_color=None``)."""
    flat = segments.reshape(-1)
    sums = torch.zeros(3, m, dtype=torch.float64, device=image.device)
    sums.index_add_(1, flat, image.reshape(3, -1).double())
    counts = torch.bincount(flat, minlength=m).clamp_min(1)
    return (sums / counts)[:, flat].reshape(image.shape).to(image.dtype)


def blurred(image: torch.Tensor) -> torch.Tensor:
    """A strong Gaussian blur (sigma = 1/16 of the shorter side) of a (3, H, W) image."""
    sigma = max(1.0, min(image.shape[1:]) / 16)
    array = image.permute(1, 2, 0).cpu().numpy()
    out = gaussian(array, sigma=sigma, channel_axis=-1, preserve_range=True)
    return (
        torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))
        .permute(2, 0, 1)
        .to(image.device)
    )


def fill_image(
    image: torch.Tensor, segments: torch.Tensor, m: int, baseline: str | tuple[float, float, float]
) -> torch.Tensor:
    """What hidden superpixels become, as a full (3, H, W) image.

    ``baseline`` is validated by ``explain``: "mean", "zero", "blur" or an RGB triple.
    """
    if baseline == "mean":
        return segment_means(image, segments, m)
    if baseline == "zero":
        return torch.zeros_like(image)
    if baseline == "blur":
        return blurred(image)
    rgb = torch.tensor(baseline, dtype=image.dtype, device=image.device)
    return rgb[:, None, None].expand_as(image)
