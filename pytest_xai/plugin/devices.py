"""Which device an explaining process uses: ``--xai-devices=cuda:0,cuda:2`` spreads xdist
workers over the listed GPUs (worker k takes devices[k mod n]); without it, worker k of
several GPUs takes cuda:(k mod count) when the device is auto or cuda."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_xai import defaults


def parse_devices(raw: str | None, device_count: Callable[[], int] | None = None) -> tuple[str, ...]:
    """``--xai-devices``: comma-separated CUDA devices (``cuda:0,cuda:2``), each present here.

    ``device_count`` (default ``torch.cuda.device_count``; torch loads only when the option
    is given) says how many CUDA devices there are; none is a usage error, like
    ``--xai-device=cuda`` without CUDA."""
    if raw is None:
        return ()
    names = [name.strip() for name in raw.split(",")]
    fix = "list CUDA devices, e.g. --xai-devices=cuda:0,cuda:1"
    if not any(names) or not all(names):
        raise pytest.UsageError(f"--xai-devices={raw!r} lists an empty device name; {fix}")
    for name in names:
        problem = defaults.check_device_name(name)
        if problem is not None or not name.startswith("cuda:"):
            raise pytest.UsageError(f"--xai-devices: {name!r} is not a numbered CUDA device; {fix}")
    if len(set(names)) != len(names):
        raise pytest.UsageError(f"--xai-devices={raw!r} names a device twice; {fix}")
    if device_count is None:
        import torch

        device_count = torch.cuda.device_count
    count = device_count()
    for name in names:
        if int(name[5:]) >= count:
            here = "there is no CUDA device here" if count == 0 else f"there are {count} CUDA devices (cuda:0-cuda:{count - 1})"
            raise pytest.UsageError(f"--xai-devices: {name!r} does not exist: {here}; {fix} or drop --xai-devices")
    return tuple(names)


def worker_index(workerid: str | None) -> int | None:
    """xdist's worker number (``gw3`` -> 3), None outside a worker."""
    if workerid is None:
        return None
    digits = workerid.lstrip("gw")
    return int(digits) if digits.isdigit() else 0


def device_for(device: str, devices: tuple[str, ...], worker: int | None, cuda_count: Callable[[], int]) -> str:
    """The device one process explains on: ``devices[worker mod n]`` when ``--xai-devices``
    is given (the first one outside xdist), else ``cuda:(worker mod count)`` for a worker
    with several GPUs and device auto or cuda, else ``device``."""
    if devices:
        return devices[(worker or 0) % len(devices)]
    if worker is None or device not in ("auto", "cuda"):
        return device
    count = cuda_count()
    return device if count <= 1 else f"cuda:{worker % count}"
