"""What a person is shown of a heatmap: pixel-level maps smoothed so their mass is visible.

For display only. Stored explanations, metrics and goldens always use the exact heatmap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SMOOTHING_FRACTION = 1 / 32  # Gaussian sigma, as a fraction of the image's shorter side
DISPLAY_PERCENTILE = 99.0  # |value| at this percentile is drawn at full colour


def display_heatmap(exp: Any) -> np.ndarray:
    """The heatmap to draw for ``exp``: superpixel maps unchanged, pixel-level maps smoothed.

    A pixel-level map (GradientSHAP: no ``segments``) is a speckle of single pixels of both
    signs; drawn as is, a 64×64 overlay at report size looks almost blank even when most of
    the positive mass sits on the object. It is smoothed with a Gaussian (sigma = 1/32 of the
    shorter side, at least 1 px) and divided by the 99th percentile of its |value|, clipped to
    [-1, 1], so the few strongest pixels do not wash out the rest.

    Parameters
    ----------
    exp: an Explanation (anything with ``.heatmap`` and ``.segments``).

    Returns
    -------
    An H×W float array, signed like the heatmap: red for, blue against when passed to
    ``render.overlay``.
    """
    heat = np.asarray(exp.heatmap, dtype=np.float64)
    if getattr(exp, "segments", None) is not None:
        return heat
    from scipy.ndimage import gaussian_filter

    sigma = max(1.0, min(heat.shape) * SMOOTHING_FRACTION)
    smooth = gaussian_filter(np.nan_to_num(heat), sigma=sigma, mode="nearest")
    limit = float(np.percentile(np.abs(smooth), DISPLAY_PERCENTILE))
    if not np.isfinite(limit) or limit <= 0:
        return np.zeros_like(smooth)
    return np.clip(smooth / limit, -1.0, 1.0)
