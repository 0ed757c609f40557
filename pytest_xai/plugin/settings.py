"""Options and ini keys, read once and validated: bad values stop the run with a clear message."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pytest

from pytest_xai import defaults as vocab
from pytest_xai.goldens.modes import GOLDEN_MODES
from pytest_xai.plugin.devices import parse_devices
from pytest_xai.registry import METHODS

FALSE = ("", "0", "false", "no", "off")  # any other value of CI means CI (read-only goldens)
UPDATE_MODES = ("all", "missing", "force")  # --xai-update=VALUE; the bare flag means "all"


def _parse_number(raw: Any, key: str, kind: type, low: float, high: float, default: Any = None) -> Any:
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


def _samples(raw: Any) -> int | str | None:
    """``--xai-samples`` / ini ``xai_samples``: "auto", "fixed" (each method's default budget)
    or a fixed budget."""
    if isinstance(raw, str) and raw.strip() in ("auto", "fixed"):
        return raw.strip()
    return _parse_number(raw, "xai_samples", int, vocab.MIN_SAMPLES, vocab.MAX_SAMPLES)


def _choice(raw: Any, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise pytest.UsageError(f"{key}={raw!r} is not allowed; use one of {', '.join(choices)}")
    return str(raw)


def _snapshot_dir(raw: str) -> str:
    """The ini ``xai_snapshot_dir``: a non-empty path relative to each test file's folder."""
    value = raw.strip()
    if not value or set(PurePath(os.path.normpath(value)).parts) <= {".", ".."} or "\0" in value:
        raise pytest.UsageError(  # ".", "data/..", "..": the test folder or one above it, full of other files
            f"xai_snapshot_dir={raw!r} is not a folder name of its own; use a relative path such as "
            f"{vocab.DEFAULT_SNAPSHOT_DIR!r} or '../snapshots'"
        )
    if PurePath(value).is_absolute() or os.path.isabs(value):
        raise pytest.UsageError(
            f"xai_snapshot_dir={raw!r} is absolute; goldens live beside the tests, so give a path "
            "relative to each test file's folder, such as '../snapshots'"
        )
    return value


def _precision(raw: str, device: str) -> str | None:
    """ini ``xai_precision``; float16 needs CUDA, so it is refused at start-up without one."""
    precision = _choice(raw, "xai_precision", vocab.PRECISIONS, None)
    if precision == "float16" and not device.startswith("cuda"):
        import torch  # only for this check: a CPU run with float16 would fail every test

        if device.startswith(("cpu", "mps")) or not torch.cuda.is_available():
            raise pytest.UsageError(
                f"xai_precision=float16 needs a CUDA device, and the device is {device!r}"
                f"{'' if device != 'auto' else ' (no CUDA here)'}; use bfloat16 or float32 on the CPU"
            )
    return precision


def _report_paths(raws: list[str] | None) -> tuple[Path, ...]:
    """Every ``--xai-report`` (the option may be given once per file, e.g. one HTML and one
    JSON), each checked at start-up; the same file named twice is refused."""
    paths: dict[Path, str] = {}
    for raw in raws or []:
        path = _report_path(raw)
        key = Path(os.path.abspath(path))
        if key in paths:
            raise pytest.UsageError(
                f"--xai-report={raw!r} names the same file as --xai-report={paths[key]!r}; "
                "give each report its own path (e.g. run.html and run.json)"
            )
        paths[key] = raw
    return tuple(Path(raw) for raw in paths.values())


def _report_path(raw: str) -> Path:
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


def _device(raw: str) -> str:
    """``--xai-device``/ini ``xai_device``: well formed, and a named CUDA device must exist."""
    problem = vocab.check_device_name(raw)
    if problem is not None:
        raise pytest.UsageError(f"--xai-device/xai_device: {problem}")
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


def _given(config: pytest.Config, dest: str, flag: str) -> Any:
    """An option's value; an empty one (``--xai-seed=``) is a usage error, never the default."""
    value = config.getoption(dest)
    if isinstance(value, str) and not value.strip():
        raise pytest.UsageError(f"{flag}={value!r} is empty; give a value or leave the option out")
    return value


def _results_dir(raw: str) -> Path:
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


def _model(raw: str | None, base: Path) -> str | None:
    """``--xai-model``/ini ``xai_model``: its form and files checked at start-up (nothing imported)."""
    from pytest_xai.model_spec import spec_problem

    if raw is None or raw == "":
        return None
    problem = spec_problem(raw, base)
    if problem is not None:
        raise pytest.UsageError(f"--xai-model/xai_model: {problem}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Every pytest_xai option and ini value, resolved (option beats ini beats default)."""

    update: str | None  # None, or one of UPDATE_MODES: "all", "missing", "force"
    ci: bool
    ci_reason: str
    device: str
    seed: int | None
    samples: int | str | None  # None: explain's default ("auto"); "auto"; or a fixed budget
    method: str | None
    precision: str | None  # None: explain's own default (float32)
    model: str | None
    results_dir: Path
    reports: tuple[Path, ...]  # --xai-report, once per file
    snapshot_dir: str
    images_dir: Path | None
    golden_mode: str  # goldens.modes.GOLDEN_MODES
    max_shift: float | None  # ini xai_max_shift; None: each method's default bound
    min_spearman: float
    min_top_k_iou: float
    cache_mode: str  # defaults.CACHE_MODES
    cache_max_mb: float
    devices: tuple[str, ...] = ()  # --xai-devices: xdist worker k explains on devices[k mod n]

    @property
    def can_write(self) -> bool:
        """Missing goldens may be written (--xai-update, either form, outside CI)."""
        return self.update is not None and not self.ci

    @property
    def can_update(self) -> bool:
        """Changed goldens may be rewritten and unused ones deleted (--xai-update=all, outside CI)."""
        return self.update in ("all", "force") and not self.ci

    @property
    def can_force(self) -> bool:
        """Passing goldens are rewritten too (--xai-update=force, outside CI): a re-baseline."""
        return self.update == "force" and not self.ci

    @property
    def cache_reads(self) -> bool:
        return self.cache_mode in ("read", "on")

    @property
    def cache_writes(self) -> bool:
        return self.cache_mode in ("write", "on")

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt, ini = config.getoption, config.getini
        root = Path(config.inipath).parent if config.inipath else config.rootpath
        ci_env = os.environ.get("CI", "").strip().lower() not in FALSE
        ci = bool(opt("xai_ci")) or ci_env
        images = ini("xai_images_dir")
        return cls(
            update=_choice(opt("xai_update"), "--xai-update", UPDATE_MODES, None),
            ci=ci,
            ci_reason="--xai-ci" if opt("xai_ci") else ("CI environment variable" if ci_env else ""),
            device=_device(str(_given(config, "xai_device", "--xai-device") or ini("xai_device") or "auto")),
            seed=_parse_number(_given(config, "xai_seed", "--xai-seed"), "--xai-seed", int, 0, vocab.MAX_SEED),
            samples=_samples(_given(config, "xai_samples", "--xai-samples") or ini("xai_samples")),
            method=_choice(ini("xai_method"), "xai_method", tuple(METHODS), None),
            precision=_precision(ini("xai_precision"), str(opt("xai_device") or ini("xai_device") or "auto")),
            model=_model(_given(config, "xai_model", "--xai-model") or ini("xai_model"), root),
            results_dir=_results_dir(_given(config, "xai_results", "--xai-results")),
            reports=_report_paths(opt("xai_report")),
            snapshot_dir=_snapshot_dir(ini("xai_snapshot_dir")),  # the default when unset; "" is refused
            images_dir=(root / images) if images else None,
            golden_mode=str(_choice(ini("xai_golden_mode"), "xai_golden_mode", tuple(GOLDEN_MODES),
                                    vocab.DEFAULT_GOLDEN_MODE)),
            max_shift=_parse_number(ini("xai_max_shift"), "xai_max_shift", float, 0, 1),
            min_spearman=_parse_number(ini("xai_min_spearman"), "xai_min_spearman", float, -1, 1,
                                 vocab.DEFAULT_MIN_SPEARMAN),
            min_top_k_iou=_parse_number(ini("xai_min_top_k_iou"), "xai_min_top_k_iou", float, 0, 1,
                                  vocab.DEFAULT_MIN_TOP_K_IOU),
            cache_mode=str(_choice(opt("xai_cache"), "--xai-cache", vocab.CACHE_MODES, "read" if ci else "on")),
            cache_max_mb=_parse_number(ini("xai_cache_max_mb"), "xai_cache_max_mb", float, 0, 1e7,
                                 vocab.DEFAULT_CACHE_MAX_MB),
            devices=parse_devices(opt("xai_devices")),
        )


def add_options(parser: pytest.Parser) -> None:
    """Register the "xai" option group and the ini keys."""
    group = parser.getgroup("xai", "xai: explanation regression testing (pytest_xai)")
    group.addoption(
        "--xai-update", dest="xai_update", nargs="?", const="all", default=None, metavar="MODE",
        help="write golden explanations: the bare flag (or =all) writes missing and changed "
        "goldens and deletes unused ones on a full run; =missing writes only missing ones; =force "
        "rewrites every compared golden, passing ones too. A path may follow the bare flag "
        "(pytest --xai-update tests/). Refused in CI mode.",
    )
    group.addoption("--xai-ci", dest="xai_ci", action="store_true",
                    help="CI mode: never write or delete goldens (also on when CI is set).")
    group.addoption("--xai-device", dest="xai_device", default=None,
                    help=f"device for explanations: {vocab.DEVICE_HELP[4:]} (default auto).")
    group.addoption("--xai-devices", dest="xai_devices", default=None, metavar="cuda:0,cuda:1",
                    help="CUDA devices to spread xdist workers over: worker k uses device k mod n.")
    group.addoption("--xai-seed", dest="xai_seed", default=None,
                    help="seed for every explanation (default: 0, or the marker's).")
    group.addoption("--xai-samples", dest="xai_samples", default=None,
                    help="samples per explanation: 'auto' (the default: rounds until certain, checks "
                         "ask for more), 'fixed' (each method's default budget) or N, overriding ini.")
    group.addoption("--xai-model", dest="xai_model", default=None, metavar="SPEC",
                    help="model under test: package.module:factory, a TorchScript file, or "
                    "torchvision:NAME=WEIGHTS.pth.")
    group.addoption("--xai-results", dest="xai_results", default=vocab.DEFAULT_RESULTS_DIR, metavar="DIR",
                    help=f"where failure pictures go (default {vocab.DEFAULT_RESULTS_DIR}).")
    group.addoption("--xai-report", dest="xai_report", action="append", default=None, metavar="PATH",
                    help="write a report: PATH.html (self-contained) or PATH.json; give it once "
                    "per file for both.")
    _mutation_options(group)
    group.addoption("--xai-cache", dest="xai_cache", default=None, choices=vocab.CACHE_MODES,
                    help="persistent explanation cache under .pytest_cache: on (default), read, "
                    "write or off; read in CI mode. --cache-clear empties it.")
    group.addoption("--xai-calibrate", dest="xai_calibrate", nargs="?", const=".xai-calibration.json",
                    default=None, metavar="PATH",
                    help="measure every check at several seeds (and --xai-calibrate-with) and suggest "
                    "bounds; writes PATH (default .xai-calibration.json). Failed checks do not fail it.")
    group.addoption("--xai-calibrate-with", dest="xai_calibrate_with", default=None, metavar="SPEC",
                    help="a harmlessly retrained checkpoint (spec as --xai-model) the calibration also runs.")
    group.addoption("--xai-calibrate-seeds", dest="xai_calibrate_seeds", type=int, default=3, metavar="N",
                    help="seeds a calibration runs: the configured one and the next N-1 (default 3).")
    parser.addini("xai_snapshot_dir", "folder for goldens, relative to each test file's folder",
                  default=vocab.DEFAULT_SNAPSHOT_DIR)
    parser.addini("xai_images_dir", "folder xai_image() resolves names against (default: the test's folder)", default="")
    parser.addini("xai_model", "model spec, as --xai-model", default="")
    parser.addini("xai_device", "device, as --xai-device", default="")
    parser.addini("xai_method", f"default method: {', '.join(METHODS)}", default="")
    parser.addini("xai_samples", "default samples per explanation: 'auto' or N (a fixed budget)", default="")
    parser.addini("xai_precision", f"explanation precision: {', '.join(vocab.PRECISIONS)} (default float32)",
                  default="")
    parser.addini("xai_golden_mode", "golden comparison: release (default; where the evidence is) or strict "
                  "(rank agreement)", default="")
    parser.addini("xai_max_shift", "release-mode evidence shift bound in [0, 1] (default: the method's, "
                  f"else {vocab.DEFAULT_MAX_SHIFT})", default="")
    parser.addini("xai_min_spearman", f"strict-mode Spearman bound (default {vocab.DEFAULT_MIN_SPEARMAN})",
                  default="")
    parser.addini("xai_min_top_k_iou", f"strict-mode top-20% IoU bound (default {vocab.DEFAULT_MIN_TOP_K_IOU})",
                  default="")
    parser.addini("xai_cache_max_mb", f"explanation cache size cap in MB (default {vocab.DEFAULT_CACHE_MAX_MB}; "
                  "least recently used entries go first)", default="")


def bare_update_flag(args: list[str]) -> bool:
    """Let a path follow the bare ``--xai-update`` (``pytest --xai-update tests/``, as syrupy's
    ``--snapshot-update``): the flag takes its value only as ``--xai-update=MODE`` or as one of
    ``UPDATE_MODES``, so a following path is rewritten in place as ``--xai-update=all`` PATH.
    Returns whether it rewrote anything."""
    changed = False
    for i, arg in enumerate(args[:-1]):
        if arg == "--":
            break
        if arg == "--xai-update" and args[i + 1] not in UPDATE_MODES and not args[i + 1].startswith("-"):
            args[i] = "--xai-update=all"
            changed = True
    return changed


def _mutation_options(group: Any) -> None:
    """``--xai-mutate[=N]`` and ``--xai-mutate-twin=SPEC`` (docs/mutation.md)."""
    group.addoption("--xai-mutate", dest="xai_mutate", nargs="?", const="8", default=None, metavar="N",
                    help="after the run, re-run the explanation tests against N planted-shortcut mutants "
                    "(default 8) and every harmless one; print the detection score (docs/mutation.md).")
    group.addoption("--xai-mutate-twin", dest="xai_mutate_twin", default=None, metavar="SPEC",
                    help="with --xai-mutate: a harmless retrain of the model under test (spec as --xai-model).")
