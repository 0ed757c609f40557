"""Pictures as base64 text, for the self-contained report and the JSON records."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def png_b64(picture: np.ndarray) -> str:
    """An RGB uint8 picture as a base64 PNG string."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return file_bytes_b64(buffer.getvalue())


def file_b64(path: Path) -> str:
    """A file's bytes (a PNG written earlier) as base64 text."""
    return file_bytes_b64(path.read_bytes())


def file_bytes_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
