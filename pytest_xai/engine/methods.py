"""Perturbation methods as (sampler, solver) pairs, and the batched loop that runs them.

LIME and Kernel SHAP share everything but how coalitions are drawn and weighted and how the
surrogate is solved (as in captum's LimeBase / KernelShap): adding a superpixel method is
adding a pair and a two-line runner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from pytest_xai.engine.baselines import fill_image
from pytest_xai.engine.perturb import PerturbationJob, evaluate_jobs
from pytest_xai.engine.runners import Attribution, Fill, Group, Request, check_finite
from pytest_xai.engine.sampling import (
    cosine_distance_to_ones,
    kernel_shap_masks,
    lime_kernel,
    lime_masks,
)
from pytest_xai.engine.segmentation import segment
from pytest_xai.engine.solvers import LinearFit, efficient_wls, weighted_ridge
from pytest_xai.errors import XaiValueError

Sampler = Callable[[torch.Generator, int, int], tuple[torch.Tensor, torch.Tensor]]
Solver = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], LinearFit]


def lime_sampler(
    generator: torch.Generator, samples: int, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """lime_image: uniform masks (row 0 all ones), weighted by the cosine-distance kernel."""
    masks = lime_masks(generator, samples, m)
    return masks, lime_kernel(cosine_distance_to_ones(masks), width=0.25)


def lime_solver(masks: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> LinearFit:
    """lime_base with all features kept: weighted ridge, alpha 1, with intercept."""
    return weighted_ridge(masks, y, w, alpha=1.0)


def kernel_shap_solver(masks: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> LinearFit:
    """Kernel SHAP: rows 0 and 1 are f(x) and f(∅); efficiency is enforced exactly."""
    return efficient_wls(masks, y, w, f_full=y[0], f_empty=y[1])


@dataclass(frozen=True)
class PerturbationMethod:
    """A superpixel attribution method: how coalitions are drawn and how they are fitted."""

    sampler: Sampler
    solver: Solver
    min_samples: Callable[[int], int]


LIME = PerturbationMethod(lime_sampler, lime_solver, lambda m: 2)
KERNEL_SHAP = PerturbationMethod(kernel_shap_masks, kernel_shap_solver, lambda m: min(2**m, m + 2))


@dataclass(frozen=True)
class SuperpixelResult:
    """The fitted surrogate of one image and the masks it was fitted on."""

    fit: LinearFit
    masks: torch.Tensor


def explain_superpixels(
    method: PerturbationMethod,
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    images: Sequence[torch.Tensor],
    segments: Sequence[torch.Tensor],
    targets: Sequence[int],
    *,
    samples: int,
    seed: int,
    baseline: Fill,
    output: str,
    batch_size: int,
    memory_format: torch.memory_format = torch.contiguous_format,
    item: str = "one image",
) -> list[SuperpixelResult]:
    """Explain several images of one size, their perturbations sharing forward batches.

    Each image draws its masks from its own generator seeded with ``seed``, so the result for
    an image does not depend on which other images share the call. Outputs are gathered on
    the device and moved to the host once, after the loop.
    """
    jobs: list[PerturbationJob] = []
    drawn: list[tuple[torch.Tensor, torch.Tensor]] = []  # CPU masks and kernel weights
    for image, seg, target in zip(images, segments, targets):
        m = int(seg.max()) + 1
        masks, weights = method.sampler(torch.Generator().manual_seed(seed), samples, m)
        jobs.append(
            PerturbationJob(
                image=image,
                fill=fill_image(image, seg, m, baseline),
                segments=seg,
                masks=masks.to(image.device),
                target=target,
            )
        )
        drawn.append((masks, weights))
    outputs = evaluate_jobs(logits_fn, jobs, output, batch_size, memory_format, item=item)
    values = torch.cat(outputs).cpu()  # the one transfer to the host
    check_finite(values, f"{len(values)} perturbed images")
    results = []
    for (masks, weights), part in zip(drawn, values.split([len(o) for o in outputs])):
        fit = method.solver(masks, part[:, None], weights)  # bool: solvers convert by blocks
        results.append(SuperpixelResult(fit=fit, masks=masks))
    return results


def run_superpixels(method: PerturbationMethod, request: Request, group: Group) -> list[Attribution]:
    """Segment each image, check the sample budget, explain, and paint the weights."""
    baseline = cast(Fill, request.baseline)  # validate() resolves None for superpixel methods
    segs = [segment(image, request.segments, request.n_segments) for image in group.images]
    for seg in segs:
        m = int(seg.max()) + 1
        if request.samples < method.min_samples(m):
            raise XaiValueError(
                f"samples={request.samples} is too few for method={request.method!r} with {m} "
                f"segments; use at least {method.min_samples(m)} (or fewer segments)"
            )
    fits = explain_superpixels(
        method,
        group.forward,
        list(group.tensors),
        [torch.from_numpy(s).to(group.device) for s in segs],
        group.targets,
        samples=request.samples,
        seed=request.seed,
        baseline=baseline,
        output=request.output,
        batch_size=group.batch_size,
        memory_format=group.memory_format,
        item=group.item,
    )
    return [_attribution(request, seg, res) for seg, res in zip(segs, fits)]


def _attribution(request: Request, seg: np.ndarray, res: SuperpixelResult) -> Attribution:
    weights = res.fit.coef[0].numpy()
    return Attribution(
        heatmap=paint(weights, seg),
        evaluations=len(res.masks),
        params={
            "segmentation": segmentation_name(request.segments),
            "n_segments": request.n_segments,
            "n_features": len(weights),
            "baseline": list(request.baseline) if isinstance(request.baseline, tuple) else request.baseline,
        },
        weights=weights,
        segments=seg,
        score=float(res.fit.score[0]),
        intercept=float(res.fit.intercept[0]),
        local_prediction=float(res.fit.local_prediction[0]),
    )


def run_lime(request: Request, group: Group) -> list[Attribution]:
    """LIME (lime_image's algorithm) over superpixels."""
    return run_superpixels(LIME, request, group)


def run_kernel_shap(request: Request, group: Group) -> list[Attribution]:
    """Kernel SHAP over the same superpixels."""
    return run_superpixels(KERNEL_SHAP, request, group)


def segmentation_name(segments: Any) -> str:
    """How the superpixels were made: the algorithm's name or a digest of the given labels."""
    if segments is None or isinstance(segments, str):
        return segments or "slic"
    digest = hashlib.sha256(np.ascontiguousarray(np.asarray(segments)).tobytes())
    return f"array:{digest.hexdigest()[:16]}"


def paint(weights: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Paint superpixel weights on their pixels: an H×W float32 heatmap."""
    return weights[segments].astype(np.float32)
