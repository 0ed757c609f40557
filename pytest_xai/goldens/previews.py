"""The pictures of a golden: its captioned .png preview, reviewed in a pull request, and the
difference between it and a new map.

The preview is drawn from the golden as stored, so it can be drawn again later: a caption (test,
method, target, model fingerprint, precision, date; also in the PNG's text chunk), the image and
the overlay with the image's named regions outlined, a third panel that fits the method (the
superpixels a superpixel method weighed, else |attribution|), and after an update a second
row: old | new | difference.
"""

from __future__ import annotations

import base64
import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_xai.pictures.render import (
    captioned,
    draw_outline,
    overlay,
    side_by_side,
    stacked,
    text_block,
    to_uint8,
    upscale,
)

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation

PANEL_HEIGHT = 192  # each panel is enlarged by a whole factor to at least this height
REGION_COLOURS = ((255, 215, 0), (0, 230, 255), (80, 255, 80), (255, 80, 255), (255, 140, 0))

# -- what the golden stores for its preview -----------------------------------------------------
def caption_meta(exp: Explanation, test: str, regions: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` entries a preview reads: the test's name, when it was recorded (UTC, to the
    second) and each named region as a packed bit mask of the explanation's size."""
    height, width = exp.heatmap.shape
    packed = {}
    for name, region in regions.items():
        try:
            mask = region.to_mask(height, width)
        except Exception:  # a region of another image size is not drawn, never fatal
            continue
        packed[str(name)] = base64.b64encode(np.packbits(mask.ravel()).tobytes()).decode("ascii")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"test": test, "recorded": now.isoformat(), "regions": packed}


def stored_regions(exp: Explanation) -> dict[str, np.ndarray]:
    """The region masks ``caption_meta`` stored in a golden (none when it stored no regions)."""
    height, width = exp.heatmap.shape
    out = {}
    for name, bits in dict(exp.meta.get("regions") or {}).items():
        try:
            flat = np.unpackbits(np.frombuffer(base64.b64decode(bits), dtype=np.uint8))[: height * width]
            out[name] = flat.reshape(height, width).astype(bool)
        except (ValueError, TypeError):
            continue
    return out


# -- the preview ----------------------------------------------------------------------------------
def caption(exp: Explanation) -> list[str]:
    """The preview's caption: the test, then method, target, model, precision and date."""
    model = str(exp.meta.get("model") or "unknown")
    recorded = str(exp.meta.get("recorded") or "date unknown").replace("T", " ").replace("+00:00", " UTC")
    test = str(exp.meta.get("test") or "test unknown")
    where = exp.meta.get("test_file")
    return [
        f"{where}::{test}" if where else test,
        f"{exp.method}, target {exp.target_name!r} (p={exp.probability:.3f}), {exp.samples} samples, "
        f"seed {exp.seed}",
        f"model {model[:12]}, {exp.params.get('precision', 'float32')}, recorded {recorded}",
    ]


def preview(exp: Explanation, previous: Explanation | None = None) -> np.ndarray:
    """The picture reviewed in code review: caption; image | overlay | the method's panel with
    the named regions outlined; after an update, old | new | difference below."""
    regions = stored_regions(exp)
    panels = [(_outlined(exp.overlay(), regions), "overlay: red for, blue against")]
    if exp.image is not None:
        panels.insert(0, (_outlined(to_uint8(exp.image), regions), "image"))
    panel, title = _method_panel(exp)
    panels.append((panel, title))
    lines = caption(exp)
    if regions:
        lines.append("regions: " + ", ".join(f"{name} ({_colour_name(i)})" for i, name in enumerate(regions)))
    titles = [" | ".join(title for _, title in panels)]
    rows = [_row(panels)]
    if previous is not None and previous.heatmap.shape == exp.heatmap.shape:
        rows.append(_row([
            (_outlined(previous.overlay(), regions), f"old: {_stamp(previous)}"),
            (_outlined(exp.overlay(), regions), f"new: {_stamp(exp)}"),
            (_outlined(difference_picture(previous, exp), regions), "red gained, blue lost"),
        ]))
        lines.append("updated: the second row compares the golden it replaced")
        titles.append("old | new | difference")
    picture = stacked([text_block(lines, max(r.shape[1] for r in rows)), *rows])
    return captioned(picture, {"Title": lines[0], "Description": "\n".join(lines), "Panels": "\n".join(titles)})


def _stamp(exp: Explanation) -> str:
    """A golden's date and short model fingerprint, for a panel title."""
    return f"model {str(exp.meta.get('model'))[:8]}, {str(exp.meta.get('recorded') or '')[5:10] or 'undated'}"


def _method_panel(exp: Explanation) -> tuple[np.ndarray, str]:
    """The superpixels a superpixel method weighed, else |attribution|."""
    if exp.image is None or exp.weights is None:
        return _magnitude(exp)
    return exp.boundaries(), "top-5 positive superpixels"


def _magnitude(exp: Explanation) -> tuple[np.ndarray, str]:
    """|attribution|, smoothed as the overlay draws it: where the method looked, either sign."""
    from matplotlib import colormaps

    from pytest_xai.pictures.display import display_heatmap

    heat = np.abs(np.nan_to_num(np.asarray(display_heatmap(exp), dtype=np.float64)))
    top = float(np.percentile(heat, 99.9)) if heat.any() else 1.0
    return to_uint8(colormaps["magma"](np.clip(heat / (top or 1.0), 0, 1))[..., :3]), "|attribution| (either sign)"


def _outlined(picture: np.ndarray, regions: dict[str, np.ndarray]) -> np.ndarray:
    for i, mask in enumerate(regions.values()):
        if mask.shape == picture.shape[:2] and mask.any():
            picture = draw_outline(picture, mask, REGION_COLOURS[i % len(REGION_COLOURS)])
    return picture


def _colour_name(i: int) -> str:
    return ("yellow", "cyan", "green", "magenta", "orange")[i % len(REGION_COLOURS)]


def _row(panels: list[tuple[np.ndarray, str]]) -> np.ndarray:
    """Panels side by side, each enlarged to PANEL_HEIGHT and titled above."""
    titled = []
    for picture, title in panels:
        big = upscale(picture, PANEL_HEIGHT)
        titled.append(stacked([text_block([title], big.shape[1], size=12), big], gap=0))
    return side_by_side(titled, gap=6)


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
