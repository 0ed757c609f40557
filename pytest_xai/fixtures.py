"""What the plugin's fixtures hand to tests: image factory, cached explain, golden snapshots."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_xai import _record
from pytest_xai.errors import XaiTypeError, XaiValueError
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
