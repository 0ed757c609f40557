"""Explanations from the explain fixture are shared by every test that asks again: read-only."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from factories import explanation

from pytest_xai.explanation import Explanation

SHARED = """
import contextlib
import numpy as np
import pytest

@pytest.mark.xai(samples=40, seed=3)
def test_a_tampers(explain, shape_image):
    e = explain(shape_image)
    for name in ("image", "heatmap", "weights", "segments"):
        array = getattr(e, name)
        with pytest.raises(ValueError):
            array[...] = 0
        with pytest.raises(ValueError):
            array.setflags(write=True)
        with contextlib.suppress(Exception):
            np.copyto(array, 0)
    for name in ("image", "heatmap", "meta", "params", "target", "method"):
        with pytest.raises(AttributeError):
            setattr(e, name, None)
    with pytest.raises(AttributeError):
        del e.meta
    for change in (lambda: e.meta.update(model="tampered"), lambda: e.meta.__setitem__("model", "tampered"),
                   lambda: e.params.pop("seed"), lambda: e.params.setdefault("extra", 1),
                   lambda: e.meta.clear()):
        with pytest.raises(TypeError):
            change()
    nested = [v for v in e.params.values() if isinstance(v, (dict, list))]
    for value in nested:
        with pytest.raises(TypeError):
            value.clear()
    # as a careless test would, whatever is refused
    for attempt in (lambda: e.image.__setitem__(Ellipsis, 0.0), lambda: setattr(e, "heatmap", e.heatmap * 0),
                    lambda: e.meta.__setitem__("model", "tampered")):
        with contextlib.suppress(Exception):
            attempt()
    mine = e.copy()  # a writable copy, cut off from the shared one
    mine.heatmap[...] = 0
    mine.image[...] = 0
    mine.meta["model"] = "mine"
    assert np.abs(e.heatmap).sum() > 0 and e.image.max() > 0 and e.meta.get("model") != "mine"

@pytest.mark.xai(samples=40, seed=3)
def test_b_writes_the_golden(explain, shape_image, xai_snapshot):
    e = explain(shape_image)
    assert np.array_equal(e.image, shape_image) and np.abs(e.heatmap).sum() > 0
    assert "tampered" not in e.meta.values()
    xai_snapshot.assert_match(e)
"""


def test_explanations_are_read_only_and_a_later_golden_stores_the_original(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makepyfile(test_shared=SHARED)
    result = xai_pytester.runpytest("--xai-update", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    from example_project.data import make_shape

    golden = Explanation.load(next(xai_pytester.path.glob("__xai_snapshots__/test_shared/test_b*.npz")))
    image = make_shape(np.random.default_rng(1), 0, tag=None).image
    assert golden.image is not None
    assert np.abs(golden.image - image).max() <= 1 / 255 + 1e-6  # the picture, not zeros
    assert np.abs(golden.heatmap).sum() > 0
    assert "tampered" not in golden.meta.values() and "mine" not in golden.meta.values()


def _small() -> Explanation:
    return explanation(
        np.arange(6, dtype=np.float32).reshape(2, 3), weights=np.array([0.5, -0.5]),
        segments=np.array([[0, 0, 1], [0, 1, 1]]), target=1, target_name="b", probability=0.7,
        method="lime", output="probability", seed=0, samples=10,
        params={"n_segments": 2, "sizes": [1, 2], "nested": {"a": [1]}}, meta={"torch": "x"},
        image=np.full((2, 3, 3), 0.5, np.float32),
    )


def test_lock_copies_the_callers_image_and_keeps_values_and_json() -> None:
    exp = _small()
    image = exp.image
    exp.lock()
    assert image is not None and image.flags.writeable  # the caller's array is not taken over
    image[...] = 0
    assert exp.image is not None and float(exp.image.max()) == 0.5
    assert exp.params == {"n_segments": 2, "sizes": [1, 2], "nested": {"a": [1]}}
    with pytest.raises(TypeError):
        exp.params["nested"]["a"].append(2)
    with pytest.raises(TypeError):
        exp.params["sizes"] += [3]
    arrays = exp.to_arrays()  # stored as plain JSON, loads back writable
    back = Explanation.from_arrays(arrays)
    assert back.params == exp.params and type(back.params) is dict and back.heatmap.flags.writeable
    for clone in (copy.deepcopy(exp), exp.copy(), pickle.loads(pickle.dumps(exp)).copy()):
        clone.heatmap[0, 0] = 9
        clone.params["nested"]["a"].append(2)
        assert exp.heatmap[0, 0] == 0 and exp.params["nested"] == {"a": [1]}
    assert type(copy.copy(exp.params)) is dict
