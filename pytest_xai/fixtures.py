"""What the plugin's fixtures hand to tests: image factory, cached explain, golden snapshots."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_xai import _record
from pytest_xai.errors import SnapshotError, XaiTypeError, XaiValueError
from pytest_xai.session import XaiSession

MARKER_KEYS = ("method", "samples", "seed", "n_segments", "output")


class ImageFactory:
    """``xai_image(name, size=None)``: load a test image and its ``<stem>.regions.json`` regions.

    Names resolve against ini ``xai_images_dir``, else against the test file's folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str, size: int | tuple[int, int] | None = None) -> Any:
        from pytest_xai.testimage import load_test_image

        if not isinstance(name, str):
            raise XaiTypeError(f"name={name!r} must be a file name such as 'cat.png'")
        path = self.folder / name
        if not path.is_file():
            raise XaiValueError(
                f"xai_image({name!r}): no file {path}; put the image there or set ini xai_images_dir"
            )
        return load_test_image(path, size)


def _digest(value: Any) -> Any:
    """A hashable, content-based stand-in for a parameter value (arrays by their bytes)."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float, str)) for v in value):
            return tuple(value)
        return tuple(_digest(v) for v in value)
    array = np.ascontiguousarray(np.asarray(value))
    return (array.dtype.str, array.shape, hashlib.sha1(array.tobytes()).hexdigest())


class ExplainFixture:
    """``explain(images, **kwargs)``: ``pytest_xai.explain`` with the model under test.

    Defaults come from the call, then the ``xai`` marker, then ``--xai-seed``/``--xai-samples``,
    then ini ``xai_method``/``xai_samples``. Results are cached for the session: the same
    model, image and parameters are computed once.
    """

    def __init__(self, xai: XaiSession, request: pytest.FixtureRequest, record: _record.TestRecord | None) -> None:
        self.xai = xai
        self.request = request
        self.record = record
        self.by_image: dict[str, dict[str, Any]] = {}  # image key -> {method: Explanation}
        marker = request.node.get_closest_marker("xai")
        self.marker: dict[str, Any] = dict(marker.kwargs) if marker else {}
        unknown = set(self.marker) - set(MARKER_KEYS)
        if unknown or (marker is not None and marker.args):
            raise XaiValueError(
                f"@pytest.mark.xai got {sorted(unknown) or list(marker.args if marker else [])}; "
                f"it takes keyword arguments {MARKER_KEYS}"
            )

    def defaults(self) -> dict[str, Any]:
        s = self.xai.settings
        out: dict[str, Any] = {}
        if s.method:
            out["method"] = s.method
        if s.samples is not None:
            out["samples"] = s.samples
        if s.seed is not None:
            out["seed"] = s.seed
        out.update(self.marker)
        return out

    def __call__(self, images: Any, *, classifier: Any = None, **kwargs: Any) -> Any:
        from pytest_xai.explainer import explain

        clf = classifier if classifier is not None else self.request.getfixturevalue("xai_model")
        params = {**self.defaults(), **kwargs}
        many = isinstance(images, (list, tuple))
        items = list(images) if many else [images]
        results = []
        for image in items:
            array = np.asarray(image, dtype=np.float32) if hasattr(image, "__array__") else image
            key = (
                getattr(clf, "fingerprint", id(clf)),
                str(getattr(clf, "device", "")),
                _digest(array),
                tuple(sorted((k, _digest(v)) for k, v in params.items())),
            )
            hit = self.xai.cache.get(key)
            if hit is None:
                started = time.perf_counter()
                hit = explain(clf, array, **params)
                if self.record is not None:
                    self.record.computed += 1
                    self.record.seconds += time.perf_counter() - started
                self.xai.cache[key] = hit
            elif self.record is not None:
                self.record.cached += 1
            self._note(image, hit)
            results.append(hit)
        return results if many else results[0]

    def _note(self, image: Any, exp: Any) -> None:
        """Add the explanation to the test's record: pictures and the mass in each named region."""
        from pytest_xai import metrics, render
        from pytest_xai.errors import RegionError

        if self.record is None or exp.image is None:
            return
        key = _record.image_key(exp.image)
        exps = self.by_image.setdefault(key, {})
        if exps.get(exp.method) is exp:
            return  # this test already recorded this very explanation
        exps[exp.method] = exp
        regions = getattr(image, "regions", {}) or {}
        if key not in self.record.images:
            self.record.images[key] = {
                "name": getattr(image, "name", key),
                "picture": _record.png_b64(render.to_uint8(exp.image)),
                "regions": sorted(regions),
            }
        mass = {}
        overlay = exp.overlay()
        for name, region in regions.items():
            try:
                mass[name] = round(metrics.relevance_mass(exp, region), 4)
                overlay = render.draw_outline(overlay, metrics.region_mask(exp, region))
            except RegionError:
                continue
        self.record.explanations.append({
            "image": key,
            "method": exp.method,
            "output": exp.output,
            "target": exp.target_name,
            "probability": exp.probability,
            "samples": exp.samples,
            "seconds": exp.meta.get("seconds"),
            "mass": mass,
            "overlay": _record.png_b64(overlay),
        })
        # between-method agreement, for an image explained with several methods
        rows = self.record.images[key].setdefault("agreement", {})
        methods = sorted(exps)
        for i, a in enumerate(methods):
            for b in methods[i + 1 :]:
                rows[f"{a} vs {b}"] = {
                    "spearman": round(metrics.spearman(exps[a], exps[b]), 4),
                    "top_k_iou": round(metrics.top_k_iou(exps[a], exps[b], 0.2), 4),
                }


