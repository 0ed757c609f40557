"""Harmless mutants: releases that change the weights but not what the model reads.

Each builder takes the model under test (a Classifier) and the suite's images and returns a new
Classifier, or None and why it does not apply. A harmless mutant changes no prediction on the
suite: a builder whose result would is refused (the perturbation shrinks until it holds).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pytest_xai.classifier import Classifier

PERTURBATION = 1e-3  # relative size of the weight perturbation, halved until no prediction moves
HALVINGS = 8


def _copy_with(base: Classifier, module: nn.Module) -> Classifier:
    return Classifier(module, preprocess=base.preprocess, class_names=base.class_names,
                      device=base.device, channels_last=base.channels_last)


def _module(base: Classifier) -> nn.Module | None:
    return base.model if isinstance(base.model, nn.Module) else None


def float16_round_trip(base: Classifier, arrays: list[np.ndarray]) -> tuple[Classifier | None, str]:
    """Every floating parameter and buffer rounded to float16 and back to float32."""
    module = _module(base)
    if module is None:
        return None, "not applicable: the model is not a torch module"
    twin = copy.deepcopy(module)
    with torch.no_grad():
        for tensor in [*twin.parameters(), *twin.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().to(tensor.dtype))
    return _copy_with(base, twin), ""


def fold_batch_norm(base: Classifier, arrays: list[np.ndarray]) -> tuple[Classifier | None, str]:
    """Each BatchNorm2d that directly follows a Conv2d folded into the convolution's weights.

    Walks every ``nn.Sequential`` (and any module whose children run in definition order, the
    usual conv → bn pairs); a model without such a pair is "not applicable". A plain batch norm
    becomes an identity; a subclass (timm's ``BatchNormAct2d`` applies its activation inside) is
    kept with its normalisation set to the identity, so what it applies after normalising stays.
    """
    module = _module(base)
    if module is None:
        return None, "not applicable: the model is not a torch module"
    twin = copy.deepcopy(module).eval()
    folded = 0
    for parent in twin.modules():
        names = list(parent._modules)
        for first, second in itertools.pairwise(names):
            conv, bn = parent._modules[first], parent._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                parent._modules[first] = _folded(conv, bn)
                parent._modules[second] = nn.Identity() if type(bn) is nn.BatchNorm2d else _neutral(bn)
                folded += 1
    if not folded:
        return None, "not applicable: the model has no batch-norm after a convolution"
    return _copy_with(base, twin), ""


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """conv then bn (eval) as one convolution: w' = w·γ/σ, b' = (b − μ)·γ/σ + β."""
    out = copy.deepcopy(conv)
    mean, var = torch.as_tensor(bn.running_mean), torch.as_tensor(bn.running_var)  # tracked: checked by the caller
    scale = (bn.weight if bn.affine else torch.ones_like(var)) / torch.sqrt(var + bn.eps)
    shift = bn.bias if bn.affine else torch.zeros_like(mean)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(mean)
    with torch.no_grad():
        out.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
        out.bias = nn.Parameter((bias - mean) * scale + shift)
    return out


def _neutral(bn: nn.BatchNorm2d) -> nn.BatchNorm2d:
    """``bn`` normalising nothing: mean 0, variance 1 − eps, scale 1, shift 0."""
    with torch.no_grad():
        torch.as_tensor(bn.running_mean).zero_()
        torch.as_tensor(bn.running_var).fill_(1.0 - bn.eps)
        if bn.affine:
            bn.weight.fill_(1.0)
            bn.bias.zero_()
    return bn


def small_perturbation(base: Classifier, arrays: list[np.ndarray], seed: int = 0) -> tuple[Classifier | None, str]:
    """Gaussian noise of ``PERTURBATION`` × each weight tensor's spread, halved until no suite
    prediction changes (seeded)."""
    module = _module(base)
    if module is None:
        return None, "not applicable: the model is not a torch module"
    expected = _predictions(base, arrays)
    size = PERTURBATION
    for _ in range(HALVINGS):
        twin = copy.deepcopy(module)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in twin.parameters():
                if p.is_floating_point() and p.numel() > 1:
                    noise = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.device, p.dtype)
                    p.add_(noise * size * float(p.detach().float().std()))
        candidate = _copy_with(base, twin)
        if np.array_equal(_predictions(candidate, arrays), expected):
            return candidate, ""
        size /= 2
    return None, f"every perturbation down to {size:.1e} changed a suite prediction"


def twin_checkpoint(spec: str, base_dir: Path | None) -> Callable[[Classifier, list[np.ndarray]], tuple[Classifier | None, str]]:
    """A builder that loads the user's second checkpoint (``--xai-mutate-twin=SPEC``)."""

    def build(base: Classifier, arrays: list[np.ndarray]) -> tuple[Classifier | None, str]:
        from pytest_xai.errors import ModelSpecError
        from pytest_xai.models import load_model

        try:
            twin = load_model(spec, str(base.device), base_dir)
        except ModelSpecError as e:
            return None, f"--xai-mutate-twin={spec}: {e}"
        return twin, ""

    return build


def _predictions(clf: Classifier, arrays: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return clf.logits(clf.to_batch(arrays)).argmax(dim=1).cpu().numpy()


def predictions(clf: Classifier, arrays: list[np.ndarray]) -> np.ndarray:
    """The predicted class of each image (one forward pass)."""
    return _predictions(clf, arrays)


BUILDERS: dict[str, Callable[[Classifier, list[np.ndarray]], tuple[Classifier | None, str]]] = {
    "float16": float16_round_trip,
    "bn-fold": fold_batch_norm,
    "perturb": small_perturbation,
}
