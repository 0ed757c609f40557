"""TODO DOCSTRING"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_xai import (
    Classifier,
    explain,
)


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    from example_project.data import make_shape

    return make_shape(np.random.default_rng(0), 0).image


@pytest.fixture(scope="module")
def clf() -> Classifier:
    from example_project.models import clean

    return clean(device="cpu")


def test_golden_with_other_params_or_segmentation(img: np.ndarray, clf: Classifier) -> None:
    from pytest_xai.snapshots import params_mismatch

    a = explain(clf, img, samples=100)
    b = explain(clf, img, samples=100, segments="quickshift")
    c = explain(clf, img, samples=120, output="probability")
    assert params_mismatch(a, b) == ["segmentation: golden 'slic', now 'quickshift'"]
    assert params_mismatch(a, c) == ["output: golden 'logit', now 'probability'", "samples: golden 100, now 120"]
    assert params_mismatch(a, a) == []
