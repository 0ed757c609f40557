"""The "xai" option group and ini keys, and the one rewrite of the command line they need."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_xai import defaults
from pytest_xai.plugin.parse import UPDATE_MODES
from pytest_xai.registry import METHODS


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
                    help=f"device for explanations: {defaults.DEVICE_HELP[4:]} (default auto).")
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
    group.addoption("--xai-results", dest="xai_results", default=defaults.DEFAULT_RESULTS_DIR, metavar="DIR",
                    help=f"where failure pictures go (default {defaults.DEFAULT_RESULTS_DIR}).")
    group.addoption("--xai-report", dest="xai_report", action="append", default=None, metavar="PATH",
                    help="write a report: PATH.html (self-contained) or PATH.json; give it once "
                    "per file for both.")
    _mutation_options(group)
    group.addoption("--xai-cache", dest="xai_cache", default=None, choices=defaults.CACHE_MODES,
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
                  default=defaults.DEFAULT_SNAPSHOT_DIR)
    parser.addini("xai_images_dir", "folder xai_image() resolves names against (default: the test's folder)", default="")
    parser.addini("xai_model", "model spec, as --xai-model", default="")
    parser.addini("xai_device", "device, as --xai-device", default="")
    parser.addini("xai_method", f"default method: {', '.join(METHODS)}", default="")
    parser.addini("xai_samples", "default samples per explanation: 'auto', 'fixed' or N (a fixed budget)", default="")
    parser.addini("xai_precision", f"explanation precision: {', '.join(defaults.PRECISIONS)} (default float32)",
                  default="")
    parser.addini("xai_golden_mode", "golden comparison: release (default; where the evidence is) or strict "
                  "(rank agreement)", default="")
    parser.addini("xai_max_shift", "release-mode evidence shift bound in [0, 1] (default: the method's, "
                  f"else {defaults.DEFAULT_MAX_SHIFT})", default="")
    parser.addini("xai_min_spearman", f"strict-mode Spearman bound (default {defaults.DEFAULT_MIN_SPEARMAN})",
                  default="")
    parser.addini("xai_min_top_k_iou", f"strict-mode top-20% IoU bound (default {defaults.DEFAULT_MIN_TOP_K_IOU})",
                  default="")
    parser.addini("xai_cache_max_mb", f"explanation cache size cap in MB (default {defaults.DEFAULT_CACHE_MAX_MB}; "
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
