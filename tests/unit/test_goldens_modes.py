"""The golden verdict (goldens.judge) under each mode (goldens.modes) on hand-made explanations with known answers: release and strict modes,
the verdict's fields, NaN, precision, and the written/updated/failed flow."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from factories import blob, judged

from pytest_xai import Explanation
from pytest_xai.checks import evidence
from pytest_xai.defaults import (
    DEFAULT_MAX_REGION_GAIN,
    DEFAULT_MAX_RELIANCE_GAIN,
    DEFAULT_MAX_SUPPORT_LOSS,
    GOLDEN_STATES,
)
from pytest_xai.errors import XaiValueError
from pytest_xai.goldens.describe import determinism_note
from pytest_xai.goldens.judge import WritePolicy
from pytest_xai.goldens.judge import judge as judge_golden
from pytest_xai.goldens.modes import (
    GOLDEN_MODES,
    Bound,
    Bounds,
    Comparison,
    SessionBounds,
    register_golden_mode,
)
from pytest_xai.goldens.store import SnapshotStore
from pytest_xai.records import GoldenVerdict


def bounds_of(mode: str = "release", **values: float) -> Bounds:
    """The mode's bounds: the values given for its own bounds, the defaults for the rest."""
    own = {b.param for b in GOLDEN_MODES[mode].bounds}
    return Bounds.resolve(SessionBounds(), mode=mode, **{k: v for k, v in values.items() if k in own})


def judge(tmp_path: Path, golden: Explanation | None, new: Explanation, bounds: Bounds | None = None,
          **policy: Any) -> GoldenVerdict:
    path = tmp_path / "snap" / "test_x.npz"
    if golden is not None:
        golden.save(path)
    return judge_golden(SnapshotStore(), path, new, bounds or bounds_of(), WritePolicy(**policy),
                        rootdir=tmp_path, label="test_x", pictures_dir=tmp_path / "pictures")


def test_release_drift_known_answer(tmp_path: Path) -> None:
    # all mass in the top-left cell (centre (2, 2)), then all in the bottom-right one (62, 62):
    # the shift is the cell-centre distance over the diagonal, 60·√2 / (64·√2)
    verdict = judge(tmp_path, blob(0, 0), blob(60, 60))
    assert verdict.state == "failed" and verdict.reason == "drift" and verdict.mode == "release"
    assert verdict.measures["evidence_shift"] == pytest.approx(60 / 64)
    assert verdict.measures["new_mass"] == pytest.approx(1.0)
    assert verdict.measures["support_loss"] == pytest.approx(1.0)
    assert verdict.bounds == {"max_evidence_shift": 0.12, "max_support_loss": DEFAULT_MAX_SUPPORT_LOSS,
                              "max_region_gain": DEFAULT_MAX_REGION_GAIN, "max_reliance_gain": DEFAULT_MAX_RELIANCE_GAIN}
    assert verdict.name == "snap/test_x.npz" and verdict.path == str(tmp_path / "snap/test_x.npz")
    lines = verdict.message.splitlines()
    assert lines[0] == "explanation drifted from golden snap/test_x.npz (release mode):"
    assert lines[1].strip().startswith("evidence shift 0.938 > max_shift 0.120: the positive evidence moved 94%")
    assert lines[2].strip().startswith(
        f"support loss 1.000 > max_support_loss {DEFAULT_MAX_SUPPORT_LOSS:.3f}: 100% of the new positive mass"
    )
    assert lines[3].strip() == (
        "its mass centre moved from (x, y) = (2, 2) to (62, 62) px, towards the bottom-right corner; "
        "it now lies in the bottom right of the 64×64 image"
    )
    assert lines[4].strip().startswith("100% of the new positive mass lies in cells where the golden had almost none")
    assert sorted(verdict.pictures) == ["actual", "difference", "expected"]
    assert all(Path(p).is_file() for p in verdict.pictures.values())
    json.dumps(verdict.to_json(), allow_nan=False)  # strict JSON


