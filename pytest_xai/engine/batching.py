"""Chunked evaluation with out-of-memory retry, on CPU as on CUDA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

from pytest_xai.errors import OutOfMemoryRetryError

T = TypeVar("T")

# Messages of allocation failures: CUDA's caching allocator, torch's CPU allocator
# (DefaultCPUAllocator: can't allocate memory), and the C library behind MemoryError.
# Per-sample matrices (coalition masks, N × M) are processed this many rows at a time wherever
# a step would otherwise make a float or index copy of the whole matrix: 2048 rows of 256
# superpixels are 4 MB of float64 per temporary, so memory stays flat in samples.
ROWS_PER_BLOCK = 2048


def row_blocks(n: int, rows: int = ROWS_PER_BLOCK) -> Iterator[slice]:
    """Consecutive row slices of at most ``rows`` rows covering [0, n)."""
    for start in range(0, n, rows):
        yield slice(start, min(n, start + rows))


_OOM_MESSAGES = ("out of memory", "can't allocate memory", "defaultcpuallocator", "cannot allocate memory")


def is_out_of_memory(error: BaseException) -> bool:
    """True for an allocation failure on any device: CUDA, MPS or the CPU (torch or numpy)."""
    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(error, RuntimeError) and any(m in str(error).lower() for m in _OOM_MESSAGES)


def map_chunks(
    fn: Callable[[int, int], T], total: int, batch_size: int, *, item: str = "one input"
) -> list[T]:
    """Call ``fn(start, stop)`` over [0, total) in chunks; halve the chunk on out-of-memory.

    After an out-of-memory error the chunk is retried at half the size, down to 1, and the
    smaller size is kept for the rest of the run. ``fn`` must not change any state it keeps
    before it can fail, so a retried chunk is not counted twice. ``item`` describes one row
    (e.g. "one 3×10000×10000 image") for the error raised when even one does not fit.
    """
    results: list[T] = []
    start = 0
    while start < total:
        stop = min(start + batch_size, total)
        try:
            results.append(fn(start, stop))
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            if batch_size == 1:
                raise OutOfMemoryRetryError(
                    f"out of memory even with batch_size=1: {item} with its perturbation buffers "
                    "does not fit; use a smaller image (load_image(..., size=...)), a smaller "
                    "model, or another device"
                ) from error
            batch_size = max(1, batch_size // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        start = stop
    return results
