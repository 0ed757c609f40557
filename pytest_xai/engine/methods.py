"""Perturbation methods as (sampler, solver) pairs, and the batched loop that runs them.

LIME and Kernel SHAP share everything but how coalitions are drawn and weighted and how the
surrogate is solved (as in captum's LimeBase / KernelShap): adding a method is adding a pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pytest_xai.engine.perturb import PerturbationJob, evaluate_jobs, fill_image
from pytest_xai.engine.sampling import (
    cosine_distance_to_ones,
    kernel_shap_masks,
    lime_kernel,
    lime_masks,
)
from pytest_xai.engine.solvers import LinearFit, efficient_wls, weighted_ridge

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
    default_samples: int
    min_samples: Callable[[int], int]


PERTURBATION_METHODS: dict[str, PerturbationMethod] = {
    "lime": PerturbationMethod(lime_sampler, lime_solver, 1000, lambda m: 2),
    "kernel_shap": PerturbationMethod(
        kernel_shap_masks, kernel_shap_solver, 1000, lambda m: min(2**m, m + 2)
    ),
}


@dataclass(frozen=True)
class SuperpixelResult:
    """The fitted surrogate of one image and the masks it was fitted on."""

    fit: LinearFit
    masks: torch.Tensor
    values: torch.Tensor


def explain_superpixels(
    method: PerturbationMethod,
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    images: Sequence[torch.Tensor],
    segments: Sequence[torch.Tensor],
    targets: Sequence[int],
    *,
    samples: int,
    seed: int,
    baseline: str | tuple[float, float, float],
    output: str,
    batch_size: int,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> list[SuperpixelResult]:
    """Explain several images of one size, their perturbations sharing forward batches.

    Each image draws its masks from its own generator seeded with ``seed``, so the result for
    an image does not depend on which other images share the call.
    """
    jobs: list[PerturbationJob] = []
    kernel_weights: list[torch.Tensor] = []
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
        kernel_weights.append(weights)
    outputs = evaluate_jobs(logits_fn, jobs, output, batch_size, memory_format)
    results = []
    for job, weights, values in zip(jobs, kernel_weights, outputs):
        masks = job.masks.cpu()
        values = values.cpu()
        fit = method.solver(masks.double(), values[:, None], weights)
        results.append(SuperpixelResult(fit=fit, masks=masks, values=values))
    return results


def paint(weights: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Paint superpixel weights on their pixels: an H×W float32 heatmap."""
    return weights[segments].astype(np.float32)
