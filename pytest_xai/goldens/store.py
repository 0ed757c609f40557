"""Where goldens live and which test owns one: ``<dir>/<module>/<test>[.<name>].npz``.

Standard library only: the plugin needs it at start-up (collection checks, unused goldens).
Storage sits behind ``Serializer``: a new format is a subclass with ``extension``, ``dump`` and
``load`` (syrupy's extensions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pytest_xai import defaults
from pytest_xai.paths import safe_name

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation


class Serializer(ABC):
    """Reads and writes one golden explanation."""

    extension: ClassVar[str]

    @abstractmethod
    def dump(self, explanation: Explanation, path: Path) -> None:
        """Write ``explanation`` to ``path`` atomically."""

    @abstractmethod
    def load(self, path: Path) -> Explanation:
        """Read an explanation; raise SnapshotError if the file is not a valid golden."""


class NpzSerializer(Serializer):
    """Compressed .npz, loaded with ``allow_pickle=False``, known members only."""

    extension = ".npz"

    def dump(self, explanation: Explanation, path: Path) -> None:
        explanation.save(path)

    def load(self, path: Path) -> Explanation:
        from pytest_xai.explanation import Explanation

        return Explanation.load(path)


@dataclass
class SnapshotStore:
    """Locates goldens beside the tests: ``<dir>/<module>/<test>[params][.<name>].npz``."""

    dirname: str = defaults.DEFAULT_SNAPSHOT_DIR
    serializer: Serializer = field(default_factory=NpzSerializer)

    def module_dir(self, test_file: Path) -> Path:
        return test_file.parent / self.dirname / test_file.stem

    def path_for(self, test_file: Path, test_name: str, name: str | None) -> Path:
        stem = safe_name(test_name) + ("" if name is None else "." + safe_name(name))
        return self.module_dir(test_file) / (stem + self.serializer.extension)

    def goldens(self, test_file: Path) -> list[Path]:
        folder = self.module_dir(test_file)
        return sorted(folder.glob("*" + self.serializer.extension)) if folder.is_dir() else []

    def owner(self, golden: Path, test_names: list[str]) -> str | None:
        """The test (by name) a golden file belongs to, if any; the longest match wins."""
        stem = golden.name[: -len(self.serializer.extension)]
        best = None
        for test in test_names:
            safe = safe_name(test)
            if (stem == safe or stem.startswith(safe + ".")) and (best is None or len(test) > len(best)):
                best = test
        return best

    def write(self, explanation: Explanation, path: Path) -> None:
        """Write the golden and its .png preview (image | overlay | lime boundaries), drawn
        from the golden as stored, so a preview drawn again later is the same picture."""
        self.serializer.dump(explanation, path)
        self.write_preview(path)

    def write_preview(self, path: Path) -> None:
        """Draw the .png preview of the golden at ``path``."""
        from pytest_xai import render
        from pytest_xai.goldens.previews import preview

        render.save_png(preview(self.serializer.load(path)), path.with_suffix(".png"))

    def delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        path.with_suffix(".png").unlink(missing_ok=True)

