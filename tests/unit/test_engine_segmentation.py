"""Segmentation: superpixel labels are always 0..m-1."""

from __future__ import annotations

import numpy as np

from pytest_xai.engine.segmentation import remap_labels, segment


def test_segment_labels_are_always_0_to_m_minus_1(shapes_image: np.ndarray) -> None:
    for algorithm in ("slic", "quickshift", "felzenszwalb"):
        labels = segment(shapes_image, algorithm, 30)
        assert labels.dtype == np.int64 and labels.min() == 0
        assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1)), algorithm
    # SLIC's own default labels start at 1; user masks may skip values
    given = np.where(np.arange(64)[None, :] < 20, 7, 3).repeat(64, axis=0)
    remapped = segment(shapes_image, given)
    assert sorted(np.unique(remapped)) == [0, 1] and remapped[0, 0] == 1 and remapped[0, 63] == 0
    assert np.array_equal(remap_labels(np.array([[5, 5], [9, 2]])), np.array([[1, 1], [2, 0]]))
