"""What one test did with explanations, recorded for the summary, the report and JUnit.

The plugin opens a TestRecord around each test call; the explain fixture, the assertion
helpers and the snapshot fixture add to it. It travels to the controlling process on the test
report (as plain JSON data), so pytest-xdist runs merge like serial ones.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_current: list[TestRecord] = []


@dataclass
class TestRecord:
    """Explanations, checks and golden outcomes of one test."""

    __test__ = False  # not a pytest test class

    nodeid: str
    results_dir: Path
    explanations: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    goldens: list[dict[str, Any]] = field(default_factory=list)
    properties: list[tuple[str, object]] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0
    _pictures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "explanations": self.explanations,
            "checks": self.checks,
            "images": self.images,
            "goldens": self.goldens,
            "computed": self.computed,
            "cached": self.cached,
            "seconds": self.seconds,
        }

    def artifact_path(self, stem: str) -> Path:
        """A fresh path for a PNG about this test under the results directory."""
        self._pictures += 1
        return self.results_dir / safe_name(self.nodeid) / f"{self._pictures:02d}-{safe_name(stem)}.png"


def current() -> TestRecord | None:
    """The record of the test now running, if the plugin is active."""
    return _current[-1] if _current else None


@contextmanager
def recording(record: TestRecord) -> Iterator[TestRecord]:
    _current.append(record)
    try:
        yield record
    finally:
        _current.remove(record)


def safe_name(text: str) -> str:
    """A file-system-safe rendering of ``text``; a short hash keeps distinct texts distinct."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", text).strip("._") or "_"
    if cleaned != text or len(cleaned) > 120:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:110]}-{digest}"
    return cleaned


def png_b64(picture: np.ndarray) -> str:
    """An RGB uint8 picture as a base64 PNG string (for the self-contained report)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image_key(image: np.ndarray) -> str:
    """A content hash of an image, used to group a test's explanations by image."""
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:12]
