"""Standard errors of sampled attributions: the surrogates' sandwich covariance, and the error
basis every explanation carries.

A sampled explanation is an estimate: redrawn with another seed it comes out different. Its
uncertainty is stored as an *error basis* E (K rows over the explanation's features), read as
"the estimate's error is about z @ E with z ~ N(0, I_K)": the covariance is E^T E, a feature's
standard error is the root of its column's sum of squares, and plausible redraws of the whole
heatmap are ``estimate + z @ E``, which is how a check turns the heatmap's errors into an
interval for any measure (``pytest_xai.checks.adaptive``).

Why a sandwich and not a bootstrap over rounds: coalitions are drawn independently (pairs of
a coalition and its complement for Kernel SHAP), so the fit is an M-estimator of independent
units, and the heteroskedasticity-robust sandwich ``B^{-1} (Σ g g^T) B^{-1}`` (Huber 1967,
White 1980; clustered by pair) is its sampling covariance around the large-budget fit, from
one pass over the rows already kept. A bootstrap over rounds would need many rounds (ten or
more) before its own variance settles, which is exactly what an early stop does not have.
The measured coverage is in benchmarks/results/adaptive.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pytest_xai.engine.batching import row_blocks
from pytest_xai.engine.solvers import LinearFit


def cluster_meat(scores_of: Callable[[torch.Tensor], torch.Tensor], units: torch.Tensor, k: int) -> torch.Tensor:
    """Σ_u (G_u - Ḡ)(G_u - Ḡ)^T · U/(U-1) over the sampled units (``units`` >= 0, numbered
    0..U-1), where G_u sums the scores (rows, k) that ``scores_of(row indices)`` gives unit u's
    rows. Rows with unit -1 were not drawn at random (enumerated coalitions, the unperturbed
    image) and carry no sampling error. Units are taken a block at a time, so memory stays
    flat in samples."""
    drawn = torch.nonzero(units >= 0).squeeze(1)
    order = drawn[torch.argsort(units[drawn], stable=True)]
    ordered = units[order]
    count = int(ordered[-1]) + 1 if len(ordered) else 0
    outer = torch.zeros((k, k), dtype=torch.float64)
    total = torch.zeros(k, dtype=torch.float64)
    if count < 2:
        return outer
    for block in row_blocks(count):
        lo, hi = (int(i) for i in torch.searchsorted(ordered, torch.tensor([block.start, block.stop])))
        sums = torch.zeros((block.stop - block.start, k), dtype=torch.float64)
        sums.index_add_(0, ordered[lo:hi] - block.start, scores_of(order[lo:hi]))
        outer += sums.T @ sums
        total += sums.sum(0)
    return (outer - torch.outer(total, total) / count) * (count / (count - 1))


def ridge_covariance(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, fit: LinearFit, units: torch.Tensor,
    alpha: float = 1.0,
) -> torch.Tensor:
    """Sandwich covariance (M, M) of ``weighted_ridge``'s coefficients of the first target.

    LIME's penalty (alpha) does not shrink with the budget, so a small budget's fit is pulled
    towards zero more than a large one's: by about b = alpha (X^T W X + alpha I)^{-1} coef,
    which for a dominant superpixel is several standard errors. The covariance adds b b^T, so
    an interval covers the large-budget value, not only this budget's mean.
    """
    y, w = y.double()[:, 0], w.double()
    x_mean = _weighted_mean(x, w)
    coef, intercept = fit.coef[0], fit.intercept[0]
    m = x.shape[1]
    gram = alpha * torch.eye(m, dtype=torch.float64)
    for rows in row_blocks(len(x)):
        centred = x[rows].double() - x_mean
        gram += (w[rows, None] * centred).T @ centred

    def scores(index: torch.Tensor) -> torch.Tensor:
        block = x[index].double()
        residual = y[index] - (block @ coef + intercept)
        return (w[index] * residual)[:, None] * (block - x_mean)

    bread = torch.linalg.pinv(gram)
    shrinkage = alpha * bread @ coef
    return bread @ cluster_meat(scores, units, m) @ bread + torch.outer(shrinkage, shrinkage)


def _weighted_mean(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    for rows in row_blocks(len(x)):
        total += w[rows] @ x[rows].double()
    return total / w.sum()


def kernel_shap_covariance(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, fit: LinearFit, units: torch.Tensor
) -> torch.Tensor:
    """Sandwich covariance (M, M) of ``efficient_wls``'s Shapley values of the first target.

    The solve eliminates the last feature (Σφ is fixed), so the sandwich is taken in the
    M-1 free coefficients and mapped back: φ_M = Δ - Σ φ_<M has the variance of that sum.
    """
    y, w = y.double()[:, 0], w.double()
    f_empty, delta = fit.intercept[0], fit.local_prediction[0] - fit.intercept[0]
    head = fit.coef[0, :-1]
    m = x.shape[1]

    def reduced(index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        block = x[index].double()
        last = block[:, -1]
        return block[:, :-1] - last[:, None], y[index] - f_empty - last * delta

    gram = torch.zeros((m - 1, m - 1), dtype=torch.float64)
    for rows in row_blocks(len(x)):
        a, _ = reduced(rows)
        gram += (w[rows, None] * a).T @ a

    def scores(index: torch.Tensor) -> torch.Tensor:
        a, b = reduced(index)
        return (w[index] * (b - a @ head))[:, None] * a

    bread = torch.linalg.pinv(gram)
    free = bread @ cluster_meat(scores, units, m - 1) @ bread
    to_full = torch.cat([torch.eye(m - 1, dtype=torch.float64), -torch.ones(1, m - 1, dtype=torch.float64)])
    return to_full @ free @ to_full.T


def covariance_basis(covariance: torch.Tensor) -> torch.Tensor:
    """An error basis E (rank, M) with E^T E = ``covariance`` (its symmetric square root,
    negative round-off eigenvalues dropped)."""
    values, vectors = torch.linalg.eigh((covariance + covariance.T) / 2)
    keep = values > values.abs().max() * 1e-12 if len(values) else values > 0
    return (vectors[:, keep] * values[keep].sqrt()).T


def mean_basis(group_means: torch.Tensor) -> torch.Tensor:
    """An error basis for the mean of K equally sized groups of independent samples (K, ...):
    the groups' deviations over sqrt(K (K-1)), so E^T E is the unbiased covariance of the mean
    (batch means)."""
    k = len(group_means)
    if k < 2:
        return torch.zeros_like(group_means[:0])
    return (group_means - group_means.mean(0)) / (k * (k - 1)) ** 0.5


def group_sums(mean: torch.Tensor, basis: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The inverse of ``mean_basis``: the sums (K, ...) of K groups of ``counts`` samples whose
    pooled mean (Σ sums / Σ counts) is ``mean`` and whose ``mean_basis`` is ``basis`` (K >= 2).
    So a pooled mean and its error basis, as an explanation stores them, hold the groups."""
    k = len(basis)
    deviations = basis.double() * (k * (k - 1)) ** 0.5  # each group's mean less the groups' plain mean
    shape = (k,) + (1,) * (basis.dim() - 1)
    weights = (counts.double() / counts.sum()).reshape(shape)
    plain = mean.double() - (weights * deviations).sum(0)
    return (deviations + plain) * counts.double().reshape(shape)


def standard_error(basis: torch.Tensor) -> torch.Tensor:
    """Each feature's standard error: the root sum of squares of the basis' columns."""
    return basis.double().pow(2).sum(0).sqrt()
