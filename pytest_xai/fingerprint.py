"""A model's fingerprint: SHA-256 of everything known to change its outputs.

``identity`` feeds a value (a module, a function, a tensor, a container) into a digest and
says whether that covered everything the value's behaviour depends on; ``Classifier`` builds
its ``fingerprint``, ``cache_key`` and ``session_key`` from it.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

_PRIMITIVES = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device)


_MAX_DEPTH = 8  # deeper structures are treated as opaque


def identity(value: Any, digest: Any, depth: int = 0) -> bool:
    """Feed what determines ``value``'s behaviour into ``digest``; False if that is not fully
    known (an object whose state cannot be read, or too deep a structure).

    Modules: class (and the code of the methods its own, non-torch classes define),
    parameters, buffers, attributes and hooks, recursively. Functions: module, qualname,
    bytecode, constants, defaults, closure values and the module globals their code names
    (so a changed global is seen; a library module by name, a project module by its source).
    Tensors and arrays: dtype, shape and bytes.
    """
    if depth > _MAX_DEPTH:
        digest.update(b"deep")
        return False
    digest.update(f"<{type(value).__module__}.{type(value).__qualname__}>".encode())
    if isinstance(value, (_PRIMITIVES, enum.Enum)):
        digest.update(repr(value).encode())
        return True
    if isinstance(value, (torch.Tensor, np.ndarray)):
        _tensor_bytes(value, digest)
        return True
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return _container_identity(value, digest, depth)
    if isinstance(value, torch.nn.Module):
        return _module_identity(value, digest, depth)
    if isinstance(value, types.ModuleType):  # a library by name (its version is keyed), a project module by its source
        digest.update(value.__name__.encode())
        digest.update(_project_source(value))
        return True
    if isinstance(value, (type, types.BuiltinFunctionType)):
        digest.update(f"{value.__module__}.{value.__qualname__}".encode())
        return True
    if isinstance(value, types.FunctionType):
        library = _library_version(value.__module__)
        if library is not None:  # an installed library's function: its version decides it
            digest.update(f"{value.__module__}.{value.__qualname__}@{library}".encode())
            return True
        return _function_identity(value, digest, depth)
    if isinstance(value, types.MethodType):
        return identity(value.__func__, digest, depth + 1) & identity(value.__self__, digest, depth + 1)
    if isinstance(value, functools.partial):
        parts = (value.func, value.args, value.keywords)
        return all([identity(part, digest, depth + 1) for part in parts])
    digest.update(b"opaque")
    return False


def _class_code(cls: type, digest: Any, depth: int, seen: set[type]) -> bool:
    """The code of every function that a user's class (and its non-torch bases) defines, so
    an edited ``forward`` changes the fingerprint; torch's own classes are covered by the
    torch version in every key, and an installed library's classes (timm's, torchvision's) by
    that library's version."""
    exact = True
    for klass in cls.__mro__:
        if klass in seen or klass.__module__.split(".")[0] in ("torch", "builtins"):
            continue
        seen.add(klass)
        library = _library_version(klass.__module__)
        if library is not None:
            digest.update(f"class {klass.__module__}.{klass.__qualname__}@{library}".encode())
            continue
        for key, attr in sorted(vars(klass).items()):
            function = getattr(attr, "__func__", attr)  # staticmethod / classmethod
            if isinstance(function, types.FunctionType):
                digest.update(f"def {klass.__qualname__}.{key}".encode())
                exact = _function_identity(function, digest, depth + 1) and exact
    return exact


def _tensor_bytes(value: torch.Tensor | np.ndarray, digest: Any) -> None:
    t = torch.as_tensor(value).detach().to("cpu").contiguous()
    digest.update(f"{t.dtype}:{tuple(t.shape)}".encode())
    if t.numel():
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def _container_identity(value: Any, digest: Any, depth: int) -> bool:
    items = list(value.items()) if isinstance(value, dict) else list(value)
    if isinstance(value, (set, frozenset)):
        items = sorted(items, key=repr)
    digest.update(f"[{len(items)}".encode())
    return all([identity(item, digest, depth + 1) for item in items])


def _module_identity(module: torch.nn.Module, digest: Any, depth: int) -> bool:
    exact = True
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        digest.update(name.encode())
        _tensor_bytes(tensor, digest)
    classes: set[type] = set()
    for name, sub in module.named_modules():
        digest.update(f"module {name}: {type(sub).__module__}.{type(sub).__qualname__}".encode())
        exact = _class_code(type(sub), digest, depth, classes) and exact
        if isinstance(sub, torch.jit.ScriptModule):
            code = getattr(sub, "code", None)  # TorchScript: the compiled code is the behaviour
            exact = exact and isinstance(code, str)
            digest.update(str(code).encode())
            continue
        for key, attr in sorted(vars(sub).items()):
            if key in ("_parameters", "_buffers", "_modules") or "state_dict" in key:
                continue  # tensors and children are hashed above; state-dict hooks only load
            digest.update(key.encode())
            exact = identity(attr, digest, depth + 1) and exact
    return exact


def _function_identity(fn: types.FunctionType, digest: Any, depth: int) -> bool:
    """Module, qualname, bytecode, constants, defaults, closure values and the globals the code
    names (modules by name: their code is the library version, keyed separately)."""
    codes = [fn.__code__]
    for code in codes:  # nested functions and comprehensions: their code and names count too
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    digest.update(f"{fn.__module__}.{fn.__qualname__}".encode())
    exact = True
    for code in codes:
        digest.update(code.co_code)
        consts = [c for c in code.co_consts if not isinstance(c, types.CodeType)]
        exact = identity((consts, code.co_names), digest, depth + 1) and exact
    cells = [cell.cell_contents for cell in fn.__closure__ or ()]
    exact = identity((fn.__defaults__, fn.__kwdefaults__, cells), digest, depth + 1) and exact
    names = sorted({name for code in codes for name in code.co_names} & set(fn.__globals__))
    for name in names:
        value = fn.__globals__[name]
        digest.update(f"global {name}".encode())
        if value is not fn:  # a recursive function is already being hashed
            exact = identity(value, digest, depth + 1) and exact
    return exact


def _project_source(module: types.ModuleType) -> bytes:
    """The source of a module of the user's own project (a helper a model's code calls), so
    editing it changes the fingerprint; b"" for installed libraries and the standard library,
    which the versions in every key stand for."""
    path = getattr(module, "__file__", None)
    if not path:
        return b""
    real = os.path.realpath(path)
    if any(real.startswith(root + os.sep) for root in _library_roots()):
        return b""
    try:
        return Path(real).read_bytes()
    except OSError:
        return b""


def _library_version(module_name: str) -> str | None:
    """``"name==version"`` when ``module_name`` belongs to an installed distribution (not the
    user's project, and not an editable install in the project's tree), else None."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return None
    real = os.path.realpath(path)
    if not any(real.startswith(root + os.sep) for root in _library_roots()):
        return None
    top = module_name.split(".")[0]
    return f"{top}=={_distribution_version(top)}"


@functools.cache
def _distribution_version(top: str) -> str:
    from importlib import metadata

    try:
        names = metadata.packages_distributions().get(top, [top])
        return metadata.version(names[0])
    except (metadata.PackageNotFoundError, IndexError):
        return f"python {sys.version.split()[0]}"  # the standard library


@functools.cache
def _library_roots() -> tuple[str, ...]:
    """Where installed packages and the standard library live."""
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), site.getusersitepackages()}
    roots |= {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(sorted({os.path.realpath(r) for r in roots if r}))
