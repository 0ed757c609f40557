"""Small HTML pieces the report's modules share: escaping, anchors and test ids that wrap
only between their parts."""

from __future__ import annotations

import html
import re
from typing import Any

# a test id may wrap after these, never inside a word: path/, ::name, [param-part
_BREAK = re.compile(r"(::|/|\[|-)")


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def anchor(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(key))


def nodeid_html(nodeid: str) -> str:
    """A test id, escaped, with a line-break opportunity (``<wbr>``) after each ``/``,
    ``::``, ``[`` and ``-`` and nowhere else, so that a narrow column never splits a word."""
    return "".join(esc(part) + ("<wbr>" if _BREAK.fullmatch(part) else "") for part in _BREAK.split(nodeid))

