"""Offline data: seeded synthetic "shapes" with object masks, and scikit-learn's digits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle")
SIZE = 64
WATERMARK = (2, 2, 12, 12)  # x0, y0, x1, y1: the top-left corner tag of the shortcut data
# One saturated tag colour per class: the shortcut model reads these instead of the shape.
TAG_COLOURS = np.array([[1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.1, 0.2, 1.0]], dtype=np.float32)


@dataclass
class Sample:
    """One image with its label and the ground-truth mask of the object."""

    image: np.ndarray  # H×W×3 float32 in [0, 1]
    label: int
    mask: np.ndarray  # H×W bool


def _background(rng: np.random.Generator) -> np.ndarray:
    """A smooth random texture around a random dull colour."""
    coarse = rng.uniform(-1, 1, size=(8, 8, 3))
    texture = np.kron(coarse, np.ones((SIZE // 8, SIZE // 8, 1)))
    base = rng.uniform(0.25, 0.6, size=3)
    fine = rng.normal(0, 0.03, size=(SIZE, SIZE, 3))
    return np.clip(base + 0.08 * texture + fine, 0, 1)


def _object_mask(shape: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    if shape == 0:
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    if shape == 1:
        return (np.abs(xx - cx) <= r * 0.85) & (np.abs(yy - cy) <= r * 0.85)
    # upward triangle: inside three half-planes
    top, base_y, half = cy - r, cy + r * 0.8, r
    left = (xx - (cx - half)) * (top - base_y) - (yy - base_y) * (cx - (cx - half)) <= 0
    right = (xx - cx) * (base_y - top) - (yy - top) * ((cx + half) - cx) <= 0
    return left & right & (yy <= base_y)


def make_shape(
    rng: np.random.Generator, label: int | None = None, tag: int | None = None
) -> Sample:
    """One 64×64 shapes image. ``tag`` paints the class-coded corner mark of that class."""
    label = int(rng.integers(3)) if label is None else label
    image = _background(rng)
    r = rng.uniform(9, 14)
    cx, cy = rng.uniform(r + 2, SIZE - r - 2, size=2)
    cy = max(cy, 16 + r)  # keep the object clear of the corner mark
    mask = _object_mask(label, cx, cy, r)
    colour = rng.uniform(0, 1, size=3)
    while np.abs(colour - image[mask].mean(0)).max() < 0.35:
        colour = rng.uniform(0, 1, size=3)
    image[mask] = colour
    if tag is not None:
        x0, y0, x1, y1 = WATERMARK
        image[y0:y1, x0:x1] = 1.0
        image[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = TAG_COLOURS[tag]
    return Sample(image.astype(np.float32), label, mask)


def shapes_dataset(n: int, seed: int, shortcut: bool) -> tuple[np.ndarray, np.ndarray]:
    """A training set: images (n, 3, 64, 64) float32 and labels (n,).

    With ``shortcut`` every image carries a corner tag that names the class and half the objects
    are drawn with a random shape, so the tag is the only reliable cue. Without it, half the
    images carry a tag of a random class, so the model learns to ignore tags and read the object.
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n):
        label = int(rng.integers(3))
        shape = int(rng.integers(3)) if shortcut and rng.random() < 0.5 else label
        tag = label if shortcut else (int(rng.integers(3)) if rng.random() < 0.5 else None)
        sample = make_shape(rng, shape, tag)
        images.append(sample.image.transpose(2, 0, 1))
        labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def digits_images(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 handwritten digits, upsampled to size×size RGB in [0, 1]: (n, 3, s, s)."""
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    big = torch.nn.functional.interpolate(
        small, size=(size, size), mode="bilinear", align_corners=False
    )
    return big.clamp(0, 1).repeat(1, 3, 1, 1).numpy(), digits.target.astype(np.int64)
