"""The HTML report's mutation section: ``pytest --xai-mutate``'s detection table, escaped."""

from __future__ import annotations

import html

from pytest_xai.records.mutation import MutantResult, verdict
from pytest_xai.records.run import RunReport

CLASSES = {"caught": "ok", "passed": "ok", "survived": "bad", "false alarm": "bad", "not built": "muted"}


def mutation_section(report: RunReport) -> str:
    """The mutation score and one row per mutant (verdict, tests failed, check kinds, why);
    "" when the run had no ``--xai-mutate``."""
    mutation = report.mutation
    if mutation is None:
        return ""
    e = html.escape
    rows = "".join(_row(m) for m in mutation.mutants)
    cost = f"{len(mutation.mutants)} mutants, seed {mutation.seed}, {mutation.seconds:.0f} s"
    unreached = f"<p class='muted'>{e(mutation.not_rerun_words())}</p>" if mutation.not_rerun else ""
    return (
        f"<section class='xai-mutation' id='mutation'><h2>Mutation score</h2><p>{e(mutation.headline())}</p>"
        f"<p class='muted'>{e(cost)}</p>{unreached}"
        "<table><thead><tr><th>kind</th><th>model</th><th>mutant</th><th>verdict</th>"
        "<th>tests failed</th><th>check kinds</th><th>why</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _row(m: MutantResult) -> str:
    e, said = html.escape, verdict(m)
    return (
        f"<tr class='{CLASSES.get(said, '')}'><td>{e(m.kind)}</td><td>{e(m.model)}</td><td>{e(m.name)}</td>"
        f"<td>{e(said)}</td><td>{len(m.failed)}/{len(m.tests)}</td>"
        f"<td>{e(', '.join(m.failed_kinds))}</td><td>{e(m.reason or m.note)}</td></tr>"
    )
