"""Coalition samplers and their kernel weights, as pure functions of a seeded generator.

Masks are (N, M) bool: True keeps superpixel j, False hides it. They are drawn on the CPU so
the same seed gives the same masks on every device.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Protocol

import torch

from pytest_xai.engine.batching import row_blocks


def lime_masks(generator: torch.Generator, samples: int, m: int) -> torch.Tensor:
    """lime_image's sampler: uniform random binary masks, the first row all ones."""
    # 0/1 bytes read as bools in place: no second (N, M) copy
    masks = torch.randint(0, 2, (samples, m), generator=generator, dtype=torch.uint8).view(torch.bool)
    masks[0] = True
    return masks


def cosine_distance_to_ones(masks: torch.Tensor) -> torch.Tensor:
    """Cosine distance of each mask to the all-ones mask (sklearn's convention: 1 for all zeros)."""
    # summed a block at a time (a bool sum converts its whole input to int64 first) into one
    # preallocated result: small results kept between large temporaries fragment the heap
    kept = torch.empty(len(masks), dtype=torch.int64)
    for rows in row_blocks(len(masks)):
        torch.sum(masks[rows], dim=1, out=kept[rows])
    kept = kept.double()
    return 1.0 - torch.sqrt(kept / masks.shape[1])


def lime_kernel(distances: torch.Tensor, width: float = 0.25) -> torch.Tensor:
    """lime's exponential kernel: sqrt(exp(-d² / width²))."""
    return torch.sqrt(torch.exp(-(distances**2) / width**2))


def shapley_kernel_weight(m: int, size: int) -> float:
    """Shapley kernel weight of one coalition of ``size`` out of ``m`` (Lundberg & Lee, 2017)."""
    return (m - 1) / (math.comb(m, size) * size * (m - size))


def all_coalitions(m: int) -> torch.Tensor:
    """Every one of the 2^m coalitions as an (2^m, m) bool mask, the empty one first."""
    codes = torch.arange(2**m, dtype=torch.int64)
    return ((codes[:, None] >> torch.arange(m)) & 1).bool()


def kernel_shap_masks(
    generator: torch.Generator, samples: int, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel SHAP coalitions and regression weights for a budget of ``samples`` evaluations.

    Rows 0 and 1 are the full and the empty coalition (their weights are 0: efficiency is
    enforced by the solver instead). With 2^m ≤ samples every coalition is enumerated with its
    exact Shapley kernel weight, so the solve returns exact Shapley values. Otherwise this
    follows shap's KernelExplainer: coalition sizes are enumerated completely, smallest and
    largest first, while the budget covers them, and the rest is sampled in complementary
    pairs with sizes drawn in proportion to their kernel mass.
    """
    if 2**m <= samples:
        return exact_coalitions(m)
    plan = kernel_shap_plan(m, samples)
    rows, row_weights = [plan.enumerated], [plan.enumerated_weights]
    pairs = plan.sampled_pairs(samples)
    if pairs:
        rows.append(paired_coalitions(generator, plan, pairs, m))
        row_weights.append(torch.full((2 * pairs,), plan.left / (2 * pairs), dtype=torch.float64))
    return torch.cat(rows), torch.cat(row_weights)


@dataclass(frozen=True)
class KernelShapPlan:
    """shap's split of a budget: the coalition sizes enumerated completely (their rows and
    exact kernel weights, the full and empty coalition first) and how the rest is sampled:
    the size distribution ``probs`` over sizes ``first_sampled``.. and the kernel mass
    ``left`` that the sampled rows share."""

    enumerated: torch.Tensor  # (E, m) bool
    enumerated_weights: torch.Tensor  # (E,) float64
    probs: torch.Tensor  # over the sampled sizes, float64
    first_sampled: int
    left: float

    def sampled_pairs(self, samples: int) -> int:
        """How many complementary pairs a budget of ``samples`` leaves after the enumeration."""
        budget = samples - len(self.enumerated)
        return budget // 2 if len(self.probs) and budget >= 2 else 0


def kernel_shap_plan(m: int, samples: int) -> KernelShapPlan:
    """The enumerated sizes and the sampling distribution of ``kernel_shap_masks``."""
    budget = samples - 2
    n_sizes = math.ceil((m - 1) / 2)
    n_paired = (m - 1) // 2
    size_mass = torch.tensor(
        [(m - 1) / (s * (m - s)) for s in range(1, n_sizes + 1)], dtype=torch.float64
    )
    size_mass[:n_paired] *= 2
    size_mass /= size_mass.sum()

    rows: list[torch.Tensor] = [
        torch.ones(1, m, dtype=torch.bool),
        torch.zeros(1, m, dtype=torch.bool),
    ]
    row_weights: list[torch.Tensor] = [torch.zeros(2, dtype=torch.float64)]
    remaining = size_mass.clone()
    full_sizes = 0
    for size in range(1, n_sizes + 1):
        paired = size <= n_paired
        count = math.comb(m, size) * (2 if paired else 1)
        if budget * remaining[size - 1] / count < 1.0 - 1e-8:
            break
        full_sizes += 1
        budget -= count
        if remaining[size - 1] < 1:
            remaining /= 1 - remaining[size - 1]
        per_row = float(size_mass[size - 1]) / math.comb(m, size) / (2 if paired else 1)
        subsets = torch.tensor(list(itertools.combinations(range(m), size)), dtype=torch.int64)
        block = torch.zeros(len(subsets), m, dtype=torch.bool)
        block.scatter_(1, subsets, True)
        if paired:
            block = torch.cat([block, ~block])
        rows.append(block)
        row_weights.append(torch.full((len(block),), per_row, dtype=torch.float64))
    probs = remaining[full_sizes:]
    return KernelShapPlan(
        enumerated=torch.cat(rows),
        enumerated_weights=torch.cat(row_weights),
        probs=probs / probs.sum() if len(probs) else probs,
        first_sampled=full_sizes + 1,
        left=float(size_mass[full_sizes:].sum()),
    )


def paired_coalitions(
    generator: torch.Generator, plan: KernelShapPlan, pairs: int, m: int
) -> torch.Tensor:
    """``pairs`` random coalitions followed by their complements, (2·pairs, m) bool.

    Paired (antithetic) sampling, as shap's KernelExplainer and Covert & Lee (AISTATS 2021,
    "Improving KernelSHAP") do: a coalition and its complement have opposite errors in the
    regression, so a pair varies less than two independent draws.
    """
    drawn = torch.multinomial(plan.probs.float(), pairs, replacement=True, generator=generator)
    block = _random_subsets(generator, drawn + plan.first_sampled, m)
    # for the middle size of an even m the complement has the same size, so the size
    # distribution is kept.
    return torch.cat([block, ~block])


def _random_subsets(generator: torch.Generator, sizes: torch.Tensor, m: int) -> torch.Tensor:
    """(len(sizes), m) bool: row i keeps a uniformly random subset of ``sizes[i]`` features.

    A row keeps the features whose uniform draw ranks below its size. Drawn and ranked a block
    of rows at a time (the generator yields the same numbers however the rows are split), so
    the float and int64 rank matrices never exist for all rows at once.
    """
    subsets = torch.empty(len(sizes), m, dtype=torch.bool)
    for rows in row_blocks(len(sizes)):
        draws = torch.rand(rows.stop - rows.start, m, generator=generator)
        torch.lt(draws.argsort(dim=1).argsort(dim=1), sizes[rows, None], out=subsets[rows])
    return subsets


def exact_coalitions(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 2^m coalitions, full and empty first, with their exact Shapley kernel weights."""
    masks = all_coalitions(m)
    sizes = masks.sum(dim=1).tolist()
    weights = torch.tensor(
        [0.0 if s in (0, m) else shapley_kernel_weight(m, int(s)) for s in sizes],
        dtype=torch.float64,
    )
    order = torch.cat([torch.tensor([2**m - 1, 0]), torch.arange(1, 2**m - 1)])
    return masks[order], weights[order]


