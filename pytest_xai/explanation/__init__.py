"""The Explanation result: heatmap, weights, provenance; saved and loaded as pickle-free .npz."""

from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai._util.atomic import atomic_path
from pytest_xai._util.jsonable import JSON, plain
from pytest_xai._util.validation import positive_int
from pytest_xai.errors import SnapshotError, XaiTypeError, XaiValueError
from pytest_xai.explanation.frozen import (
    read_only,
    read_only_array,
    writable,
)
from pytest_xai.explanation.npz import (
    FORMAT,
    FORMAT_VERSION,
    MEMBERS,
    check_members,
    checked_arrays,
    checked_error,
    parse_header,
    read_npz,
)
from pytest_xai.pictures import render


@dataclass(eq=False)
class Explanation:
    """An attribution of one image's target output.

    Attributes
    ----------
    heatmap: H×W float32, signed. Superpixel weights painted on their pixels (lime,
        kernel_shap) or channel-summed pixel attributions (gradient_shap).
    weights: (M,) float64 superpixel weights, or None for pixel-level methods.
    segments: H×W int64 labels 0..M-1, or None for pixel-level methods.
    target, target_name: the explained class.
    probability: softmax probability of the target on the unperturbed image.
    method, output, seed, samples: how it was computed.
    score: weighted R² of the surrogate (None for gradient_shap).
    intercept, local_prediction: the surrogate's intercept and its prediction at the image.
    params: everything needed to reproduce it (method, output, seed, samples, segmentation,
        n_segments, baseline, ...).
    meta: provenance (pytest_xai and torch versions, device, model fingerprint, seconds).
    image: the explained image (H×W×3 float32), kept for pictures; stored as uint8.
    error_basis: the sampling error, (K, M) over the weights or (K, H, W) over the heatmap:
        the estimate's error is about ``z @ error_basis`` with z ~ N(0, I_K); None when not
        estimated. ``stderr`` is the standard error per pixel.
    outputs: samples="auto" (superpixel methods): the model output of every coalition drawn,
        which lets a run loaded from the cache draw more rounds (``engine.resume``; a
        GradientSHAP run resumes from its heatmap and error basis alone).
    source: the classifier that computed it in this process, which ``confirm=True`` intervenes
        on; never stored (None when loaded).
    """

    heatmap: np.ndarray
    weights: np.ndarray | None
    segments: np.ndarray | None
    target: int
    target_name: str
    probability: float
    method: str
    output: str
    seed: int
    samples: int
    score: float | None = None
    intercept: float | None = None
    local_prediction: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = field(default=None, repr=False)
    error_basis: np.ndarray | None = field(default=None, repr=False)
    outputs: np.ndarray | None = field(default=None, repr=False)
    source: Any = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        h, w = self.heatmap.shape
        m = "" if self.weights is None else f", M={len(self.weights)}"
        return (
            f"Explanation(method={self.method!r}, target={self.target_name!r}, "
            f"p={self.probability:.3f}, output={self.output!r}, {h}×{w}{m}, seed={self.seed})"
        )

    # -- read-only once shared --------------------------------------------------------------
    def lock(self) -> Explanation:
        """Make this explanation read-only, in place, and return it.

        Its arrays (heatmap, weights, segments, image) become read-only copies that cannot be
        made writeable again, ``params`` and ``meta`` read-only mappings, and rebinding an
        attribute raises ``FrozenInstanceError``. The explain fixture returns locked
        explanations, because every later test that asks for the same one shares it;
        ``copy()`` (or ``copy.deepcopy``) gives a writable one.
        """
        if self.locked:
            return self
        for name in MEMBERS_ARRAYS:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, name, read_only_array(value))
        object.__setattr__(self, "params", read_only(self.params))
        object.__setattr__(self, "meta", read_only(self.meta))
        object.__setattr__(self, "_locked", True)
        return self

    @property
    def locked(self) -> bool:
        """Whether ``lock()`` made this explanation read-only."""
        return bool(self.__dict__.get("_locked", False))

    def copy(self) -> Explanation:
        """A writable deep copy (of a locked explanation too)."""
        def own(array: np.ndarray | None) -> Any:
            return None if array is None else np.array(array)

        return replace(
            self, heatmap=own(self.heatmap), weights=own(self.weights), segments=own(self.segments),
            image=own(self.image), params=writable(self.params), meta=writable(self.meta),
            error_basis=own(self.error_basis), outputs=own(self.outputs),
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> Explanation:
        return self.copy()

    def computed_by(self, classifier: Any) -> Explanation:
        """Note the classifier that computed this explanation (``source``) and return it."""
        object.__setattr__(self, "source", classifier)  # allowed on a locked one: not its content
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        if self.locked:
            raise FrozenInstanceError(
                f"cannot set {name!r}: this explanation is shared read-only by the explain fixture; "
                "change a copy (exp.copy())"
            )
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if self.locked:
            raise FrozenInstanceError(f"cannot delete {name!r}: this explanation is read-only; use exp.copy()")
        super().__delattr__(name)

    # -- uncertainty and growth ---------------------------------------------------------------
    @property
    def stderr(self) -> np.ndarray | None:
        """The standard error of each pixel's attribution (H×W float64), or None when the
        explanation carries no error estimate."""
        if self.error_basis is None:
            return None
        se = np.sqrt(np.square(np.asarray(self.error_basis, dtype=np.float64)).sum(0))
        return se[self.segments] if se.ndim == 1 and self.segments is not None else se

    @property
    def relative_error(self) -> float | None:
        """Σ standard error / Σ |attribution| over the pixels (what ``samples="auto"`` stops
        on), or None without an error estimate."""
        stderr = self.stderr
        if stderr is None:
            return None
        error, mass = float(stderr.sum()), float(np.abs(self.heatmap).sum())
        return 0.0 if error == 0 else (error / mass if mass > 0 else math.inf)

    @property
    def can_grow(self) -> bool:
        """Whether more rounds can be drawn (``samples="auto"``, below its cap, in this session)."""
        cap = self.params.get("max_samples")
        return self.__dict__.get("_grower") is not None and isinstance(cap, int) and self.samples < cap

    def grow(self, samples: int, asked_by: str | None = None) -> bool:
        """Draw more rounds, up to at least ``samples`` (at most the cap), and update this
        explanation in place, locked or not: every check reading it shares the rounds.
        ``asked_by`` names the check that asked (kept in ``meta["asked_by"]``). False when it
        cannot grow (a fixed budget, the cap reached, or loaded without its model)."""
        if not self.can_grow:
            return False
        grown = self.__dict__["_grower"](samples)
        if grown is None:
            return False
        meta = writable(self.meta)
        meta["evaluations"] = grown.evaluations
        meta["rounds"] = grown.rounds
        meta["asked_by"] = [*meta.get("asked_by", []), *([asked_by] if asked_by else [])]
        updates = {
            "heatmap": np.asarray(grown.heatmap, dtype=np.float32), "weights": grown.weights,
            "error_basis": grown.error_basis, "samples": grown.evaluations, "score": grown.score,
            "intercept": grown.intercept, "local_prediction": grown.local_prediction, "meta": meta,
        }
        for name, value in updates.items():
            if self.locked:
                value = read_only(value)
            object.__setattr__(self, name, value)
        for listener in self.__dict__.get("_on_grow", ()):
            listener(self)
        return True

    def on_grow(self, listener: Any) -> None:
        """Call ``listener(self)`` after each ``grow`` (the cache stores the longer run)."""
        self.__dict__.setdefault("_on_grow", []).append(listener)

    @property
    def positive(self) -> np.ndarray:
        """The positive part of the heatmap (evidence for the target), float64."""
        return np.clip(self.heatmap.astype(np.float64), 0.0, None)

    def overlay(self, image: Any = None, scale: float | None = None, smooth: bool = True) -> np.ndarray:
        """RGB uint8 picture of the heatmap over the greyed ``image``: red for, blue against.

        ``smooth`` draws pixel-level maps Gaussian-smoothed so a person can see where the mass
        is (``display.display_heatmap``); the stored heatmap stays exact. Superpixel maps are
        drawn as they are either way.
        """
        from pytest_xai.images import as_image
        from pytest_xai.pictures.display import display_heatmap

        if image is None:
            image = self.image
        array = None if image is None else as_image(image, "image")
        if array is not None and array.shape[:2] != self.heatmap.shape:
            raise XaiValueError(
                f"image is {array.shape[0]}×{array.shape[1]} but the explanation is "
                f"{self.heatmap.shape[0]}×{self.heatmap.shape[1]}; pass the explained image"
            )
        return render.overlay(display_heatmap(self) if smooth else self.heatmap, array, scale)

    def boundaries(
        self, image: Any = None, num_features: int = 5, positive_only: bool = True
    ) -> np.ndarray:
        """lime's ``get_image_and_mask`` + ``mark_boundaries`` picture (RGB uint8).

        Only for superpixel methods (lime, kernel_shap); use ``overlay`` for gradient_shap.
        """
        from pytest_xai.images import as_image

        if self.weights is None or self.segments is None:
            raise XaiValueError(
                f"boundaries() needs superpixel weights but method={self.method!r} is pixel-level; "
                "use overlay() instead"
            )

        num_features = positive_int(num_features, "num_features", "use e.g. 5")
        if image is None and self.image is None:
            raise XaiValueError("boundaries() needs the image; pass image=")
        array = as_image(self.image if image is None else image, "image")
        if array.shape[:2] != self.segments.shape:
            raise XaiValueError(
                f"image is {array.shape[0]}×{array.shape[1]} but the segments are "
                f"{self.segments.shape[0]}×{self.segments.shape[1]}; pass the explained image"
            )
        return render.boundaries_picture(
            array, self.segments, self.weights, num_features, positive_only
        )

    # -- serialisation -------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for a pickle-free .npz: numeric arrays plus one JSON string of metadata."""
        header = {"format": FORMAT, "version": FORMAT_VERSION}
        header.update({f.name: plain(getattr(self, f.name), json=True) for f in _header_fields()})
        try:
            text = json.dumps(header, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise XaiTypeError(
                f"the explanation's params/meta hold a value JSON cannot store ({e}); keep them "
                "to numbers, strings, lists and dicts with string keys"
            ) from e
        arrays = {"heatmap": np.asarray(self.heatmap).astype(np.float32), "header": np.array(text)}
        if self.weights is not None:
            arrays["weights"] = np.asarray(self.weights).astype(np.float64)
        if self.segments is not None:
            arrays["segments"] = np.asarray(self.segments).astype(np.int32)
        if self.image is not None:
            arrays["image"] = render.to_uint8(self.image)
        if self.error_basis is not None:
            name = "heatmap_error" if np.ndim(self.error_basis) == 3 else "weights_error"
            arrays[name] = np.asarray(self.error_basis).astype(np.float32)
        if self.outputs is not None:
            arrays["outputs"] = np.asarray(self.outputs).astype(np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "<arrays>") -> Explanation:
        """Rebuild an Explanation from ``to_arrays`` output, validating everything."""
        if "header" not in arrays or "heatmap" not in arrays:
            raise SnapshotError(
                f"{source} is not a pytest_xai file (no header/heatmap)", fix="delete it and regenerate"
            )
        header = parse_header(arrays["header"], source)
        heatmap, weights, segments, image = checked_arrays(arrays, source)
        error_basis = checked_error(arrays, heatmap, weights, source)
        values: JSON = {}
        for f in _header_fields():
            if f.name not in header:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise SnapshotError(f"{source} has no {f.name!r} in its header", fix="regenerate it")
                continue
            try:
                values[f.name] = _CONVERTERS[str(f.type)](header[f.name])
            except (TypeError, ValueError) as e:
                raise SnapshotError(
                    f"{source} has a malformed header: {f.name}={repr(header[f.name])[:80]} ({e})", fix="regenerate it"
                ) from e
        return cls(
            heatmap=heatmap,
            weights=weights,
            segments=segments,
            image=None if image is None else image.astype(np.float32) / 255.0,
            error_basis=error_basis,
            outputs=None if "outputs" not in arrays else np.asarray(arrays["outputs"], dtype=np.float64),
            **values,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as .npz (no pickle), atomically. Returns the path written."""
        target = Path(path)
        if target.suffix != ".npz":
            raise XaiValueError(f"path={str(path)!r} must end in .npz")
        arrays = self.to_arrays()
        _check_loadable(self, arrays, str(path))
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Explanation:
        """Load an explanation saved with ``save``; never unpickles anything."""
        return cls.from_arrays(read_npz(Path(path)), source=str(path))


MEMBERS_ARRAYS = ("heatmap", "weights", "segments", "image", "error_basis", "outputs")


def _header_fields() -> list[Field[Any]]:
    """The Explanation fields stored in the JSON header: all but the arrays."""
    return [
        f for f in fields(Explanation) if f.name not in MEMBERS and f.name not in MEMBERS_ARRAYS and f.name != "source"
    ]


def _check_loadable(exp: Explanation, arrays: dict[str, np.ndarray], path: str) -> None:
    """Refuse, before anything is written, an explanation that ``load`` would reject."""
    where = f"cannot save {path!r}:"
    check_members(arrays, where)
    for f in _header_fields():
        value = plain(getattr(exp, f.name))
        if isinstance(value, float) and not math.isfinite(value) and "None" not in str(f.type):
            raise XaiValueError(
                f"{where} {f.name}={value!r} is not finite, which load() refuses; store a finite "
                "number"
            )
    try:
        Explanation.from_arrays(arrays, source="the explanation")
    except SnapshotError as e:  # anything else load() would refuse
        message = e.problem
        raise XaiValueError(f"{where} load() would refuse it: {message}") from e


def _strict(kind: type) -> Any:
    def convert(value: Any) -> Any:
        ok = (int, float) if kind is float else kind
        if isinstance(value, bool) or not isinstance(value, ok):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return kind(value)

    return convert


def _optional(convert: Any) -> Any:
    return lambda value: None if value is None else convert(value)


# header field annotation (a string: ``from __future__ import annotations``) -> converter
_CONVERTERS: dict[str, Any] = {
    "int": _strict(int),
    "str": _strict(str),
    "float": _strict(float),
    "float | None": _optional(_strict(float)),
    "dict[str, Any]": _strict(dict),
}


