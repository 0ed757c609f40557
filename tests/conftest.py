"""Shared fixtures: the trained example models (shipped weights) and a few seeded images."""

from __future__ import annotations

# pytester's in-process runs drop modules first imported inside them, and a second import of
# numpy or torch fails; importing them here keeps them loaded for the whole session.
import numpy as np
import pytest
import torch

from example_project import models
from example_project.data import Sample, make_shape

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def shapes_clf():  # type: ignore[no-untyped-def]
    """The clean shapes CNN on the CPU."""
    return models.clean(device="cpu")


@pytest.fixture(scope="session")
def shapes_samples() -> list[Sample]:
    """Three seeded 64×64 shapes images, one per class, with their object masks."""
    rng = np.random.default_rng(123)
    return [make_shape(rng, label, tag=label) for label in range(3)]


@pytest.fixture(scope="session")
def shapes_image(shapes_samples: list[Sample]) -> np.ndarray:
    return shapes_samples[0].image


@pytest.fixture(scope="session")
def torch_threads() -> int:
    return torch.get_num_threads()
