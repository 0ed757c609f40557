"""Expected gradients (GradientSHAP), batched and seeded, as in shap's GradientExplainer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pytest_xai._util.digest import array_record
from pytest_xai.engine.baselines import blurred
from pytest_xai.engine.batching import map_chunks
from pytest_xai.engine.outputs import target_values
from pytest_xai.engine.rounds import AutoBudget, relative_error, round_seed
from pytest_xai.engine.runners import Attribution, Group, Request, check_finite
from pytest_xai.engine.uncertainty import group_sums, mean_basis, standard_error
from pytest_xai.errors import XaiValueError
from pytest_xai.registry import Params

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
    group_size: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected-gradients attributions (n, 3, H, W) of each image's target output, and the
    channel-summed sums (n, G, H, W) float64 of each image's groups of ``group_size``
    consecutive samples (batch means for the standard error; G = 0 when ``group_size`` is 0).

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
    count = -(-samples // group_size) if group_size else 0
    groups = torch.zeros((n, count, *images_hwc.shape[1:3]), dtype=torch.float64, device=images.device)

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
        summed = contribution.sum(-1).double().split(sizes) if group_size else ()
        for (i, _, _), part in zip(spans, partial):  # after everything that may run out of memory
            totals[i] += part
        for (i, lo, hi), part in zip(spans, summed):
            index = torch.arange(lo, hi, device=part.device) // group_size
            groups[i].index_add_(0, index, part)

    map_chunks(run, n * samples, batch_size, item=item)
    return (totals / samples).permute(0, 3, 1, 2).float(), groups


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


# The standard error of GradientSHAP comes from batch means: groups of at least GROUP_SIZE
# consecutive samples, at most MAX_GROUPS of them (adjacent groups merge beyond), so 200 samples
# make 16 groups of 13 and memory stays flat in samples.
GROUP_SIZE = 5
MAX_GROUPS = 16


def group_size(samples: int) -> int:
    """Samples per group for a call of ``samples``."""
    return max(GROUP_SIZE, -(-samples // MAX_GROUPS))


@dataclass
class GradientRun:
    """One image's sample groups so far: their channel-summed sums (G, H, W) float64 on the
    host, how many samples each holds, and the rounds drawn."""

    sums: torch.Tensor
    counts: torch.Tensor
    rounds: int = 1

    @property
    def samples(self) -> int:
        return int(self.counts.sum())

    @property
    def heatmap(self) -> torch.Tensor:
        return self.sums.sum(0) / self.samples

    def basis(self) -> torch.Tensor:
        """The error basis (K, H, W) of the mean, from the groups' means (batch means)."""
        return mean_basis(self.sums / self.counts[:, None, None])

    @classmethod
    def empty(cls, height: int, width: int) -> GradientRun:
        """A run with no samples yet (its first call counts as round 0)."""
        return cls(torch.empty(0, height, width, dtype=torch.float64), torch.empty(0, dtype=torch.float64))

    @classmethod
    def restore(cls, heatmap: torch.Tensor, basis: torch.Tensor, round_size: int, rounds: int) -> GradientRun | None:
        """The auto run of ``rounds`` rounds of ``round_size`` samples whose mean is ``heatmap``
        (H, W) and whose error basis is ``basis`` (K, H, W), as its explanation stores them.

        Its groups' counts follow from the rounds (each round is one call of ``add``), and the
        mean with the batch-means basis gives back each group's sum (``group_sums``), to float32
        rounding: nothing beyond the heatmap and its error basis needs storing. None when they
        do not fit together (another grouping, fewer than two groups).
        """
        replay = cls.empty(1, 1)
        calls = -(-round_size // group_size(round_size))
        for _ in range(rounds):
            replay.add(torch.zeros(calls, 1, 1, dtype=torch.float64), round_size)
        counts = replay.counts
        if rounds < 1 or len(counts) < 2 or len(counts) != len(basis) or basis.shape[1:] != heatmap.shape:
            return None
        return cls(group_sums(heatmap, basis, counts), counts, rounds)

    def add(self, sums: torch.Tensor, samples: int) -> None:
        """Add a call's groups of ``samples`` samples; merge adjacent groups past MAX_GROUPS."""
        counts = torch.full((len(sums),), float(group_size(samples)), dtype=torch.float64)
        counts[-1] = samples - group_size(samples) * (len(sums) - 1)
        self.sums, self.counts = torch.cat([self.sums, sums]), torch.cat([self.counts, counts])
        while len(self.sums) > MAX_GROUPS:
            even = len(self.sums) // 2 * 2
            merged = self.sums[:even].reshape(even // 2, 2, *self.sums.shape[1:]).sum(1)
            self.sums = torch.cat([merged, self.sums[even:]])
            self.counts = torch.cat([self.counts[:even].reshape(-1, 2).sum(1), self.counts[even:]])


@dataclass(frozen=True)
class GradientRounds:
    """What draws and evaluates gradient samples for a group's images, round by round."""

    request: Request
    group: Group
    background: torch.Tensor | None

    def evaluate(self, indices: list[int], samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Attributions and group sums of ``samples`` more samples of images ``indices``."""
        images = self.group.tensors[indices]
        targets = [self.group.targets[i] for i in indices]
        draws = draw(images, self.background, targets, samples, seed)
        attributions, groups = expected_gradients(
            self.group.forward, images, draws, self.request.output, samples, self.group.batch_size,
            self.request.local_smoothing, self.group.item, group_size(samples),
        )  # fmt: skip
        return attributions, groups

    def extend(self, runs: list[GradientRun], indices: list[int], size: int) -> None:
        """One more round of ``size`` samples for the images ``indices``, in shared batches.

        Every image of a round draws from the same round seed, as every image of a call draws
        from the call's seed: an image's samples do not depend on the images beside it.
        """
        by_round: dict[int, list[int]] = {}
        for i in indices:
            by_round.setdefault(runs[i].rounds, []).append(i)
        for index, members in by_round.items():
            _, groups = self.evaluate(members, size, round_seed(self.request.seed, index))
            sums = groups.cpu()
            check_finite(sums, f"the {size} gradient samples of round {index}")
            for row, i in enumerate(members):
                runs[i].add(sums[row], size)
                runs[i].rounds += 1


def run_gradient_shap(request: Request, group: Group) -> list[Attribution]:
    """GradientSHAP for every image of the group, their samples sharing full batches; with
    ``samples="auto"``, in rounds until each heatmap is certain enough."""
    rounds = GradientRounds(request, group, background_tensor(request))
    budget = request.auto
    first = request.samples if budget is None else budget.round_size
    attributions, groups = rounds.evaluate(list(range(len(group.tensors))), first, request.seed)
    heatmaps = attributions.sum(1).cpu()  # the one transfer to the host
    check_finite(heatmaps, f"the {first} gradient samples")
    runs = [GradientRun.empty(*heatmaps.shape[1:]) for _ in heatmaps]
    for run, sums in zip(runs, groups.cpu()):
        run.add(sums, first)
    if budget is not None:
        while active := [i for i, run in enumerate(runs) if _unfinished(run, budget)]:
            rounds.extend(runs, active, budget.round_size)
    fixed = [h.numpy() for h in heatmaps] if budget is None else [None] * len(runs)
    return [_attribution(rounds, runs, i, fixed[i]) for i in range(len(runs))]


def resume_gradient_shap(request: Request, group: Group, heatmap: np.ndarray, basis: np.ndarray, samples: int) -> Attribution | None:
    """The attribution of an auto run read back from disk, from its mean ``heatmap`` (H, W),
    its error ``basis`` (K, H, W) and its ``samples``, with a grower that draws its next
    rounds; None when it cannot resume (not whole rounds, a basis of another grouping)."""
    assert request.auto is not None
    count, rest = divmod(samples, request.auto.round_size)
    run = None if rest else GradientRun.restore(
        torch.from_numpy(np.array(heatmap, np.float64)), torch.from_numpy(np.array(basis, np.float64)),
        request.auto.round_size, count,
    )
    if run is None:
        return None
    return _attribution(GradientRounds(request, group, background_tensor(request)), [run], 0, None)


def background_tensor(request: Request) -> torch.Tensor | None:
    """The given background images (B, 3, H, W) on the host, or None for the default."""
    if request.background is None:
        return None
    return torch.from_numpy(np.stack(request.background)).permute(0, 3, 1, 2).contiguous()


def gradient_params(request: Request) -> Params:
    """What a GradientSHAP explanation records besides the request's own parameters."""
    return {
        # a given background by content, so params identify it (and can check a candidate)
        "background": "default" if request.background is None else array_record(np.stack(request.background)),
        "background_size": 2 if request.background is None else len(request.background),
        "local_smoothing": request.local_smoothing,
    }


def _unfinished(run: GradientRun, budget: AutoBudget) -> bool:
    if budget.cap - run.samples < budget.round_size:
        return False
    if run.samples < budget.first:
        return True
    return relative_error(run.heatmap.numpy(), standard_error(run.basis()).numpy()) > budget.tolerance


def _attribution(rounds: GradientRounds, runs: list[GradientRun], i: int, heatmap: np.ndarray | None) -> Attribution:
    """Image ``i``'s attribution: the fixed budget's exact heatmap, or the rounds' mean."""
    run, budget = runs[i], rounds.request.auto

    def grower(samples: int) -> Attribution | None:
        assert budget is not None
        before = run.samples
        while run.samples < min(samples, budget.cap) and budget.cap - run.samples >= budget.round_size:
            rounds.extend(runs, [i], budget.round_size)
        return None if run.samples == before else _attribution(rounds, runs, i, None)

    return Attribution(
        heatmap=(run.heatmap.float().numpy() if heatmap is None else heatmap),
        evaluations=run.samples,
        params=gradient_params(rounds.request),
        error_basis=run.basis().float().numpy(),
        rounds=run.rounds,
        grower=None if budget is None else grower,
    )
