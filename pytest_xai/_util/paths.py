"""File names and paths as the records and goldens show them (standard library only)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def safe_name(text: str) -> str:
    """A file-system-safe rendering of ``text``; a short hash keeps distinct texts distinct."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", text).strip("._") or "_"
    if cleaned != text or len(cleaned) > 120:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:110]}-{digest}"
    return cleaned


def rel_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (the rootdir) when it lies inside it, else as given."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
