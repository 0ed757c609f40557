"""Release mode's support-loss criterion through the golden judge: a compact object's
evidence spread thinly over the background around it fails although the evidence shift stays
under its bound; a harmless small move passes both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from factories import judged

from pytest_xai.defaults import (
    DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD,
    EVIDENCE_SUPPORT,
    EVIDENCE_SUPPORT_GROW,
)
from pytest_xai.goldens.judge import WritePolicy
from pytest_xai.goldens.judge import judge as judge_golden
from pytest_xai.goldens.modes import Bounds, SessionBounds
from pytest_xai.goldens.store import SnapshotStore
from pytest_xai.records import GoldenVerdict

SIZE = 64
KERNEL_SHAP = {"method": "kernel_shap", "samples": 1000}


def object_map(x0: int = 28, y0: int = 28, size: int = 8) -> np.ndarray:
    """All positive evidence on an 8×8 object (2×2 grid cells at the defaults)."""
    heat = np.zeros((SIZE, SIZE))
    heat[y0 : y0 + size, x0 : x0 + size] = 1.0
    return heat


YY, XX = np.mgrid[0:SIZE, 0:SIZE]
RING = (np.abs(XX - 31.5) < 24) & (np.abs(YY - 31.5) < 24) & (object_map() == 0)  # 20 px wide


def diffuse_map() -> np.ndarray:
    """A quarter of the evidence left on the object, the rest spread evenly over the 20-px
    ring of background around it: the texture shortcut's picture."""
    obj = object_map()
    return 0.25 * obj / obj.sum() + 0.75 * RING / RING.sum()


def judge(tmp_path: Path, golden: np.ndarray, new: np.ndarray, bounds: Bounds) -> GoldenVerdict:
    path = tmp_path / "snap" / "test_x.npz"
    judged(golden, **KERNEL_SHAP).save(path)
    return judge_golden(SnapshotStore(), path, judged(new, **KERNEL_SHAP), bounds, WritePolicy(),
                        rootdir=tmp_path, label="test_x", pictures_dir=tmp_path / "pictures")


def test_a_diffuse_shift_fails_on_support_loss_alone(tmp_path: Path) -> None:
    bounds = Bounds("release", {"max_shift": 0.2, "max_support_loss": 0.5, "max_region_gain": 0.15,
                                 "max_reliance_gain": 0.5})
    verdict = judge(tmp_path, object_map(), diffuse_map(), bounds)
    assert verdict.state == "failed" and verdict.reason == "drift"
    assert verdict.measures["evidence_shift"] < 0.2  # the earth mover's distance alone passes it
    # the golden's support is the object's 2×2 cells (4-px cells from x = y = 28; three hold
    # only 75%), grown by EVIDENCE_SUPPORT_GROW cells; the ring's mass outside that box is lost
    assert 0.75 < EVIDENCE_SUPPORT <= 1
    lo, hi = 28 - 4 * EVIDENCE_SUPPORT_GROW, 36 + 4 * EVIDENCE_SUPPORT_GROW
    inside = (lo <= XX) & (hi > XX) & (lo <= YY) & (hi > YY)
    expected = 0.75 * (RING & ~inside).sum() / RING.sum()
    assert expected > 0.5  # 0.75 · 108 / 140 at the default growth of two cells
    assert verdict.measures["support_loss"] == pytest.approx(expected, abs=1e-6)
    lines = [line.strip() for line in verdict.message.splitlines()]
    assert lines[1].startswith("evidence shift") and "<= max_shift 0.200" in lines[1]
    assert lines[2].startswith(f"support loss {expected:.3f} > max_support_loss 0.500: {expected:.0%} of the new positive mass")
    assert verdict.bounds == {"max_evidence_shift": 0.2, "max_support_loss": 0.5, "max_region_gain": 0.15,
                              "max_reliance_gain": 0.5}


def test_a_harmless_small_move_passes_both(tmp_path: Path) -> None:
    bounds = Bounds("release", {"max_shift": 0.2, "max_support_loss": 0.5, "max_region_gain": 0.15,
                                 "max_reliance_gain": 0.5})
    # an 8×8 object (2×2 cells) moved 2 px right and 1 down: it stays inside the grown support
    verdict = judge(tmp_path, object_map(), object_map(30, 29), bounds)
    assert verdict.state == "passed"
    assert verdict.measures["support_loss"] == pytest.approx(0.0, abs=1e-6)
    assert "support loss 0.000 <= max_support_loss 0.500" in verdict.message
    from pytest_xai.checks import evidence

    # without growth, the part that left the four cells is lost: 1 - (6 × 7) / 64
    loss = evidence.support_loss(judged(object_map(), **KERNEL_SHAP), judged(object_map(30, 29), **KERNEL_SHAP), grow=0)
    assert loss == pytest.approx(1 - 42 / 64, abs=1e-6)


def test_the_default_bound_is_applied_per_method() -> None:
    settings = SessionBounds()
    for method, bound in DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD.items():
        assert Bounds.resolve(settings, method=method).max_support_loss == bound
    assert Bounds.resolve(settings, method="kernel_shap", max_support_loss=0.3).max_support_loss == 0.3
