"""``explain()``: ``validate`` the arguments into a frozen ``Request``, ``predict`` each image's
target (one unperturbed forward per image size), ``run`` each group of same-sized images through
the method's registered runner, and ``package`` the ``Explanation`` objects."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from pytest_xai import __version__
from pytest_xai._util.digest import array_sha256
from pytest_xai._util.validation import check_int, short
from pytest_xai.classifier import Classifier, as_classifier, check_batch_size
from pytest_xai.defaults import (
    BASELINES,
    MAX_SAMPLES,
    MAX_SEED,
    OUTPUTS,
    PRECISIONS,
)
from pytest_xai.engine.batching import map_chunks
from pytest_xai.engine.outputs import top_classes, transform_output
from pytest_xai.engine.provenance import library_versions
from pytest_xai.engine.rounds import budget_note, check_budget
from pytest_xai.engine.runners import (
    Attribution,
    Fill,
    Group,
    Request,
    autocast_forward,
    check_attribution,
    runner_for,
)
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.images import as_images
from pytest_xai.registry import GREY, METHODS, Params

Target = int | str | None


def explain(
    classifier: Any,
    images: Any,
    *,
    method: str = "lime", target: Target | Sequence[Target] = None, output: str = "logit",
    samples: int | str | None = None, tolerance: float | None = None, max_samples: int | None = None,
    seed: int = 0, segments: Any = None, n_segments: int = 50, baseline: Any = None,
    background: Any = None, local_smoothing: float = 0.0, batch_size: int | None = None,
    precision: str = "float32",
    **options: Any,
) -> Explanation | list[Explanation]:
    """Explain a classifier's prediction on one image (or a list) with LIME or SHAP.

    Parameters (the README's Engine table has the details)
    ----------
    classifier: a ``pytest_xai.Classifier``, or a bare module wrapped with defaults.
    images: one image (path, PIL image, H×W×3 array, (3, H, W) tensor), a list of them or a
        4-D batch; a list or batch gives a list of Explanations. Same-sized images share
        forward batches.
    method: "lime", "kernel_shap", "gradient_shap", or one added with ``register_method``.
    target: the class to explain: None (top-1), an index or a class name; or one per image.
    output: "logit" (default), "probability" (lime's behaviour) or "log_probability".
    samples, tolerance, max_samples: "auto" (None: the default) draws seeded rounds until
        Σ standard error / Σ |attribution| ≤ ``tolerance`` (in (0, 1]) or ``max_samples`` (default
        the fixed budget: 1000, 1000, 200); a check that cannot decide asks for more rounds,
        up to it (docs/engine.md). An int is a fixed budget of model evaluations (or gradient
        samples), the same draws for the same seed; "fixed" is the method's default budget (1000, 1000,
        200). A method registered without rounds runs its budget.
    seed: seeds every random draw; the global RNGs are neither used nor touched.
    segments, n_segments: superpixels: None/"slic", "quickshift", "felzenszwalb" or an (H, W)
        label array; approximate count for SLIC and Felzenszwalb.
    baseline: what a hidden superpixel becomes: None (the method's registered default),
        "mean", "zero", "blur", a float or an RGB triple.
    background, local_smoothing: gradient_shap only: [0, 1] images of the image's size
        (default: a blurred copy and the mean colour); noise std added per sample.
    batch_size: images per forward pass; None: the classifier's (bounded by bytes).
    precision: "float32" (default), "bfloat16" (torch.autocast, CUDA or CPU) or "float16"
        (CUDA only); recorded in ``params["precision"]``. Targets are predicted at float32.
    options: a registered method's own arguments, passed to its runner in ``request.extra``.
    """
    started = time.perf_counter()
    clf = as_classifier(classifier)
    arrays, single = as_images(images, "images")
    request = validate(
        clf, arrays, method=method, output=output, samples=samples, tolerance=tolerance,
        max_samples=max_samples, seed=seed,
        segments=segments, n_segments=n_segments, baseline=baseline, background=background,
        local_smoothing=local_smoothing, batch_size=batch_size, precision=precision, extra=options,
    )  # fmt: skip
    predicted = predict(clf, arrays, target, request.output)
    attributions, batches = run(clf, request, arrays, predicted.targets)
    parts = zip(arrays, predicted.rows(), attributions, batches)
    done = [package(clf, request, *part) for part in parts]
    seconds = (time.perf_counter() - started) / len(done)
    for exp, top in zip(done, predicted.top):
        exp.meta.update(seconds=seconds, top=[[clf.class_name(k), p] for k, p in top])
        exp.computed_by(clf)
    return done[0] if single else done


# -- validate -----------------------------------------------------------------------------------


def validate(clf: Classifier, arrays: list[np.ndarray], **arguments: Any) -> Request:
    """Check every ``explain`` argument and return them as a ``Request``.

    ``arguments`` are explain's keyword arguments except ``target`` (checked by ``predict``
    against the model's class count).
    """
    method = check_method(arguments["method"])
    spec = METHODS[method]
    _refuse_unused(method, arguments)
    samples, auto = check_budget(method, arguments["samples"], arguments["tolerance"], arguments["max_samples"])
    return Request(
        method=method,
        output=check_output(arguments["output"]),
        samples=samples,
        auto=auto,
        seed=check_int(arguments["seed"], "seed", 0, MAX_SEED, "use a non-negative int"),
        precision=check_precision(arguments["precision"], clf.device),
        segments=arguments["segments"],
        n_segments=check_int(arguments["n_segments"], "n_segments", 2, MAX_SAMPLES, "e.g. 50"),
        baseline=_resolve_baseline(arguments["baseline"], spec.default_baseline, spec.options),
        background=_check_background(arguments["background"], arrays),
        local_smoothing=_check_smoothing(arguments["local_smoothing"]),
        batch_size=check_batch_size(arguments["batch_size"]),
        extra=spec.check_options(method, arguments.get("extra") or {}),
    )


def check_method(method: Any) -> str:
    """Validate a method name against the registry."""
    if not isinstance(method, str) or method not in METHODS:
        raise XaiValueError(f"method={method!r} is not known; use one of {tuple(METHODS)}")
    return method


def check_output(output: Any) -> str:
    """Validate the name of the explained output."""
    if not isinstance(output, str) or output not in OUTPUTS:
        raise XaiValueError(f"output={output!r} is not known; use one of {OUTPUTS}")
    return output


def check_baseline(baseline: Any) -> Fill:
    """Validate a baseline: "mean", "zero", "blur", "grey" (recorded as its RGB triple, the
    interventions' grey), a float in [0, 1] or an RGB triple."""
    if baseline == "grey":
        return GREY
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise XaiValueError(
                f"baseline={baseline!r} is not known; use one of {(*BASELINES, 'grey')}, a float or an "
                "RGB triple"
            )
        return baseline
    if isinstance(baseline, (bool, np.bool_)):
        raise XaiTypeError(f"baseline={baseline!r} is a bool; use 'mean', a float or an RGB triple")
    described = short(baseline)
    try:
        values = np.atleast_1d(np.asarray(baseline, dtype=np.float64))
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or len(values) not in (1, 3):
        raise XaiTypeError(
            f"baseline={described} is not a float or an RGB triple; use e.g. 0.5 or (0.5, 0.5, 0.5)"
        )
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise XaiValueError(f"baseline={described} must lie in [0, 1] (images are [0, 1] RGB)")
    rgb = np.broadcast_to(values, (3,))
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def check_precision(precision: Any, device: torch.device) -> str:
    """Validate a precision for ``device``: float16 needs CUDA; reduced ones need autocast."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise XaiValueError(f"precision={precision!r} is not known; use one of {PRECISIONS}")
    if precision == "float16" and device.type == "cpu":
        raise XaiValueError(
            "precision='float16' is not supported on the CPU (slow and inexact there); use "
            "'bfloat16' or 'float32' on the CPU, or a CUDA device"
        )
    if precision != "float32" and not torch.amp.is_autocast_available(device.type):
        raise XaiValueError(
            f"precision={precision!r} needs torch.autocast, which {device.type!r} does not "
            "support in this torch; use 'float32'"
        )
    return precision


def _resolve_baseline(baseline: Any, default: Any, options: tuple[str, ...]) -> Fill | None:
    """A given baseline, validated; None becomes the method's registered default. Methods that
    read a baseline always get one ("mean" if none is registered); for the others a given
    value is checked but unused, and None is returned."""
    if "baseline" not in options:
        if baseline is not None:
            check_baseline(baseline)
        return None
    chosen = baseline if baseline is not None else default
    return check_baseline("mean" if chosen is None else chosen)


# explain arguments that only some methods read, and the value that means "not given"
_UNSET: Params = {"background": None, "local_smoothing": 0.0, "segments": None}


def _refuse_unused(method: str, arguments: Params) -> None:
    """background, local_smoothing and segments change nothing for methods that do not read
    them: refuse them when given, rather than silently ignore them."""
    options = METHODS[method].options
    for name, unset in _UNSET.items():
        value = arguments[name]
        if name in options or value is None or _is_scalar_equal(value, unset):
            continue
        readers = " or ".join(repr(m) for m, spec in METHODS.items() if name in spec.options)
        fix = "use baseline= for superpixel methods" if name != "segments" else "drop segments="
        raise XaiValueError(
            f"{name}={short(value)} applies to method={readers or 'none registered'}, "
            f"not {method!r}; {fix}"
        )


def _is_scalar_equal(value: Any, unset: Any) -> bool:
    """Whether ``value`` is a plain number equal to ``unset`` (an array never is)."""
    if unset is None or isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.number)) and bool(value == unset)


def _check_smoothing(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise XaiTypeError(
            f"local_smoothing={short(value)} is not a float; use e.g. 0.1 (0 disables)"
        )
    if not 0 <= float(value) < 10:
        raise XaiValueError(f"local_smoothing={short(value)} must be a float in [0, 10)")
    return float(value)


def _check_background(background: Any, arrays: list[np.ndarray]) -> tuple[np.ndarray, ...] | None:
    if background is None:
        return None
    given, _ = as_images(background, "background")
    for i, array in enumerate(given):
        for image in arrays:
            if array.shape != image.shape:
                raise XaiValueError(
                    f"background[{i}] is {array.shape[0]}×{array.shape[1]} but the image is "
                    f"{image.shape[0]}×{image.shape[1]}; pass background images of the image's size"
                )
    return tuple(given)


# -- predict ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predicted:
    """Per image: the target class, its softmax probability, its logit and the explained
    ``output`` value on the unperturbed image."""

    targets: list[int]
    probabilities: list[float]
    logits: list[float]
    values: list[float]
    top: list[list[tuple[int, float]]]  # per image: the most probable (class, p), best first

    def rows(self) -> list[tuple[int, float, float, float]]:
        """(target, probability, logit, value) per image."""
        return list(zip(self.targets, self.probabilities, self.logits, self.values))


def predict(
    clf: Classifier, arrays: list[np.ndarray], target: Target | Sequence[Target], output: str
) -> Predicted:
    """Each image's target class, its probability, logit and explained ``output`` value, from
    one float32 forward per image size (so the explained class never depends on the precision
    or the method)."""
    wanted: list[Target] = (
        list(target) if isinstance(target, (list, tuple)) else [cast(Target, target)] * len(arrays)
    )
    if len(wanted) != len(arrays):
        raise XaiValueError(f"target has {len(wanted)} entries for {len(arrays)} images; pass one per image")
    n = len(arrays)
    targets, probabilities, logit_values, values = [0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    top: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    with torch.inference_mode():
        for indices in _groups(arrays).values():
            logits = _logits(clf, clf.to_batch([arrays[i] for i in indices]))
            probs = torch.softmax(logits, dim=1)
            explained = transform_output(logits, output)
            for row, i in enumerate(indices):
                t = wanted[i]
                targets[i] = (
                    int(probs[row].argmax()) if t is None else clf.class_index(t, probs.shape[1])
                )
                probabilities[i] = float(probs[row, targets[i]])
                logit_values[i] = float(logits[row, targets[i]])
                values[i] = float(explained[row, targets[i]])
                top[i] = top_classes(probs[row])
    return Predicted(targets, probabilities, logit_values, values, top)


def _logits(clf: Classifier, batch: torch.Tensor) -> torch.Tensor:
    """Validated logits of a batch of one size, in chunks that fit (out-of-memory retried)."""
    height, width = batch.shape[2:]
    chunks = map_chunks(
        lambda start, stop: clf.logits(batch[start:stop]),
        len(batch),
        clf.auto_batch_size(height, width),
        item=f"one 3×{height}×{width} image",
    )
    return torch.cat(chunks)


def _groups(arrays: list[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    """Indices of the images of each size, in order of first appearance."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, array in enumerate(arrays):
        groups.setdefault(array.shape, []).append(i)
    return groups


# -- run ----------------------------------------------------------------------------------------


def run(
    clf: Classifier, request: Request, arrays: list[np.ndarray], targets: list[int]
) -> tuple[list[Attribution], list[int]]:
    """Run the method's runner on each group of same-sized images.

    Returns one Attribution per image and the batch size its forward passes used.
    """
    runner = runner_for(request.method)
    forward = autocast_forward(clf.forward, clf.device, request.precision)
    attributions: list[Attribution | None] = [None] * len(arrays)
    batches = [0] * len(arrays)
    for (height, width, _), indices in _groups(arrays).items():
        size = request.batch_size or clf.auto_batch_size(
            height, width, request.spec.bytes_per_pixel
        )
        group = Group(
            images=[arrays[i] for i in indices],
            tensors=clf.to_batch([arrays[i] for i in indices]),
            targets=[targets[i] for i in indices],
            forward=forward,
            batch_size=size,
            memory_format=clf.memory_format,
        )
        with torch.no_grad():  # runners that need gradients enable them themselves
            results = runner(request, group)
        if len(results) != len(indices):
            raise XaiValueError(
                f"method={request.method!r} returned {len(results)} attributions for "
                f"{len(indices)} images; its runner must return one per image, in order"
            )
        for i, result in zip(indices, results):
            attributions[i], batches[i] = check_attribution(request.method, result, height, width), size
    return cast("list[Attribution]", attributions), batches


# -- package ------------------------------------------------------------------------------------


def package(
    clf: Classifier,
    request: Request,
    image: np.ndarray,
    prediction: tuple[int, float, float, float],
    attribution: Attribution,
    batch_size: int,
) -> Explanation:
    """One Explanation: the runner's pieces plus everything needed to reproduce it.
    ``prediction`` is (target, probability, logit, explained value) on the image."""
    target, probability, logit, value = prediction
    exp = Explanation(
        heatmap=np.asarray(attribution.heatmap, dtype=np.float32),
        weights=attribution.weights,
        segments=attribution.segments,
        target=target,
        target_name=clf.class_name(target),
        probability=probability,
        method=request.method,
        output=request.output,
        seed=request.seed,
        samples=attribution.evaluations if request.auto else request.samples,
        score=attribution.score,
        intercept=attribution.intercept,
        local_prediction=attribution.local_prediction,
        params={**request.params(), **attribution.params},
        meta={
            "pytest_xai": __version__,
            "torch": torch.__version__,
            "libraries": library_versions(),
            "image_sha256": array_sha256(image),
            "device": str(clf.device),
            "model": clf.fingerprint,
            "logit": logit,
            "output_value": value,
            "evaluations": attribution.evaluations,
            "batch_size": batch_size,
            "budget": budget_note(request),
            "fixed_budget": request.spec.default_samples,
            "rounds": attribution.rounds,
        },
        image=image,
        error_basis=attribution.error_basis,
        outputs=attribution.outputs,
    )
    if attribution.grower is not None:
        exp.__dict__["_grower"] = attribution.grower
    return exp
