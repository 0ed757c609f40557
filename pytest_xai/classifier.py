"""The model under test: a torch module or callable, its preprocessing, device and batch size."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from pytest_xai._util.validation import is_utf8, positive_int, short
from pytest_xai.errors import ModelOutputError, XaiTypeError, XaiValueError
from pytest_xai.fingerprint import identity
from pytest_xai.images import as_images

# Batch size when none is given: a pixel budget per forward pass (speed), then a byte budget
# (memory), both fixed per device type, so the choice depends only on the shape and the device,
# never on timing, and results stay bit-exact run to run. The budgets are measured
# (benchmarks/results/batching.md).
_CPU_PIXELS_PER_BATCH = 2**17
_CPU_BATCH_RANGE = (8, 64)
_CUDA_PIXELS_PER_BATCH = 2**24
_CUDA_BATCH_RANGE = (16, 256)
# Memory: the engine holds per batch image its float32 planes, a channels-last copy and a
# per-pixel mask, (3 + 3 + 1) * 4 bytes a pixel. On the CPU their total stays under 1 GiB (so a
# 10000x10000 image runs one at a time); on CUDA under 1/16 of the device's memory. The byte
# budget can lower the batch down to 1; an out-of-memory error halves it further at run time.
ENGINE_BYTES_PER_PIXEL = (3 + 3 + 1) * 4
_CPU_BATCH_BYTES = 2**30
_CUDA_MEMORY_SHARE = 16

_instances = itertools.count()


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
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise XaiValueError(
                f"device={device!r} but MPS (Apple GPU) is not available here; use 'auto' or "
                "'cpu'"
            )
    elif resolved.type != "cpu":
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


PROBABILITY_ROW_TOLERANCE = 1e-4  # how far from 1 a row of probabilities may sum (float32 softmax)


def from_probabilities(out: torch.Tensor) -> torch.Tensor:
    """A forward's outputs, or their logarithms when every row is non-negative and sums to 1.

    A model that ends in a softmax returns probabilities; softmax of their logarithm gives them
    back exactly, so its probability is never softmaxed a second time (which squeezes two classes
    into [0.27, 0.73]), and the explained "logit" is the log-probability. Decided per forward on
    the device, without reading a value back to the host; a model with one output is left as is.
    """
    if out.shape[1] < 2:
        return out
    rows = (out >= 0).all() & ((out.sum(dim=1) - 1).abs() <= PROBABILITY_ROW_TOLERANCE).all()
    return torch.where(rows, torch.log(out.clamp_min(torch.finfo(out.dtype).tiny)), out)


class Classifier:
    """An image classifier to explain: a model plus its preprocessing, device and class names.

    Parameters
    ----------
    model:
        A ``torch.nn.Module`` or any callable mapping a float batch (N, 3, H, W) to logits (N, C).
        A module is moved to ``device`` and put in eval mode. A model that returns
        probabilities (every row non-negative and summing to 1, as after a softmax layer) is
        read as such: its logits are taken to be the log-probabilities, so its probabilities are
        never softmaxed again.
    preprocess:
        Maps the [0, 1] RGB batch to the model's input on the device, e.g. ImageNet
        normalisation. ``None`` feeds the [0, 1] batch as it is.
    class_names:
        Names of the C classes, so targets can be given by name and reports read well; a
        list of distinct strings (not one string).
    device:
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps"; a device
        that is not available here is refused.
    batch_size:
        Images per forward pass; ``None`` picks one from the image size and device.
    channels_last:
        Run a convolutional module in channels-last memory format. ``None`` does so for any
        ``nn.Module`` with a 2-D convolution: measured 3.5x faster for the small CNN and 1.4x
        for resnet18 on CPU, and the usual layout for convolutions on CUDA.

    A module is changed in place: it is moved to ``device``, switched to ``eval()`` (dropout
    off, batch-norm statistics frozen) and, with ``channels_last``, its weights are converted
    to the channels-last memory format. Pass a copy (``copy.deepcopy(model)``) to keep the
    original as it was.

    A model whose parameters are float64 or float16 (``model.double()``, ``model.half()``) is
    given its inputs in that dtype (after ``preprocess``); its logits come back as float32.
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
        self.class_names = check_class_names(class_names)

    def __repr__(self) -> str:
        name = type(self.model).__name__
        return f"Classifier({name}, device={str(self.device)!r}, fingerprint={self.fingerprint[:12]!r})"

    @cached_property
    def _identity(self) -> tuple[str, bool]:
        digest = hashlib.sha256()
        exact = True
        parts: list[tuple[str, Any]] = [
            ("model", self.model),
            ("preprocess", self.preprocess),
            ("class_names", self.class_names),
            ("channels_last", self.channels_last),
            ("device", self.device.type),
        ]
        for name, value in parts:
            known = identity(value, digest)
            exact = exact and known
            digest.update(f"|{name}:{'exact' if known else 'opaque'}|".encode())
        return digest.hexdigest(), exact

    @property
    def fingerprint(self) -> str:
        """SHA-256 of everything known to change the outputs: the model's class, structure,
        parameters and buffers (or a function's code and closure), the preprocessing, the class
        names, the memory format and the device type. Computed once: weights changed in place
        afterwards are not seen until ``refresh()`` (the explain fixture refreshes it when a
        cached explanation turns out stale)."""
        return self._identity[0]

    def refresh(self) -> None:
        """Forget the fingerprint and keys, so the next ones read the model as it is now."""
        for name in ("_identity", "session_key"):
            self.__dict__.pop(name, None)

    @property
    def cache_key(self) -> str | None:
        """A key under which explanations may be shared across Classifier objects, runs and
        machines: the fingerprint when it covers everything the outputs depend on, else None.

        None means some part is opaque (a closure over unhashable state, a callable object, a
        hook): two classifiers could fingerprint alike and still differ, so do not cache
        across objects; ``session_key`` is always usable within one process.
        """
        fingerprint, exact = self._identity
        return fingerprint if exact else None

    @cached_property
    def session_key(self) -> str:
        """A key that is safe within one process: ``cache_key``, or, when that is None, the
        fingerprint plus a number unique to this Classifier object (never reused)."""
        return self.cache_key or f"{self.fingerprint}:instance-{next(_instances)}"

    def auto_batch_size(
        self, height: int, width: int, bytes_per_pixel: int = ENGINE_BYTES_PER_PIXEL
    ) -> int:
        """Batch size for (height × width) inputs: the one given, else one chosen from the shape
        and the device alone (see the module's notes), so results are reproducible bit for bit.

        A pixel budget picks the fastest size (a power of two), then a byte budget bounds the
        engine's buffers, down to a single image for very large ones. ``bytes_per_pixel`` is
        what the method allocates per batch image and pixel (its ``MethodSpec``'s).
        """
        if self.batch_size is not None:
            return self.batch_size
        cuda = self.device.type == "cuda"
        budget = _CUDA_PIXELS_PER_BATCH if cuda else _CPU_PIXELS_PER_BATCH
        low, high = _CUDA_BATCH_RANGE if cuda else _CPU_BATCH_RANGE
        size = max(1, budget // (height * width))
        size = max(low, min(high, 1 << (size.bit_length() - 1)))
        if cuda:
            memory = torch.cuda.get_device_properties(self.device).total_memory
            byte_budget = memory // _CUDA_MEMORY_SHARE
        else:
            byte_budget = _CPU_BATCH_BYTES
        return max(1, min(size, byte_budget // (bytes_per_pixel * height * width)))

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout the model's inputs are given in (channels-last for convolutional models)."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @property
    def input_dtype(self) -> torch.dtype | None:
        """The dtype of a module's first floating parameter when it is not float32 (a
        ``.double()`` or ``.half()`` model): inputs are cast to it. None: inputs stay as
        ``preprocess`` gives them. Read on each call, so a model converted later still works."""
        if not isinstance(self.model, torch.nn.Module):
            return None
        first = next((p for p in self.model.parameters() if p.is_floating_point()), None)
        return None if first is None or first.dtype == torch.float32 else first.dtype

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) float32 for a [0, 1] batch (N, 3, H, W) on the device, shape-checked.

        Never synchronises with the host (no check of the values), so the engine can call it in
        a loop on CUDA and check the gathered outputs once; use ``logits`` elsewhere.
        """
        x = self.preprocess(batch) if self.preprocess is not None else batch
        dtype = self.input_dtype
        if dtype is not None and isinstance(x, torch.Tensor) and x.is_floating_point():
            x = x.to(dtype)
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
        return from_probabilities(out.float())

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for a [0, 1] batch (N, 3, H, W) already on the device; validated."""
        out = self.forward(batch)
        if not bool(torch.isfinite(out).all()):
            raise ModelOutputError(
                "the model returned NaN or inf logits; check the weights and the preprocessing"
            )
        return out

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
        arrays, single = as_images(images, "images")
        top_k = positive_int(top_k, "top_k", "use e.g. 5")
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


def check_batch_size(batch_size: Any) -> int | None:
    """Validate an optional positive batch size."""
    if batch_size is None:
        return None
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise XaiValueError(f"batch_size={batch_size!r} must be a positive int or None (automatic)")
    return int(batch_size)


def check_class_names(class_names: Any) -> list[str] | None:
    """Validate optional class names: a sequence of distinct strings (one string is refused,
    not split into letters; a repeated name would make a target given by name ambiguous)."""
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (Sequence, np.ndarray)):
        raise XaiTypeError(
            f"class_names={short(class_names)} is not a list of names; pass one string per "
            "class, e.g. ['cat', 'dog']"
        )
    names = list(class_names)
    if not all(isinstance(n, str) for n in names):
        raise XaiTypeError(
            f"class_names={short(names)} must hold only strings; pass one string per class"
        )
    unreadable = next((n for n in names if not is_utf8(n)), None)
    if unreadable is not None:
        raise XaiValueError(
            f"class_names holds {unreadable!r}, which has a lone surrogate (no report can write it); "
            "pass readable names"
        )
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise XaiValueError(
            f"class_names repeats {short(repeated)}; pass distinct names (a target given by "
            "name must name one class)"
        )
    return names


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
