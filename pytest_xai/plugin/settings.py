"""Every pytest_xai option and ini value, read once into one typed record at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_xai import defaults
from pytest_xai.goldens.modes import GOLDEN_MODES
from pytest_xai.plugin.devices import parse_devices
from pytest_xai.plugin.parse import (
    UPDATE_MODES,
    CalibrationOptions,
    MutationOptions,
    calibration_options,
    choice,
    device,
    given,
    model_spec,
    mutation_options,
    number,
    precision,
    report_paths,
    results_dir,
    samples,
    snapshot_dir,
)
from pytest_xai.registry import METHODS

if TYPE_CHECKING:
    from pytest_xai.goldens.judge import WritePolicy
    from pytest_xai.goldens.modes import SessionBounds

FALSE = ("", "0", "false", "no", "off")  # any other value of CI means CI (read-only goldens)


@dataclass(frozen=True)
class Settings:
    """Every pytest_xai option and ini value, resolved (option beats ini beats default)."""

    update: str | None  # None, or one of UPDATE_MODES: "all", "missing", "force"
    ci: bool
    ci_reason: str
    device: str
    seed: int | None
    samples: int | str | None  # None: explain's default ("auto"); "auto", "fixed" or a fixed budget
    method: str | None
    precision: str | None  # None: explain's own default (float32)
    model: str | None
    results_dir: Path
    reports: tuple[Path, ...]  # --xai-report, once per file
    snapshot_dir: str
    images_dir: Path | None
    golden_mode: str  # goldens.modes.GOLDEN_MODES
    max_shift: float | None  # ini xai_max_shift; None: each method's default bound
    min_spearman: float | None  # ini xai_min_spearman; None: the method's declared or default bound
    min_top_k_iou: float | None
    cache_mode: str  # defaults.CACHE_MODES
    cache_max_mb: float
    devices: tuple[str, ...] = ()  # --xai-devices: xdist worker k explains on devices[k mod n]
    mutation: MutationOptions | None = None  # --xai-mutate, when given
    calibration: CalibrationOptions | None = None  # --xai-calibrate, when given

    @property
    def golden_bounds(self) -> SessionBounds:
        """The golden mode and bounds the ini file chose for this run."""
        from pytest_xai.goldens.modes import SessionBounds

        return SessionBounds(self.golden_mode, {"max_shift": self.max_shift, "min_spearman": self.min_spearman,
                                                "min_top_k_iou": self.min_top_k_iou})

    @property
    def write_policy(self) -> WritePolicy:
        """What golden verdicts may ask to write in this run."""
        from pytest_xai.goldens.judge import WritePolicy

        return WritePolicy(
            write=self.update is not None, update=self.update in ("all", "force"), force=self.update == "force",
            ci_reason=(self.ci_reason or "CI mode") if self.ci else "", snapshot_dir=self.snapshot_dir,
        )

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
        update = choice(opt("xai_update"), "--xai-update", UPDATE_MODES, None)
        return cls(
            update=update,
            ci=ci,
            ci_reason="--xai-ci" if opt("xai_ci") else ("CI environment variable" if ci_env else ""),
            device=device(str(given(config, "xai_device", "--xai-device") or ini("xai_device") or "auto")),
            seed=number(given(config, "xai_seed", "--xai-seed"), "--xai-seed", int, 0, defaults.MAX_SEED),
            samples=samples(given(config, "xai_samples", "--xai-samples") or ini("xai_samples")),
            method=choice(ini("xai_method"), "xai_method", tuple(METHODS), None),
            precision=precision(ini("xai_precision"), str(opt("xai_device") or ini("xai_device") or "auto")),
            model=model_spec(given(config, "xai_model", "--xai-model") or ini("xai_model"), root),
            results_dir=results_dir(given(config, "xai_results", "--xai-results")),
            reports=report_paths(opt("xai_report")),
            snapshot_dir=snapshot_dir(ini("xai_snapshot_dir")),  # the default when unset; "" is refused
            images_dir=(root / images) if images else None,
            golden_mode=str(choice(ini("xai_golden_mode"), "xai_golden_mode", tuple(GOLDEN_MODES),
                                    defaults.DEFAULT_GOLDEN_MODE)),
            max_shift=number(ini("xai_max_shift"), "xai_max_shift", float, 0, 1),
            min_spearman=number(ini("xai_min_spearman"), "xai_min_spearman", float, -1, 1),
            min_top_k_iou=number(ini("xai_min_top_k_iou"), "xai_min_top_k_iou", float, 0, 1),
            cache_mode=str(choice(opt("xai_cache"), "--xai-cache", defaults.CACHE_MODES, "read" if ci else "on")),
            cache_max_mb=number(ini("xai_cache_max_mb"), "xai_cache_max_mb", float, 0, 1e7,
                                 defaults.DEFAULT_CACHE_MAX_MB),
            devices=parse_devices(opt("xai_devices")),
            mutation=mutation_options(config, update, root),
            calibration=calibration_options(config, update),
        )


