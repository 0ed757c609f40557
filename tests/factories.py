"""The test kit: explanations, images and bad-input tables, built by keyword in one place."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from pytest_xai import Explanation
from pytest_xai.errors import XaiError

# -- explanations -------------------------------------------------------------------------------


def explanation(
    heatmap: Any,
    *,
    weights: Any = None,
    segments: Any = None,
    target: int = 0,
    target_name: str = "0",
    probability: float = 1.0,
    method: str = "gradient_shap",
    output: str = "logit",
    seed: int = 0,
    samples: int = 10,
    **rest: Any,
) -> Explanation:
    """An Explanation of ``heatmap`` (made float32) with neutral provenance.

    Every other field of Explanation (score, params, meta, image, ...) can be given by keyword.
    """
    return Explanation(
        heatmap=np.asarray(heatmap, np.float32), weights=weights, segments=segments, target=target,
        target_name=target_name, probability=probability, method=method, output=output, seed=seed,
        samples=samples, **rest,
    )


def square(shape: tuple[int, ...], rows: slice = slice(10, 20), cols: slice | None = None,
           value: float = 1.0) -> np.ndarray:
    """A float32 heatmap of zeros over ``shape[:2]`` with ``value`` on one rectangle."""
    heat = np.zeros(shape[:2], np.float32)
    heat[rows, rows if cols is None else cols] = value
    return heat


def square_explanation(image: np.ndarray, **fields: Any) -> Explanation:
    """An explanation of ``image`` whose evidence is the square of rows and columns 10..19."""
    return explanation(square(image.shape), **fields)


def pictured(image: np.ndarray, **fields: Any) -> Explanation:
    """An explanation that carries ``image``, with its evidence on rows and columns 4..7 and
    probability 0.5; ``fields`` override any of it."""
    heatmap = fields.pop("heatmap", square(image.shape, slice(4, 8)))
    return explanation(heatmap, **{"probability": 0.5, "image": image, **fields})


# -- images -------------------------------------------------------------------------------------


def noise_image(size: int = 16, seed: int = 0) -> np.ndarray:
    """A seeded size×size RGB float32 image of uniform noise in [0, 1)."""
    return np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)


def circle_image(seed: int = 0) -> np.ndarray:
    """A seeded 64×64 circle of the example's shapes task."""
    from example_project.data import make_shape

    return make_shape(np.random.default_rng(seed), 0).image


# -- bad-input tables ---------------------------------------------------------------------------


class BadInput(NamedTuple):
    """One row of a bad-input table: a call on (img, clf) that must raise ``error`` saying ``fragment``."""

    case: str
    call: Callable[[np.ndarray, Any], object]
    error: type[BaseException]
    fragment: str


def refusals(table: Sequence[tuple[str, Callable[..., Any], type, str]]) -> pytest.MarkDecorator:
    """Parametrize a test over a bad-input table, one test per row, named by its case."""
    rows = [BadInput(*row) for row in table]
    return pytest.mark.parametrize("bad", rows, ids=[row.case for row in rows])


def assert_refused(bad: BadInput, img: np.ndarray, clf: Any) -> None:
    """The row's call raises its error, a pytest_xai error, with a message holding its fragment."""
    __tracebackhide__ = True
    with pytest.raises(bad.error) as info:
        bad.call(img, clf)
    assert isinstance(info.value, XaiError), f"{type(info.value).__name__} is not an XaiError"
    assert bad.fragment in str(info.value), str(info.value)


def judged(heatmap: Any, *, method: str = "gradient_shap", samples: int = 200, **params: Any) -> Explanation:
    """An explanation as a golden test judges it: a confident "circle", its reproduction parameters
    (``params`` adds to them), the provenance a run records and a grey 3-channel image."""
    heat = np.asarray(heatmap, np.float32)
    return explanation(
        heat, target_name="circle", probability=0.9, method=method, samples=samples,
        params={"method": method, "samples": samples, **params},
        meta={"device": "cpu", "torch": "2", "pytest_xai": "0.1"},
        image=np.full((*heat.shape, 3), 0.5, np.float32),
    )


def blob(x0: int, y0: int, size: int = 4, shape: tuple[int, int] = (64, 64), **params: Any) -> Explanation:
    """A judged explanation whose positive evidence is one size×size block at (x0, y0), with a
    little negative evidence (which no golden measure counts) in the bottom-left corner."""
    heat = np.zeros(shape, np.float32)
    heat[y0 : y0 + size, x0 : x0 + size] = 1.0
    heat[shape[0] - 1, 0] = -0.5
    return judged(heat, **params)


class PickleBomb:
    """Unpickling this writes a file named ``pytest_xai_pwned`` in the temporary folder: a loader
    that must never unpickle is handed one."""

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        marker = Path(os.environ.get("TMPDIR", "/tmp")) / "pytest_xai_pwned"
        return (marker.write_text, ("pwned",))
