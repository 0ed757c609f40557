"""Coalition samplers and their kernel weights, as pure functions of a seeded generator.

Masks are (N, M) bool: True keeps superpixel j, False hides it. They are drawn on the CPU so
the same seed gives the same masks on every device.
"""

from __future__ import annotations

import itertools
import math

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

    left = float(size_mass[full_sizes:].sum())
    if full_sizes < n_sizes and budget >= 2:
        probs = remaining[full_sizes:] / remaining[full_sizes:].sum()
        pairs = budget // 2
        drawn = torch.multinomial(probs.float(), pairs, replacement=True, generator=generator)
        sizes = drawn + full_sizes + 1
        block = _random_subsets(generator, sizes, m)
        # every draw is paired with its complement; for the middle size of an even m the
        # complement has the same size, so the size distribution is kept.
        rows.append(torch.cat([block, ~block]))
        row_weights.append(torch.full((2 * pairs,), left / (2 * pairs), dtype=torch.float64))
    return torch.cat(rows), torch.cat(row_weights)


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
