"""Superpixel segmentation with scikit-image, labels remapped to 0..M-1."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_xai.errors import XaiTypeError, XaiValueError

ALGORITHMS = ("slic", "quickshift", "felzenszwalb")


def remap_labels(labels: np.ndarray) -> np.ndarray:
    """Relabel an integer label image to 0..M-1 in order of first label value.

    SLIC starts at 1 by default and user masks may skip values; lime indexes weights by label,
    so gaps silently shift every weight. Remapping makes the index the superpixel.
    """
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int64)


def segment(image: np.ndarray, segments: Any = None, n_segments: int = 50) -> np.ndarray:
    """Segment an H×W×3 [0, 1] image into superpixels labelled 0..M-1 (an int64 H×W array).

    Parameters
    ----------
    image:
        The image, H×W×3 float in [0, 1].
    segments:
        ``None`` or ``"slic"`` (SLIC, compactness 10, sigma 1, ``n_segments``), ``"quickshift"``
        (lime_image's default: kernel_size 4, max_dist 200, ratio 0.2), ``"felzenszwalb"``
        (scale 100, sigma 0.5, min_size scaled to give about ``n_segments``), or an (H, W)
        integer label array used as given.
    n_segments:
        Approximate number of superpixels for SLIC and Felzenszwalb.
    """
    height, width = image.shape[:2]
    if segments is None or isinstance(segments, str):
        name = segments or "slic"
        if name not in ALGORITHMS:
            raise XaiValueError(
                f"segments={segments!r} is not a segmentation; use one of {ALGORITHMS} "
                "or an (H, W) integer label array"
            )
        if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)):
            raise XaiTypeError(f"n_segments={n_segments!r} is not an int")
        if not 2 <= n_segments <= height * width // 4:
            raise XaiValueError(
                f"n_segments={n_segments!r} is out of range for a {height}×{width} image; "
                f"use 2..{height * width // 4}"
            )
        labels = _algorithm_labels(image, name, int(n_segments))
        source = f"segments={name!r}"
    else:
        labels = np.asarray(segments)
        if labels.shape != (height, width):
            raise XaiValueError(
                f"segments has shape {labels.shape} but the image is {height}×{width}; "
                "pass an (H, W) integer label array of the image's size"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise XaiTypeError(f"segments has dtype {labels.dtype}; pass an integer label array")
        source = "the segments array"
    remapped = remap_labels(labels)
    if remapped.max() < 1:
        raise XaiValueError(
            f"{source} yields a single segment for this {height}×{width} image; nothing can be "
            "attributed. Raise n_segments, use another algorithm, or pass a label array"
        )
    return remapped


def _algorithm_labels(image: np.ndarray, name: str, n_segments: int) -> np.ndarray:
    from skimage import segmentation as sk

    if name == "slic":
        return sk.slic(
            image, n_segments=n_segments, compactness=10, sigma=1, start_label=0, channel_axis=-1
        )
    if name == "quickshift":
        return sk.quickshift(
            image.astype(np.float64), kernel_size=4, max_dist=200, ratio=0.2, rng=0
        )
    height, width = image.shape[:2]
    min_size = max(1, height * width // (4 * n_segments))
    return sk.felzenszwalb(image, scale=100, sigma=0.5, min_size=min_size)
