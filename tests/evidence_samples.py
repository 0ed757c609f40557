"""Models whose explained output does not vary under perturbation, and their explanations.

A model that ignores its input, or whose probability is saturated at 1.0, gets a heatmap of zeros
or solver round-off: an explanation without evidence, which no check may pass.
"""

from __future__ import annotations

import torch
from factories import noise_image

from pytest_xai import Classifier, Region, explain


class IgnoresInput(torch.nn.Module):
    """Constant logits (1, 2, 3) whatever the image; the graph still reaches the input."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), 3) + 0 * x.sum(dim=(1, 2, 3))[:, None]


class Saturated(torch.nn.Module):
    """Reads the image (mean red), but its top class has probability exactly 1.0 in float32."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([1.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, 0].mean(dim=(1, 2)) * self.scale
        return torch.stack([100 + red, -100 - red, -100 + red], dim=1)


TAG = Region.box(0, 0, 16, 16, name="tag")
OBJECT = Region.box(16, 16, 64, 64, name="object")


def silent_explanations() -> dict[str, object]:
    """Explanations of IgnoresInput by every method, of Saturated's probability, and their image."""
    image = noise_image(64)
    constant = Classifier(IgnoresInput(), device="cpu")
    found: dict[str, object] = {
        method: explain(constant, image, method=method, samples=200) for method in ("lime", "kernel_shap", "gradient_shap")
    }
    found["saturated"] = explain(Classifier(Saturated(), device="cpu"), image, output="probability", samples=200)
    found["image"] = image
    return found
