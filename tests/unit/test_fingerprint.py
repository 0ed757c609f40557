"""Fingerprints and cache keys: every input that changes a result changes the key, and opaque models are never shared."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pytest_xai import Classifier
from pytest_xai.plugin.cache import explanation_key


def test_the_key_covers_classifier_image_and_every_parameter() -> None:
    image = np.zeros((8, 8, 3), np.float32)
    params = {"method": "lime", "samples": 10, "baseline": (0.5, 0.5, 0.5)}
    key = explanation_key("model-a", "cpu", image, params)
    assert key == explanation_key("model-a", "cpu", image.copy(), {**params})
    assert key == explanation_key("model-a", "cpu", image, {**params, "samples": np.int64(10)})
    other = image.copy()
    other[0, 0, 0] = 1e-7
    variants = [
        explanation_key("model-b", "cpu", image, params),
        explanation_key("model-a", "cuda", image, params),
        explanation_key("model-a", "cpu", other, params),
        explanation_key("model-a", "cpu", image.astype(np.float64), params),
        explanation_key("model-a", "cpu", image.reshape(4, 16, 3), params),
        explanation_key("model-a", "cpu", image, {**params, "samples": 11}),
        explanation_key("model-a", "cpu", image, {**params, "baseline": [0.5, 0.5, 0.5]}),
        explanation_key("model-a", "cpu", image, {**params, "segments": np.zeros((8, 8), np.int64)}),
        explanation_key("model-a", "cpu", image, {**params, "segments": np.ones((8, 8), np.int64)}),
    ]
    assert len({key, *variants}) == len(variants) + 1


def test_an_edited_forward_changes_the_key() -> None:
    import torch

    from pytest_xai import Classifier

    def model(body: str) -> Classifier:
        source = (
            "import torch\n"
            "class Net(torch.nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.head = torch.nn.Linear(3, 2)\n"
            "    def forward(self, x):\n"
            f"        return {body}\n"
        )
        namespace: dict[str, object] = {"__name__": "user_models"}
        exec(source, namespace)
        torch.manual_seed(0)
        return Classifier(namespace["Net"](), device="cpu")  # type: ignore[operator]

    mean = model("self.head(x.mean(dim=(2, 3)))")
    assert mean.cache_key is not None
    assert model("self.head(x.mean(dim=(2, 3)))").cache_key == mean.cache_key
    assert model("self.head(x.amax(dim=(2, 3)))").cache_key not in (None, mean.cache_key)


def test_an_edited_helper_module_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project module the model's code calls is hashed by its source; a library by name."""
    import importlib
    import sys

    import torch

    from pytest_xai import Classifier

    (tmp_path / "tagutil.py").write_text("def corner(x):\n    return x[:, :, :4, :4].mean(dim=(1, 2, 3))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tagutil = importlib.import_module("tagutil")

    def model(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([tagutil.corner(x), torch.nn.functional.relu(x).mean(dim=(1, 2, 3))], dim=1)

    before = Classifier(model, device="cpu").cache_key
    assert before is not None and Classifier(model, device="cpu").cache_key == before
    (tmp_path / "tagutil.py").write_text("def corner(x):\n    return -x[:, :, :4, :4].mean(dim=(1, 2, 3))\n")
    assert Classifier(model, device="cpu").cache_key != before
    sys.modules.pop("tagutil", None)


def _scaled_model(scale: torch.Tensor):  # type: ignore[no-untyped-def]
    def model(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * scale

    return model


def _opaque_model(state: SimpleNamespace):  # type: ignore[no-untyped-def]
    def model(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * state.scale

    return model


def test_two_closures_from_one_factory_never_share_a_key(shapes_image: np.ndarray) -> None:
    a = Classifier(_scaled_model(torch.tensor([1.0, 0.0, 0.0])), device="cpu")
    b = Classifier(_scaled_model(torch.tensor([0.0, 1.0, 0.0])), device="cpu")
    again = Classifier(_scaled_model(torch.tensor([1.0, 0.0, 0.0])), device="cpu")
    assert a.cache_key is not None and b.cache_key is not None
    assert a.cache_key != b.cache_key and a.fingerprint != b.fingerprint
    assert a.cache_key == again.cache_key  # equal content, equal key: the key is exact


def test_opaque_closures_are_never_shared_across_objects() -> None:
    a = Classifier(_opaque_model(SimpleNamespace(scale=1.0)), device="cpu")
    b = Classifier(_opaque_model(SimpleNamespace(scale=2.0)), device="cpu")
    assert a.cache_key is None and b.cache_key is None
    assert a.session_key != b.session_key


def test_the_key_covers_preprocess_class_names_and_layout(shapes_clf: Classifier) -> None:
    module = shapes_clf.model

    def key(**kwargs: object) -> str | None:
        return Classifier(module, device="cpu", **kwargs).cache_key  # type: ignore[arg-type]

    plain = key()
    assert plain is not None and plain == key()
    assert key(preprocess=lambda x: x * 2) != plain
    assert key(preprocess=lambda x: x * 2) != key(preprocess=lambda x: x * 3)
    assert key(preprocess=torch.nn.Identity()) != plain
    assert key(class_names=["a", "b", "c"]) != key(class_names=["a", "c", "b"])
    assert key(channels_last=False) != plain
    retrained = type(module)(3)
    assert Classifier(retrained, device="cpu").cache_key != plain  # other weights


def test_a_callable_object_is_opaque() -> None:
    class Model:
        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(2, 3))

    assert Classifier(Model(), device="cpu").cache_key is None


def test_a_global_that_the_preprocessing_reads_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "user_norm.py").write_text(
        "import torch\nMEAN = torch.tensor([0.5, 0.5, 0.5])\n\n"
        "def normalise(x):\n    return x - MEAN[None, :, None, None]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_norm

    def key() -> str | None:
        return Classifier(torch.nn.Flatten(), preprocess=user_norm.normalise, device="cpu").cache_key

    before = key()
    assert before is not None and before == key()
    monkeypatch.setattr(user_norm, "MEAN", torch.tensor([0.4, 0.5, 0.5]))
    assert key() != before  # a persistent cache must not return the old normalisation's result


def test_an_installed_librarys_model_is_fingerprinted_exactly_by_its_version_and_weights() -> None:
    """timm's classes are keyed by timm's version (like torch's by torch's), so the cache can
    serve a timm network; a changed weight still changes the key."""
    timm = pytest.importorskip("timm")
    import torch

    from pytest_xai.classifier import Classifier
    from pytest_xai.fingerprint import _library_version

    model = timm.create_model("test_efficientnet", pretrained=False).eval()
    first = Classifier(model, device="cpu")
    assert first.cache_key is not None
    assert _library_version(type(model).__module__) == f"timm=={timm.__version__}"
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert Classifier(model, device="cpu").cache_key not in (None, first.cache_key)
