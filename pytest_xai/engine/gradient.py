"""Expected gradients (GradientSHAP), batched and seeded, as in shap's GradientExplainer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pytest_xai.engine.baselines import blurred
from pytest_xai.engine.batching import map_chunks
from pytest_xai.engine.outputs import target_values
from pytest_xai.engine.provenance import array_record
from pytest_xai.engine.runners import Attribution, Group, Request, check_finite
from pytest_xai.errors import XaiValueError

# Smoothing noise is drawn in fixed blocks of samples, each from its own seeded generator,
# so the noise a sample gets does not depend on how the samples are chunked into batches.
_NOISE_BLOCK = 16


def default_background(image: torch.Tensor) -> torch.Tensor:
    """The default background for one (3, H, W) image: a blurred copy and its mean colour.

    Both keep the image's overall colour, so attributions measure what the detail (edges,
    texture, objects) contributes rather than what plain brightness contributes.
    """
    mean = image.mean(dim=(1, 2), keepdim=True).expand_as(image)
    return torch.stack([blurred(image), mean])


@dataclass(frozen=True)
class Draws:
    """Every random draw of one call, per row (image-major: rows i·S .. (i+1)·S-1 are image i).

    Each image draws from its own generator seeded with ``seed`` (on the CPU), so an image's
    attribution is the same on every device, for every batch size and whatever other images
    share the call.
    """

    backgrounds: torch.Tensor  # (K, H, W, 3) on the device
    background_rows: torch.Tensor  # (N,) index into backgrounds
    alphas: torch.Tensor  # (N,) interpolation points in [0, 1)
    targets: torch.Tensor  # (N,)
    noise_seeds: list[int]  # per image


def draw(
    images: torch.Tensor,
    background: torch.Tensor | None,
    targets: Sequence[int],
    samples: int,
    seed: int,
) -> Draws:
    """Draw the background picks, interpolation points and noise seeds of every image.

    ``background`` (B, 3, H, W) is shared by all images; None gives each image its
    ``default_background``.
    """
    n, device = len(images), images.device
    if background is None:
        shared, per_image = torch.cat([default_background(im) for im in images]), 2
    else:
        shared, per_image = background, 0
    count = len(shared) if background is not None else 2
    picks, alphas, noise_seeds = [], [], []
    for i in range(n):
        generator = torch.Generator().manual_seed(seed)
        picks.append(torch.randint(0, count, (samples,), generator=generator) + i * per_image)
        alphas.append(torch.rand(samples, generator=generator, dtype=torch.float32))
        noise_seeds.append(int(torch.randint(0, 2**62, (1,), generator=generator)))
    return Draws(
        backgrounds=shared.permute(0, 2, 3, 1).to(device),
        background_rows=torch.cat(picks).to(device),
        alphas=torch.cat(alphas).to(device),
        targets=torch.tensor(targets, dtype=torch.int64).repeat_interleave(samples).to(device),
        noise_seeds=noise_seeds,
    )


def _noise(seed: int, start: int, stop: int, shape: torch.Size) -> torch.Tensor:
    """Gaussian noise (stop - start, H, W, 3) for one image's samples [start, stop)."""
    first, last = start // _NOISE_BLOCK, (stop - 1) // _NOISE_BLOCK
    blocks = [
        torch.randn((_NOISE_BLOCK, *shape), generator=torch.Generator().manual_seed(seed + b))
        for b in range(first, last + 1)
    ]
    offset = first * _NOISE_BLOCK
    return torch.cat(blocks)[start - offset : stop - offset].permute(0, 2, 3, 1)


def _spans(start: int, stop: int, samples: int) -> list[tuple[int, int, int]]:
    """(image, first, stop) of the rows [start, stop) of an image-major stream of ``samples``
    rows per image, in each image's own sample numbers."""
    first, last = start // samples, (stop - 1) // samples
    return [
        (i, max(start, i * samples) - i * samples, min(stop, (i + 1) * samples) - i * samples)
        for i in range(first, last + 1)
    ]


