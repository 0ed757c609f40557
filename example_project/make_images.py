"""Write the example suite's test images and region sidecars: ``python -m example_project.make_images``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from example_project.data import SHAPES, WATERMARK, Sample, digits_images, make_shape

FOLDER = Path(__file__).parent / "tests" / "images"
HELD_OUT_SEED = 2025  # the first three images come from 2024; training data from seeds 1 and 2
PER_CLASS = 4


def shapes_names() -> list[str]:
    """The shapes test images, class by class: circle.png, circle2.png .. circle4.png, square.png..."""
    return [f"{shape}{'' if k == 1 else k}.png" for shape in SHAPES for k in range(1, PER_CLASS + 1)]


def _png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)


def _write_shape(sample: Sample, stem: str) -> None:
    """The image, its object mask and a sidecar naming the object and the corner tag."""
    _png(sample.image, FOLDER / f"{stem}.png")
    Image.fromarray(sample.mask.astype(np.uint8) * 255).save(FOLDER / f"{stem}.object.png")
    regions = {"object": {"mask": f"{stem}.object.png"}, "watermark": {"box": list(WATERMARK)}}
    (FOLDER / f"{stem}.regions.json").write_text(json.dumps(regions, indent=1) + "\n")


def write_shapes() -> None:
    """Four held-out images per class, each with the tag of its own class in the corner: the
    clean model must ignore the tag, the shortcut model reads it."""
    rng = np.random.default_rng(2024)
    for label, shape in enumerate(SHAPES):
        _write_shape(make_shape(rng, label, tag=label), shape)
    rng = np.random.default_rng(HELD_OUT_SEED)
    for k in range(2, PER_CLASS + 1):
        for label, shape in enumerate(SHAPES):
            _write_shape(make_shape(rng, label, tag=label), f"{shape}{k}")


# scikit-image's bundled photographs (no download), centre-cropped to 224×224, and the object
# each shows, drawn by hand in the crop's pixels as a polygon [[x, y], ...].
PHOTOS = {
    "chelsea": [[28, 52], [70, 40], [150, 40], [200, 58], [216, 120], [190, 190], [140, 214],
                [84, 214], [36, 186], [14, 120]],  # the cat's face: eyes, nose and muzzle
    "coffee": [[45, 34], [70, 14], [112, 7], [155, 14], [180, 38], [176, 80], [160, 118],
               [138, 138], [100, 142], [72, 132], [54, 100]],  # the cup of espresso, not the saucer
    "rocket": [[104, 60], [118, 60], [124, 84], [124, 224], [98, 224], [98, 84]],  # the rocket
    "camera": [[98, 44], [132, 44], [134, 100], [170, 222], [92, 222], [106, 100]],  # camera and tripod
}
PHOTO_SIZE = 224


def write_photos() -> None:
    """The real-photo suite's images and their hand-drawn ``object`` regions."""
    from skimage import data

    from pytest_xai import load_image

    for name, polygon in PHOTOS.items():
        image = load_image(np.asarray(getattr(data, name)()), size=PHOTO_SIZE)
        _png(image, FOLDER / f"{name}.png")
        (FOLDER / f"{name}.regions.json").write_text(json.dumps({"object": {"polygon": polygon}}) + "\n")


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    write_photos()
    write_shapes()
    images, labels = digits_images()
    held_out = np.random.default_rng(0).permutation(len(images))[1500:]
    for digit in (3, 8):
        index = next(i for i in held_out if labels[i] == digit)
        image = images[index].transpose(1, 2, 0)
        _png(image, FOLDER / f"digit{digit}.png")
        Image.fromarray((image[..., 0] > 0.25).astype(np.uint8) * 255).save(FOLDER / f"digit{digit}.ink.png")
        (FOLDER / f"digit{digit}.regions.json").write_text(
            json.dumps({"ink": {"mask": f"digit{digit}.ink.png"}}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
