"""Fixtures of the example suite. The shapes model under test comes from ini xai_model."""

from __future__ import annotations

import pytest

from example_project import models


@pytest.fixture(scope="session")
def digits_model():  # type: ignore[no-untyped-def]
    """The handwritten-digits CNN (a second model with its own suite)."""
    return models.digits()


@pytest.fixture(scope="session")
def photo_model():  # type: ignore[no-untyped-def]
    """EfficientNet-Lite0 pretrained on ImageNet-1k, for the real-photo suite."""
    return models.efficientnet_lite0()
