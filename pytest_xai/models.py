"""Build the model under test from a spec: ``module:factory``, a TorchScript file, or torchvision."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

from pytest_xai.errors import ModelSpecError

FORMS = (
    "'package.module:factory' (a callable returning a Classifier or nn.Module), "
    "'path/to/model.ts' (TorchScript), or 'torchvision:resnet18=path/to/weights.pth'"
)
TORCHSCRIPT_SUFFIXES = (".ts", ".pt", ".pth", ".torchscript")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_model(spec: str, device: str = "auto", base: Path | None = None) -> Any:
    """Return a Classifier for ``spec``; nothing is downloaded, missing files raise ModelSpecError."""
    from pytest_xai.classifier import Classifier

    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"model spec {spec!r} is empty; use {FORMS}")
    spec = spec.strip()
    if spec.startswith("torchvision:"):
        return _torchvision(spec, device, base)
    if _is_file_spec(spec):
        return _torchscript(spec, device, base)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ModelSpecError(f"model spec {spec!r} is not understood; use {FORMS}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ModelSpecError(
            f"model spec {spec!r}: module {module_name!r} cannot be imported ({e}); "
            "check the name and that it is on sys.path (install the package or add a conftest)"
        ) from e
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ModelSpecError(f"model spec {spec!r}: {module_name} has no callable {attr!r}")
    try:
        made = factory(device=device) if _accepts_device(factory) else factory()
    except ModelSpecError:
        raise
    except Exception as e:
        raise ModelSpecError(f"model spec {spec!r}: the factory failed with {type(e).__name__}: {e}") from e
    if isinstance(made, Classifier):
        return made
    if callable(made):
        return Classifier(made, device=device)
    hint = (
        " (a state dict? build the model, call model.load_state_dict(state) and return the model)"
        if isinstance(made, dict)
        else ""
    )
    raise ModelSpecError(
        f"model spec {spec!r}: the factory returned a {type(made).__name__}{hint}; return a "
        "pytest_xai.Classifier or a torch.nn.Module"
    )


def spec_problem(spec: str, base: Path | None = None) -> str | None:
    """What is wrong with ``spec`` that can be seen without importing anything: its form, and
    whether the TorchScript or weights file it names exists; None when nothing is seen."""
    text = spec.strip()
    if not text:
        return f"model spec {spec!r} is empty; use {FORMS}"
    if text.startswith("torchvision:"):
        name, sep, weights = text[len("torchvision:") :].partition("=")
        if not name or not sep or not weights:
            return f"model spec {spec!r} needs a model name and a weights file; use {FORMS}"
        path = _resolve(weights, base)
        return None if path.is_file() else f"model spec {spec!r}: weights file {path} does not exist"
    if _is_file_spec(text):
        path = _resolve(text, base)
        return None if path.is_file() else f"model spec {spec!r}: no file at {path}"
    module_name, sep, attr = text.partition(":")
    if not sep or not module_name or not attr or not all(
        part.isidentifier() for part in (*module_name.split("."), attr)
    ):
        return f"model spec {spec!r} is not understood; use {FORMS}"
    return None


def _is_file_spec(spec: str) -> bool:
    """A TorchScript file's path (its name ends in a model suffix and holds no colon)."""
    return spec.endswith(TORCHSCRIPT_SUFFIXES) and ":" not in spec.replace("\\", "/").split("/")[-1]


def _accepts_device(factory: Any) -> bool:
    import inspect

    try:
        return "device" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    return p


def _torchscript(spec: str, device: str, base: Path | None) -> Any:
    import torch

    from pytest_xai.classifier import Classifier

    path = _resolve(spec, base)
    if not path.is_file():
        raise ModelSpecError(f"model spec {spec!r}: no file at {path}")
    try:
        with warnings.catch_warnings():  # recent torch deprecates TorchScript; users still ship it
            warnings.simplefilter("ignore", FutureWarning)
            model = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # torch raises RuntimeError or ValueError for non-TorchScript files
        raise ModelSpecError(
            f"model spec {spec!r}: {path} is not a TorchScript archive ({type(e).__name__}); "
            "save one with torch.jit.save(torch.jit.script(model), path), or use module:factory"
        ) from e
    return Classifier(model, device=device)


def _torchvision(spec: str, device: str, base: Path | None) -> Any:
    import torch
    import torchvision

    from pytest_xai.classifier import Classifier

    rest = spec[len("torchvision:") :]
    name, sep, weights = rest.partition("=")
    if not sep or not weights:
        raise ModelSpecError(
            f"model spec {spec!r} names no weights file; use 'torchvision:{name or 'resnet18'}=path/to/weights.pth' "
            "(nothing is downloaded at test time)"
        )
    known = torchvision.models.list_models(module=torchvision.models)
    if name not in known:
        close = [k for k in known if k.startswith(name.lower()[:3])][:5] or known[:5]
        raise ModelSpecError(
            f"model spec {spec!r}: torchvision.models has no model {name!r} (builders such as "
            f"get_model and classes such as ResNet are not model names); use a name from "
            f"torchvision.models.list_models(), e.g. {', '.join(close)}"
        )
    path = _resolve(weights, base)
    if not path.is_file():
        raise ModelSpecError(
            f"model spec {spec!r}: weights file {path} does not exist; download it once outside "
            "the tests and point the spec at it"
        )
    model = torchvision.models.get_model(name, weights=None)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as e:
        raise ModelSpecError(
            f"model spec {spec!r}: {path} is not a state dict for {name} ({type(e).__name__}: {e})"
        ) from e
    categories = _imagenet_categories(name) if model_outputs(model) == 1000 else None
    mean = torch.tensor(IMAGENET_MEAN)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD)[None, :, None, None]

    def preprocess(x: torch.Tensor) -> torch.Tensor:
        return (x - mean.to(x.device)) / std.to(x.device)

    return Classifier(model, preprocess=preprocess, class_names=categories, device=device)


def model_outputs(model: Any) -> int | None:
    for module in reversed(list(model.modules())):
        if hasattr(module, "out_features"):
            return int(module.out_features)
    return None


def _imagenet_categories(name: str) -> list[str] | None:
    """ImageNet class names ship inside torchvision's weight enums: no download needed."""
    import torchvision

    enum = torchvision.models.get_model_weights(name) if hasattr(torchvision.models, "get_model_weights") else None
    try:
        return list(next(iter(enum)).meta["categories"]) if enum is not None else None
    except (StopIteration, KeyError, AttributeError, ValueError):
        return None
