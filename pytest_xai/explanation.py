"""The Explanation result: heatmap, weights, provenance; saved and loaded as pickle-free .npz."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xai import render
from pytest_xai._atomic import atomic_path
from pytest_xai.errors import SnapshotError, XaiValueError

FORMAT_VERSION = 1


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

    def __repr__(self) -> str:
        h, w = self.heatmap.shape
        m = "" if self.weights is None else f", M={len(self.weights)}"
        return (
            f"Explanation(method={self.method!r}, target={self.target_name!r}, "
            f"p={self.probability:.3f}, output={self.output!r}, {h}×{w}{m}, seed={self.seed})"
        )

    @property
    def positive(self) -> np.ndarray:
        """The positive part of the heatmap (evidence for the target), float64."""
        return np.clip(self.heatmap.astype(np.float64), 0.0, None)

    def overlay(self, image: Any = None, scale: float | None = None) -> np.ndarray:
        """RGB uint8 picture of the heatmap over the greyed ``image``: red for, blue against."""
        from pytest_xai.images import as_image

        if image is None:
            image = self.image
        array = None if image is None else as_image(image, "image")
        if array is not None and array.shape[:2] != self.heatmap.shape:
            raise XaiValueError(
                f"image is {array.shape[0]}×{array.shape[1]} but the explanation is "
                f"{self.heatmap.shape[0]}×{self.heatmap.shape[1]}; pass the explained image"
            )
        return render.overlay(self.heatmap, array, scale)

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
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise XaiValueError(f"num_features={num_features!r} must be a positive int")
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
        header = {
            "format": "pytest_xai.explanation",
            "version": FORMAT_VERSION,
            "target": self.target,
            "target_name": self.target_name,
            "probability": self.probability,
            "method": self.method,
            "output": self.output,
            "seed": self.seed,
            "samples": self.samples,
            "score": self.score,
            "intercept": self.intercept,
            "local_prediction": self.local_prediction,
            "params": self.params,
            "meta": self.meta,
        }
        arrays = {
            "heatmap": self.heatmap.astype(np.float32),
            "header": np.array(json.dumps(header)),
        }
        if self.weights is not None:
            arrays["weights"] = self.weights.astype(np.float64)
        if self.segments is not None:
            arrays["segments"] = self.segments.astype(np.int32)
        if self.image is not None:
            arrays["image"] = render.to_uint8(self.image)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "<arrays>") -> Explanation:
        """Rebuild an Explanation from ``to_arrays`` output, validating everything."""
        if "header" not in arrays or "heatmap" not in arrays:
            raise SnapshotError(
                f"{source} is not a pytest_xai file (no header/heatmap); delete it and regenerate"
            )
        try:
            header = json.loads(str(arrays["header"]))
        except (json.JSONDecodeError, TypeError) as e:
            raise SnapshotError(
                f"{source} has an unreadable header ({e}); delete it and regenerate"
            ) from e
        if not isinstance(header, dict) or header.get("format") != "pytest_xai.explanation":
            raise SnapshotError(
                f"{source} is not a pytest_xai explanation file; delete it and regenerate"
            )
        version = header.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise SnapshotError(
                f"{source} was written by serializer version {version!r}, newer than this "
                f"pytest_xai's ({FORMAT_VERSION}); upgrade pytest_xai or regenerate the file"
            )
        heatmap = np.asarray(arrays["heatmap"], dtype=np.float32)
        image = arrays.get("image")
        if image is not None and (image.dtype != np.uint8 or image.shape != (*heatmap.shape, 3)):
            raise SnapshotError(f"{source} has an image that does not match its heatmap; regenerate it")
        weights = arrays.get("weights")
        segments = arrays.get("segments")
        if heatmap.ndim != 2 or (segments is not None and segments.shape != heatmap.shape):
            raise SnapshotError(f"{source} has inconsistent array shapes; delete it and regenerate")
        if (
            weights is not None
            and segments is not None
            and (segments.size and (segments.min() < 0 or segments.max() >= len(weights)))
        ):
            raise SnapshotError(
                f"{source} has segments that do not match its weights; regenerate it"
            )
        try:
            return cls(
                heatmap=heatmap,
                weights=None if weights is None else np.asarray(weights, dtype=np.float64),
                segments=None if segments is None else np.asarray(segments, dtype=np.int64),
                target=int(header["target"]),
                target_name=str(header["target_name"]),
                probability=float(header["probability"]),
                method=str(header["method"]),
                output=str(header["output"]),
                seed=int(header["seed"]),
                samples=int(header["samples"]),
                score=header.get("score"),
                intercept=header.get("intercept"),
                local_prediction=header.get("local_prediction"),
                params=dict(header.get("params") or {}),
                meta=dict(header.get("meta") or {}),
                image=None if image is None else image.astype(np.float32) / 255.0,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SnapshotError(f"{source} has a malformed header ({e!r}); regenerate it") from e

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as .npz (no pickle), atomically. Returns the path written."""
        target = Path(path)
        if target.suffix != ".npz":
            raise XaiValueError(f"path={str(path)!r} must end in .npz")
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **self.to_arrays())  # type: ignore[arg-type]
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Explanation:
        """Load an explanation saved with ``save``; never unpickles anything."""
        return cls.from_arrays(read_npz(Path(path)), source=str(path))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an .npz with ``allow_pickle=False``; corrupt files raise SnapshotError."""
    import zipfile

    if not path.is_file():
        raise SnapshotError(f"{str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise SnapshotError(
            f"{str(path)!r} is corrupt, truncated or not an .npz ({type(e).__name__}: {e}); "
            "delete it and regenerate it (pytest --xai-update)"
        ) from e
