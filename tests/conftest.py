"""Shared fixtures: the trained example models (shipped weights) and a few seeded images."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import circle_image, noise_image
from tiny_samples import net

from example_project import models
from example_project.data import Sample, make_shape
from pytest_xai import Classifier

pytest_plugins = ["pytester"]

# example_project lives in the repository and is not installed with pytest_xai: pytest finds it
# through the ini ``pythonpath``, and the pytest and Python subprocesses that tests start (in
# temporary folders) through PYTHONPATH.
ROOT = Path(__file__).resolve().parent.parent
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))

# An xdist worker owns one core. torch's default of one thread per core would have the workers,
# and the pytest and Python processes their tests start, spin against each other: on 2 cores
# with -n 2 an explanation then costs 5-7 times the CPU (benchmarks/results/test_suite.md).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _warm_imports() -> None:
    """Import, once and here, everything an explanation touches lazily (scikit-image, scipy,
    matplotlib, numpy.fft): pytester would otherwise unload and fail to re-import them."""
    import importlib
    import pkgutil

    import pytest_xai
    from pytest_xai import Region, explain
    from pytest_xai.checks import evidence, metrics

    for info in pkgutil.walk_packages(pytest_xai.__path__, "pytest_xai."):
        importlib.import_module(info.name)
    image = make_shape(np.random.default_rng(0), 0).image
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 3))
    for method in ("lime", "kernel_shap", "gradient_shap"):
        exp = explain(model, image, method=method, samples=20, n_segments=8, baseline="blur")
        exp.overlay()
        metrics.spearman(exp, exp)
        evidence.evidence_shift(exp, exp)
        metrics.relevance_mass(exp, Region.polygon([(0, 0), (8, 0), (0, 8)]))
        if exp.weights is not None:
            exp.boundaries()
    import scipy.stats  # noqa: F401
    import skimage.segmentation  # noqa: F401
    import torchvision  # noqa: F401  (the torchvision model spec imports it)

    from pytest_xai.errors import ModelSpecError
    from pytest_xai.models import load_model

    with contextlib.suppress(ModelSpecError):
        load_model("torchvision:resnet18=/nonexistent/weights.pth")


@pytest.fixture(scope="session")
def warm_imports() -> None:
    """Import everything an explanation touches lazily, once per process.

    pytester's in-process runs unload the modules first imported inside them, and numpy, torch
    and their extensions cannot be imported twice; every test that runs pytest in-process
    (through ``pytester``) therefore imports them before its first run.
    """
    _warm_imports()


@pytest.fixture
def pytester(warm_imports: None, pytester: pytest.Pytester) -> pytest.Pytester:
    """pytest's pytester, after the imports its in-process runs rely on."""
    return pytester


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
def silent() -> dict[str, object]:
    """Explanations without evidence (a model that ignores its input, a saturated probability)."""
    from evidence_samples import silent_explanations

    return silent_explanations()


@pytest.fixture
def batch_recorder():  # type: ignore[no-untyped-def]
    """A Classifier over the clean shapes model (batch_size=64) and the list of batch sizes it
    was called with, in order."""
    from pytest_xai import Classifier

    seen: list[int] = []
    inner = models.clean(device="cpu").model

    def model(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return inner(x)

    return Classifier(model, device="cpu", batch_size=64), seen


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs must not inherit CI mode from the CI that runs this suite."""
    monkeypatch.delenv("CI", raising=False)


INNER_CONFTEST = '''
import numpy as np
import pytest
from example_project import models
from example_project.data import make_shape


@pytest.fixture(scope="session")
def xai_model(pytestconfig):
    spec = pytestconfig.getoption("xai_model")
    if spec:
        from pytest_xai.models import load_model
        return load_model(spec, "cpu")
    return models.clean(device="cpu")


@pytest.fixture
def shape_image():
    return make_shape(np.random.default_rng(1), 0, tag=None).image
'''


@pytest.fixture
def xai_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester with a conftest providing the clean shapes model and a circle image."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makeini("[pytest]\n")
    return pytester


@pytest.fixture
def tiny_img() -> np.ndarray:
    """A seeded 16×16 noise image."""
    return noise_image(16)


@pytest.fixture
def tiny_clf() -> Classifier:
    return Classifier(net(), device="cpu")


@pytest.fixture(scope="session")
def img() -> np.ndarray:
    """The first seeded circle of the example's shapes task, for the bad-input tables."""
    return circle_image()


@pytest.fixture(scope="session")
def clf() -> Classifier:
    """The example's clean shapes model on the CPU, for the bad-input tables."""
    return models.clean(device="cpu")
