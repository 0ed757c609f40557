"""Surrogate solvers in float64 torch: one solve for all K targets (the columns of Y)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear surrogate: ``y ≈ intercept + X @ coef`` per target."""

    coef: torch.Tensor  # (K, M)
    intercept: torch.Tensor  # (K,)
    score: torch.Tensor  # (K,) weighted R² on the fitted samples
    local_prediction: torch.Tensor  # (K,) prediction at the first row of X


def weighted_r2(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, coef: torch.Tensor, intercept: torch.Tensor
) -> torch.Tensor:
    """Weighted coefficient of determination, as sklearn's ``score(..., sample_weight=w)``."""
    pred = x @ coef.T + intercept
    y_mean = (w[:, None] * y).sum(0) / w.sum()
    resid = (w[:, None] * (y - pred) ** 2).sum(0)
    total = (w[:, None] * (y - y_mean) ** 2).sum(0)
    return torch.where(total > 0, 1.0 - resid / total.clamp_min(1e-300), torch.zeros_like(total))


def weighted_ridge(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, alpha: float = 1.0
) -> LinearFit:
    """Weighted ridge regression with an unpenalised intercept (sklearn ``Ridge`` semantics).

    x: (N, M) features, y: (N, K) targets, w: (N,) sample weights.
    """
    x, y, w = x.double(), y.double(), w.double()
    w_sum = w.sum()
    x_mean = (w[:, None] * x).sum(0) / w_sum
    y_mean = (w[:, None] * y).sum(0) / w_sum
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ (w[:, None] * xc) + alpha * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    coef = torch.linalg.solve(gram, xc.T @ (w[:, None] * yc)).T  # (K, M)
    intercept = y_mean - coef @ x_mean
    return LinearFit(
        coef=coef,
        intercept=intercept,
        score=weighted_r2(x, y, w, coef, intercept),
        local_prediction=x[0] @ coef.T + intercept,
    )


def efficient_wls(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, f_full: torch.Tensor, f_empty: torch.Tensor
) -> LinearFit:
    """Weighted least squares ``y - f_empty ≈ X φ`` under the constraint ``Σφ = f_full - f_empty``.

    This is Kernel SHAP's solve: the constraint is enforced exactly by eliminating the last
    feature (as shap's KernelExplainer does), and the reduced problem is solved by least
    squares on sqrt(w)-scaled rows. x: (N, M) 0/1, y: (N, K), w: (N,), f_full, f_empty: (K,).
    """
    x, y, w = x.double(), y.double(), w.double()
    f_full, f_empty = f_full.double(), f_empty.double()
    delta = f_full - f_empty  # (K,)
    last = x[:, -1:]
    x_red = x[:, :-1] - last
    y_red = y - f_empty - last * delta
    root = torch.sqrt(w)[:, None]
    solved = torch.linalg.lstsq(
        root * x_red, root * y_red, driver="gelsd" if x.device.type == "cpu" else None
    )
    head = solved.solution.T  # (K, M-1)
    coef = torch.cat([head, (delta - head.sum(1))[:, None]], dim=1)
    return LinearFit(
        coef=coef,
        intercept=f_empty,
        score=weighted_r2(x, y, w, coef, f_empty),
        local_prediction=f_full,
    )
