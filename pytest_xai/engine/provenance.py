"""What decides an explanation besides its arguments: library versions, the engine's own code,
and the content of the arrays it was given (the image, a given background)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai import __version__
from pytest_xai._util.digest import array_sha256
from pytest_xai._util.jsonable import JSON

# Source files whose code computes an explanation: a change to any of them (an edited engine
# in a checkout, a patched release) is a new engine, whatever the version number says.
_ENGINE_SOURCES = ("engine/*.py", "images.py")


@functools.lru_cache(maxsize=1)
def engine_code_digest() -> str:
    """sha256 (16 hex digits) of the engine's source files, read once per process."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for pattern in _ENGINE_SOURCES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def library_versions() -> dict[str, str]:
    """The version of every library that decides an explanation, and the engine's code digest.

    torch runs the model, perturbations and solvers; numpy converts images and paints
    heatmaps; scikit-image segments (SLIC, quickshift, Felzenszwalb) and blurs fills, and
    scipy sits under both. Read on each call (cheap), so a library swapped in a long-lived
    process is seen.
    """
    import scipy
    import skimage
    import torch

    return {
        "pytest_xai": __version__,
        "engine": engine_code_digest(),
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "scikit-image": str(skimage.__version__),  # type: ignore[attr-defined]
        "scipy": str(scipy.__version__),
    }


def image_changed(meta: JSON, image: Any) -> bool | None:
    """Whether ``image`` differs from the image an explanation's ``meta`` recorded.

    ``meta`` is a stored explanation's (a golden's) ``meta``; ``image`` the [0, 1] H×W×3
    float32 image explained now (``Explanation.image``). None when ``meta`` holds no image hash,
    so a caller can say "unknown".
    """
    recorded = meta.get("image_sha256")
    if not isinstance(recorded, str):
        return None
    return recorded != array_sha256(np.asarray(image, dtype=np.float32))
