"""Expected gradients (GradientSHAP), batched and seeded, as in shap's GradientExplainer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from pytest_xai.engine.perturb import map_chunks, transform_output

# Smoothing noise is drawn in fixed blocks of samples, each from its own seeded generator,
# so the noise a sample gets does not depend on how the samples are chunked into batches.
_NOISE_BLOCK = 16


def default_background(image: torch.Tensor) -> torch.Tensor:
    """The default background for one (3, H, W) image: a blurred copy and its mean colour.

    Both keep the image's overall colour, so attributions measure what the detail (edges,
    texture, objects) contributes rather than what plain brightness contributes.
    """
    from pytest_xai.engine.perturb import blurred

    mean = image.mean(dim=(1, 2), keepdim=True).expand_as(image)
    return torch.stack([blurred(image), mean])


def expected_gradients(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    background: torch.Tensor,
    target: int,
    output: str,
    samples: int,
    generator: torch.Generator,
    batch_size: int,
    local_smoothing: float = 0.0,
) -> torch.Tensor:
    """Expected-gradients attributions (3, H, W) of ``output[target]`` for one image.

    Following shap's GradientExplainer (Erion et al., 2021): for each sample draw a background
    image b and a point t ~ U(0, 1), optionally add Gaussian noise to x (``local_smoothing`` is
    its standard deviation), and average grad f(b + t (x - b)) ⊙ (x - b).
    All random draws come from ``generator`` (CPU), so the result is the same on every device
    and for every batch size.
    """
    device = image.device
    picks = torch.randint(0, len(background), (samples,), generator=generator).to(device)
    alphas = torch.rand(samples, generator=generator, dtype=torch.float32).to(device)
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=generator))

    def noise(start: int, stop: int) -> torch.Tensor:
        first, last = start // _NOISE_BLOCK, (stop - 1) // _NOISE_BLOCK
        blocks = []
        for block in range(first, last + 1):
            g = torch.Generator().manual_seed(noise_seed + block)
            blocks.append(torch.randn((_NOISE_BLOCK, *image.shape), generator=g))
        offset = first * _NOISE_BLOCK
        return torch.cat(blocks)[start - offset : stop - offset].to(device)

    # work in H×W×C memory (channels-last), the layout convolutions are fastest in
    image_hwc = image.permute(1, 2, 0)
    background_hwc = background.permute(0, 2, 3, 1)

    def run(start: int, stop: int) -> torch.Tensor:
        x = image_hwc.expand(stop - start, -1, -1, -1)
        if local_smoothing > 0:
            x = x + local_smoothing * noise(start, stop).permute(0, 2, 3, 1)
        base = background_hwc[picks[start:stop]]
        point = torch.lerp(base, x, alphas[start:stop, None, None, None]).requires_grad_(True)
        with torch.enable_grad():
            values = transform_output(logits_fn(point.permute(0, 3, 1, 2)), output)[:, target]
            (grad,) = torch.autograd.grad(values.sum(), point)
        # summed over the chunk in float32, accumulated over chunks in float64
        return (grad * (x - base)).sum(0).double()

    total = torch.stack(map_chunks(run, samples, batch_size)).sum(0) / samples
    return total.permute(2, 0, 1).float()
