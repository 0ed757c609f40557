"""Write the example suite's test images and region sidecars: ``python -m example_project.make_images``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from example_project.data import SHAPES, WATERMARK, digits_images, make_shape

FOLDER = Path(__file__).parent / "tests" / "images"


def _png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    for label, shape in enumerate(SHAPES):
        sample = make_shape(rng, label, tag=label)
        _png(sample.image, FOLDER / f"{shape}.png")
        Image.fromarray(sample.mask.astype(np.uint8) * 255).save(FOLDER / f"{shape}.object.png")
        regions = {"object": {"mask": f"{shape}.object.png"}, "watermark": {"box": list(WATERMARK)}}
        (FOLDER / f"{shape}.regions.json").write_text(json.dumps(regions, indent=1) + "\n")
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
