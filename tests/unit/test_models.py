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

from example_project import models
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


# -- timm architectures (a tiny random-init timm model stands for a real one) -------------------

TIMM_TINY = "test_efficientnet"  # timm's own 0.36 M-parameter test network, 1000 classes, 160²


def _timm_model(seed: int) -> torch.nn.Module:
    timm = pytest.importorskip("timm")
    torch.manual_seed(seed)
    return timm.create_model(TIMM_TINY, pretrained=False).eval()


def _renamed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same tensors in the same order under other names, as a port of the network saves them."""
    return {f"port.layer{i}": v for i, v in enumerate(state.values())}


def test_timm_spec_loads_weights_by_name_or_in_order(tmp_path: Path) -> None:
    source = _timm_model(seed=1)
    torch.save(source.state_dict(), tmp_path / "by_name.pth")
    torch.save(_renamed(source.state_dict()), tmp_path / "in_order.pth")
    torch.save({"state_dict": source.state_dict()}, tmp_path / "checkpoint.pth")
    x = torch.rand(2, 3, 160, 160)
    mean, std = (torch.tensor(source.pretrained_cfg[k])[:, None, None] for k in ("mean", "std"))
    with torch.no_grad():
        want = source((x - mean) / std)
    for name in ("by_name.pth", "in_order.pth", "checkpoint.pth"):
        clf = load_model(f"timm:{TIMM_TINY}={name}", device="cpu", base=tmp_path)
        with torch.no_grad():
            got = clf.model(clf.preprocess(x))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        assert clf.class_names is not None and clf.class_names[:2] == ["tench", "goldfish"]


def test_timm_spec_normalises_and_resizes_as_the_pretrained_config_says(tmp_path: Path) -> None:
    model = _timm_model(seed=2)
    torch.save(model.state_dict(), tmp_path / "w.pth")
    clf = load_model(f"timm:{TIMM_TINY}=w.pth", device="cpu", base=tmp_path)
    mean, std = (torch.tensor(model.pretrained_cfg[k]) for k in ("mean", "std"))
    black = clf.preprocess(torch.zeros(1, 3, 160, 160))
    torch.testing.assert_close(black[0, :, 0, 0], -mean / std)
    # an image of another size reaches the network at its config's input size (160×160)
    assert clf.preprocess(torch.zeros(1, 3, 224, 224)).shape == (1, 3, 160, 160)


def test_timm_weights_that_do_not_fit_are_refused_with_where_they_part(tmp_path: Path) -> None:
    state = _renamed(_timm_model(seed=3).state_dict())
    first = next(iter(state))
    torch.save({**state, first: torch.zeros(7, 7)}, tmp_path / "shape.pth")
    torch.save(dict(list(state.items())[:-1]), tmp_path / "short.pth")
    torch.save({"weights": [1, 2]}, tmp_path / "junk.pth")
    for name, fragment in (
        ("shape.pth", "tensor 0 is 'port.layer0' (7, 7) in the file, 'conv_stem.weight'"),
        ("short.pth", f"the file holds {len(state) - 1} tensors, the model {len(state)}"),
        ("junk.pth", "not a state dict of tensors"),
    ):
        with pytest.raises(ModelSpecError) as info:
            load_model(f"timm:{TIMM_TINY}={name}", device="cpu", base=tmp_path)
        message = str(info.value)
        assert f"model spec 'timm:{TIMM_TINY}={name}'" in message and fragment in message, message
        assert "use the weights saved from this architecture" in message or "torch.save" in message


def test_timm_spec_without_timm_or_with_an_unknown_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("timm")
    (tmp_path / "w.pth").write_bytes(b"")
    with pytest.raises(ModelSpecError, match=r"timm has no model 'efficientnet_lite99'; use a name from "
                                             r"timm.list_models\(\), e.g. "):
        load_model("timm:efficientnet_lite99=w.pth", base=tmp_path)
    with pytest.raises(ModelSpecError, match="names no weights file"):
        load_model("timm:tf_efficientnet_lite0")
    monkeypatch.setitem(__import__("sys").modules, "timm", None)  # as if it were not installed
    with pytest.raises(ModelSpecError, match=r"needs timm, which is not installed here; "
                                             r"pip install 'pytest-xai\[timm\]'"):
        load_model("timm:tf_efficientnet_lite0=w.pth", base=tmp_path)


def test_the_plugin_does_not_import_timm_to_check_a_timm_spec(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxai_model = timm:tf_efficientnet_lite0=missing.pth\n")
    pytester.makepyfile("import sys\ndef test_x():\n    assert 'timm' not in sys.modules\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*--xai-model/xai_model: model spec 'timm:tf_efficientnet_lite0=missing.pth': "
                                 "weights file * does not exist*"])
    (pytester.path / "missing.pth").write_bytes(b"")
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == 0


def test_a_registered_loader_builds_its_prefix_and_its_failures_name_the_spec(shapes_image: np.ndarray) -> None:
    from pytest_xai.models import MODEL_LOADERS, register_model_loader, spec_problem

    def zoo(spec: str, device: str, base: Path | None) -> Any:
        if spec.endswith(":broken"):
            raise RuntimeError("no such checkpoint")
        if spec.endswith(":class"):
            return torch.nn.Linear
        return models.clean(device=device)

    with pytest.raises(ModelSpecError, match=r"loader=3 is not callable; pass loader\(spec, device, base\)"):
        register_model_loader("zoo", 3)  # type: ignore[arg-type]
    register_model_loader("zoo", zoo)
    try:
        clf = load_model("zoo:clean", "cpu")
        assert isinstance(clf, Classifier)
        assert clf.predict(shapes_image).label == models.clean(device="cpu").predict(shapes_image).label
        assert spec_problem("zoo:anything") is None  # the loader checks its own specs
        with pytest.raises(ModelSpecError, match=r"model spec 'zoo:broken': its loader failed with RuntimeError: no such"):
            load_model("zoo:broken", "cpu")
        with pytest.raises(ModelSpecError, match=r"'zoo:class': its loader returned the class Linear, not a model"):
            load_model("zoo:class", "cpu")
    finally:
        MODEL_LOADERS.pop("zoo", None)
    with pytest.raises(ModelSpecError, match=r"module 'zoo' cannot be imported"):  # unregistered again
        load_model("zoo:clean", "cpu")