class SnapshotFixture:
    """``xai_snapshot.assert_match(explanation, name=None, *, min_spearman=None, min_top_k_iou=None)``.

    Compares the explanation with this test's golden by rank and region agreement, plus the
    same target class. Goldens are written only with ``--xai-update`` and never in CI mode.
    """

    def __init__(self, xai: XaiSession, item: pytest.Item, record: _record.TestRecord | None) -> None:
        self.xai = xai
        self.item = item
        self.record = record
        self.used: set[Path] = set()

    def path(self, name: str | None = None) -> Path:
        """Where the golden for ``name`` lives."""
        return self.xai.store.path_for(Path(self.item.path), self.item.name, name)

    def assert_match(
        self, explanation: Any, name: str | None = None, *,
        min_spearman: float | None = None, min_top_k_iou: float | None = None,
    ) -> None:
        """Fail unless ``explanation`` agrees with its golden (see the class docstring)."""
        __tracebackhide__ = True
        from pytest_xai import snapshots
        from pytest_xai.explanation import Explanation

        if not isinstance(explanation, Explanation):
            raise XaiTypeError(
                f"explanation of type {type(explanation).__name__} is not an Explanation; pass explain(...)'s result"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise XaiValueError(f"name={name!r} must be a non-empty string or None")
        s_bound = self.xai.settings.min_spearman if min_spearman is None else float(min_spearman)
        i_bound = self.xai.settings.min_top_k_iou if min_top_k_iou is None else float(min_top_k_iou)
        path = self.path(name)
        if path in self.used:
            raise XaiValueError(
                f"assert_match used golden {path.name} twice in one test; give each call its own name="
            )
        self.used.add(path)
        settings = self.xai.settings
        rel = self._rel(path)

        def outcome(state: str, **extra: Any) -> None:
            if self.record is not None:
                self.record.goldens.append({"path": str(path), "name": rel, "state": state, **extra})

        def rewritten(**extra: Any) -> bool:
            """With --xai-update (=all, outside CI) queue the new golden instead of failing."""
            if not settings.can_update:
                return False
            self.xai.queue_write(path, explanation, "updated")
            outcome("updated", **extra)
            return True

        if not path.exists():
            if settings.can_write:
                self.xai.queue_write(path, explanation, "written")
                outcome("written")
                return
            outcome("failed", reason="missing")
            why = f" (CI mode, {settings.ci_reason}: nothing is written)" if settings.ci else ""
            raise AssertionError(
                f"no golden for {self.item.name}{'' if name is None else f' ({name})'} at {rel}{why}\n"
                "  run pytest --xai-update to create it, then review and commit the .npz and .png"
            )
        try:
            golden = self.xai.store.serializer.load(path)
        except SnapshotError as e:
            if rewritten():
                return
            outcome("failed", reason="unreadable")
            raise AssertionError(f"golden {rel} cannot be used: {e}") from None
        differs = snapshots.params_mismatch(golden, explanation)
        if differs:
            if rewritten():
                return
            outcome("failed", reason="params")
            raise AssertionError(
                f"golden {rel} was made with other parameters; comparing them would mean nothing:\n  "
                + "\n  ".join(differs)
                + "\n  fix: call explain with the golden's parameters, or run pytest --xai-update to re-record it"
            )
        result = snapshots.compare(golden, explanation, s_bound, i_bound)
        metrics_entry = {"spearman": result.spearman, "top_k_iou": result.top_k_iou,
                         "min_spearman": s_bound, "min_top_k_iou": i_bound}
        if self.record is not None:
            for key in ("spearman", "top_k_iou"):
                value = metrics_entry[key]
                if value is not None:
                    self.record.properties.append((f"xai_golden_{key}", round(value, 6)))
        if result.passed:
            outcome("passed", **metrics_entry)
            return
        if rewritten(**metrics_entry):
            return
        pictures = self._mismatch_pictures(golden, explanation, path)
        outcome("failed", reason="drift", pictures={k: str(v) for k, v in pictures.items()},
                expected_png=_record.png_b64(golden.overlay()),
                actual_png=_record.png_b64(explanation.overlay()),
                diff_png=_record.png_b64(snapshots.difference_picture(golden, explanation)),
                **metrics_entry)
        raise AssertionError(
            f"explanation drifted from golden {rel}:\n  "
            + "\n  ".join(result.reasons)
            + f"\n  golden: method={golden.method} target={golden.target_name!r} model={str(golden.meta.get('model'))[:12]}"
            + f"\n  now:    method={explanation.method} target={explanation.target_name!r} model={str(explanation.meta.get('model'))[:12]}"
            + f"\n  {snapshots.determinism_note(golden, explanation)}"
            + "".join(f"\n  {k}: {v}" for k, v in pictures.items())
            + "\n  if the change is intended: pytest --xai-update, then review the .png preview"
        )

    def _mismatch_pictures(self, golden: Any, actual: Any, path: Path) -> dict[str, Path]:
        from pytest_xai import render, snapshots

        folder = self.xai.settings.results_dir / _record.safe_name(self.item.nodeid)
        stem = path.stem
        return {
            "expected": render.save_png(golden.overlay(), folder / f"{stem}.expected.png"),
            "actual": render.save_png(actual.overlay(), folder / f"{stem}.actual.png"),
            "difference": render.save_png(snapshots.difference_picture(golden, actual), folder / f"{stem}.diff.png"),
        }

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.item.config.rootpath))
        except ValueError:
            return str(path)
