"""The intervention picture: image | changed image (region outlined) | top classes before/after."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xai.checks.interventions.measure import InterventionResult
from pytest_xai.pictures import render

PANEL = 128  # rows a panel is enlarged to (a whole factor; save_png enlarges further)
TOP = 4  # classes shown in the bars
BEFORE, AFTER, TARGET = (150, 150, 150), (214, 39, 40), (255, 215, 0)


def _panel(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """An image enlarged to at least PANEL rows, the region outlined when given."""
    picture = render.to_uint8(image)
    if mask is not None:
        picture = render.draw_outline(picture, mask)
    return render.upscale(picture, PANEL)


def _bars(result: InterventionResult, height: int) -> np.ndarray:
    """The top classes (before or after) as pairs of bars: grey before, red after."""
    from PIL import Image, ImageDraw

    after = result.after[result.shown]
    order = list(np.argsort(-np.maximum(result.before, after))[:TOP])
    if result.target not in order:
        order[-1] = result.target
    width = 2 * height
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    row = height // (len(order) + 1)
    draw.text((4, 2), "p before (grey) / after (red)", fill=(0, 0, 0))
    for k, cls in enumerate(order):
        y = row * (k + 1)
        label = result.name(int(cls))[:12] + (" *" if cls == result.target else "")
        draw.text((4, y + 2), label, fill=(0, 0, 0))
        x0, span = width // 3, width - width // 3 - 8
        for j, (value, colour) in enumerate(((result.before[cls], BEFORE), (after[cls], AFTER))):
            top = y + j * (row // 2)
            draw.rectangle([x0, top, x0 + max(1, int(span * float(value))), top + row // 2 - 2], fill=colour)
    return np.asarray(canvas)


def save(result: InterventionResult, mask: np.ndarray, path: Path) -> Path:
    """Write image | changed image | bars for ``result`` (the variant ``result.shown``)."""
    left = _panel(result.image)
    middle = _panel(result.variants[result.shown], mask)
    picture = render.side_by_side([left, middle, _bars(result, left.shape[0])])
    return render.save_png(picture, path)
