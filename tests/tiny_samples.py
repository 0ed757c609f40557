"""A tiny seeded CNN and a 4-superpixel grid for fast unit tests (the fixtures tiny_img and
tiny_clf in conftest.py build on them), and a toy registered method (occlusion)."""

from __future__ import annotations

import numpy as np
import torch

from pytest_xai.engine.runners import Attribution, Group, Request

SEGMENTS = np.repeat(np.arange(4), 64).reshape(16, 16)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    )


PATCH = 16


def occlusion(request: Request, group: Group) -> list[Attribution]:
    """A toy fourth method: the target's drop when each patch turns grey (16×16, or its own
    ``patch`` option when it was registered with one)."""
    patch = int(dict(request.extra).get("patch", PATCH))
    results = []
    for image, target in zip(group.tensors, group.targets):
        height, width = image.shape[1:]
        corners = [(y, x) for y in range(0, height, patch) for x in range(0, width, patch)]
        batch = image.repeat(len(corners) + 1, 1, 1, 1)
        for k, (y, x) in enumerate(corners, 1):
            batch[k, :, y : y + patch, x : x + patch] = 0.5
        values = group.forward(batch)[:, target]
        heat = np.zeros((height, width), np.float32)
        for k, (y, x) in enumerate(corners, 1):
            heat[y : y + patch, x : x + patch] = float(values[0] - values[k])
        results.append(Attribution(heatmap=heat, evaluations=len(batch), params={"patch": patch}))
    return results


class Corner(torch.nn.Module):
    """Two classes decided by the top-left 16×16 corner's brightness (p near 1 when it is
    white, 1/2 when grey); ``probabilities=True`` returns softmax rows, as a model that ends in
    a softmax layer does, else the logits."""

    def __init__(self, probabilities: bool) -> None:
        super().__init__()
        self.probabilities = probabilities

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, :, :16, :16].mean(dim=(1, 2, 3)) - 0.5
        logits = torch.stack([40 * corner, -40 * corner], dim=1)
        return torch.softmax(logits, dim=1) if self.probabilities else logits


def corner_image() -> np.ndarray:
    """32×32 grey with a white top-left 16×16 corner: Corner's class 0 at p = 1.000."""
    image = np.full((32, 32, 3), 0.5, np.float32)
    image[:16, :16] = 1.0
    return image
