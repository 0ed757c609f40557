"""The ``xai_snapshot`` fixture: compare an explanation with its golden, record the verdict,
queue the write it asks for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xai import defaults
from pytest_xai._util.paths import rel_path, safe_name
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.goldens.judge import judge
from pytest_xai.goldens.modes import Bounds
from pytest_xai.pictures.encode import file_b64
from pytest_xai.plugin.collection import golden_test_name
from pytest_xai.plugin.stash_keys import explained_key, snapshot_key

if TYPE_CHECKING:
    import pytest

    from pytest_xai.checks.recorder import Recorder
    from pytest_xai.plugin.goldens import GoldenLifecycle
    from pytest_xai.plugin.session import XaiSession
    from pytest_xai.records import GoldenVerdict


class SnapshotFixture:
    """``xai_snapshot.assert_match(explanation, name=None, *, mode=None, max_shift=None,
    min_spearman=None, min_top_k_iou=None)``.

    Compares the explanation with this test's golden. ``mode="release"`` (default; ini
    ``xai_golden_mode``): same target class and the positive evidence moved at most
    ``max_shift`` of the image diagonal. ``mode="strict"``: same target class, Spearman ≥
    ``min_spearman`` and top-20% IoU ≥ ``min_top_k_iou``. Goldens are written only with
    ``--xai-update`` and never in CI mode.
    """

    def __init__(
        self, xai: XaiSession, goldens: GoldenLifecycle, item: pytest.Item, recorder: Recorder | None
    ) -> None:
        self.xai = xai
        self.goldens = goldens
        self.item = item
        self.recorder = recorder
        self.used: set[Path] = set()
        self.matched: set[int] = set()  # ids of the explanations assert_match judged

    def path(self, name: str | None = None) -> Path:
        """Where the golden for ``name`` lives."""
        return self.xai.store.path_for(Path(self.item.path), golden_test_name(self.item), name)

    def assert_match(
        self, explanation: Any, name: str | None = None, *, mode: str | None = None,
        max_shift: float | None = None, min_spearman: float | None = None, min_top_k_iou: float | None = None,
        **mode_bounds: float,
    ) -> None:
        """Fail unless ``explanation`` matches its golden (see the class docstring).

        Parameters
        ----------
        explanation: the Explanation to compare.
        name: tells several goldens of one test apart (``None``: the test's own golden).
        mode: "release" or "strict"; default ini ``xai_golden_mode``, else "release".
        max_shift: release mode's bound on the evidence shift, in [0, 1] of the diagonal.
        min_spearman, min_top_k_iou: strict mode's bounds.
        mode_bounds: the bounds of a mode added with ``goldens.modes.register_golden_mode``.

        The ``GoldenVerdict`` goes into the test's record; nothing is returned, so a doctest
        that calls ``assert_match`` prints nothing.
        """
        __tracebackhide__ = True
        verdict = self.check(explanation, name, mode=mode, max_shift=max_shift, min_spearman=min_spearman,
                             min_top_k_iou=min_top_k_iou, **mode_bounds)
        self.matched.add(id(explanation))
        if verdict.failed:
            raise AssertionError(verdict.message)

    def check(self, explanation: Any, name: str | None = None, *, mode: str | None = None,
              **bounds: float | None) -> GoldenVerdict:
        """Judge ``explanation`` against its golden, record the verdict and queue its write;
        never raises on a failed verdict (``assert_match`` does)."""
        from pytest_xai.explanation import Explanation

        if not isinstance(explanation, Explanation):
            raise XaiTypeError(
                f"explanation of type {type(explanation).__name__} is not an Explanation; pass explain(...)'s result"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise XaiValueError(f"name={name!r} must be a non-empty string or None")
        if explanation.heatmap.size > defaults.GOLDEN_MAX_PIXELS:
            raise XaiValueError(
                f"explanation is {explanation.heatmap.shape[0]}×{explanation.heatmap.shape[1]}, more than "
                f"a golden holds ({defaults.GOLDEN_MAX_PIXELS:,} pixels); explain a downscaled image"
            )
        settings = self.xai.settings
        resolved = Bounds.resolve(settings.golden_bounds, method=explanation.method, mode=mode, **bounds)
        path = self.path(name)
        if path in self.used:
            raise XaiValueError(
                f"assert_match used golden {path.name} twice in one test; give each call its own name="
            )
        self.used.add(path)
        owner = Path(rel_path(Path(self.item.path), self.item.config.rootpath)).as_posix()
        verdict = judge(
            self.xai.store, path, explanation, resolved, settings.write_policy, rootdir=self.item.config.rootpath,
            label=self.item.name + ("" if name is None else f" ({name})"),
            pictures_dir=settings.results_dir / safe_name(self.item.nodeid), owner=owner,
        )
        self._record(verdict)
        if verdict.state in ("written", "updated"):  # the golden says which test file owns it
            self.goldens.queue_write(path, self._owned(explanation, owner), verdict.state)
        elif verdict.state == "passed" and settings.write_policy.can_write and not path.with_suffix(".png").exists():
            self.goldens.queue_write(path, None, "preview")
        return verdict

    def _owned(self, explanation: Any, owner: str) -> Any:
        """The explanation as its golden stores it: the owning test file, what the preview's
        caption and region outlines need (test, date, the image's named regions) and the model's
        reliance on each region (``goldens.reliance``)."""
        from pytest_xai.goldens import reliance
        from pytest_xai.goldens.previews import caption_meta

        meta = {**explanation.meta, "test_file": owner,
                **caption_meta(explanation, golden_test_name(self.item), self.regions(explanation))}
        owned = replace(explanation, meta=meta)
        owned.meta.update(reliance.record(owned))  # how much the model relies on each named region
        return owned

    def regions(self, explanation: Any) -> dict[str, Any]:
        """The named regions of the image this test explained into ``explanation``."""
        for original, exp in self.item.stash.get(explained_key, []):
            if exp is explanation:
                return dict(getattr(original, "regions", {}) or {})
        return {}

    def _record(self, verdict: GoldenVerdict) -> None:
        """The verdict into the test record, its pictures inlined for the HTML report; the
        record turns it into JUnit properties."""
        if self.recorder is None:
            return
        for key, field in (("expected", "expected_png"), ("actual", "actual_png"), ("difference", "diff_png")):
            if key in verdict.pictures:
                setattr(verdict, field, file_b64(Path(verdict.pictures[key])))
        self.recorder.add_golden(verdict)




def snapshot_for(
    xai: XaiSession, goldens: GoldenLifecycle, item: pytest.Item, recorder: Recorder | None
) -> SnapshotFixture:
    """The test's one ``SnapshotFixture``: ``xai_snapshot`` and the golden=True marker share it,
    so a golden is judged once."""
    found = item.stash.get(snapshot_key, None)
    if found is None:
        found = item.stash[snapshot_key] = SnapshotFixture(xai, goldens, item, recorder)
    return found
