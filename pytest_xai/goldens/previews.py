"""The pictures of a golden: its .png preview and the difference between it and a new map."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pytest_xai.render import draw_outline, overlay, side_by_side, to_uint8

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation


def preview(exp: Explanation) -> np.ndarray:
    """The picture reviewed in code review: the image, the overlay, and lime's boundaries."""
    pictures = [exp.overlay()]
    if exp.image is not None:
        pictures.insert(0, to_uint8(exp.image))
        if exp.weights is not None:
            pictures.append(exp.boundaries())
    return side_by_side(pictures)


def difference_picture(
    golden: Explanation, actual: Explanation, gained: np.ndarray | None = None
) -> np.ndarray:
    """Where the positive evidence (what release mode compares) was gained, red, and lost,
    blue: the new map's share of its positive mass minus the golden's, each sign on its own
    scale, over the new image; the ``gained`` pixel mask (cells where evidence appeared)
    outlined."""

    def share(exp: Explanation) -> np.ndarray:
        positive = np.clip(np.nan_to_num(exp.heatmap.astype(np.float64)), 0.0, None)
        total = positive.sum()
        return positive / total if total > 0 else positive

    picture = overlay(share(actual) - share(golden), actual.image)
    return picture if gained is None or not gained.any() else draw_outline(picture, gained)
