"""What an extension of pytest_xai needs, in one namespace.

A new attribution method is a runner ``runner(request, group) -> list[Attribution]`` and one
``register_method`` call; a new golden mode a ``GoldenMode`` and ``register_golden_mode``; a new
intervention fill a pure ``fill(image, mask) -> image`` and ``register_fill``; a model zoo a
``ModelLoader`` and ``register_model_loader``; a new check a ``CheckResult`` added to
``current_record()``. A plugin (or a conftest) registers them in the ``pytest_xai_register_*``
hooks (docs/ARCHITECTURE.md), so the options that name them are checked with them. It can also
explain another model in a test's place (``pytest_xai_wrap_classifier``) and store goldens in
a format of its own (a ``Serializer`` from ``pytest_xai_golden_serializer``).

Importing this module imports torch and numpy (the engine's types need them).
"""

from __future__ import annotations

from pytest_xai.checks.interventions.fills import FILLS, Fill, register_fill
from pytest_xai.checks.recorder import current as current_record
from pytest_xai.engine.runners import Attribution, Group, Request, Runner, check_finite
from pytest_xai.goldens.modes import (
    GOLDEN_MODES,
    Bound,
    Comparison,
    GoldenMode,
    register_golden_mode,
)
from pytest_xai.goldens.store import NpzSerializer, Serializer
from pytest_xai.models import MODEL_LOADERS, ModelLoader, register_model_loader
from pytest_xai.records import CheckResult
from pytest_xai.registry import METHODS, MethodSpec, Registry, register_method

__all__ = [
    "FILLS",
    "GOLDEN_MODES",
    "METHODS",
    "MODEL_LOADERS",
    "Attribution",
    "Bound",
    "CheckResult",
    "Comparison",
    "Fill",
    "GoldenMode",
    "Group",
    "MethodSpec",
    "ModelLoader",
    "NpzSerializer",
    "Registry",
    "Request",
    "Runner",
    "Serializer",
    "check_finite",
    "current_record",
    "register_fill",
    "register_golden_mode",
    "register_method",
    "register_model_loader",
]
