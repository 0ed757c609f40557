"""``explain()``: validate, predict, dispatch to the engine and package Explanations."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch

from pytest_xai import __version__
from pytest_xai.classifier import as_classifier, check_batch_size
from pytest_xai.engine.gradient import default_background, expected_gradients
from pytest_xai.engine.methods import PERTURBATION_METHODS, explain_superpixels, paint
from pytest_xai.engine.perturb import check_baseline, check_output
from pytest_xai.engine.segmentation import segment
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.images import as_image

METHODS = ("lime", "kernel_shap", "gradient_shap")
GRADIENT_DEFAULT_SAMPLES = 200
MAX_SAMPLES = 1_000_000


def _check_int(value: Any, name: str, low: int, high: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise XaiTypeError(f"{name}={value!r} is not an int; {fix}")
    if not low <= value <= high:
        raise XaiValueError(f"{name}={value!r} is out of range; {fix}")
    return int(value)


def _as_images(images: Any) -> tuple[list[np.ndarray], bool]:
    """Return the images as arrays and whether a single image (not a list) was given."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise XaiValueError("images is an empty list; pass at least one image")
        return [as_image(im, f"images[{i}]") for i, im in enumerate(images)], False
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
        return [as_image(im, f"images[{i}]") for i, im in enumerate(images)], False
    return [as_image(images, "images")], True


