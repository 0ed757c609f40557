"""Perturbed inputs built on the device, chunk by chunk, and the batched forward loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pytest_xai.engine.batching import map_chunks
from pytest_xai.engine.outputs import target_values


class Canvas:
    """One image prepared for perturbing: image and fill as (3, H·W) planes, and its superpixels.

    ``perturb`` builds images keeping the superpixels where ``masks`` (n, M) is True and showing
    the fill elsewhere: ``where(mask[:, segments], image, fill)``, computed as a ``lerp`` with
    0/1 weights, which returns ``fill`` and ``image`` exactly. Expanding the mask once per pixel
    and broadcasting it over the three channel planes measured 4× faster on CPU than a boolean
    ``where`` over H×W×3.
    """

    def __init__(self, image: torch.Tensor, fill: torch.Tensor, segments: torch.Tensor) -> None:
        self.image = image.reshape(3, -1)
        self.fill = fill.reshape(3, -1)
        self.index = segments.reshape(-1)

    def perturb(self, masks: torch.Tensor, keep: torch.Tensor, out: torch.Tensor) -> None:
        """Write the images for ``masks`` (n, M) into ``out`` (n, 3, H·W), using ``keep``
        (n, H·W) as scratch space."""
        torch.index_select(masks.to(keep.dtype), 1, self.index, out=keep)
        torch.lerp(self.fill, self.image, keep[:, None, :], out=out)


@dataclass
class PerturbationJob:
    """One image's perturbation work: masks over its superpixels and the target to read."""

    image: torch.Tensor  # (3, H, W) on the device
    fill: torch.Tensor  # (3, H, W) on the device
    segments: torch.Tensor  # (H, W) int64 on the device
    masks: torch.Tensor  # (N, M) bool on the device
    target: int


def evaluate_jobs(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    jobs: Sequence[PerturbationJob],
    output: str,
    batch_size: int,
    memory_format: torch.memory_format = torch.contiguous_format,
    *,
    item: str = "one image",
) -> list[torch.Tensor]:
    """Model outputs (float64, (N_i,)) for every job's masks, several jobs sharing forward batches.

    Jobs must share one image size. Rows are streamed in the order of the jobs; each chunk is
    built with one ``Canvas.perturb`` per job it touches, so no Python loop runs per sample.
    Chunks are written into buffers allocated once (by the first chunk, so an out-of-memory
    error there is retried at half the size too), in the model's ``memory_format``: at most
    ``batch_size`` perturbed images exist at a time and no memory is allocated per chunk.
    Outputs stay on the device (no host synchronisation in the loop); per sample only the mask
    row (M bools), the target index and the output are kept, so memory is flat in samples.
    """
    offsets = np.cumsum([0] + [len(job.masks) for job in jobs])
    total = int(offsets[-1])
    first = jobs[0].image
    targets = torch.cat(
        [torch.full((len(job.masks),), job.target, dtype=torch.int64) for job in jobs]
    ).to(first.device)
    canvases = [Canvas(job.image, job.fill, job.segments) for job in jobs]
    buffers: dict[str, torch.Tensor] = {}  # allocated by the first chunk; later ones are no larger

    def run(start: int, stop: int) -> torch.Tensor:
        n = stop - start
        if not buffers:
            buffers["keep"] = first.new_empty((n, first[0].numel()))
            buffers["planes"] = first.new_empty((n, *first.shape))
            if memory_format != torch.contiguous_format:
                buffers["layout"] = torch.empty_like(buffers["planes"], memory_format=memory_format)
        planes = buffers["planes"]
        for index, (job, canvas) in enumerate(zip(jobs, canvases)):
            lo, hi = max(start, offsets[index]), min(stop, offsets[index + 1])
            if lo < hi:
                rows = slice(lo - start, hi - start)
                canvas.perturb(
                    job.masks[lo - offsets[index] : hi - offsets[index]],
                    buffers["keep"][rows],
                    planes[rows].flatten(2),
                )
        batch = buffers["layout"][:n].copy_(planes[:n]) if "layout" in buffers else planes[:n]
        return target_values(logits_fn(batch), output, targets[start:stop]).double()

    with torch.inference_mode():
        flat = torch.cat(map_chunks(run, total, batch_size, item=item))
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(jobs))]
