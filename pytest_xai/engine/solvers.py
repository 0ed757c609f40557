"""Surrogate solvers in float64 torch: one solve for all K targets (the columns of Y).

The (N, M) coalition masks come in as bools and are converted to float64 a block of rows at a
time (``batching.ROWS_PER_BLOCK``): the weighted ridge accumulates its normal equations block by block,
and Kernel SHAP's least squares is reduced block by block to an M×M triangle (a tall-skinny QR),
so no float64 copy of the whole mask matrix ever exists and memory stays flat in samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pytest_xai.engine.batching import row_blocks


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear surrogate: ``y ≈ intercept + X @ coef`` per target."""

    coef: torch.Tensor  # (K, M)
    intercept: torch.Tensor  # (K,)
    score: torch.Tensor  # (K,) weighted R² on the fitted samples
    local_prediction: torch.Tensor  # (K,) prediction at the first row of X


def predict(x: torch.Tensor, coef: torch.Tensor, intercept: torch.Tensor) -> torch.Tensor:
    """``intercept + X @ coef.T`` (N, K) for masks ``x`` (N, M) of any dtype, block by block."""
    pred = torch.empty((len(x), len(intercept)), dtype=torch.float64, device=x.device)
    for rows in row_blocks(len(x)):  # into one preallocated result, which keeps the heap compact
        torch.matmul(x[rows].double(), coef.T, out=pred[rows])
    return pred.add_(intercept)


def weighted_r2(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, coef: torch.Tensor, intercept: torch.Tensor
) -> torch.Tensor:
    """Weighted coefficient of determination, as sklearn's ``score(..., sample_weight=w)``."""
    y, w = y.double(), w.double()
    pred = predict(x, coef, intercept)
    y_mean = (w[:, None] * y).sum(0) / w.sum()
    resid = (w[:, None] * (y - pred) ** 2).sum(0)
    total = (w[:, None] * (y - y_mean) ** 2).sum(0)
    return torch.where(total > 0, 1.0 - resid / total.clamp_min(1e-300), torch.zeros_like(total))


def weighted_ridge(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, alpha: float = 1.0
) -> LinearFit:
    """Weighted ridge regression with an unpenalised intercept (sklearn ``Ridge`` semantics).

    x: (N, M) features (bool masks or numbers), y: (N, K) targets, w: (N,) sample weights. The
    centred normal equations ``Xc^T W Xc + alpha I`` and ``Xc^T W yc`` are summed block by block.
    """
    y, w = y.double(), w.double()
    m = x.shape[1]
    w_sum = w.sum()
    x_sum = torch.zeros(m, dtype=torch.float64, device=x.device)
    for rows in row_blocks(len(x)):
        x_sum += w[rows] @ x[rows].double()
    x_mean = x_sum / w_sum
    y_mean = (w[:, None] * y).sum(0) / w_sum
    gram = alpha * torch.eye(m, dtype=torch.float64, device=x.device)
    rhs = torch.zeros((m, y.shape[1]), dtype=torch.float64, device=x.device)
    for rows in row_blocks(len(x)):
        xc = x[rows].double() - x_mean
        weighted = w[rows, None] * xc
        gram += weighted.T @ xc
        rhs += weighted.T @ (y[rows] - y_mean)
    coef = torch.linalg.solve(gram, rhs).T  # (K, M)
    intercept = y_mean - coef @ x_mean
    return LinearFit(
        coef=coef,
        intercept=intercept,
        score=weighted_r2(x, y, w, coef, intercept),
        local_prediction=x[0].double() @ coef.T + intercept,
    )


def efficient_wls(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, f_full: torch.Tensor, f_empty: torch.Tensor
) -> LinearFit:
    """Weighted least squares ``y - f_empty ≈ X φ`` under the constraint ``Σφ = f_full - f_empty``.

    This is Kernel SHAP's solve: the constraint is enforced exactly by eliminating the last
    feature (as shap's KernelExplainer does), and the reduced problem is solved by least
    squares on sqrt(w)-scaled rows. x: (N, M) 0/1, y: (N, K), w: (N,), f_full, f_empty: (K,).

    The scaled rows are reduced block by block to a triangle R with the same singular values
    (``A = QR``, so ``|Aφ - b| = |Rφ - Q^T b|`` up to a constant), and R is solved with the
    same driver and rank cut-off as the full matrix would be (SVD-based ``gelsd`` on the CPU).
    """
    y, w = y.double(), w.double()
    f_full, f_empty = f_full.double(), f_empty.double()
    delta = f_full - f_empty  # (K,)
    root = torch.sqrt(w)[:, None]
    r = torch.zeros((0, x.shape[1] - 1), dtype=torch.float64, device=x.device)
    qtb = torch.zeros((0, y.shape[1]), dtype=torch.float64, device=x.device)
    for rows in row_blocks(len(x)):
        block = x[rows].double()
        last = block[:, -1:]
        a = root[rows] * (block[:, :-1] - last)
        b = root[rows] * (y[rows] - f_empty - last * delta)
        q, r = torch.linalg.qr(torch.cat([r, a]))
        qtb = q.T @ torch.cat([qtb, b])
    cpu = x.device.type == "cpu"
    rcond = torch.finfo(torch.float64).eps * max(len(x), x.shape[1] - 1) if cpu else None
    solved = torch.linalg.lstsq(r, qtb, rcond=rcond, driver="gelsd" if cpu else None)
    head = solved.solution.T  # (K, M-1)
    coef = torch.cat([head, (delta - head.sum(1))[:, None]], dim=1)
    return LinearFit(
        coef=coef,
        intercept=f_empty,
        score=weighted_r2(x, y, w, coef, f_empty),
        local_prediction=f_full,
    )
