"""Build the model under test from a spec: ``module:factory``, a TorchScript file, or a
torchvision or timm architecture with a local weights file (nothing is downloaded).

Architectures are found by the spec's prefix in ``MODEL_LOADERS``; a plugin adds its own
(``register_model_loader``, or the ``pytest_xai_register_model_loaders`` hook), so
``--xai-model=myzoo:NAME=weights.pt`` can name a model zoo of its own."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_xai.errors import ModelSpecError
from pytest_xai.registry import Registry

if TYPE_CHECKING:
    from torch import Tensor

FORMS = (
    "'package.module:factory' (a callable returning a Classifier or nn.Module), "
    "'path/to/model.ts' (TorchScript), 'torchvision:resnet18=path/to/weights.pth', "
    "'timm:tf_efficientnet_lite0=path/to/weights.pth', or 'PREFIX:...' for a model loader that a "
    "plugin or the rootdir's conftest registers"
)
TIMM_INSTALL = "pip install 'pytest-xai[timm]'"
TORCHSCRIPT_SUFFIXES = (".ts", ".pt", ".pth", ".torchscript")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelLoader(Protocol):
    """Builds the model a ``prefix:...`` spec names: ``loader(spec, device, base)`` returns a
    ``Classifier`` or an ``nn.Module``, or raises ``ModelSpecError`` naming the spec and the fix.
    ``base`` is the folder relative file names resolve against."""

    def __call__(self, spec: str, device: str, base: Path | None) -> Any: ...


def register_model_loader(prefix: str, loader: ModelLoader) -> ModelLoader:
    """Make ``prefix:...`` specs load through ``loader`` (replacing a loader of that prefix).
    A registered prefix wins over a ``module:factory`` spec whose module has the same name."""
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ModelSpecError(f"prefix={prefix!r} is not a model loader prefix; use an identifier such as 'myzoo'")
    if not callable(loader):
        raise ModelSpecError(f"loader={loader!r} is not callable; pass loader(spec, device, base) -> model")
    return MODEL_LOADERS.add(prefix, loader)


def load_model(spec: str, device: str = "auto", base: Path | None = None) -> Any:
    """Build the model a spec names, as a ``Classifier``: what ``--xai-model`` and ini
    ``xai_model`` load, for a conftest whose ``xai_model`` fixture honours the option.

    spec: ``package.module:factory`` (a callable returning a Classifier or ``nn.Module``; it
        gets ``device=`` when it takes that keyword), ``path/to/model.ts`` (TorchScript),
        ``torchvision:NAME=path/to/weights.pth`` or ``timm:NAME=path/to/weights.pth`` (a state
        dict for that architecture; timm needs ``pip install 'pytest-xai[timm]'``). An
        architecture's 1000-class head gets the ImageNet-1k class names, and its input the
        normalisation its weights were trained with (timm: the model's pretrained config).
    device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda:1"``...
    base: the folder relative file names resolve against (the plugin passes the ini file's).

    Nothing is downloaded. A spec that cannot be loaded raises ``ModelSpecError`` naming the
    spec, what is wrong and the fix.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"model spec {spec!r} is empty; use {FORMS}")
    spec = spec.strip()
    loader = MODEL_LOADERS.get(spec.partition(":")[0]) if ":" in spec else None
    if loader is not None:
        try:
            made = loader(spec, device, base)
        except ModelSpecError:
            raise
        except Exception as e:
            raise ModelSpecError(f"model spec {spec!r}: its loader failed with {type(e).__name__}: {e}") from e
        return _as_classifier(spec, made, device, "its loader")
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
    return _as_classifier(spec, made, device, "the factory")


def _as_classifier(spec: str, made: Any, device: str, maker: str) -> Any:
    """A factory's or loader's result as a ``Classifier``."""
    from pytest_xai.classifier import Classifier

    if isinstance(made, Classifier):
        return made
    if isinstance(made, type):
        raise ModelSpecError(
            f"model spec {spec!r}: {maker} returned the class {made.__name__}, not a model; return an instance"
        )
    if callable(made):
        return Classifier(made, device=device)
    hint = (
        " (a state dict? build the model, call model.load_state_dict(state) and return the model)"
        if isinstance(made, dict)
        else ""
    )
    raise ModelSpecError(
        f"model spec {spec!r}: {maker} returned a {type(made).__name__}{hint}; return a "
        "pytest_xai.Classifier or a torch.nn.Module"
    )


def spec_problem(spec: str, base: Path | None = None) -> str | None:
    """What is wrong with ``spec`` that can be seen without importing anything: its form, and
    whether the TorchScript or weights file it names exists; None when nothing is seen."""
    text = spec.strip()
    if not text:
        return f"model spec {spec!r} is empty; use {FORMS}"
    prefix = text.partition(":")[0] if ":" in text else ""
    if MODEL_LOADERS.get(prefix) in (_torchvision, _timm):
        name, sep, weights = text.partition(":")[2].partition("=")
        if not name or not sep or not weights:
            return f"model spec {spec!r} needs a model name and a weights file; use {FORMS}"
        path = _resolve(weights, base)
        return None if path.is_file() else f"model spec {spec!r}: weights file {path} does not exist"
    if prefix in MODEL_LOADERS:  # a plugin's loader checks its own spec when it loads
        return None
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
    path = _weights_file(spec, weights, base)
    model = torchvision.models.get_model(name, weights=None)
    load_weights(model, path, spec)
    categories = imagenet_categories() if model_outputs(model) == 1000 else None
    mean = torch.tensor(IMAGENET_MEAN)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD)[None, :, None, None]

    def preprocess(x: torch.Tensor) -> torch.Tensor:
        return (x - mean.to(x.device)) / std.to(x.device)

    return Classifier(model, preprocess=preprocess, class_names=categories, device=device)


