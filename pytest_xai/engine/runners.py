"""What a method runner receives and returns, and how a method name finds its runner.

Every method, built in or registered with ``pytest_xai.registry.register_method``, is one
function ``runner(request, group) -> list[Attribution]``: ``explain`` validates the arguments
into a ``Request``, predicts the targets, hands the runner each ``Group`` of same-sized images,
and packages the returned ``Attribution`` pieces into ``Explanation`` objects.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from pytest_xai.engine.rounds import AutoBudget
from pytest_xai.errors import ModelOutputError, XaiTypeError, XaiValueError
from pytest_xai.registry import METHODS, MethodSpec, Params

Fill = str | tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class Request:
    """The validated parameters of one ``explain`` call, shared by all its images.

    ``baseline`` is already resolved (``None`` given becomes the method's default baseline; it
    stays None for methods that hide nothing). ``background`` is None or validated H×W×3
    float32 arrays. ``batch_size`` is None for the classifier's automatic choice.
    """

    method: str
    output: str
    samples: int
    seed: int
    precision: str = "float32"
    segments: Any = None  # None, an algorithm name, or an (H, W) integer label array
    n_segments: int = 50
    baseline: Fill | None = None
    background: tuple[np.ndarray, ...] | None = None
    local_smoothing: float = 0.0
    batch_size: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # a registered method's own options, by name
    auto: AutoBudget | None = None  # samples="auto": rounds until certain; ``samples`` is the cap

    @property
    def spec(self) -> MethodSpec:
        """The registry entry of the method."""
        return METHODS[self.method]

    def params(self) -> Params:
        """The parameters every Explanation records (runners add their own)."""
        return {
            "method": self.method,
            "output": self.output,
            "samples": "auto" if self.auto else self.samples,
            **({"tolerance": self.auto.tolerance, "max_samples": self.auto.cap} if self.auto else {}),
            "seed": self.seed,
            "precision": self.precision,
            **dict(self.extra),
        }


@dataclass(frozen=True)
class Group:
    """Images of one size explained together: their pixels, targets and the model to call.

    ``forward`` maps a [0, 1] batch (N, 3, H, W) on the device to float32 logits (N, C) at the
    requested precision. It checks shapes but never synchronises with the host, so a runner can
    call it in a loop on CUDA; runners check their results once, with ``check_finite``.
    """

    images: list[np.ndarray]  # H×W×3 float32 in [0, 1]
    tensors: torch.Tensor  # (n, 3, H, W) float32 on the device
    targets: list[int]
    forward: Callable[[torch.Tensor], torch.Tensor]
    batch_size: int
    memory_format: torch.memory_format = torch.contiguous_format

    @property
    def device(self) -> torch.device:
        """The device the images (and the model) are on."""
        return self.tensors.device

    @property
    def item(self) -> str:
        """One input, in words, for out-of-memory messages."""
        height, width = self.tensors.shape[2:]
        return f"one 3×{height}×{width} image"


@dataclass(frozen=True)
class Attribution:
    """What a runner returns per image: the pieces of an Explanation that the method knows."""

    heatmap: np.ndarray  # (H, W), signed
    evaluations: int  # model evaluations (forward or forward+backward passes) spent
    params: Params = field(default_factory=dict)  # method-specific, for reproduction
    weights: np.ndarray | None = None  # (M,) per superpixel
    segments: np.ndarray | None = None  # (H, W) labels 0..M-1
    score: float | None = None
    intercept: float | None = None
    local_prediction: float | None = None
    # Sampling error: (K, M) over the weights, or (K, H, W) over the heatmap; the estimate's
    # error is about z @ error_basis, z ~ N(0, I_K) (engine.uncertainty). None: not estimated.
    error_basis: np.ndarray | None = None
    rounds: int = 1
    # samples="auto": the same attribution extended by whole rounds to at least the given
    # samples (at most the cap), or None when it cannot grow; None for a fixed budget.
    grower: Callable[[int], Attribution | None] | None = None
    # samples="auto", superpixel methods: the model output of every coalition so far, which
    # with the seed is all a run needs to resume (``engine.resume``; GradientSHAP needs only
    # its heatmap and error basis)
    outputs: np.ndarray | None = None


class Runner(Protocol):
    """A method: attributions for every image of a group, in order."""

    def __call__(self, request: Request, group: Group, /) -> list[Attribution]: ...


def runner_for(method: str) -> Runner:
    """The runner registered for ``method``, imported on first use."""
    spec = METHODS[method]
    if callable(spec.runner):
        return spec.runner
    module_name, _, name = spec.runner.partition(":")
    try:
        runner: Runner = getattr(importlib.import_module(module_name), name)
        return runner
    except (ImportError, AttributeError) as e:
        raise XaiValueError(
            f"method={method!r} is registered with runner {spec.runner!r}, which cannot be "
            f"imported ({e}); fix the register_method call"
        ) from e


def check_finite(values: torch.Tensor, what: str) -> None:
    """Raise ModelOutputError if ``values`` (gathered after the loop, one row per image or
    sample) hold NaN or inf, saying for how many of ``what`` ("200 perturbed images")."""
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        bad = int((~finite).reshape(len(values), -1).any(dim=1).sum())
        raise ModelOutputError(
            f"the model returned NaN or inf logits for {bad} of the {what.removeprefix('the ')}; check the weights, the "
            "preprocessing and (at reduced precision) overflow, or use precision='float32'"
        )


def autocast_forward(
    forward: Callable[[torch.Tensor], torch.Tensor], device: torch.device, precision: str
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``forward`` run under ``torch.autocast`` at ``precision`` (float32: unchanged).

    Inputs stay float32 [0, 1] images; autocast runs eligible layers (convolutions, matmuls)
    in the reduced dtype. Logits come back as float32, so the surrogate fits stay float64.
    """
    if precision == "float32":
        return forward
    dtype = getattr(torch, precision)

    def reduced(batch: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype):
            out = forward(batch)
        return out.float()

    return reduced