# -- samplers: a fixed budget, or rounds that extend it --------------------------------------

Drawn = tuple[torch.Tensor, torch.Tensor]  # masks (n, M) bool and their sampling units (n,)


class Sampler(Protocol):
    """How a method draws coalitions: a fixed budget (also round 0 of a run in rounds), more
    rounds after it, and the regression weights of all rows drawn so far.

    ``units`` number the independent draws (a row, or a coalition and its complement); -1
    marks rows that were not drawn at random (the unperturbed image, enumerated coalitions),
    which carry no sampling error.
    """

    def fixed(self, generator: torch.Generator, samples: int, m: int) -> tuple[Drawn, torch.Tensor]:
        """Masks, units and weights of a budget of ``samples``."""
        ...

    def more(self, generator: torch.Generator, size: int, m: int, first: int, offset: int) -> Drawn | None:
        """``size`` more rows after a round 0 of ``first`` samples (units from ``offset``);
        None when nothing can be added (every coalition is enumerated)."""
        ...

    def weights(self, masks: torch.Tensor, first: int) -> torch.Tensor:
        """The weights of all rows, round 0 (of ``first`` samples) first."""
        ...


class LimeSampler:
    """lime_image: uniform masks (row 0 all ones), weighted by the cosine-distance kernel."""

    def fixed(self, generator: torch.Generator, samples: int, m: int) -> tuple[Drawn, torch.Tensor]:
        masks = lime_masks(generator, samples, m)
        units = torch.arange(samples)
        units[0] = -1  # the unperturbed image
        return (masks, units), self.weights(masks, samples)

    def more(self, generator: torch.Generator, size: int, m: int, first: int, offset: int) -> Drawn:
        masks = torch.randint(0, 2, (size, m), generator=generator, dtype=torch.uint8).view(torch.bool)
        return masks, torch.arange(offset, offset + size)

    def weights(self, masks: torch.Tensor, first: int) -> torch.Tensor:
        return lime_kernel(cosine_distance_to_ones(masks), width=0.25)


class KernelShapSampler:
    """shap's KernelExplainer: sizes enumerated while the first budget covers them, the rest
    sampled in complementary pairs. Later rounds draw more pairs from the same size
    distribution; all sampled rows share the sampled sizes' kernel mass equally."""

    def fixed(self, generator: torch.Generator, samples: int, m: int) -> tuple[Drawn, torch.Tensor]:
        masks, weights = kernel_shap_masks(generator, samples, m)
        units = torch.full((len(masks),), -1, dtype=torch.int64)
        if 2**m > samples:
            pairs = kernel_shap_plan(m, samples).sampled_pairs(samples)
            units[len(masks) - 2 * pairs :] = torch.arange(pairs).repeat(2)
        return (masks, units), weights

    def more(self, generator: torch.Generator, size: int, m: int, first: int, offset: int) -> Drawn | None:
        plan = kernel_shap_plan(m, first)
        if 2**m <= first or not len(plan.probs) or size < 2:
            return None
        return paired_coalitions(generator, plan, size // 2, m), torch.arange(offset, offset + size // 2).repeat(2)

    def weights(self, masks: torch.Tensor, first: int) -> torch.Tensor:
        m = masks.shape[1]
        if 2**m <= first:
            return exact_coalitions(m)[1]
        plan = kernel_shap_plan(m, first)
        sampled = len(masks) - len(plan.enumerated)
        tail = torch.full((sampled,), plan.left / max(sampled, 1), dtype=torch.float64)
        return torch.cat([plan.enumerated_weights, tail])
