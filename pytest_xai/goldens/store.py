"""Where goldens live and which test owns one: ``<dir>/<module>/<test>[.<name>].npz``.

Standard library only: the plugin needs it at start-up (collection checks, unused goldens).
Storage sits behind ``Serializer``: a new format is a subclass with ``extension``, ``dump`` and
``load`` (syrupy's extensions).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pytest_xai import defaults
from pytest_xai._util.atomic import TEMP_SUFFIX
from pytest_xai._util.paths import safe_name

# The atomic write's temp file is ``.<name>.<host 8>-<pid ≤ 7>-<random 8>.xai-tmp``: a golden's
# file name leaves room for it within the 255 bytes a file name may take.
MAX_NAME_BYTES = 255 - (len("..") + 8 + 1 + 7 + 1 + 8 + len(TEMP_SUFFIX))
_HEADER_MEMBER_BYTES = 1 << 20  # a golden's JSON header member is far smaller than this

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

    @abstractmethod
    def is_golden(self, path: Path) -> bool:
        """Whether ``path`` is a file of this format (a golden, valid or not): other files
        with the extension are never counted unused and never deleted."""


class NpzSerializer(Serializer):
    """Compressed .npz, loaded with ``allow_pickle=False``, known members only."""

    extension = ".npz"

    def dump(self, explanation: Explanation, path: Path) -> None:
        import dataclasses

        basis = explanation.error_basis
        if basis is not None and len(basis.shape) == 3:
            # a pixel method's error basis is K heatmaps: a golden file in version control keeps
            # only the estimate (a superpixel basis, K × M, is small and kept)
            explanation = dataclasses.replace(explanation, error_basis=None)
        explanation.save(path)

    def load(self, path: Path) -> Explanation:
        from pytest_xai.explanation import Explanation

        return Explanation.load(path)

    def is_golden(self, path: Path) -> bool:
        """A zip with a ``header.npy`` member whose JSON names the pytest_xai format (read
        with the standard library; nothing else in the archive is read)."""
        from pytest_xai.explanation.npz import FORMAT

        try:
            with zipfile.ZipFile(path) as archive:
                info = archive.getinfo("header.npy")
                if info.file_size > _HEADER_MEMBER_BYTES:
                    return False
                data = archive.read(info)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
            return False
        return _npy_unicode(data).get("format") == FORMAT


@dataclass
class SnapshotStore:
    """Locates goldens beside the tests: ``<dir>/<module>/<test>[params][.<name>].npz``."""

    dirname: str = defaults.DEFAULT_SNAPSHOT_DIR
    serializer: Serializer = field(default_factory=NpzSerializer)

    def module_dir(self, test_file: Path) -> Path:
        return test_file.parent / self.dirname / test_file.stem

    def path_for(self, test_file: Path, test_name: str, name: str | None) -> Path:
        """The golden's path; a name over ``MAX_NAME_BYTES`` keeps its head (the whole test
        name, which tells the owner) and ends in a hash of the whole."""
        stem = safe_name(test_name) + ("" if name is None else "." + safe_name(name))
        room = MAX_NAME_BYTES - len(self.serializer.extension)
        if len(stem.encode()) > room:
            digest = hashlib.sha1(stem.encode()).hexdigest()[:12]
            stem = stem.encode()[: room - len(digest) - 1].decode(errors="ignore") + "-" + digest
        return self.module_dir(test_file) / (stem + self.serializer.extension)

    def goldens(self, test_file: Path) -> list[Path]:
        """The golden files in the test file's folder (folders named like one included, so the
        caller can warn about them); other files with the extension are left out."""
        folder = self.module_dir(test_file)
        found = sorted(folder.glob("*" + self.serializer.extension)) if folder.is_dir() else []
        return [p for p in found if not p.is_file() or self.serializer.is_golden(p)]

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
        from the golden as stored, so a preview drawn again later is the same picture. A golden
        it replaces adds an old | new | difference row (an unreadable one is not drawn).

        The preview goes first: a preview that cannot be drawn or written leaves the old
        golden and its preview as they were (never a golden on disk that the run counted
        failed), and a golden that cannot be written puts the old preview back."""
        from pytest_xai._util.atomic import atomic_path
        from pytest_xai.explanation import Explanation
        from pytest_xai.goldens.previews import preview
        from pytest_xai.pictures import render

        previous = None
        if path.is_file():
            with contextlib.suppress(Exception):
                previous = self.serializer.load(path)
        picture = preview(Explanation.from_arrays(explanation.to_arrays(), source=str(path)), previous)
        png = path.with_suffix(".png")
        old = png.read_bytes() if png.is_file() else None
        render.save_png(picture, png)
        try:
            self.serializer.dump(explanation, path)
        except BaseException:
            if old is None:
                png.unlink(missing_ok=True)
            else:
                with atomic_path(png) as tmp:
                    tmp.write_bytes(old)
            raise

    def write_preview(self, path: Path) -> None:
        """Draw the .png preview of the golden at ``path``."""
        from pytest_xai.goldens.previews import preview
        from pytest_xai.pictures import render

        render.save_png(preview(self.serializer.load(path)), path.with_suffix(".png"))

    def delete(self, path: Path) -> None:
        """Delete a golden, then its preview; an OSError names the file that stayed."""
        path.unlink(missing_ok=True)
        path.with_suffix(".png").unlink(missing_ok=True)


def _npy_unicode(data: bytes) -> dict[str, object]:
    """The JSON object in a 0-d unicode .npy (little-endian UTF-32), or {} if it is not one."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        return {}
    size, start = (int.from_bytes(data[8:10], "little"), 10) if data[6] == 1 else (int.from_bytes(data[8:12], "little"), 12)
    header = data[start : start + size].decode("latin1", errors="replace")
    if "'<U" not in header:
        return {}
    try:
        value = json.loads(data[start + size :].decode("utf-32-le").rstrip("\0"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}