def _weights_file(spec: str, weights: str, base: Path | None) -> Path:
    """The spec's weights file, which must exist: nothing is downloaded at test time."""
    path = _resolve(weights, base)
    if not path.is_file():
        raise ModelSpecError(
            f"model spec {spec!r}: weights file {path} does not exist; download or save the state "
            "dict once outside the tests and point the spec at it"
        )
    return path


def model_outputs(model: Any) -> int | None:
    for module in reversed(list(model.modules())):
        if hasattr(module, "out_features"):
            return int(module.out_features)
    return None


def imagenet_categories() -> list[str]:
    """The ImageNet-1k class names in index order; they ship with torchvision (no download)."""
    import torchvision

    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def _timm(spec: str, device: str, base: Path | None) -> Any:
    """``timm:NAME=weights.pth``: timm's architecture, the file's weights, the pretrained
    config's normalisation and input size, ImageNet-1k names for a 1000-class head."""
    from pytest_xai.classifier import Classifier

    name, sep, weights = spec[len("timm:") :].partition("=")
    if not sep or not weights:
        raise ModelSpecError(
            f"model spec {spec!r} names no weights file; use 'timm:{name or 'tf_efficientnet_lite0'}"
            "=path/to/weights.pth' (nothing is downloaded at test time)"
        )
    try:
        import timm
    except ImportError as e:
        raise ModelSpecError(
            f"model spec {spec!r} needs timm, which is not installed here; {TIMM_INSTALL}"
        ) from e
    if not timm.is_model(name):
        close = timm.list_models(f"*{name[:6]}*")[:5] or timm.list_models()[:5]
        raise ModelSpecError(
            f"model spec {spec!r}: timm has no model {name!r}; use a name from "
            f"timm.list_models(), e.g. {', '.join(close)}"
        )
    path = _weights_file(spec, weights, base)
    model = timm.create_model(name, pretrained=False)
    load_weights(model, path, spec)
    config: Mapping[str, Any] = getattr(model, "pretrained_cfg", None) or {}
    categories = imagenet_categories() if model_outputs(model) == 1000 else None
    return Classifier(model, preprocess=_timm_preprocess(config), class_names=categories, device=device)


def _timm_preprocess(config: Mapping[str, Any]) -> Any:
    """Normalise with the config's mean and std (ImageNet's when it names none) and resize to
    its input size when the images come in another size."""
    import torch
    import torch.nn.functional as F

    mean = torch.tensor(config.get("mean") or IMAGENET_MEAN, dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(config.get("std") or IMAGENET_STD, dtype=torch.float32)[None, :, None, None]
    size = tuple(config["input_size"][1:]) if config.get("input_size") else None

    def preprocess(x: torch.Tensor) -> torch.Tensor:
        if size is not None and tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (x - mean.to(x.device, x.dtype)) / std.to(x.device, x.dtype)

    return preprocess


def load_weights(model: Any, path: Path, spec: str) -> None:
    """Load the state dict at ``path`` into ``model``: by name when the names match, else in
    order when the tensor count and every shape agree (a port of the same network that names
    its layers differently); else a ModelSpecError that says where the two part."""
    import torch

    architecture = spec.partition(":")[2].partition("=")[0]
    try:
        given = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelSpecError(
            f"model spec {spec!r}: {path} is not a state dict for {architecture} "
            f"({type(e).__name__}: {e}); save one with torch.save(model.state_dict(), path)"
        ) from e
    given = _unwrap_checkpoint(given)
    if not isinstance(given, dict) or not all(isinstance(v, torch.Tensor) for v in given.values()):
        raise ModelSpecError(
            f"model spec {spec!r}: {path} holds a {type(given).__name__}, not a state dict of "
            "tensors; save one with torch.save(model.state_dict(), path)"
        )
    wanted = model.state_dict()
    state = given if set(given) == set(wanted) else _in_order(wanted, given, path, spec)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelSpecError(
            f"model spec {spec!r}: the weights in {path} do not fit the architecture ({e}); "
            "use the weights saved from this architecture, or name the one they were saved from"
        ) from e


def _unwrap_checkpoint(given: Any) -> Any:
    """A training checkpoint's state dict (``{"state_dict": ...}`` or ``{"model": ...}``)."""
    if isinstance(given, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(given.get(key), dict):
                return given[key]
    return given


def _in_order(wanted: Mapping[str, Tensor], given: Mapping[str, Tensor], path: Path, spec: str) -> dict[str, Tensor]:
    """``given``'s tensors under ``wanted``'s names, position by position, when every shape agrees."""
    fix = "use the weights saved from this architecture, or name the one they were saved from"
    if len(given) != len(wanted):
        raise ModelSpecError(
            f"model spec {spec!r}: the weights in {path} do not fit the architecture: the file "
            f"holds {len(given)} tensors, the model {len(wanted)}, and their names differ; {fix}"
        )
    for i, ((name, want), (got_name, got)) in enumerate(zip(wanted.items(), given.items())):
        if tuple(want.shape) != tuple(got.shape):
            raise ModelSpecError(
                f"model spec {spec!r}: the weights in {path} do not fit the architecture: tensor "
                f"{i} is {got_name!r} {tuple(got.shape)} in the file, {name!r} {tuple(want.shape)} "
                f"in the model; {fix}"
            )
    return dict(zip(wanted, given.values()))


MODEL_LOADERS: Registry[ModelLoader] = Registry("model loader", {"torchvision": _torchvision, "timm": _timm})
