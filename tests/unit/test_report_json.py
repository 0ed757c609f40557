"""The JSON report is strict JSON, with null for non-finite numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_samples import synthetic_report

from pytest_xai.records.run import RunReport
from pytest_xai.report import write_report as write_run_report


def write_report(data: dict[str, Any], path: Path, **kwargs: Any) -> None:
    write_run_report(RunReport.from_json(data), path, **kwargs)


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN and ±Infinity, as Node's JSON.parse does."""

    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_report_is_strict_with_null_for_non_finite(tmp_path: Path) -> None:
    data = synthetic_report(2, 1)
    data["totals"]["seconds"] = float("inf")
    check = data["tests"][0]["checks"][0]
    check["value"], check["bound"] = float("nan"), np.float32(0.25)
    data["tests"][0]["goldens"][0]["measures"] = {"evidence_shift": np.float64("nan"), "new_mass": np.int64(3)}
    data["tests"][1]["checks"][0]["picture"] = tmp_path / "x.png"
    with pytest.raises(ValueError):
        json.dumps(data, allow_nan=False, default=str)  # what the sanitising must prevent
    write_report(data, tmp_path / "r.json")
    back = strict_loads((tmp_path / "r.json").read_text())
    assert back["totals"]["seconds"] is None
    assert back["tests"][0]["checks"][0]["value"] is None and back["tests"][0]["checks"][0]["bound"] == 0.25
    assert back["tests"][0]["goldens"][0]["measures"] == {"evidence_shift": None, "new_mass": 3}
    assert back["tests"][1]["checks"][0]["picture"] == str(tmp_path / "x.png")
    data["tests"][1]["checks"][0]["picture"] = str(tmp_path / "x.png")
    assert back["tests"][1]["checks"] == data["tests"][1]["checks"]  # finite values unchanged


def test_run_report_reads_back_what_it_wrote(tmp_path: Path) -> None:
    """to_json / from_json are lossless, so shard reports can be read back and merged."""
    data = synthetic_report(3, 2, failed_every=2)
    report = RunReport.from_json(data)
    assert report.tests[0].checks[1].upper is True and report.tests[0].goldens[0].diff_png is not None
    again = RunReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report
    written = tmp_path / "r.json"
    write_run_report(report, written)
    assert RunReport.from_json(strict_loads(written.read_text())) == report
    for before, after in zip(data["tests"], report.to_json()["tests"]):
        assert {k: v for k, v in after.items() if k in before} == before  # every field survives