def check_attribution(method: str, result: Any, height: int, width: int) -> Attribution:
    """A runner's result for one height × width image, checked at the engine's boundary: an
    Attribution whose heatmap is a finite real (height, width) array and whose superpixel
    labels, when given, are an integer (height, width) array with one weight per label."""
    where = f"method={method!r} returned"
    fix = "its runner must return one Attribution per image with heatmap shaped (H, W)"
    if not isinstance(result, Attribution):
        raise XaiTypeError(f"{where} a {type(result).__name__}, not an Attribution; {fix}")
    heatmap = np.asarray(result.heatmap)
    if heatmap.shape != (height, width):
        raise XaiValueError(
            f"{where} a heatmap of shape {heatmap.shape} for a {height}×{width} image; {fix} "
            f"= ({height}, {width}), one value per pixel"
        )
    if heatmap.dtype.kind not in "iuf":
        raise XaiTypeError(
            f"{where} a heatmap of dtype {heatmap.dtype}; {fix}, of real numbers (float32)"
        )
    if not np.isfinite(heatmap).all():
        raise XaiValueError(f"{where} a heatmap holding NaN or inf; {fix}, all values finite")
    if result.segments is not None:
        segments = np.asarray(result.segments)
        if segments.shape != (height, width) or segments.dtype.kind not in "iu":
            raise XaiValueError(
                f"{where} segments of shape {segments.shape} and dtype {segments.dtype} for a "
                f"{height}×{width} image; return integer labels 0..M-1 shaped ({height}, {width})"
            )
        if result.weights is not None and np.shape(result.weights) != (int(segments.max()) + 1,):
            raise XaiValueError(
                f"{where} weights of shape {np.shape(result.weights)} for "
                f"{int(segments.max()) + 1} superpixels; return one weight per label"
            )
    return result
