"""The mutation table in the run's report: ``RunReport.mutation`` survives the JSON round trip
and the HTML page shows it, escaped."""

from __future__ import annotations

import json

from pytest_xai.records.mutation import MutantResult, MutationReport
from pytest_xai.records.run import RunReport
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


def test_headline_reports_the_budget_against_what_was_built() -> None:
    planted = [MutantResult("planted", "xai_model", "watermark", "avoid test", tests=["t.py::a"], failed=["t.py::a"],
                            failed_kinds=["avoid"], note="the region is the same on images of different classes: its "
                            "presence boosts the predicted class")]  # fmt: skip
    unbuilt = [MutantResult("planted", "xai_model", f"corner-{k}", "default patch", built=False, note="x") for k in range(2)]
    short = MutationReport(seed=0, budget=3, candidates=3, mutants=planted + unbuilt)
    assert short.headline() == (
        "the suite catches 1 of 1 planted shortcuts (1 built of --xai-mutate=3: 2 of 3 candidate regions could "
        "not be built, see 'not built' below) and raises 0 false alarms on 0 harmless releases"
    )
    few = MutationReport(seed=0, budget=3, candidates=1, mutants=planted)
    assert "(1 built of --xai-mutate=3: only 1 candidate region)" in few.headline()
    full = MutationReport(seed=0, budget=1, candidates=3, mutants=planted + unbuilt)
    assert full.headline().startswith("the suite catches 1 of 1 planted shortcuts and raises")
    # a built mutant planted another way says how
    assert "caught xai_model watermark [the region is the same on images of different classes: its presence " \
        "boosts the predicted class]: caught by 1/1 tests (avoid)" in short.lines()


def test_failed_checks_are_labelled_by_what_failed() -> None:
    from pytest_xai.plugin.mutation import NO_CHECK, _kind_label
    from pytest_xai.records import CheckResult

    needed = CheckResult("intervention", "probability_drop", 0.0, 0.05, False, method="needed")
    confirm = CheckResult("intervention", "probability_change", 0.6, 0.47, False, method="irrelevant",
                          details={"role": "confirm"})
    assert _kind_label(needed) == "intervention assert_region_needed"
    assert _kind_label(confirm) == "intervention assert_region_irrelevant (confirm=)"
    assert _kind_label(CheckResult("avoid", "relevance_mass", 0.4, 0.1, False, method="lime")) == "avoid"
    assert NO_CHECK.startswith("no xai check")
