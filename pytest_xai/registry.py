"""Registries of named variants (methods here; golden modes, fills and model loaders beside
their code) and the method registry: ``explain(method=name)`` looks its runner up here.

Standard library only, so the plugin can validate ``xai_method`` at start-up without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pytest_xai._util.validation import is_finite
from pytest_xai.defaults import (
    AUTO_GRADIENT_ROUND_SIZE,
    AUTO_ROUND_SIZE,
    BASELINES,
    MAX_SAMPLES,
    MIN_SAMPLES,
)
from pytest_xai.errors import XaiTypeError, XaiValueError

Params = dict[str, Any]  # explain() keyword arguments by name (method, samples, seed, ...)
T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """Named variants of one kind (``kind``: "method", "golden mode", "fill", "model loader"):
    a dict from name to variant that says what it holds. Extensions add to it through the
    ``pytest_xai_register_*`` hooks (undone when the session ends) or the ``register_*``
    functions (for the whole process), never by hand."""

    def __init__(self, kind: str, items: dict[str, T] | None = None) -> None:
        super().__init__(items or {})
        self.kind = kind

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name`` (an identifier), replacing one of that name."""
        if not isinstance(name, str) or not name.isidentifier():
            raise XaiValueError(f"name={name!r} is not a {self.kind} name; use an identifier such as 'custom'")
        self[name] = item
        return item

    def known(self) -> str:
        """The registered names, for messages."""
        return ", ".join(repr(n) for n in sorted(self))


