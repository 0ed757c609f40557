"""The mutation table in the run's report: ``RunReport.mutation`` survives the JSON round trip
and the HTML page shows it, escaped."""

from __future__ import annotations

import json

from pytest_xai.records import RunReport
from pytest_xai.records.mutation import MutantResult, MutationReport
from pytest_xai.report.html import render_html


def sample() -> MutationReport:
    return MutationReport(seed=3, budget=2, candidates=4, seconds=12.5, cpu_seconds=6.0, mutants=[
        MutantResult("planted", "xai_model", "tag", "avoid test", tests=["t.py::a", "t.py::b"],
                     failed=["t.py::a"], failed_kinds=["avoid"], failed_methods=["lime"]),
        MutantResult("planted", "xai_model", "<corner>", "default patch", tests=["t.py::a"],
                     reason="no avoid test for region '<corner>'"),
        MutantResult("harmless", "xai_model", "float16", tests=["t.py::a", "t.py::b"]),
        MutantResult("harmless", "xai_model", "bn-fold", built=False, note="no batch-norm"),
    ])


def test_run_report_round_trips_its_mutation_table() -> None:
    report = RunReport(mutation=sample())
    data = json.loads(json.dumps(report.to_json()))
    assert data["mutation"]["score"] == {"planted_caught": 1, "planted": 2, "false_alarms": 0, "harmless": 1}
    back = RunReport.from_json(data)
    assert back.mutation == report.mutation
    assert back.to_json() == report.to_json()


def test_run_report_without_mutation_has_no_key() -> None:
    data = RunReport().to_json()
    assert "mutation" not in data
    assert RunReport.from_json(data).mutation is None


def test_html_shows_the_table_escaped() -> None:
    page = render_html(RunReport(mutation=sample()))
    assert "<h2>Mutation score</h2>" in page
    assert "the suite catches 1 of 2 planted shortcuts and raises 0 false alarms on 1 harmless release" in page
    assert "&lt;corner&gt;" in page and "<corner>" not in page
    assert "<td>survived</td>" in page and "<td>caught</td>" in page and "<td>not built</td>" in page
    assert page.index("Mutation score") < page.index("</body>")
    assert "Mutation score" not in render_html(RunReport())
