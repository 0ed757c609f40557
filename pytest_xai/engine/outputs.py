"""The explained quantity: the target's logit, probability or log-probability, per row."""

from __future__ import annotations

import torch


def transform_output(logits: torch.Tensor, output: str) -> torch.Tensor:
    """Map logits (N, C) to the explained quantity: logits, softmax or log-softmax."""
    if output == "logit":
        return logits
    if output == "probability":
        return torch.softmax(logits, dim=1)
    return torch.log_softmax(logits, dim=1)


def target_values(logits: torch.Tensor, output: str, targets: torch.Tensor) -> torch.Tensor:
    """The explained value of each row's own target: (N,) from logits (N, C) and targets (N,).

    Gathered on the device, with no host synchronisation.
    """
    return transform_output(logits.float(), output).gather(1, targets[:, None])[:, 0]


TOP_CLASSES = 5  # the most probable classes an Explanation keeps in meta["top"] for the report


def top_classes(probabilities: torch.Tensor, k: int = TOP_CLASSES) -> list[tuple[int, float]]:
    """The ``k`` most probable (class index, probability) pairs of one row, best first."""
    best = torch.topk(probabilities, min(k, probabilities.shape[-1]))
    return [(int(i), float(p)) for p, i in zip(best.values, best.indices)]