@dataclass(frozen=True)
class MethodSpec:
    """A registered attribution method: its runner and its defaults.

    ``runner`` is ``"module:function"``, imported only when the method is first used (so this
    registry stays importable without torch), or the function itself; either way it follows
    ``pytest_xai.engine.runners.Runner``. ``default_baseline`` is what ``baseline=None`` means
    for the method (None: the method hides nothing, so it takes no baseline). ``options`` are
    the method-specific ``explain`` arguments it reads; the others are refused or ignored.
    ``bytes_per_pixel`` is what one image of a forward batch allocates, per pixel: the
    automatic batch keeps ``batch × bytes_per_pixel × H × W`` within the device's byte budget.
    ``round_size`` is how many samples a round of ``samples="auto"`` draws; None for a method
    that cannot grow in rounds, which runs its ``default_samples`` under "auto".
    """

    runner: str | Callable[..., Any]
    default_samples: int
    default_baseline: str | tuple[float, float, float] | None = None
    options: tuple[str, ...] = ()
    bytes_per_pixel: int = 28
    golden_bounds: tuple[tuple[str, float], ...] = ()  # (bound, value): this method's golden defaults
    round_size: int | None = None

    def check_options(self, method: str, given: Params) -> tuple[tuple[str, Any], ...]:
        """A call's method-specific ``explain`` arguments, by name: only those it declared."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            raise XaiTypeError(
                f"explain() got {', '.join(f'{k}={given[k]!r}' for k in unknown)}, which "
                f"method={method!r} does not read; its options are {self.options or 'none'}"
            )
        return tuple(sorted(given.items()))

    def golden_bound(self, param: str) -> float | None:
        """The default value this method declares for a golden bound (e.g. ``max_shift``)."""
        return dict(self.golden_bounds).get(param)


SUPERPIXEL_OPTIONS = ("segments", "n_segments", "baseline")
GRADIENT_OPTIONS = ("background", "local_smoothing")

# Superpixel methods hide with mid-grey by default: a solid-colour tag hidden with its own mean
# colour stays that colour (benchmarks/results/defaults.md).
GREY = (0.5, 0.5, 0.5)

METHODS: Registry[MethodSpec] = Registry("method", {
    "lime": MethodSpec(
        "pytest_xai.engine.methods:run_lime", 1000, GREY, SUPERPIXEL_OPTIONS, round_size=AUTO_ROUND_SIZE
    ),
    "kernel_shap": MethodSpec(
        "pytest_xai.engine.methods:run_kernel_shap", 1000, GREY, SUPERPIXEL_OPTIONS, round_size=AUTO_ROUND_SIZE
    ),
    # gradient_shap keeps an input, its difference to the background, and the input's gradient
    # per batch image, besides the model's activations saved for backward: 59.6 bytes a pixel
    # with the small CNN at 128² and 256² (peak of batch 8 less batch 4, torch's profiler),
    # rounded up. The superpixel methods' buffers are 28 (planes, a channels-last copy, a mask).
    "gradient_shap": MethodSpec(
        "pytest_xai.engine.gradient:run_gradient_shap", 200, None, GRADIENT_OPTIONS, 64,
        round_size=AUTO_GRADIENT_ROUND_SIZE,
    ),
})


def register_method(
    name: str,
    runner: str | Callable[..., Any],
    *,
    default_samples: int,
    default_baseline: str | tuple[float, float, float] | None = None,
    options: tuple[str, ...] = (),
    bytes_per_pixel: int = 28,
    golden_bounds: dict[str, float] | None = None,
    round_size: int | None = None,
) -> MethodSpec:
    """Register an attribution method under ``name`` so ``explain(method=name)`` runs it.

    ``runner`` is a ``"module:function"`` path or a function following
    ``pytest_xai.engine.runners.Runner``: ``runner(request, group) -> list[Attribution]``.
    ``bytes_per_pixel``: what one batch image allocates per pixel (measure it), which bounds the
    automatic batch. ``options``: the ``explain`` keyword arguments the runner reads, built-in
    ones (``n_segments``, ``baseline``, ...) or its own (any identifier, passed through in
    ``request.extra``). ``golden_bounds``: the method's default release-golden bounds, e.g.
    ``{"max_shift": 0.2, "max_support_loss": 0.3}``, measured on harmless releases; bounds it
    does not declare take the defaults of ``pytest_xai.defaults``. ``round_size``: samples per
    round under ``samples="auto"``, for a runner that honours ``Request.auto`` and returns
    ``Attribution.grower``; None (the default): the method runs ``default_samples`` under
    "auto". Registering an existing name replaces it. Returns the new ``MethodSpec``.
    """
    if not (callable(runner) or (isinstance(runner, str) and runner.count(":") == 1)):
        raise XaiTypeError(f"runner={runner!r} is neither a function nor a 'module:function' path")
    if isinstance(default_samples, bool) or not isinstance(default_samples, int):
        raise XaiTypeError(f"default_samples={default_samples!r} is not an int")
    if not MIN_SAMPLES <= default_samples <= MAX_SAMPLES:
        raise XaiValueError(
            f"default_samples={default_samples!r} is out of range; use {MIN_SAMPLES}..{MAX_SAMPLES}"
        )
    bad = [o for o in options if not isinstance(o, str) or not o.isidentifier() or o in RESERVED]
    if bad:
        raise XaiValueError(
            f"options={options!r}: {bad} cannot be method options; name keyword arguments of the "
            f"method's own (identifiers other than {', '.join(RESERVED)})"
        )
    bounds = _golden_bounds(golden_bounds)
    if not _is_fill(default_baseline):
        raise XaiValueError(
            f"default_baseline={default_baseline!r} is not a baseline; use None, one of "
            f"{BASELINES} or an RGB triple in [0, 1]"
        )
    if isinstance(bytes_per_pixel, bool) or not isinstance(bytes_per_pixel, int) or bytes_per_pixel < 1:
        raise XaiValueError(
            f"bytes_per_pixel={bytes_per_pixel!r} is not a positive int; measure what one batch "
            "image allocates per pixel (28 for the superpixel methods)"
        )
    if round_size is not None and (
        isinstance(round_size, bool) or not isinstance(round_size, int) or not MIN_SAMPLES <= round_size <= default_samples
    ):
        raise XaiValueError(
            f"round_size={round_size!r} is not a round size; use None (no rounds) or an int in "
            f"{MIN_SAMPLES}..default_samples ({default_samples})"
        )
    spec = MethodSpec(runner, default_samples, default_baseline, tuple(options), bytes_per_pixel, bounds, round_size)
    return METHODS.add(name, spec)


# explain() arguments every method shares: never a method's own option
RESERVED = (
    "method", "output", "samples", "tolerance", "max_samples", "seed", "precision", "batch_size", "target", "device",
)


def _golden_bounds(given: Any) -> tuple[tuple[str, float], ...]:
    if given is None:
        return ()
    if not isinstance(given, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and is_finite(v) and v >= 0 for k, v in given.items()
    ):
        raise XaiValueError(
            f"golden_bounds={given!r} is not a dict of bound names to non-negative numbers (each is "
            "checked against its bound's range when a golden uses it); e.g. "
            '{"max_shift": 0.2, "max_support_loss": 0.3}'
        )
    return tuple(sorted((k, float(v)) for k, v in given.items()))


def _is_fill(value: Any) -> bool:
    """None, a baseline name, or an RGB triple of numbers in [0, 1]."""
    if value is None or value in BASELINES:
        return True
    return (
        isinstance(value, tuple)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in value)
    )
