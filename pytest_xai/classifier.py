"""The model under test: a torch module or callable, its preprocessing, device and batch size."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from pytest_xai.errors import ModelOutputError, XaiTypeError, XaiValueError
from pytest_xai.images import as_image

# Batch size when none is given: a pixel budget per forward pass, clamped. Measured on a 2-core
# CPU (channels-last): the small CNN at 64x64 is fastest at 32 images (2^17 pixels) and slows
# past 64; resnet18 at 224x224 is fastest at 8 (2^19 pixels) with glibc's default allocator
# (with the heap kept, see README "Speed on CPU", 16-32 were up to 7% faster). The choice
# depends only on shape and device, never on timing, so results stay bit-exact run to run.
_CPU_PIXELS_PER_BATCH = 2**17
_CPU_BATCH_RANGE = (8, 64)
_CUDA_PIXELS_PER_BATCH = 2**23
_CUDA_BATCH_RANGE = (16, 1024)


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn "auto", "cpu", "cuda" or "cuda:N" into a torch.device that exists here."""
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except RuntimeError as e:
            raise XaiValueError(
                f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
            ) from e
    else:
        raise XaiTypeError(
            f"device={device!r} is not a string or torch.device; use 'auto' or 'cpu'"
        )
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise XaiValueError(
                f"device={device!r} but CUDA is not available here; use 'auto' or 'cpu'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise XaiValueError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif resolved.type not in ("cpu", "mps"):
        raise XaiValueError(f"device={device!r} is not supported; use 'auto', 'cpu' or 'cuda:N'")
    return resolved


@dataclass(frozen=True)
class Prediction:
    """Top-k prediction for one image: labels, class names and softmax probabilities."""

    labels: list[int]
    names: list[str]
    probabilities: list[float]

    @property
    def label(self) -> int:
        """The top-1 class index."""
        return self.labels[0]

    @property
    def name(self) -> str:
        """The top-1 class name."""
        return self.names[0]

    @property
    def probability(self) -> float:
        """The softmax probability of the top-1 class (the confidence)."""
        return self.probabilities[0]


class Classifier:
    """An image classifier to explain: a model plus its preprocessing, device and class names.

    Parameters
    ----------
    model:
        A ``torch.nn.Module`` or any callable mapping a float batch (N, 3, H, W) to logits (N, C).
        A module is moved to ``device`` and put in eval mode.
    preprocess:
        Maps the [0, 1] RGB batch to the model's input on the device, e.g. ImageNet
        normalisation. ``None`` feeds the [0, 1] batch as it is.
    class_names:
        Names of the C classes, so targets can be given by name and reports read well.
    device:
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
    batch_size:
        Images per forward pass; ``None`` picks one from the image size and device.
    channels_last:
        Run a convolutional module in channels-last memory format. ``None`` does so for any
        ``nn.Module`` with a 2-D convolution: measured 3.5x faster for the small CNN and 1.4x
        for resnet18 on CPU, and the usual layout for convolutions on CUDA.
    """

    def __init__(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        *,
        preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
        class_names: Sequence[str] | None = None,
        device: str | torch.device = "auto",
        batch_size: int | None = None,
        channels_last: bool | None = None,
    ) -> None:
        if not callable(model):
            raise XaiTypeError(
                f"model of type {type(model).__name__} is not callable; pass a torch.nn.Module "
                "or a function mapping (N, 3, H, W) to logits (N, C)"
            )
        if preprocess is not None and not callable(preprocess):
            raise XaiTypeError(
                f"preprocess={preprocess!r} is not callable; pass a function or None"
            )
        self.device = resolve_device(device)
        self.batch_size = check_batch_size(batch_size)
        if channels_last is None:
            channels_last = isinstance(model, torch.nn.Module) and any(
                isinstance(m, torch.nn.Conv2d) for m in model.modules()
            )
        self.channels_last = bool(channels_last)
        if isinstance(model, torch.nn.Module):
            model = model.to(self.device).eval()
            if self.channels_last:
                model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.preprocess = preprocess
        self.class_names = list(class_names) if class_names is not None else None
        if self.class_names is not None and not all(isinstance(n, str) for n in self.class_names):
            raise XaiTypeError("class_names must be a sequence of strings")

    def __repr__(self) -> str:
        name = type(self.model).__name__
        return f"Classifier({name}, device={str(self.device)!r}, fingerprint={self.fingerprint[:12]!r})"

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the model's state dict (names, dtypes, shapes and values)."""
        digest = hashlib.sha256()
        if isinstance(self.model, torch.nn.Module):
            for key, tensor in self.model.state_dict().items():
                t = tensor.detach().to("cpu").contiguous()
                digest.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            digest.update(
                getattr(self.model, "__qualname__", type(self.model).__qualname__).encode()
            )
        return digest.hexdigest()

    def auto_batch_size(self, height: int, width: int) -> int:
        """Batch size for (height × width) inputs: the one given, else a per-device pixel budget.

        The choice depends only on the shape and device, never on timing, so results are
        reproducible bit for bit.
        """
        if self.batch_size is not None:
            return self.batch_size
        cuda = self.device.type == "cuda"
        budget = _CUDA_PIXELS_PER_BATCH if cuda else _CPU_PIXELS_PER_BATCH
        low, high = _CUDA_BATCH_RANGE if cuda else _CPU_BATCH_RANGE
        size = max(1, budget // (height * width))
        return max(low, min(high, 1 << (size.bit_length() - 1)))

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout the model's inputs are given in (channels-last for convolutional models)."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for a [0, 1] batch (N, 3, H, W) already on the device; validated."""
        x = self.preprocess(batch) if self.preprocess is not None else batch
        if self.channels_last:
            x = x.contiguous(memory_format=self.memory_format)
        out = self.model(x)
        if not isinstance(out, torch.Tensor):
            raise ModelOutputError(
                f"the model returned {type(out).__name__}, not a tensor; it must return logits (N, C)"
            )
        if out.ndim != 2 or out.shape[0] != batch.shape[0]:
            raise ModelOutputError(
                f"the model returned shape {tuple(out.shape)} for a batch of {batch.shape[0]} images; "
                f"it must return logits shaped ({batch.shape[0]}, num_classes)"
            )
        if self.class_names is not None and out.shape[1] != len(self.class_names):
            raise ModelOutputError(
                f"the model returned {out.shape[1]} logits but class_names has "
                f"{len(self.class_names)} entries; pass one name per class"
            )
        if not bool(torch.isfinite(out).all()):
            raise ModelOutputError(
                "the model returned NaN or inf logits; check the weights and the preprocessing"
            )
        return out.float()

    def class_name(self, index: int) -> str:
        """The name of class ``index``, or its number as a string when no names are known."""
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return str(index)

    def class_index(self, target: int | str, num_classes: int) -> int:
        """Resolve a target given as an index or a class name to an index in [0, num_classes)."""
        if isinstance(target, str):
            if self.class_names is None or target not in self.class_names:
                known = (
                    "none known" if self.class_names is None else ", ".join(self.class_names[:10])
                )
                raise XaiValueError(
                    f"target={target!r} is not a class name (names: {known}); "
                    "pass a known name or a class index"
                )
            return self.class_names.index(target)
        if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
            raise XaiTypeError(f"target={target!r} is not an int, a class name or None")
        if not 0 <= int(target) < num_classes:
            raise XaiValueError(
                f"target={target!r} is out of range for a model with {num_classes} classes; "
                f"use 0..{num_classes - 1} or None for the predicted class"
            )
        return int(target)

    def to_batch(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Stack H×W×3 arrays of one size into a (N, 3, H, W) float tensor on the device."""
        stacked = np.stack([np.asarray(im, dtype=np.float32) for im in images])
        return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous().to(self.device)

    def predict(self, images: Any, top_k: int = 5) -> Prediction | list[Prediction]:
        """Predict the top-k classes of one image or a list of images, with softmax probabilities.

        Returns a ``Prediction`` (labels, names, probabilities) per image; a list for a list.
        """
        single = not isinstance(images, (list, tuple))
        arrays = [as_image(im, "images") for im in ([images] if single else images)]
        if not isinstance(top_k, int) or top_k < 1:
            raise XaiValueError(f"top_k={top_k!r} must be a positive int")
        results: list[Prediction] = []
        with torch.inference_mode():
            for array in arrays:
                probs = torch.softmax(self.logits(self.to_batch([array])), dim=1)[0]
                k = min(top_k, probs.shape[0])
                values, labels = torch.topk(probs, k)
                label_list = [int(i) for i in labels.tolist()]
                results.append(
                    Prediction(
                        labels=label_list,
                        names=[self.class_name(i) for i in label_list],
                        probabilities=[float(v) for v in values.tolist()],
                    )
                )
        return results[0] if single else results


def check_batch_size(batch_size: int | None, name: str = "batch_size") -> int | None:
    """Validate an optional positive batch size."""
    if batch_size is None:
        return None
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise XaiValueError(f"{name}={batch_size!r} must be a positive int or None (automatic)")
    return int(batch_size)


def as_classifier(classifier: Any) -> Classifier:
    """Accept a Classifier, or wrap a bare module/callable in one with default settings."""
    if isinstance(classifier, Classifier):
        return classifier
    if callable(classifier):
        return Classifier(classifier)
    raise XaiTypeError(
        f"classifier of type {type(classifier).__name__} is not a Classifier or a model; "
        "pass pytest_xai.Classifier(model) or a torch.nn.Module"
    )