def expected_gradients(
    forward: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    draws: Draws,
    output: str,
    samples: int,
    batch_size: int,
    local_smoothing: float = 0.0,
    item: str = "one image",
) -> torch.Tensor:
    """Expected-gradients attributions (n, 3, H, W) of each image's target output.

    Following shap's GradientExplainer (Erion et al., 2021): for each sample draw a background
    image b and a point t ~ U(0, 1), optionally add Gaussian noise to x (``local_smoothing`` is
    its standard deviation), and average grad f(b + t (x - b)) ⊙ (x - b). The samples of all
    images form one stream cut into full batches. Sums stay on the device (float32 per chunk
    and image, float64 across chunks); nothing is read back to the host inside the loop.
    """
    n = len(images)
    # work in H×W×C memory (channels-last), the layout convolutions are fastest in
    images_hwc = images.permute(0, 2, 3, 1)
    totals = torch.zeros((n, *images_hwc.shape[1:]), dtype=torch.float64, device=images.device)

    def run(start: int, stop: int) -> None:
        rows = slice(start, stop)
        spans = _spans(start, stop, samples)
        # Per batch image: x, base and point (then x - base in x's place, base freed before the
        # forward) and the gradient: 4 planes of 12 bytes a pixel, besides the model's own.
        x = torch.cat([images_hwc[i].expand(hi - lo, -1, -1, -1) for i, lo, hi in spans])
        if local_smoothing > 0:
            noise = [_noise(draws.noise_seeds[i], lo, hi, images[i].shape) for i, lo, hi in spans]
            x.add_(local_smoothing * torch.cat(noise).to(x.device))
            del noise
        base = draws.backgrounds[draws.background_rows[rows]]
        point = torch.lerp(base, x, draws.alphas[rows, None, None, None]).requires_grad_(True)
        difference = x.sub_(base)
        del x, base
        with torch.enable_grad():
            values = target_values(forward(point.permute(0, 3, 1, 2)), output, draws.targets[rows])
            grad = input_gradient(values, point)
        del point, values
        # in place unless autograd returned a broadcast view (a model that ignores its input)
        contribution = grad.mul_(difference) if grad.is_contiguous() else grad * difference
        sizes = [hi - lo for _, lo, hi in spans]
        partial = [part.sum(0) for part in contribution.split(sizes)]
        for (i, _, _), part in zip(spans, partial):  # after everything that may run out of memory
            totals[i] += part

    map_chunks(run, n * samples, batch_size, item=item)
    return (totals / samples).permute(0, 3, 1, 2).float()


def input_gradient(values: torch.Tensor, point: torch.Tensor) -> torch.Tensor:
    """d(sum of values)/d(point); a clear error when the model's output does not depend
    differentiably on its input (no_grad inside forward, detached or integer outputs)."""
    grad = None
    if values.requires_grad:
        (grad,) = torch.autograd.grad(values.sum(), point, allow_unused=True)
    if grad is None:
        raise XaiValueError(
            "method='gradient_shap' needs a model differentiable with respect to its input, "
            "but the model's output carries no gradient (a forward under torch.no_grad or "
            "inference_mode, a .detach(), or integer outputs); make forward differentiable, or "
            "use method='lime' or 'kernel_shap', which only call the model"
        )
    return grad


def run_gradient_shap(request: Request, group: Group) -> list[Attribution]:
    """GradientSHAP for every image of the group, their samples sharing full batches."""
    background = (
        None
        if request.background is None
        else torch.from_numpy(np.stack(request.background)).permute(0, 3, 1, 2).contiguous()
    )
    draws = draw(group.tensors, background, group.targets, request.samples, request.seed)
    attributions = expected_gradients(
        group.forward,
        group.tensors,
        draws,
        request.output,
        request.samples,
        group.batch_size,
        request.local_smoothing,
        group.item,
    )
    heatmaps = attributions.sum(1).cpu()  # the one transfer to the host
    check_finite(heatmaps, f"the {request.samples} gradient samples")
    params = {
        # a given background by content, so params identify it (and can check a candidate)
        "background": "default"
        if request.background is None
        else array_record(np.stack(request.background)),
        "background_size": 2 if background is None else len(background),
        "local_smoothing": request.local_smoothing,
    }
    return [Attribution(heatmap=h.numpy(), evaluations=request.samples, params=params) for h in heatmaps]
