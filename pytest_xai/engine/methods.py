"""Perturbation methods as (sampler, solver) pairs, and the batched loop that runs them.

LIME and Kernel SHAP share everything but how coalitions are drawn and weighted and how the
surrogate is solved (as in captum's LimeBase / KernelShap): adding a superpixel method is
adding a pair and a two-line runner. Either runs a fixed budget, or rounds (``AutoBudget``)
that stop once the heatmap is certain enough and that a check may extend later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import torch

from pytest_xai.engine.baselines import fill_image
from pytest_xai.engine.perturb import PerturbationJob, evaluate_jobs
from pytest_xai.engine.rounds import AutoBudget, relative_error, round_generator
from pytest_xai.engine.runners import Attribution, Fill, Group, Request, check_finite
from pytest_xai.engine.sampling import KernelShapSampler, LimeSampler, Sampler
from pytest_xai.engine.segmentation import segment
from pytest_xai.engine.solvers import LinearFit, efficient_wls, weighted_ridge
from pytest_xai.engine.uncertainty import covariance_basis, kernel_shap_covariance, ridge_covariance
from pytest_xai.errors import XaiValueError

Solver = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], LinearFit]
Covariance = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, LinearFit, torch.Tensor], torch.Tensor]


def lime_sampler(generator: torch.Generator, samples: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """lime_image's masks (row 0 all ones) and their cosine-distance kernel weights."""
    (masks, _), weights = LimeSampler().fixed(generator, samples, m)
    return masks, weights


def lime_solver(masks: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> LinearFit:
    """lime_base with all features kept: weighted ridge, alpha 1, with intercept."""
    return weighted_ridge(masks, y, w, alpha=1.0)


def kernel_shap_solver(masks: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> LinearFit:
    """Kernel SHAP: rows 0 and 1 are f(x) and f(∅); efficiency is enforced exactly."""
    return efficient_wls(masks, y, w, f_full=y[0], f_empty=y[1])


@dataclass(frozen=True)
class PerturbationMethod:
    """A superpixel attribution method: how coalitions are drawn and fitted, and the fit's
    sampling covariance (``engine.uncertainty``)."""

    sampler: Sampler
    solver: Solver
    covariance: Covariance
    min_samples: Callable[[int], int]


LIME = PerturbationMethod(LimeSampler(), lime_solver, ridge_covariance, lambda m: 2)
KERNEL_SHAP = PerturbationMethod(
    KernelShapSampler(), kernel_shap_solver, kernel_shap_covariance, lambda m: min(2**m, m + 2)
)


@dataclass
class SuperpixelRun:
    """One image's coalitions so far, their model outputs and the fit on them.

    ``first`` is the size of round 0 (the whole budget when fixed); ``rounds`` counts the
    rounds drawn (a fixed budget is one round, which never grows).
    """

    method: PerturbationMethod
    seed: int
    first: int
    masks: torch.Tensor  # (n, M) bool on the CPU
    units: torch.Tensor  # (n,) int64: independent draws, -1 for rows not drawn at random
    pixels: torch.Tensor  # (M,) pixels per superpixel, which weigh the relative error
    values: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.float64))
    rounds: int = 1  # round 0 is drawn by start
    fit: LinearFit | None = None
    covariance: torch.Tensor | None = None

    @classmethod
    def start(cls, method: PerturbationMethod, seg: torch.Tensor, seed: int, samples: int) -> SuperpixelRun:
        """Round 0, or a fixed budget, of ``samples``: drawn, not yet evaluated."""
        pixels = torch.bincount(seg.reshape(-1).cpu()).double()
        (masks, units), _ = method.sampler.fixed(torch.Generator().manual_seed(seed), samples, len(pixels))
        return cls(method, seed, samples, masks, units, pixels)

    @property
    def samples(self) -> int:
        return len(self.masks)

    def draw_round(self, size: int) -> torch.Tensor | None:
        """Draw the next round of ``size`` and return its masks; None if nothing can be added."""
        offset = int(self.units.max()) + 1 if bool((self.units >= 0).any()) else 0
        m = self.masks.shape[1]
        drawn = self.method.sampler.more(round_generator(self.seed, self.rounds), size, m, self.first, offset)
        if drawn is None:
            return None
        self.masks = torch.cat([self.masks, drawn[0]])
        self.units = torch.cat([self.units, drawn[1]])
        self.rounds += 1
        return drawn[0]

    def refit(self) -> None:
        """Fit the surrogate and its covariance on every row so far."""
        weights = self.method.sampler.weights(self.masks, self.first)
        y = self.values[:, None]
        self.fit = self.method.solver(self.masks, y, weights)  # bool: solvers convert by blocks
        self.covariance = self.method.covariance(self.masks, y, weights, self.fit, self.units)

    def relative_error(self) -> float:
        """Σ standard error / Σ |attribution| over the pixels."""
        assert self.fit is not None and self.covariance is not None
        se = self.covariance.diagonal().clamp_min(0).sqrt()
        return relative_error((self.fit.coef[0].abs() * self.pixels).numpy(), (se * self.pixels).numpy())


