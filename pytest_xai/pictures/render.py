"""Pictures: heatmap overlays, lime-style boundaries, region outlines, text and PNG writing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from pytest_xai._util.atomic import atomic_path


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """A [0, 1] RGB float image as uint8 (clipped, rounded)."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


def overlay(
    heatmap: np.ndarray, image: np.ndarray | None = None, scale: float | None = None
) -> np.ndarray:
    """A heatmap over a greyed image as RGB uint8: red positive, blue negative, clear at 0.

    The colormap is diverging and centred on 0 (matplotlib's ``bwr``), with opacity growing
    with |value|. With ``scale`` both signs share it (|value| at full colour). By default each
    sign gets its own scale, the 99.9th percentile of its values (as shap's ``image_plot``, so a
    few extreme pixels do not wash out a pixel-level map): every check measures the positive
    evidence, and strong evidence against the target must not make it invisible.
    """
    from matplotlib import colormaps

    heat = np.asarray(heatmap, dtype=np.float64)
    heat = np.where(np.isfinite(heat), heat, 0.0)  # NaN/inf drawn as no evidence
    norm = _per_sign(heat) if scale is None else np.clip(heat / check_scale(scale), -1.0, 1.0)
    colours = colormaps["bwr"](0.5 + 0.5 * norm)[..., :3]
    if image is None:
        grey = np.full(heat.shape, 0.85)
    else:
        grey = 0.35 + 0.5 * (np.asarray(image, dtype=np.float64) @ np.array([0.299, 0.587, 0.114]))
    base = np.repeat(grey[..., None], 3, axis=-1)
    alpha = (0.85 * np.abs(norm))[..., None]
    return to_uint8((1 - alpha) * base + alpha * colours)


def _per_sign(heat: np.ndarray) -> np.ndarray:
    """``heat`` in [-1, 1], positive and negative values each divided by their own 99.9th
    percentile (clipped)."""
    norm = np.zeros_like(heat)
    for sign in (1.0, -1.0):
        part = heat * sign > 0
        if part.any():
            limit = float(np.percentile(heat[part] * sign, 99.9))
            norm[part] = np.clip(heat[part] / limit, -1.0, 1.0)
    return norm


def check_scale(scale: object) -> float:
    """A colour scale: a finite number above 0 (Python or numpy); else a clear error."""
    from pytest_xai.errors import XaiTypeError, XaiValueError

    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise XaiTypeError(
            f"scale={repr(scale)[:80]} is not a number; pass a positive float (the |value| drawn "
            "at full colour) or None (the 99.9th percentile)"
        )
    value = float(scale)
    if not np.isfinite(value) or value <= 0:
        raise XaiValueError(
            f"scale={scale!r} must be a finite number above 0 (0, negative or NaN draws a blank "
            "picture); pass e.g. 1.0, or None for the 99.9th percentile"
        )
    return value


def draw_outline(
    picture: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 215, 0)
) -> np.ndarray:
    """Draw the boundary of a boolean mask on an RGB uint8 picture (a copy)."""
    from skimage.segmentation import find_boundaries

    out = picture.copy()
    out[find_boundaries(mask, mode="inner")] = colour
    return out


def boundaries_picture(
    image: np.ndarray,
    segments: np.ndarray,
    weights: np.ndarray,
    num_features: int = 5,
    positive_only: bool = True,
) -> np.ndarray:
    """lime's ``get_image_and_mask`` + ``mark_boundaries`` picture as RGB uint8.

    The ``num_features`` superpixels of largest |weight| are kept (only the positive ones with
    ``positive_only``); their boundaries are drawn in yellow. Without ``positive_only`` the
    positive ones are tinted green and the negative ones red, as lime does.
    """
    from skimage.segmentation import mark_boundaries

    order = np.argsort(-np.abs(weights), kind="stable")
    if positive_only:
        chosen = [int(f) for f in order if weights[f] > 0][:num_features]
        mask = np.isin(segments, chosen).astype(np.int64)
        picture = np.asarray(image, dtype=np.float64).copy()
    else:
        chosen = [int(f) for f in order[:num_features]]
        mask = np.zeros(segments.shape, dtype=np.int64)
        picture = np.asarray(image, dtype=np.float64).copy()
        top = float(picture.max())
        for f in chosen:
            inside = segments == f
            channel = 1 if weights[f] > 0 else 0
            mask[inside] = 1 if weights[f] > 0 else -1
            picture[inside, channel] = top
    return to_uint8(mark_boundaries(picture, mask))


def upscale(picture: np.ndarray, min_height: int = 192) -> np.ndarray:
    """Enlarge a small picture by a whole factor (nearest neighbour) so it is readable."""
    factor = max(1, -(-min_height // picture.shape[0]))
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)


class Captioned(np.ndarray):
    """An RGB uint8 picture with ``text`` for its PNG's text chunks (``captioned``)."""

    text: dict[str, str]


def captioned(picture: np.ndarray, text: dict[str, str]) -> np.ndarray:
    """``picture`` carrying ``text`` that ``save_png`` writes into the PNG's text chunks
    (e.g. "Title", "Description"), so a reviewer's tools and tests can read the caption."""
    out = np.asarray(picture).view(Captioned)
    out.text = dict(text)
    return out


def save_png(picture: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an RGB uint8 picture as PNG atomically (temp file and rename), enlarged to be read;
    a ``captioned`` picture's text goes into the PNG's text chunks."""
    from PIL.PngImagePlugin import PngInfo

    target = Path(path)
    info = PngInfo()
    for key, value in (getattr(picture, "text", None) or {}).items():
        info.add_itxt(key, value)
    with atomic_path(target) as tmp:
        Image.fromarray(np.ascontiguousarray(upscale(np.asarray(picture).view(np.ndarray)))).save(
            tmp, format="PNG", pnginfo=info)
    return target


def side_by_side(pictures: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Pictures of one height placed left to right on white, ``gap`` pixels apart."""
    return _arrange(pictures, gap, axis=1)


def stacked(pictures: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Pictures placed top to bottom on white, left-aligned, ``gap`` pixels apart."""
    return _arrange(pictures, gap, axis=0)


def _arrange(pictures: list[np.ndarray], gap: int, axis: int) -> np.ndarray:
    """Pictures along ``axis`` (0: down, 1: across) on a white canvas, ``gap`` pixels apart."""
    across = 1 - axis
    size = [0, 0]
    size[axis] = sum(p.shape[axis] for p in pictures) + gap * (len(pictures) - 1)
    size[across] = max(p.shape[across] for p in pictures)
    out = np.full((size[0], size[1], 3), 255, dtype=np.uint8)
    offset = 0
    for p in pictures:
        if axis == 0:
            out[offset : offset + p.shape[0], : p.shape[1]] = p
        else:
            out[: p.shape[0], offset : offset + p.shape[1]] = p
        offset += p.shape[axis] + gap
    return out


def text_block(lines: list[str], width: int, size: int = 13) -> np.ndarray:
    """Lines of text on white, ``width`` pixels wide (cut with an ellipsis when longer)."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    step = size + 4
    canvas = Image.new("RGB", (width, step * len(lines) + 4), "white")
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        while len(line) > 4 and draw.textlength(line, font=font) > width - 6:
            line = line[:-2].rstrip() + "…"
        draw.text((3, 2 + i * step), line, fill=(20, 20, 20), font=font)
    return np.asarray(canvas)
