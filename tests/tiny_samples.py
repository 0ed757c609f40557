"""A tiny seeded CNN and a 4-superpixel grid for fast unit tests (the fixtures tiny_img and
tiny_clf in conftest.py build on them)."""

from __future__ import annotations

import numpy as np
import torch

SEGMENTS = np.repeat(np.arange(4), 64).reshape(16, 16)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    )
