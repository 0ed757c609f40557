"""Hooks that other plugins (or a conftest) implement to extend pytest_xai.

Added in ``pytest_addhooks``. The ``register`` hooks are historic: they run in
``pytest_configure`` for every plugin and conftest loaded by then, before the options are
checked, so what those register can be named in the ini file and the options (``xai_method``,
``xai_golden_mode``, ``--xai-model``); a conftest in a test folder that pytest loads later, at
collection, registers for the tests it collects, but the start-up checks cannot see it. A
registration is undone when the session ends. Everything an extension needs is in
``pytest_xai.extend``.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(historic=True)
def pytest_xai_register_methods(register_method: Any) -> None:
    """Register attribution methods: call ``register_method(name, runner, default_samples=...)``.

    ``runner(request, group) -> list[Attribution]`` (``pytest_xai.extend.Runner``). A method may
    declare its own ``options`` (the ``explain`` keyword arguments it reads) and its
    ``golden_bounds`` (default release-golden bounds, e.g. ``{"max_shift": 0.2}``).
    """


@pytest.hookspec(historic=True)
def pytest_xai_register_golden_modes(register_golden_mode: Any) -> None:
    """Register golden comparison modes: call ``register_golden_mode(mode)`` with a
    ``pytest_xai.extend.GoldenMode`` (its name, bounds, measures and ``compare``)."""


@pytest.hookspec(historic=True)
def pytest_xai_register_model_loaders(register_model_loader: Any) -> None:
    """Register model loaders: call ``register_model_loader(prefix, loader)`` with
    ``loader(spec, device, base) -> Classifier | nn.Module`` (``pytest_xai.extend.ModelLoader``),
    so ``--xai-model=prefix:...`` builds the model through it."""


@pytest.hookspec(historic=True)
def pytest_xai_register_fills(register_fill: Any) -> None:
    """Register intervention fills: call ``register_fill(name, fill)`` with a pure
    ``fill(image, mask) -> image`` (H×W×3 float32 in [0, 1], H×W bool)."""


@pytest.hookspec(firstresult=True)
def pytest_xai_golden_serializer(config: pytest.Config) -> Any:
    """Return the ``pytest_xai.extend.Serializer`` goldens are written and read with in this
    run, or None for the default (``.npz``). The first non-None result wins."""


@pytest.hookspec(firstresult=True)
def pytest_xai_wrap_classifier(classifier: Any, request: pytest.FixtureRequest) -> Any:
    """Return a classifier to explain in place of ``classifier`` for this test, or None.

    Called by the ``explain`` fixture for every classifier it is about to explain (and by the
    interventions that run on the fixture's model). The first non-None result wins
    (``firstresult``). Mutation testing (``--xai-mutate``) swaps in its mutants here.
    """