def test_release_passes_a_small_move_and_says_so(tmp_path: Path) -> None:
    # one cell (4 px) to the right: 4 / (64·√2) = 0.044 of the diagonal
    verdict = judge(tmp_path, blob(20, 20), blob(24, 20))
    assert verdict.state == "passed" and verdict.reason is None and verdict.pictures == {}
    assert verdict.measures["evidence_shift"] == pytest.approx(4 / (64 * math.sqrt(2)))
    assert verdict.measures["new_mass"] == pytest.approx(1.0)  # all of it in a cell the golden left empty
    assert verdict.measures["support_loss"] == pytest.approx(0.0)  # the next cell: inside the grown support
    assert verdict.message == (
        "golden snap/test_x.npz matches (release mode): evidence shift 0.044 <= max_shift 0.120; "
        f"support loss 0.000 <= max_support_loss {DEFAULT_MAX_SUPPORT_LOSS:.3f}"
    )
    # the same move fails a tighter bound given to the call
    tight = judge(tmp_path, blob(20, 20), blob(24, 20), bounds_of(max_shift=0.04))
    assert tight.state == "failed" and "to the right" in tight.message


def test_new_mass_counts_only_cells_the_golden_left_empty(tmp_path: Path) -> None:
    golden = blob(0, 0, size=8)  # four full cells in the top-left corner
    heat = golden.heatmap.copy()
    heat[40:44, 40:44] = 1.0  # a new cell with a third as much mass as the old four
    new = judged(heat)
    gained, share = evidence.gained_cells(golden, new)
    assert share == pytest.approx(16 / (64 + 16))
    assert gained.sum() == 16 and gained[40:44, 40:44].all()


def test_prediction_change_fails_in_both_modes(tmp_path: Path) -> None:
    new = blob(0, 0)
    new.target, new.target_name = 1, "square"
    for mode in ("release", "strict"):
        verdict = judge(tmp_path, blob(0, 0), new, bounds_of(mode=mode))
        assert (verdict.state, verdict.reason) == ("failed", "prediction")
        assert "prediction changed: golden explains 'circle' (p=0.900), now 'square'" in verdict.message
        assert set(verdict.measures) == ({"evidence_shift", "support_loss", "new_mass", "region_gain", "reliance_gain"} if mode == "release"
                                         else {"spearman", "top_k_iou"})
        assert all(v is None for v in verdict.measures.values())
    renamed = blob(0, 0)  # same class index, another name: the model now calls it something else
    renamed.target_name = "square"
    verdict = judge(tmp_path, blob(0, 0), renamed)
    assert verdict.reason == "prediction" and "now 'square'" in verdict.message


def test_a_changed_model_is_named_in_the_drift_note(tmp_path: Path) -> None:
    golden = blob(0, 0)
    golden.meta = {**golden.meta, "model": "a" * 64}
    new = blob(60, 60)
    new.meta = {**new.meta, "model": "b" * 64}
    verdict = judge(tmp_path, golden, new)
    assert "the model changed (fingerprint aaaaaaaaaaaa -> bbbbbbbbbbbb)" in verdict.message
    assert "bit-exact" not in verdict.message