@dataclass(frozen=True)
class Evaluator:
    """Evaluates new masks of several runs in shared forward batches, appending the outputs."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    output: str
    batch_size: int
    memory_format: torch.memory_format
    item: str

    def __call__(self, work: Sequence[tuple[PerturbationJob, SuperpixelRun, torch.Tensor]]) -> None:
        jobs = [replace(job, masks=masks.to(job.image.device)) for job, _, masks in work]
        outputs = evaluate_jobs(self.forward, jobs, self.output, self.batch_size, self.memory_format, item=self.item)
        values = torch.cat(outputs).cpu()  # the one transfer to the host
        check_finite(values, f"{len(values)} perturbed images")
        for (_, run, _), part in zip(work, values.split([len(o) for o in outputs])):
            run.values = torch.cat([run.values, part])
            run.refit()


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
    budget: AutoBudget | None = None,
) -> list[tuple[PerturbationJob, SuperpixelRun]]:
    """Explain several images of one size, their perturbations sharing forward batches.

    Each image draws its masks from its own generator seeded with ``seed``, so the result for
    an image does not depend on which other images share the call. Without a ``budget`` each
    image gets ``samples``; with one, the images go in rounds, the unfinished images' rounds
    sharing forward batches, until each is within the tolerance or at the cap.
    """
    first = samples if budget is None else budget.round_size
    runs = [SuperpixelRun.start(method, seg, seed, first) for seg in segments]
    jobs = [
        PerturbationJob(image, fill_image(image, seg, len(run.pixels), baseline), seg, run.masks[:0], target)
        for image, seg, target, run in zip(images, segments, targets, runs)
    ]
    evaluate = Evaluator(logits_fn, output, batch_size, memory_format, item)
    work = [(job, run, run.masks) for job, run in zip(jobs, runs)]
    while work:
        evaluate(work)
        if budget is None:
            break
        work = [(job, run, more) for job, run in zip(jobs, runs) if (more := _next_round(run, budget)) is not None]
    return list(zip(jobs, runs))


def _next_round(run: SuperpixelRun, budget: AutoBudget) -> torch.Tensor | None:
    """The next round's masks of an auto run, or None once it is certain enough or capped."""
    left = budget.cap - run.samples
    if left < 2 or (run.samples >= budget.first and run.relative_error() <= budget.tolerance):
        return None
    return run.draw_round(min(budget.round_size, left))


def grow(job: PerturbationJob, run: SuperpixelRun, evaluate: Evaluator, budget: AutoBudget, samples: int) -> bool:
    """Extend ``run`` by whole rounds to at least ``samples`` (at most the cap), evaluated in one
    batched call; False when it could not grow."""
    added = []
    while run.samples < min(samples, budget.cap):
        more = run.draw_round(min(budget.round_size, budget.cap - run.samples))
        if more is None:
            break
        added.append(more)
    if not added:
        return False
    evaluate([(job, run, torch.cat(added))])
    return True


def run_superpixels(method: PerturbationMethod, request: Request, group: Group) -> list[Attribution]:
    """Segment each image, check the sample budget, explain, and paint the weights."""
    baseline = cast(Fill, request.baseline)  # validate() resolves None for superpixel methods
    segs = [segment(image, request.segments, request.n_segments) for image in group.images]
    first = request.samples if request.auto is None else request.auto.round_size
    for seg in segs:
        m = int(seg.max()) + 1
        if first < method.min_samples(m):
            raise XaiValueError(
                f"samples={first} is too few for method={request.method!r} with {m} "
                f"segments; use at least {method.min_samples(m)} (or fewer segments)"
            )
    runs = explain_superpixels(
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
        budget=request.auto,
    )
    evaluate = Evaluator(group.forward, request.output, group.batch_size, group.memory_format, group.item)
    return [attribution_of(request, seg, job, run, evaluate) for seg, (job, run) in zip(segs, runs)]


def attribution_of(
    request: Request, seg: np.ndarray, job: PerturbationJob, run: SuperpixelRun, evaluate: Evaluator
) -> Attribution:
    """The run as an Attribution (heatmap, error basis, outputs) with a grower that extends it."""
    fit, covariance = run.fit, run.covariance
    assert fit is not None and covariance is not None
    weights = fit.coef[0].numpy()
    budget = request.auto

    def grower(samples: int) -> Attribution | None:
        assert budget is not None
        return attribution_of(request, seg, job, run, evaluate) if grow(job, run, evaluate, budget, samples) else None

    return Attribution(
        heatmap=paint(weights, seg),
        evaluations=run.samples,
        params={
            "segmentation": segmentation_name(request.segments),
            "n_segments": request.n_segments,
            "n_features": len(weights),
            "baseline": list(request.baseline) if isinstance(request.baseline, tuple) else request.baseline,
        },
        weights=weights,
        segments=seg,
        score=float(fit.score[0]),
        intercept=float(fit.intercept[0]),
        local_prediction=float(fit.local_prediction[0]),
        error_basis=covariance_basis(covariance).float().numpy(),
        rounds=run.rounds,
        grower=None if budget is None else grower,
        outputs=None if budget is None else run.values.numpy().copy(),
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
