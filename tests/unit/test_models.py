"""--xai-model specs: module:factory, TorchScript, torchvision with local weights; xdist devices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from factories import BadInput, PickleBomb, assert_refused, refusals

from pytest_xai import (
    Classifier,
    explain,
)
from pytest_xai.errors import (
    ModelSpecError,
)
from pytest_xai.models import load_model


def test_factory_spec(shapes_image: np.ndarray) -> None:
    clf = load_model("example_project.models:shortcut", device="cpu")
    assert isinstance(clf, Classifier) and clf.class_names == ["circle", "square", "triangle"]
    assert clf.predict(shapes_image).name == "circle"


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_torchscript_spec(tmp_path: Path, shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    from example_project.models import SmallCNN

    model = SmallCNN(3)
    model.load_state_dict(shapes_clf.model.state_dict())
    torch.jit.save(torch.jit.script(model.eval()), tmp_path / "model.ts")
    clf = load_model("model.ts", device="cpu", base=tmp_path)
    a = explain(clf, shapes_image, samples=100)
    b = explain(shapes_clf, shapes_image, samples=100)
    np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-4)
    (tmp_path / "junk.ts").write_bytes(b"not torchscript")
    with pytest.raises(ValueError, match="is not a TorchScript archive"):
        load_model(str(tmp_path / "junk.ts"))


@pytest.mark.slow
def test_torchvision_spec_with_local_weights(tmp_path: Path) -> None:
    import torchvision

    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "r18.pth")
    clf = load_model("torchvision:resnet18=r18.pth", device="cpu", base=tmp_path)
    assert clf.class_names is not None and len(clf.class_names) == 1000 and clf.class_names[0] == "tench"
    x = torch.zeros(1, 3, 32, 32)
    # ImageNet normalisation is applied: a black image becomes -mean/std
    assert torch.allclose(clf.preprocess(x)[0, :, 0, 0], torch.tensor([-2.1179, -2.0357, -1.8044]), atol=1e-3)
    with pytest.raises(ValueError, match="names no weights file"):
        load_model("torchvision:resnet18")
    with pytest.raises(ValueError, match="has no model 'resnet999'"):
        load_model(f"torchvision:resnet999={tmp_path / 'r18.pth'}")


def test_xdist_worker_k_uses_gpu_k_mod_n(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xai import plugin

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    for worker, expected in (("gw0", "cuda:0"), ("gw4", "cuda:1"), ("gw5", "cuda:2")):
        settings = SimpleNamespace(device="auto", devices=())
        config = SimpleNamespace(workerinput={"workerid": worker},
                                 stash={plugin.xai_key: SimpleNamespace(settings=settings)})
        assert plugin.worker_device(config) == expected  # type: ignore[arg-type]
    settings = SimpleNamespace(device="cuda:1", devices=())
    config = SimpleNamespace(workerinput={"workerid": "gw2"}, stash={plugin.xai_key: SimpleNamespace(settings=settings)})
    assert plugin.worker_device(config) == "cuda:1"  # type: ignore[arg-type]  # told otherwise


def test_a_factory_returning_a_state_dict_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dict_factory.py").write_text("def make():\n    return {'weight': 1}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelSpecError, match=r"the factory returned a dict \(a state dict"):
        load_model("dict_factory:make", device="cpu")


def test_weights_are_loaded_without_pickle_execution(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": PickleBomb()}, path)
    with pytest.raises(ModelSpecError, match="is not a state dict for resnet18"):
        load_model(f"torchvision:resnet18={path}")


BAD_SPECS: list[tuple[str, Callable[..., Any], type, str]] = [
    ("model spec import", lambda img, clf: load_model("nope.nothing:factory"), ModelSpecError, "cannot be imported"),
    ("model spec form", lambda img, clf: load_model("just-a-name"), ModelSpecError, "is not understood"),
    ("model spec attr", lambda img, clf: load_model("example_project.models:nothing"), ModelSpecError,
     "has no callable 'nothing'"),
    ("torchvision get_model", lambda img, clf: load_model("torchvision:get_model=w.pth"), ModelSpecError,
     "torchvision.models has no model 'get_model'"),
    ("torchvision class", lambda img, clf: load_model("torchvision:ResNet=w.pth"), ModelSpecError,
     "torchvision.models has no model 'ResNet'"),
]


@refusals(BAD_SPECS)
def test_bad_model_specs_are_refused(bad: BadInput, img: np.ndarray, clf: Classifier) -> None:
    assert_refused(bad, img, clf)