def test_strict_mode_known_answer(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    golden = blob(0, 0)
    golden.heatmap = rng.random((64, 64)).astype(np.float32)
    same = blob(0, 0)
    same.heatmap = golden.heatmap * 2  # same ranking: Spearman 1, IoU 1
    reversed_ = blob(0, 0)
    reversed_.heatmap = -golden.heatmap
    ok = judge(tmp_path, golden, same, bounds_of(mode="strict"))
    assert ok.state == "passed" and ok.measures == {"spearman": 1.0, "top_k_iou": 1.0}
    assert ok.bounds == {"min_spearman": 0.7, "min_top_k_iou": 0.55}
    bad = judge(tmp_path, golden, reversed_, bounds_of(mode="strict"))
    assert bad.state == "failed" and bad.measures["spearman"] == pytest.approx(-1.0)
    assert bad.measures["top_k_iou"] == 0.0
    assert "Spearman -1.000 < min_spearman 0.700" in bad.message
    assert "top-20% IoU 0.000 < min_top_k_iou 0.550" in bad.message


def test_nan_never_passes_a_bound(tmp_path: Path) -> None:
    golden = blob(0, 0)
    nan = blob(0, 0)
    nan.heatmap = np.full((64, 64), np.nan, np.float32)
    for mode in ("release", "strict"):
        verdict = judge(tmp_path, golden, nan, bounds_of(mode=mode, max_shift=1.0, min_spearman=-1.0,
                                                       min_top_k_iou=0.0))
        assert verdict.state == "failed", mode
        assert "is not a number" in verdict.message
        assert all(v is None for v in verdict.measures.values())
        json.dumps(verdict.to_json(), allow_nan=False)
    # a golden holding NaN cannot be used at all (and --xai-update rewrites it)
    path = tmp_path / "snap" / "test_x.npz"
    np.savez(path, **{**golden.to_arrays(), "heatmap": nan.heatmap})
    verdict = judge_golden(SnapshotStore(), path, golden, bounds_of(), WritePolicy())
    assert (verdict.state, verdict.reason) == ("failed", "unreadable")
    assert "cannot be used" in verdict.message and "NaN" in verdict.message
    fixed = judge_golden(SnapshotStore(), path, golden, bounds_of(), WritePolicy(update=True))
    assert (fixed.state, fixed.reason) == ("updated", "unreadable")


def test_states_follow_the_settings(tmp_path: Path) -> None:
    missing = judge(tmp_path, None, blob(0, 0))
    assert (missing.state, missing.reason) == ("failed", "missing")
    assert "no golden for test_x at snap/test_x.npz" in missing.message
    ci = judge(tmp_path, None, blob(0, 0), write=True, ci_reason="--xai-ci")
    assert ci.state == "failed" and not (tmp_path / "snap" / "test_x.npz").exists()
    assert "(CI mode, --xai-ci: nothing is written)" in ci.message
    assert judge(tmp_path, None, blob(0, 0), write=True).state == "written"
    drift = judge(tmp_path, blob(0, 0), blob(60, 60), write=True)
    assert drift.state == "failed"  # --xai-update=missing leaves changed goldens alone
    updated = judge(tmp_path, blob(0, 0), blob(60, 60), write=True, update=True)
    assert (updated.state, updated.reason, updated.pictures) == ("updated", "drift", {})
    assert updated.measures["evidence_shift"] == pytest.approx(60 / 64)
    assert updated.message == (
        "golden snap/test_x.npz updated: evidence shift 0.938 > max_shift 0.120; "
        f"support loss 1.000 > max_support_loss {DEFAULT_MAX_SUPPORT_LOSS:.3f}"
    )
    params = judge(tmp_path, blob(0, 0), blob(0, 0, samples=300))
    assert (params.state, params.reason) == ("failed", "params") and "samples: golden 200, now 300" in params.message
    assert {v.state for v in (missing, updated, params)} <= set(GOLDEN_STATES)


def test_precision_is_compared_like_another_device(tmp_path: Path) -> None:
    golden, new = blob(0, 0, precision="bfloat16"), blob(60, 60, precision="float32")
    assert determinism_note(golden, new).startswith(
        "golden made at bfloat16, now float32: small differences are expected")
    verdict = judge(tmp_path, golden, new)
    assert verdict.reason == "drift"  # not "params": precision is not a reproduction parameter
    assert "golden made at bfloat16, now float32" in verdict.message
    assert "bit-exact" in determinism_note(blob(0, 0), blob(0, 0))


def test_another_seed_is_named_not_called_bit_exact_drift(tmp_path: Path) -> None:
    golden, new = blob(0, 0, seed=0), blob(60, 60, seed=3)
    assert determinism_note(golden, new).startswith("golden made at seed 0, now seed 3")
    verdict = judge(tmp_path, golden, new)
    assert verdict.reason == "drift" and "run at seed 0" in verdict.message
    assert "bit-exact" not in verdict.message


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"mode": "loose"}, "mode='loose' is not a golden mode"),
    ({"max_shift": float("nan")}, "max_shift=nan must be a number in [0, 1]"),
    ({"max_shift": True}, "max_shift=True must be a number"),
    ({"max_shift": 1.5}, "max_shift=1.5 must be a number in [0, 1]"),
    ({"mode": "strict", "min_spearman": -2}, "min_spearman=-2 must be a number in [-1, 1]"),
    ({"mode": "strict", "max_shift": 0.2}, "max_shift=0.2 bounds mode='release'"),
    ({"min_top_k_iou": 0.5}, "min_top_k_iou=0.5 bounds mode='strict'"),
])
def test_bounds_are_validated(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(XaiValueError) as info:
        Bounds.resolve(SessionBounds(), **kwargs)
    assert fragment in str(info.value)


def test_bounds_come_from_the_call_then_the_settings() -> None:
    assert Bounds.resolve(SessionBounds(values={"max_shift": 0.3})) == Bounds(
        "release", {"max_shift": 0.3, "max_support_loss": DEFAULT_MAX_SUPPORT_LOSS,
                    "max_region_gain": DEFAULT_MAX_REGION_GAIN, "max_reliance_gain": DEFAULT_MAX_RELIANCE_GAIN})
    assert Bounds.resolve(SessionBounds("strict"), min_spearman=0.9).as_dict() == {
        "min_spearman": 0.9, "min_top_k_iou": 0.55}
    assert Bounds.resolve(SessionBounds("strict"), mode="release", max_shift=0.05).max_shift == 0.05


def test_max_shift_defaults_per_method(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xai import defaults

    monkeypatch.setattr(defaults, "DEFAULT_MAX_SHIFT_BY_METHOD", {"lime": 0.2})
    unset = SessionBounds()  # ini xai_max_shift not set
    assert Bounds.resolve(unset, method="lime").max_shift == 0.2
    assert Bounds.resolve(unset, method="kernel_shap").max_shift == defaults.DEFAULT_MAX_SHIFT
    assert Bounds.resolve(SessionBounds(values={"max_shift": 0.3}), method="lime").max_shift == 0.3  # ini wins
    assert Bounds.resolve(unset, method="lime", max_shift=0.05).max_shift == 0.05  # the call wins


def test_an_explanation_too_large_for_a_golden_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xai import defaults
    from pytest_xai.plugin.snapshot import SnapshotFixture

    monkeypatch.setattr(defaults, "GOLDEN_MAX_PIXELS", 64 * 64 - 1)
    fixture = SnapshotFixture(None, None, None, None)  # type: ignore[arg-type]
    with pytest.raises(XaiValueError, match=r"explanation is 64×64, more than a golden holds \(4,095 pixels\)"):
        fixture.assert_match(blob(0, 0))


class ProbabilityMode:
    """A toy third mode: the target's probability may move at most ``max_change``."""

    name = "probability"
    bounds = (Bound("max_change", "probability_change", upper=True),)
    measures = ("probability_change",)

    def refuses_silence(self, silent: bool, no_evidence: bool) -> bool:
        return silent

    def compare(self, golden: Explanation, actual: Explanation, bounds: dict[str, float]) -> Comparison:
        change = abs(golden.probability - actual.probability)
        words = f"probability change {change:.3f} against max_change {bounds['max_change']:.3f}"
        return Comparison(None if change <= bounds["max_change"] else "drift", {"probability_change": change},
                          [words], words)


def test_a_third_mode_is_one_class_and_one_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GOLDEN_MODES, "probability", ProbabilityMode())
    golden, same_place = blob(0, 0), blob(0, 0)
    same_place.probability = 0.5  # the evidence did not move, the confidence did: 0.9 -> 0.5
    bounds = Bounds.resolve(SessionBounds(), mode="probability", max_change=0.1)
    verdict = judge(tmp_path, golden, same_place, bounds)
    assert (verdict.state, verdict.reason, verdict.mode) == ("failed", "drift", "probability")
    assert verdict.bounds == {"max_probability_change": 0.1}
    assert verdict.measures["probability_change"] == pytest.approx(0.4)
    assert judge(tmp_path / "b", golden, blob(0, 0), bounds).state == "passed"
    assert judge(tmp_path / "c", golden, same_place, bounds_of()).state == "passed"  # release: no move
    with pytest.raises(XaiValueError, match=r"max_change=0\.5 bounds mode='probability'"):
        Bounds.resolve(SessionBounds(), mode="release", max_change=0.5)
    with pytest.raises(XaiValueError, match=r"mode='probability' needs max_change="):
        Bounds.resolve(SessionBounds(), mode="probability")


def test_register_golden_mode_example_runs() -> None:
    import doctest

    from pytest_xai.goldens import modes

    assert doctest.testmod(modes).failed == 0
    assert set(GOLDEN_MODES) == {"release", "strict"}
    with pytest.raises(XaiValueError, match="must be an identifier"):
        register_golden_mode(SimpleNamespace(name="no name"))  # type: ignore[arg-type]


def test_force_rewrites_a_passing_golden(tmp_path: Path) -> None:
    """--xai-update=force re-records a golden that passes (reason "force"); =all keeps it."""
    kept = judge(tmp_path, blob(0, 0), blob(0, 0), write=True, update=True)
    assert (kept.state, kept.reason) == ("passed", None)
    forced = judge(tmp_path, blob(0, 0), blob(0, 0), write=True, update=True, force=True)
    assert (forced.state, forced.reason) == ("updated", "force")
    assert forced.measures["evidence_shift"] == 0.0
    assert forced.message.startswith("golden snap/test_x.npz re-recorded (--xai-update=force)")
