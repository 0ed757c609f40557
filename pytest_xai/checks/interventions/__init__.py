"""Interventions: claims about a region checked by changing the input and reading the model.

``assert_region_irrelevant`` hides a region, ``assert_prediction_ignores`` swaps it in from
images of other classes, ``assert_region_needed`` requires that hiding it drops the target.
Fills (what a hidden region becomes) are a registry: ``register_fill``.
"""

from __future__ import annotations

from pytest_xai.checks.interventions.assertions import (
    DEFAULT_FILL,
    DEFAULT_MAX_CHANGE,
    DEFAULT_MAX_FLIP,
    DEFAULT_MAX_LOGIT_DROP,
    DEFAULT_MAX_SCALED_DROP,
    DEFAULT_MIN_DROP,
    DEFAULT_MIN_LOGIT_DROP,
    assert_prediction_ignores,
    assert_region_irrelevant,
    assert_region_needed,
)
from pytest_xai.checks.interventions.fills import FILLS, register_fill

__all__ = [
    "DEFAULT_FILL",
    "DEFAULT_MAX_CHANGE",
    "DEFAULT_MAX_FLIP",
    "DEFAULT_MAX_LOGIT_DROP",
    "DEFAULT_MAX_SCALED_DROP",
    "DEFAULT_MIN_DROP",
    "DEFAULT_MIN_LOGIT_DROP",
    "FILLS",
    "assert_prediction_ignores",
    "assert_region_irrelevant",
    "assert_region_needed",
    "register_fill",
]
