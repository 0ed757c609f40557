"""Option and ini values, each validated on its own: a bad value stops the run at start-up with a
message that names the option, the value and the fix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pytest

from pytest_xai import defaults

UPDATE_MODES = ("all", "missing", "force")  # --xai-update=VALUE; the bare flag means "all"


def samples(raw: Any) -> int | str | None:
    """``--xai-samples`` / ini ``xai_samples``: "auto", "fixed" (each method's default budget)
    or a fixed budget."""
    if isinstance(raw, str) and raw.strip() in ("auto", "fixed"):
        return raw.strip()
    value: int | None = number(raw, "xai_samples", int, defaults.MIN_SAMPLES, defaults.MAX_SAMPLES)
    return value


def number(raw: Any, key: str, kind: type, low: float, high: float, default: Any = None) -> Any:
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(
            f"{key}={raw!r} is not a{'n int' if kind is int else ' number'}; "
            f"set it to a value in [{low}, {high}]"
        ) from None
    if not low <= value <= high:  # also refuses NaN
        raise pytest.UsageError(f"{key}={raw!r} is out of range; set it to a value in [{low}, {high}]")
    return value


def choice(raw: Any, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise pytest.UsageError(f"{key}={raw!r} is not allowed; use one of {', '.join(choices)}")
    return str(raw)


def snapshot_dir(raw: str) -> str:
    """The ini ``xai_snapshot_dir``: a non-empty path relative to each test file's folder."""
    value = raw.strip()
    if not value or set(PurePath(os.path.normpath(value)).parts) <= {".", ".."} or "\0" in value:
        raise pytest.UsageError(  # ".", "data/..", "..": the test folder or one above it, full of other files
            f"xai_snapshot_dir={raw!r} is not a folder name of its own; use a relative path such as "
            f"{defaults.DEFAULT_SNAPSHOT_DIR!r} or '../snapshots'"
        )
    if PurePath(value).is_absolute() or os.path.isabs(value):
        raise pytest.UsageError(
            f"xai_snapshot_dir={raw!r} is absolute; goldens live beside the tests, so give a path "
            "relative to each test file's folder, such as '../snapshots'"
        )
    return value


def precision(raw: str, device: str) -> str | None:
    """ini ``xai_precision``; float16 needs CUDA, so it is refused at start-up without one."""
    precision = choice(raw, "xai_precision", defaults.PRECISIONS, None)
    if precision == "float16" and not device.startswith("cuda"):
        import torch  # only for this check: a CPU run with float16 would fail every test

        if device.startswith(("cpu", "mps")) or not torch.cuda.is_available():
            raise pytest.UsageError(
                f"xai_precision=float16 needs a CUDA device, and the device is {device!r}"
                f"{'' if device != 'auto' else ' (no CUDA here)'}; use bfloat16 or float32 on the CPU"
            )
    return precision


def report_paths(raws: list[str] | None) -> tuple[Path, ...]:
    """Every ``--xai-report`` (the option may be given once per file, e.g. one HTML and one
    JSON), each checked at start-up; the same file named twice is refused."""
    paths: dict[Path, str] = {}
    for raw in raws or []:
        path = report_path(raw)
        key = Path(os.path.abspath(path))
        if key in paths:
            raise pytest.UsageError(
                f"--xai-report={raw!r} names the same file as --xai-report={paths[key]!r}; "
                "give each report its own path (e.g. run.html and run.json)"
            )
        paths[key] = raw
    return tuple(Path(raw) for raw in paths.values())


def report_path(raw: str) -> Path:
    """One ``--xai-report``: checked at start-up, so a bad path never costs a whole run."""
    path = Path(raw)
    fix = "pass a writable file path ending in .html or .json"
    if path.suffix not in (".html", ".json"):
        raise pytest.UsageError(f"--xai-report={raw!r} must end in .html or .json")
    if path.is_dir():
        raise pytest.UsageError(f"--xai-report={raw!r} is an existing directory; {fix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise pytest.UsageError(f"--xai-report={raw!r}: its folder cannot be created ({e}); {fix}") from None
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK | os.X_OK)
    if not writable:
        raise pytest.UsageError(f"--xai-report={raw!r} is not writable; {fix}")
    return path


def device(raw: str) -> str:
    """``--xai-device``/ini ``xai_device``: well formed, and a named CUDA device must exist."""
    problem = defaults.check_device_name(raw)
    if problem is not None:
        raise pytest.UsageError(f"--xai-device/xai_device: {problem}")
    if raw == "mps":
        import torch  # only when MPS is named: without it, every test would fail

        if not torch.backends.mps.is_available():
            raise pytest.UsageError(
                f"--xai-device/xai_device={raw!r} but this machine has no MPS device; use 'cpu' or "
                "'auto' (CUDA when there is one, else the CPU)"
            )
    if raw.startswith("cuda"):
        import torch  # only when a CUDA device is named: without one, every test would fail

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(raw[5:]) if raw.startswith("cuda:") else 0
        if index >= count:
            found = f"{count} CUDA device{'s' if count != 1 else ''}" if count else "no CUDA device"
            raise pytest.UsageError(
                f"--xai-device/xai_device={raw!r} but this machine has {found}; use 'cpu' or "
                "'auto' (CUDA when there is one, else the CPU)"
            )
    return raw


def given(config: pytest.Config, dest: str, flag: str) -> Any:
    """An option's value; an empty one (``--xai-seed=``) is a usage error, never the default."""
    value = config.getoption(dest)
    if isinstance(value, str) and not value.strip():
        raise pytest.UsageError(f"{flag}={value!r} is empty; give a value or leave the option out")
    return value


def results_dir(raw: str) -> Path:
    """``--xai-results``: a folder that exists or can be made; checked at start-up, so a file
    in its place never replaces a test's failure message."""
    path = Path(raw)
    fix = "pass a writable folder (default .xai-results)"
    existing = next((p for p in (path, *path.absolute().parents) if p.exists()), None)
    if existing == path and not path.is_dir():
        raise pytest.UsageError(f"--xai-results={raw!r} is a file, not a folder; {fix}")
    if existing is not None and not existing.is_dir():
        raise pytest.UsageError(f"--xai-results={raw!r}: {str(existing)!r} is a file, not a folder; {fix}")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise pytest.UsageError(f"--xai-results={raw!r}: {str(existing)!r} is not writable; {fix}")
    return path


def model_spec(raw: str | None, base: Path) -> str | None:
    """``--xai-model``/ini ``xai_model``: its form and files checked at start-up (nothing imported)."""
    from pytest_xai.models import spec_problem

    if raw is None or raw == "":
        return None
    problem = spec_problem(raw, base)
    if problem is not None:
        raise pytest.UsageError(f"--xai-model/xai_model: {problem}")
    return raw


@dataclass(frozen=True)
class MutationOptions:
    """``--xai-mutate[=N]`` and ``--xai-mutate-twin``, checked (docs/mutation.md)."""

    budget: str
    twin: str | None


@dataclass(frozen=True)
class CalibrationOptions:
    """``--xai-calibrate[=PATH]``, ``--xai-calibrate-with`` and ``--xai-calibrate-seeds``, checked."""

    path: Path
    with_spec: str | None
    seeds: int


def mutation_options(config: pytest.Config, update: str | None, base: Path) -> MutationOptions | None:
    """``--xai-mutate`` and ``--xai-mutate-twin``: the twin's spec checked like ``--xai-model``,
    a twin only with ``--xai-mutate``, and no ``--xai-update`` beside them (mutants are scored
    against the goldens on disk, which an update would be writing in the same run)."""
    from pytest_xai.models import spec_problem

    mutate, twin = config.getoption("xai_mutate", None), given(config, "xai_mutate_twin", "--xai-mutate-twin")
    if twin is not None and mutate is None:
        raise pytest.UsageError(
            f"--xai-mutate-twin={twin!r} needs --xai-mutate (the twin is one of its harmless releases); "
            "add --xai-mutate or drop --xai-mutate-twin"
        )
    problem = None if twin is None else spec_problem(twin, base)
    if problem is not None:
        raise pytest.UsageError(f"--xai-mutate-twin: {problem}")
    if mutate is not None and update is not None:
        raise pytest.UsageError(
            f"--xai-mutate scores mutants against the goldens on disk; --xai-update={update} would "
            "write them in the same run, so every mutant would be scored against goldens not yet "
            "written. Run pytest --xai-update first, review and commit, then pytest --xai-mutate"
        )


    return None if mutate is None else MutationOptions(str(mutate), twin)


def calibration_options(config: pytest.Config, update: str | None) -> CalibrationOptions | None:
    """``--xai-calibrate[=PATH]``: a file it can write (never a folder), at least one seed, and
    neither ``--xai-update`` nor xdist beside it (it re-runs the tests in this process)."""
    raw = config.getoption("xai_calibrate", None)
    if not raw:
        return None
    seeds = config.getoption("xai_calibrate_seeds")
    if seeds < 1:
        raise pytest.UsageError(f"--xai-calibrate-seeds={seeds} must be at least 1; pass e.g. 3")
    if update:
        raise pytest.UsageError("--xai-calibrate measures the goldens as they are; drop --xai-update")
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--xai-calibrate re-runs tests in one process; drop -n/--numprocesses")
    path = Path(raw)
    path = path if path.is_absolute() else config.rootpath / path
    fix = "give a file path, e.g. --xai-calibrate=.xai-calibration.json"
    if path.is_dir():
        raise pytest.UsageError(f"--xai-calibrate={raw!r}: {str(path)!r} is a folder; {fix}")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise pytest.UsageError(f"--xai-calibrate={raw!r}: {str(parent)!r} is a file, not a folder; {fix}")
    return CalibrationOptions(path, config.getoption("xai_calibrate_with"), seeds)
