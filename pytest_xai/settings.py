"""Options and ini keys, read once and validated: bad values stop the run with a clear message."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_xai.snapshots import DEFAULT_MIN_SPEARMAN, DEFAULT_MIN_TOP_K_IOU

METHODS = ("lime", "kernel_shap", "gradient_shap")
TRUE = ("1", "true", "yes", "on")


def _number(raw: Any, key: str, kind: type, low: float, high: float) -> Any:
    if raw is None or raw == "":
        return None
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(
            f"{key}={raw!r} is not a{'n int' if kind is int else ' number'}; "
            f"set it to a value in [{low}, {high}]"
        ) from None
    if not low <= value <= high:
        raise pytest.UsageError(f"{key}={raw!r} is out of range; set it to a value in [{low}, {high}]")
    return value


@dataclass(frozen=True)
class Settings:
    """Every pytest_xai option and ini value, resolved (option beats ini beats default)."""

    update: str | None  # None, "all" or "missing"
    ci: bool
    ci_reason: str
    device: str
    seed: int | None
    samples: int | None
    method: str | None
    model: str | None
    results_dir: Path
    report: Path | None
    snapshot_dir: str
    images_dir: Path | None
    min_spearman: float
    min_top_k_iou: float

    @property
    def can_write(self) -> bool:
        """Missing goldens may be written (--xai-update, either form, outside CI)."""
        return self.update is not None and not self.ci

    @property
    def can_update(self) -> bool:
        """Changed goldens may be rewritten and unused ones deleted (--xai-update=all, outside CI)."""
        return self.update == "all" and not self.ci

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt = config.getoption
        root = Path(config.inipath).parent if config.inipath else config.rootpath
        ci_env = os.environ.get("CI", "").strip().lower() in TRUE
        ci = bool(opt("xai_ci")) or ci_env
        reason = "--xai-ci" if opt("xai_ci") else ("CI environment variable" if ci_env else "")
        method = config.getini("xai_method") or None
        if method is not None and method not in METHODS:
            raise pytest.UsageError(f"xai_method={method!r} is not a method; use one of {METHODS}")
        report = opt("xai_report")
        if report is not None and Path(report).suffix not in (".html", ".json"):
            raise pytest.UsageError(f"--xai-report={report!r} must end in .html or .json")
        device = opt("xai_device") or config.getini("xai_device") or "auto"
        if device != "auto" and device != "cpu" and not str(device).startswith("cuda"):
            raise pytest.UsageError(f"--xai-device={device!r} is not a device; use auto, cpu, cuda or cuda:N")
        images = config.getini("xai_images_dir")
        return cls(
            update=opt("xai_update"),
            ci=ci,
            ci_reason=reason,
            device=str(device),
            seed=_number(opt("xai_seed"), "--xai-seed", int, 0, 2**63 - 1),
            samples=_number(
                opt("xai_samples") or config.getini("xai_samples"), "xai_samples", int, 2, 1_000_000
            ),
            method=method,
            model=opt("xai_model") or config.getini("xai_model") or None,
            results_dir=Path(opt("xai_results")),
            report=None if report is None else Path(report),
            snapshot_dir=config.getini("xai_snapshot_dir") or "__xai_snapshots__",
            images_dir=(root / images) if images else None,
            min_spearman=_number(config.getini("xai_min_spearman"), "xai_min_spearman", float, -1, 1)
            if config.getini("xai_min_spearman")
            else DEFAULT_MIN_SPEARMAN,
            min_top_k_iou=_number(config.getini("xai_min_top_k_iou"), "xai_min_top_k_iou", float, 0, 1)
            if config.getini("xai_min_top_k_iou")
            else DEFAULT_MIN_TOP_K_IOU,
        )


def add_options(parser: pytest.Parser) -> None:
    """Register the "xai" option group and the ini keys."""
    group = parser.getgroup("xai", "xai: explanation regression testing (pytest_xai)")
    group.addoption(
        "--xai-update", dest="xai_update", nargs="?", const="all", default=None,
        choices=("all", "missing"),
        help="write golden explanations: 'all' (default) writes missing and changed goldens and "
        "deletes unused ones on a full run; 'missing' writes only missing ones. Ignored in CI mode.",
    )
    group.addoption("--xai-ci", dest="xai_ci", action="store_true",
                    help="CI mode: never write or delete goldens (also on when CI is set).")
    group.addoption("--xai-device", dest="xai_device", default=None,
                    help="device for explanations: auto (default), cpu, cuda or cuda:N.")
    group.addoption("--xai-seed", dest="xai_seed", default=None,
                    help="seed for every explanation (default: 0, or the marker's).")
    group.addoption("--xai-samples", dest="xai_samples", default=None,
                    help="samples per explanation, overriding ini and method defaults.")
    group.addoption("--xai-model", dest="xai_model", default=None, metavar="SPEC",
                    help="model under test: package.module:factory, a TorchScript file, or "
                    "torchvision:NAME=WEIGHTS.pth.")
    group.addoption("--xai-results", dest="xai_results", default=".xai-results", metavar="DIR",
                    help="where failure pictures go (default .xai-results).")
    group.addoption("--xai-report", dest="xai_report", default=None, metavar="PATH",
                    help="write a report: PATH.html (self-contained) or PATH.json.")
    parser.addini("xai_snapshot_dir", "folder name for goldens beside the tests", default="__xai_snapshots__")
    parser.addini("xai_images_dir", "folder xai_image() resolves names against (default: the test's folder)", default="")
    parser.addini("xai_model", "model spec, as --xai-model", default="")
    parser.addini("xai_device", "device, as --xai-device", default="")
    parser.addini("xai_method", "default method: lime, kernel_shap or gradient_shap", default="")
    parser.addini("xai_samples", "default samples per explanation", default="")
    parser.addini("xai_min_spearman", f"golden Spearman bound (default {DEFAULT_MIN_SPEARMAN})", default="")
    parser.addini("xai_min_top_k_iou", f"golden top-20% IoU bound (default {DEFAULT_MIN_TOP_K_IOU})", default="")
