"""The golden verdict: parameters must match, and an explanation without evidence never passes or is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xai import (
    Classifier,
    explain,
)
from pytest_xai.goldens.judge import WritePolicy
from pytest_xai.goldens.judge import judge as judge_golden
from pytest_xai.goldens.modes import Bounds, SessionBounds
from pytest_xai.goldens.store import SnapshotStore


def test_golden_with_other_params_or_segmentation(img: np.ndarray, clf: Classifier) -> None:
    from pytest_xai.goldens.judge import params_mismatch

    a = explain(clf, img, samples=100)
    b = explain(clf, img, samples=100, segments="quickshift")
    c = explain(clf, img, samples=120, output="probability")
    assert params_mismatch(a, b) == ["segmentation: golden 'slic', now 'quickshift'"]
    assert params_mismatch(a, c) == ["output: golden 'logit', now 'probability'", "samples: golden 100, now 120"]
    assert params_mismatch(a, a) == []


def test_no_golden_is_written_or_passed_without_evidence(silent: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "snap" / "test_x.npz"
    exp = silent["saturated"]

    def judge() -> object:
        return judge_golden(SnapshotStore(), path, exp, Bounds.resolve(SessionBounds()), WritePolicy(write=True, update=True),
                            rootdir=tmp_path,
                            label="test_x", pictures_dir=tmp_path / "pictures")

    verdict = judge()
    assert (verdict.state, verdict.reason) == ("failed", "no_evidence")  # type: ignore[attr-defined]
    assert "not written: the explanation has no evidence" in verdict.message  # type: ignore[attr-defined]
    assert not path.exists()
    exp.save(path)  # type: ignore[attr-defined]  # a golden of it already on disk
    before = path.read_bytes()
    verdict = judge()
    assert verdict.reason == "no_evidence" and "kept as it is" in verdict.message  # type: ignore[attr-defined]
    assert path.read_bytes() == before
