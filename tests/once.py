"""Expensive results computed once per test session and shared by every xdist worker."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock


def once(tmp_path_factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], Any]) -> Any:
    """``produce(folder)``'s JSON result, computed by the first test of the session that asks for
    ``name``; every later asker, in any xdist worker, waits for it and reads it back.

    ``folder`` is a fresh directory that stays for the session (files the result names live on).
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders share this parent, one per session
    folder = root / f"once-{name}"
    with FileLock(f"{folder}.lock"):
        stored = folder / "result.json"
        if stored.is_file():
            return json.loads(stored.read_text())
        folder.mkdir(exist_ok=True)
        result = produce(folder)
        stored.write_text(json.dumps(result))
        return result
