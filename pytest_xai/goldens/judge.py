"""The verdict on one golden: the missing / unreadable / owner / parameters-differ / compare /
update flow, run once for every golden (pytest-regressions' perform_regression_check).

``judge`` returns a ``GoldenVerdict``; the fixture records it, queues the write it asks for and
raises with its message. No golden is written or deleted here: the only files are a drift's
expected / actual / difference pictures, and only when ``pictures_dir`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai._util.paths import rel_path
from pytest_xai.errors import SnapshotError
from pytest_xai.goldens.describe import UPDATE_HINT, describe, determinism_note
from pytest_xai.goldens.modes import GOLDEN_MODES, Bounds, Comparison, compare
from pytest_xai.records import GoldenVerdict

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.explanation import Explanation
    from pytest_xai.goldens.store import SnapshotStore

@dataclass(frozen=True)
class WritePolicy:
    """What a verdict may ask to write: ``write`` missing goldens, ``update`` changed or unusable
    ones (and delete unused ones), ``force`` rewrite passing ones too (a re-baseline).
    ``ci_reason`` says why nothing is written (CI mode) and turns the three off;
    ``snapshot_dir`` is the golden folder, named in messages."""

    write: bool = False
    update: bool = False
    force: bool = False
    ci_reason: str = ""
    snapshot_dir: str = "__xai_snapshots__"

    @property
    def can_write(self) -> bool:
        return self.write and not self.ci_reason

    @property
    def can_update(self) -> bool:
        return self.update and not self.ci_reason

    @property
    def can_force(self) -> bool:
        return self.force and not self.ci_reason


COMPARED_PARAMS = ("method", "output", "samples", "segmentation", "n_segments", "baseline", "local_smoothing")


# -- comparing a golden with a new explanation ---------------------------------------------------


def params_mismatch(golden: Explanation, actual: Explanation) -> list[str]:
    """The reproduction parameters that differ between a golden and a new explanation.

    Precision is not among them: a golden made at another precision is compared like one made
    on another device (see ``determinism_note``), nor the budget when either side is
    ``samples="auto"``: a fixed and an adaptive budget estimate the same attribution.
    """
    out = []
    for key in COMPARED_PARAMS:
        g, a = golden.params.get(key), actual.params.get(key)
        if key == "samples" and "auto" in (g, a):
            continue  # a fixed and an adaptive budget estimate the same attribution
        if isinstance(g, list):
            g = tuple(g)
        if isinstance(a, list):
            a = tuple(a)
        if g != a:
            out.append(f"{key}: golden {g!r}, now {a!r}")
    if golden.heatmap.shape != actual.heatmap.shape:
        out.append(f"image size: golden {golden.heatmap.shape}, now {actual.heatmap.shape}")
    return out



def image_mismatch(golden: Explanation, actual: Explanation) -> str:
    """The two image hashes when the golden recorded the hash of another input image, else ""."""
    import numpy as np

    from pytest_xai.engine.provenance import array_sha256, image_changed

    if actual.image is None or not image_changed(golden.meta, actual.image):
        return ""
    now = array_sha256(np.asarray(actual.image, dtype=np.float32))
    return f"sha256 {str(golden.meta.get('image_sha256'))[:12]}, now {now[:12]}"


def judge(
    store: SnapshotStore, path: Path, explanation: Explanation, bounds: Bounds, policy: WritePolicy, *,
    rootdir: Path | None = None, label: str | None = None, pictures_dir: Path | None = None,
    owner: str | None = None,
) -> GoldenVerdict:
    """Judge ``explanation`` against the golden at ``path``: one verdict for the whole
    missing / unreadable / parameters-differ / compare / update flow.

    ``policy`` decides what may be written (missing goldens; changed or unusable ones); no
    golden is written here: a "written" or "updated" verdict asks the caller to queue the write.
    ``rootdir`` makes ``name`` relative, ``label`` names the test in messages, and the expected /
    actual / difference pictures of a drift go to ``pictures_dir`` (none when it is None).
    ``owner`` is the test file (relative to the rootdir) asking; a golden recorded by another
    test file sharing the folder is never compared or rewritten.
    """
    return _Judgement(store, path, explanation, bounds, policy, rootdir, label, pictures_dir, owner).run()


@dataclass
class _Judgement:
    """One golden comparison in progress (the steps of ``judge``)."""

    store: SnapshotStore
    path: Path
    explanation: Explanation
    bounds: Bounds
    policy: WritePolicy
    rootdir: Path | None
    label: str | None
    pictures_dir: Path | None
    owner: str | None = None

    @property
    def name(self) -> str:
        path = Path(os.path.normpath(self.path))  # "b/../snaps/x.npz" reads as "snaps/x.npz"
        return rel_path(path, self.rootdir) if self.rootdir is not None else str(path)

    def verdict(self, state: str, reason: str | None, message: str, **extra: Any) -> GoldenVerdict:
        return GoldenVerdict(str(self.path), self.name, state, reason, self.bounds.mode,
                             bounds=self.bounds.as_dict(), message=message,
                             method=self.explanation.method, **extra)

    def run(self) -> GoldenVerdict:
        from pytest_xai.checks import metrics

        why = metrics.no_evidence(self.explanation)
        mode = GOLDEN_MODES[self.bounds.mode]
        if why and mode.refuses_silence(metrics.is_silent(self.explanation), bool(why)):
            # nothing to gate on: never written, updated or passed
            kept = "kept as it is" if self.path.exists() else "not written"
            return self.verdict("failed", "no_evidence", (
                f"golden {self.name} {kept}: the explanation has {why}\n"
                "  a golden of it would pass any model; explain what the model does read"
            ))
        if not self.path.exists():
            return self.missing()
        try:
            golden = self.store.serializer.load(self.path)
        except SnapshotError as e:
            return self.unusable("unreadable", f"golden {self.name} cannot be used: {e}")
        recorded = golden.meta.get("test_file")
        moved = self.rootdir is not None and not (self.rootdir / str(recorded)).exists()  # that file is gone
        if self.owner and isinstance(recorded, str) and recorded != self.owner and not moved:
            return self.verdict("failed", "owner", (
                f"golden {self.name} was recorded by {recorded}, not {self.owner}: the two test files "
                f"share one golden folder (xai_snapshot_dir={self.policy.snapshot_dir!r}); rename one "
                "of them or give each its own folder. Nothing was compared or written."
            ))
        other_image = image_mismatch(golden, self.explanation)
        if other_image:
            return self.unusable("image", (
                f"golden {self.name} was made from another input image ({other_image}): it explains "
                "another image, so nothing was compared\n"
                "  if the images were reordered or renamed, give each test back its own image; if this "
                "image was changed on purpose, re-record it: pytest --xai-update, then review the .png preview"
            ))
        differs = params_mismatch(golden, self.explanation)
        if differs:
            return self.unusable("params", (
                f"golden {self.name} was made with other parameters; comparing them would mean nothing:\n  "
                + "\n  ".join(differs)
                + "\n  fix: call explain with the golden's parameters, or run pytest --xai-update to re-record it"
            ))
        return self.compared(golden, compare(golden, self.explanation, self.bounds))

    def missing(self) -> GoldenVerdict:
        if self.policy.can_write:
            return self.verdict("written", "missing", f"golden {self.name} written: review and commit it")
        who = self.label or self.path.stem
        why = f" (CI mode, {self.policy.ci_reason}: nothing is written)" if self.policy.ci_reason else ""
        return self.verdict("failed", "missing", (
            f"no golden for {who} at {self.name}{why}\n"
            "  run pytest --xai-update to create it, then review and commit the .npz and .png"
        ))

    def unusable(self, reason: str, message: str) -> GoldenVerdict:
        """A golden that cannot be compared: rewritten with --xai-update=all, else a failure."""
        if self.policy.can_update:
            return self.verdict("updated", reason, f"golden {self.name} re-recorded ({reason})")
        return self.verdict("failed", reason, message)

    def compared(self, golden: Explanation, result: Comparison) -> GoldenVerdict:
        verdict = self._compared(golden, result)
        verdict.intervals = result.intervals or None
        verdict.undecided = result.undecided or None
        return verdict

    def _compared(self, golden: Explanation, result: Comparison) -> GoldenVerdict:
        if result.passed and self.policy.can_force:  # a re-baseline: rewritten from this model
            return self.verdict("updated", "force", f"golden {self.name} re-recorded (--xai-update=force): "
                                f"{result.summary}", measures=result.measures, region=result.region)
        if result.passed:
            summary = f"golden {self.name} matches ({self.bounds.mode} mode): {result.summary}"
            return self.verdict("passed", None, summary, measures=result.measures, region=result.region)
        if self.policy.can_update:
            return self.verdict("updated", result.reason, f"golden {self.name} updated: {result.summary}",
                                measures=result.measures, region=result.region)
        pictures = {} if self.pictures_dir is None else self.pictures(golden, self.pictures_dir)
        lines = [
            f"explanation drifted from golden {self.name} ({self.bounds.mode} mode):",
            *result.findings,
            f"golden: {describe(golden)}",
            f"now:    {describe(self.explanation)}",
            determinism_note(golden, self.explanation),
            *(f"{k}: {v}" for k, v in pictures.items()),
            UPDATE_HINT,
        ]
        return self.verdict("failed", result.reason, "\n  ".join(lines), measures=result.measures,
                            pictures=pictures, region=result.region)

    def pictures(self, golden: Explanation, folder: Path) -> dict[str, str]:
        """Expected, actual and difference overlays (cells that gained mass outlined)."""
        from pytest_xai.checks import evidence
        from pytest_xai.goldens.previews import difference_picture
        from pytest_xai.pictures import render

        gained: np.ndarray | None = None
        if golden.heatmap.shape == self.explanation.heatmap.shape:
            gained, _ = evidence.gained_cells(golden, self.explanation)
        stem = self.path.stem
        drawn = {
            "expected": (golden.overlay(), "expected"),
            "actual": (self.explanation.overlay(), "actual"),
            "difference": (difference_picture(golden, self.explanation, gained), "diff"),
        }
        return {
            key: str(render.save_png(picture, folder / f"{stem}.{suffix}.png"))
            for key, (picture, suffix) in drawn.items()
        }


# -- the fixture ----------------------------------------------------------------------------------


