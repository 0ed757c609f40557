"""The report's pictures, each stored once and embedded or written beside the page."""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
from pathlib import Path

from pytest_xai.pictures.encode import file_bytes_b64

INLINE_LIMIT = 50 * 2**20  # embedded pictures above this size go to files beside the report


class Pictures:
    """The report's pictures, each stored once: rendered as tokens, resolved at the end to
    embedded data URIs or to files beside the report, once the total size is known."""

    TOKEN = re.compile("\x00pic([0-9a-f]{16})\x00")

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def add(self, b64: str | None = None, path: str | None = None) -> str | None:
        """A token standing for the picture (base64 PNG, or a PNG file); None if unreadable."""
        try:
            raw = base64.b64decode(b64, validate=True) if b64 else Path(path).read_bytes() if path else b""
        except (OSError, ValueError):
            return None
        if not raw:
            return None
        digest = hashlib.sha1(raw).hexdigest()[:16]
        self.data.setdefault(digest, raw)
        return f"\x00pic{digest}\x00"

    def size(self, token: str) -> tuple[int, int] | None:
        """A picture's (width, height) from its header, so the page reserves its box before a
        lazy image loads and a link's target does not move; None if not a readable image."""
        from PIL import Image, UnidentifiedImageError

        match = self.TOKEN.fullmatch(token)
        try:
            with Image.open(io.BytesIO(self.data[match[1]] if match else b"")) as picture:  # reads the header only
                return picture.size
        except (KeyError, OSError, UnidentifiedImageError):
            return None

    def inline_size(self) -> int:
        return sum(4 * math.ceil(len(raw) / 3) for raw in self.data.values())

    def resolve(self, page: str, path: Path | None = None, inline_limit: float = INLINE_LIMIT) -> str:
        """Replace the tokens: data URIs while the total fits ``inline_limit`` (always without
        a ``path``), else files in ``<report stem>.files/`` beside ``path``."""
        inline = path is None or self.inline_size() <= inline_limit
        if inline:
            page = self.TOKEN.sub(
                lambda m: "data:image/png;base64," + file_bytes_b64(self.data[m[1]]), page
            )
        if path is None:
            return page
        folder = path.with_name(f"{path.stem}.files")
        for stale in folder.glob("*.png") if folder.is_dir() else []:
            if inline or stale.stem not in self.data:
                stale.unlink(missing_ok=True)  # only our own content-named pictures live here
        if inline:
            return page
        folder.mkdir(parents=True, exist_ok=True)
        for digest, raw in self.data.items():
            target = folder / f"{digest}.png"
            # named by content: a file of the right size is this picture. Not fsynced one by
            # one (thousands of pictures); the page that links them is written atomically.
            if not target.is_file() or target.stat().st_size != len(raw):
                target.write_bytes(raw)
        return self.TOKEN.sub(lambda m: f"{folder.name}/{m[1]}.png", page)