def _background(background: Any, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    items = (
        list(background)
        if isinstance(background, (list, tuple))
        or (hasattr(background, "ndim") and background.ndim == 4)
        else [background]
    )
    arrays = [as_image(b, f"background[{i}]") for i, b in enumerate(items)]
    for i, array in enumerate(arrays):
        if array.shape != shape:
            raise XaiValueError(
                f"background[{i}] is {array.shape[0]}×{array.shape[1]} but the image is "
                f"{shape[0]}×{shape[1]}; pass background images of the image's size"
            )
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().to(device)


def explain(
    classifier: Any,
    images: Any,
    *,
    method: str = "lime",
    target: int | str | Sequence[int | str] | None = None,
    output: str = "logit",
    samples: int | None = None,
    seed: int = 0,
    segments: Any = None,
    n_segments: int = 50,
    baseline: Any = "mean",
    background: Any = None,
    local_smoothing: float = 0.0,
    batch_size: int | None = None,
) -> Explanation | list[Explanation]:
    """Explain a classifier's prediction on one image (or a list) with LIME or SHAP.

    Parameters
    ----------
    classifier:
        A ``pytest_xai.Classifier`` (or a bare module, wrapped with defaults).
    images:
        One image (path, PIL image, H×W×3 array, (3, H, W) tensor) or a list of them; a list
        gives a list of Explanations. Images of one size share forward batches.
    method:
        "lime" (lime_image's algorithm), "kernel_shap" (Kernel SHAP over the same
        superpixels) or "gradient_shap" (expected gradients, pixel-level).
    target:
        The class to explain: None (the top-1 prediction), an index or a class name; or one
        per image.
    output:
        What is explained: "logit" (default; stable on confident models), "probability"
        (lime's behaviour) or "log_probability".
    samples:
        Model evaluations (lime, kernel_shap; default 1000) or gradient samples
        (gradient_shap; default 200).
    seed:
        Seeds every random draw; the global RNGs of torch, numpy and random are not touched.
    segments:
        None/"slic", "quickshift", "felzenszwalb", or an (H, W) integer label array.
    n_segments:
        Approximate superpixel count for SLIC and Felzenszwalb.
    baseline:
        What a hidden superpixel becomes: "mean" (its mean colour), "zero", "blur", a float
        or an RGB triple.
    background:
        gradient_shap only: a batch of [0, 1] images of the image's size; default: a blurred
        copy of the image and an image of its mean colour.
    local_smoothing:
        gradient_shap only: standard deviation of Gaussian noise added to the image per sample.
    batch_size:
        Images per forward pass; None uses the classifier's (automatic by default).
    """
    started = time.perf_counter()
    clf = as_classifier(classifier)
    if method not in METHODS:
        raise XaiValueError(f"method={method!r} is not known; use one of {METHODS}")
    output = check_output(output)
    seed = _check_int(seed, "seed", 0, 2**63 - 1, "use a non-negative int")
    batch = check_batch_size(batch_size)
    if method == "gradient_shap":
        default_samples = GRADIENT_DEFAULT_SAMPLES
    else:
        default_samples = PERTURBATION_METHODS[method].default_samples
    n = (
        default_samples
        if samples is None
        else _check_int(
            samples, "samples", 2, MAX_SAMPLES, f"use 2..{MAX_SAMPLES} (default {default_samples})"
        )
    )
    fill = check_baseline(baseline)
    if not isinstance(local_smoothing, (int, float)) or not 0 <= local_smoothing < 10:
        raise XaiValueError(f"local_smoothing={local_smoothing!r} must be a float in [0, 10)")
    if method != "gradient_shap" and (background is not None or local_smoothing):
        raise XaiValueError(
            f"background and local_smoothing apply to method='gradient_shap', not {method!r}; "
            "use baseline= for superpixel methods"
        )
    arrays, single = _as_images(images)
    targets_in: list[int | str | None] = (
        list(target)
        if isinstance(target, (list, tuple))
        else [cast("int | str | None", target)] * len(arrays)
    )
    if len(targets_in) != len(arrays):
        raise XaiValueError(
            f"target has {len(targets_in)} entries for {len(arrays)} images; pass one per image"
        )

    # One unperturbed forward per image size: predictions, targets and confidences.
    targets: list[int] = [0] * len(arrays)
    probabilities: list[float] = [0.0] * len(arrays)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, array in enumerate(arrays):
        groups.setdefault(array.shape, []).append(i)
    with torch.inference_mode():
        for indices in groups.values():
            probs = torch.softmax(clf.logits(clf.to_batch([arrays[i] for i in indices])), dim=1)
            for row, i in enumerate(indices):
                t = targets_in[i]
                targets[i] = (
                    int(probs[row].argmax()) if t is None else clf.class_index(t, probs.shape[1])
                )
                probabilities[i] = float(probs[row, targets[i]])

    params: dict[str, Any] = {"method": method, "output": output, "samples": n, "seed": seed}
    results: list[Explanation | None] = [None] * len(arrays)
    for shape, indices in groups.items():
        height, width = shape[:2]
        tensors = [clf.to_batch([arrays[i]])[0] for i in indices]
        size = batch or clf.auto_batch_size(height, width)
        if method == "gradient_shap":
            given = None if background is None else _background(background, shape, clf.device)
            for i, image in zip(indices, tensors):
                bg = default_background(image) if given is None else given
                attribution = expected_gradients(
                    clf.logits,
                    image,
                    bg,
                    targets[i],
                    output,
                    n,
                    torch.Generator().manual_seed(seed),
                    size,
                    float(local_smoothing),
                )
                results[i] = _package(
                    clf,
                    attribution.sum(0).cpu().numpy(),
                    None,
                    None,
                    targets[i],
                    probabilities[i],
                    {
                        **params,
                        "background": "default" if background is None else "given",
                        "background_size": len(bg),
                        "local_smoothing": float(local_smoothing),
                    },
                    evaluations=n,
                )
            continue
        spec = PERTURBATION_METHODS[method]
        segs = [segment(arrays[i], segments, n_segments) for i in indices]
        for seg in segs:
            m = int(seg.max()) + 1
            if n < spec.min_samples(m):
                raise XaiValueError(
                    f"samples={n} is too few for method={method!r} with {m} segments; "
                    f"use at least {spec.min_samples(m)} (or fewer segments)"
                )
        fits = explain_superpixels(
            spec,
            clf.logits,
            tensors,
            [torch.from_numpy(s).to(clf.device) for s in segs],
            [targets[i] for i in indices],
            samples=n,
            seed=seed,
            baseline=fill,
            output=output,
            batch_size=size,
            memory_format=clf.memory_format,
        )
        for i, seg, res in zip(indices, segs, fits):
            weights = res.fit.coef[0].numpy()
            results[i] = _package(
                clf,
                paint(weights, seg),
                weights,
                seg,
                targets[i],
                probabilities[i],
                {
                    **params,
                    "segmentation": _segmentation_name(segments),
                    "n_segments": n_segments,
                    "n_features": len(weights),
                    "baseline": fill,
                },
                evaluations=len(res.masks),
                score=float(res.fit.score[0]),
                intercept=float(res.fit.intercept[0]),
                local_prediction=float(res.fit.local_prediction[0]),
            )
    elapsed = time.perf_counter() - started
    done = [r for r in results if r is not None]
    for r, array in zip(done, arrays):
        r.meta["seconds"] = elapsed / len(done)
        r.image = array
    return done[0] if single else done


def _segmentation_name(segments: Any) -> str:
    if segments is None or isinstance(segments, str):
        return segments or "slic"
    digest = hashlib.sha256(np.ascontiguousarray(np.asarray(segments)).tobytes())
    return f"array:{digest.hexdigest()[:16]}"


def _package(
    clf: Any,
    heatmap: np.ndarray,
    weights: np.ndarray | None,
    segments: np.ndarray | None,
    target: int,
    probability: float,
    params: dict[str, Any],
    *,
    evaluations: int,
    score: float | None = None,
    intercept: float | None = None,
    local_prediction: float | None = None,
) -> Explanation:
    return Explanation(
        heatmap=heatmap.astype(np.float32),
        weights=weights,
        segments=segments,
        target=target,
        target_name=clf.class_name(target),
        probability=probability,
        method=params["method"],
        output=params["output"],
        seed=params["seed"],
        samples=params["samples"],
        score=score,
        intercept=intercept,
        local_prediction=local_prediction,
        params=params,
        meta={
            "pytest_xai": __version__,
            "torch": torch.__version__,
            "device": str(clf.device),
            "model": clf.fingerprint,
            "evaluations": evaluations,
        },
    )
