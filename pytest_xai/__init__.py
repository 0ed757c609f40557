"""pytest_xai: explanation regression testing for image classifiers.

Seeded, batched LIME and SHAP on CPU or GPU; attribution assertions; golden heatmaps.
Public names are imported lazily, so loading the pytest plugin does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pytest_xai.checks import metrics
    from pytest_xai.checks.assertions import (
        assert_attribution_avoids,
        assert_attribution_focus,
        assert_explanations_agree,
    )
    from pytest_xai.checks.interventions import (
        assert_prediction_ignores,
        assert_region_irrelevant,
        assert_region_needed,
    )
    from pytest_xai.checks.sanity import assert_explanation_depends_on_model
    from pytest_xai.classifier import Classifier, Prediction
    from pytest_xai.engine.explain import explain
    from pytest_xai.errors import (
        ModelOutputError,
        ModelSpecError,
        RegionError,
        SnapshotError,
        XaiError,
        XaiTypeError,
        XaiValueError,
    )
    from pytest_xai.explanation import Explanation
    from pytest_xai.images import load_image
    from pytest_xai.models import load_model
    from pytest_xai.regions import Region
    from pytest_xai.registry import register_method

_LAZY = {
    "metrics": ("pytest_xai.checks.metrics", None),
    "assert_attribution_avoids": ("pytest_xai.checks.assertions", "assert_attribution_avoids"),
    "assert_attribution_focus": ("pytest_xai.checks.assertions", "assert_attribution_focus"),
    "assert_explanations_agree": ("pytest_xai.checks.assertions", "assert_explanations_agree"),
    "assert_explanation_depends_on_model": ("pytest_xai.checks.sanity", "assert_explanation_depends_on_model"),
    "assert_prediction_ignores": ("pytest_xai.checks.interventions", "assert_prediction_ignores"),
    "assert_region_irrelevant": ("pytest_xai.checks.interventions", "assert_region_irrelevant"),
    "assert_region_needed": ("pytest_xai.checks.interventions", "assert_region_needed"),
    "Classifier": ("pytest_xai.classifier", "Classifier"),
    "Prediction": ("pytest_xai.classifier", "Prediction"),
    "ModelOutputError": ("pytest_xai.errors", "ModelOutputError"),
    "ModelSpecError": ("pytest_xai.errors", "ModelSpecError"),
    "RegionError": ("pytest_xai.errors", "RegionError"),
    "SnapshotError": ("pytest_xai.errors", "SnapshotError"),
    "XaiError": ("pytest_xai.errors", "XaiError"),
    "XaiTypeError": ("pytest_xai.errors", "XaiTypeError"),
    "XaiValueError": ("pytest_xai.errors", "XaiValueError"),
    "explain": ("pytest_xai.engine.explain", "explain"),
    "Explanation": ("pytest_xai.explanation", "Explanation"),
    "load_image": ("pytest_xai.images", "load_image"),
    "load_model": ("pytest_xai.models", "load_model"),
    "Region": ("pytest_xai.regions", "Region"),
    "register_method": ("pytest_xai.registry", "register_method"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'pytest_xai' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


__all__ = sorted([*_LAZY, "__version__"])
