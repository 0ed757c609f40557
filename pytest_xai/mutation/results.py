"""The mutation score: what each mutant did to the suite, the detection table, its JSON and HTML.

Pure data and text: no numpy or torch, so a report can be read back and printed anywhere.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

PLANTED = "planted"
HARMLESS = "harmless"


@dataclass
class MutantResult:
    """One mutant's run: the tests re-run against it, which failed, and why it survived.

    ``kind``: "planted" (the suite should fail it) or "harmless" (it should not). ``name``: the
    region a planted mutant reads, or the harmless change. ``built`` is False where the mutant
    does not apply (``note`` says why); it then counts nowhere. ``failed_kinds``: the kinds of
    the checks that failed ("avoid", "focus", "golden", ...; "other" for a failure without a
    failed check). ``reason``: for a surviving planted mutant, why no test failed.
    """

    kind: str
    model: str
    name: str
    source: str = ""  # where a planted region came from: "avoid test" or "default patch"
    built: bool = True
    note: str = ""
    tests: list[str] = field(default_factory=list)  # the node ids re-run against it
    failed: list[str] = field(default_factory=list)
    failed_kinds: list[str] = field(default_factory=list)
    failed_methods: list[str] = field(default_factory=list)  # the methods of the failed checks
    reason: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.model}:{self.name}"

    @property
    def caught(self) -> bool:
        """A built mutant that failed at least one test (a catch, or for a harmless one a false alarm)."""
        return self.built and bool(self.failed)

    def files(self) -> list[str]:
        return sorted({nodeid.split("::")[0] for nodeid in self.tests})

    def failed_files(self) -> set[str]:
        return {nodeid.split("::")[0] for nodeid in self.failed}


@dataclass
class MutationReport:
    """Every mutant's result plus the run's settings and cost; ``to_json``/``from_json`` round-trip."""

    seed: int
    budget: int
    mutants: list[MutantResult] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    candidates: int = 0  # planted candidates before the budget

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "score": self.score()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MutationReport:
        mutants = [MutantResult(**m) for m in data.get("mutants", [])]
        kept = {k: data[k] for k in ("seed", "budget", "seconds", "cpu_seconds", "candidates") if k in data}
        return cls(mutants=mutants, **kept)

    def planted(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.kind == PLANTED and m.built]

    def harmless(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.kind == HARMLESS and m.built]

    def score(self) -> dict[str, int]:
        """Planted caught / built, harmless false alarms / built."""
        planted, harmless = self.planted(), self.harmless()
        return {
            "planted_caught": sum(m.caught for m in planted),
            "planted": len(planted),
            "false_alarms": sum(m.caught for m in harmless),
            "harmless": len(harmless),
        }

    def headline(self) -> str:
        s = self.score()
        return (f"the suite catches {s['planted_caught']} of {s['planted']} planted shortcuts and raises "
                f"{s['false_alarms']} false alarm{'s' if s['false_alarms'] != 1 else ''} on "
                f"{s['harmless']} harmless release{'s' if s['harmless'] != 1 else ''}")

    def breakdown(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Planted caught / total per test file, per region, per check kind and per method."""
        out: dict[str, dict[str, tuple[int, int]]] = {"test file": {}, "region": {}, "check kind": {}, "method": {}}
        planted = self.planted()
        for m in planted:
            for f in m.files():
                caught, total = out["test file"].get(f, (0, 0))
                out["test file"][f] = (caught + (f in m.failed_files()), total + 1)
            caught, total = out["region"].get(m.name, (0, 0))
            out["region"][m.name] = (caught + m.caught, total + 1)
        for kind in sorted({k for m in planted for k in m.failed_kinds}):
            out["check kind"][kind] = (sum(kind in m.failed_kinds for m in planted), len(planted))
        for method in sorted({k for m in planted for k in m.failed_methods}):
            out["method"][method] = (sum(method in m.failed_methods for m in planted), len(planted))
        return out

    def lines(self) -> list[str]:
        """The terminal table."""
        out = [self.headline()]
        for title, rows in self.breakdown().items():
            if rows:
                out.append(f"planted caught by {title}:")
                out += [f"  {name}: {c}/{t}" for name, (c, t) in sorted(rows.items())]
        out += _mutant_lines(self.mutants)
        cpu = f", {self.cpu_seconds:.0f} s CPU" if self.cpu_seconds else ""
        out.append(f"{len(self.mutants)} mutants (seed {self.seed}, budget {self.budget} planted of "
                   f"{self.candidates}), {self.seconds:.0f} s{cpu}")
        return out

    def html(self) -> str:
        """The table as an HTML fragment (escaped), for the HTML report."""
        e = html.escape
        rows = "".join(
            f"<tr class='{_verdict(m)}'><td>{e(m.kind)}</td><td>{e(m.model)}</td><td>{e(m.name)}</td>"
            f"<td>{e(_verdict(m))}</td><td>{len(m.failed)}/{len(m.tests)}</td>"
            f"<td>{e(', '.join(m.failed_kinds))}</td><td>{e(m.reason or m.note)}</td></tr>"
            for m in self.mutants
        )
        return (
            f"<section class='xai-mutation'><h2>Mutation score</h2><p>{e(self.headline())}</p>"
            "<table><thead><tr><th>kind</th><th>model</th><th>mutant</th><th>verdict</th>"
            "<th>tests failed</th><th>check kinds</th><th>why</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>"
        )


def _verdict(m: MutantResult) -> str:
    if not m.built:
        return "not built"
    if m.kind == PLANTED:
        return "caught" if m.caught else "survived"
    return "false alarm" if m.caught else "passed"


def _mutant_lines(mutants: list[MutantResult]) -> list[str]:
    out = []
    alarms = [m for m in mutants if m.kind == HARMLESS and m.caught]
    survivors = [m for m in mutants if m.kind == PLANTED and m.built and not m.caught]
    skipped = [m for m in mutants if not m.built]
    for m in alarms:
        out.append(f"FALSE ALARM {m.model} {m.name}: failed {len(m.failed)} test(s): {', '.join(m.failed[:5])}"
                   + (" ..." if len(m.failed) > 5 else ""))
    for m in survivors:
        out.append(f"SURVIVED {m.model} region {m.name!r} ({m.source}): {m.reason}")
    for m in mutants:
        if m.built and ((m.kind == PLANTED and m.caught) or (m.kind == HARMLESS and not m.caught)):
            what = f"caught by {len(m.failed)}/{len(m.tests)} tests ({', '.join(m.failed_kinds)})" \
                if m.kind == PLANTED else f"no test failed ({len(m.tests)} run)"
            out.append(f"{_verdict(m)} {m.model} {m.name}: {what}")
    out += [f"not built {m.model} {m.name}: {m.note}" for m in skipped]
    return out


def survival_reason(region: str, checks: list[dict[str, Any]], goldens: list[dict[str, Any]], tests: int) -> str:
    """Why a planted mutant on ``region`` survived, from the checks and goldens of its run."""
    if not tests:
        return "no test explains this model"
    parts = []
    avoid = [c for c in checks if c.get("kind") == "avoid" and c.get("region") == region]
    if not avoid:
        parts.append(f"no avoid test for region {region!r}")
    else:
        worst = max(avoid, key=lambda c: c.get("value") or 0.0)
        parts.append(f"avoid tests on {region!r} passed (highest mass {_num(worst.get('value'))} "
                     f"<= {_num(worst.get('bound'))})")
    parts.append(_golden_part(goldens))
    focus = [c for c in checks if c.get("kind") == "focus"]
    if focus:
        low = min(focus, key=lambda c: (c.get("value") or 0.0) / (c.get("bound") or 1.0))
        parts.append(f"focus tests passed (lowest {low.get('metric')} {_num(low.get('value'))} "
                     f">= {_num(low.get('bound'))})")
    return "; ".join(parts)


def _golden_part(goldens: list[dict[str, Any]]) -> str:
    from pytest_xai.report import golden_measures

    if not goldens:
        return "no golden for its images"
    closest = None  # the bounded measure nearest its bound
    for golden in goldens:
        for m in golden_measures(golden):
            if m["bound"] is None or m["value"] is None:
                continue
            ratio = m["value"] / m["bound"] if m["upper"] and m["bound"] else (m["bound"] / m["value"] if m["value"] else 0)
            if closest is None or ratio > closest[0]:
                closest = (ratio, m)
    if closest is None:
        return f"{len(goldens)} golden(s) passed"
    m = closest[1]
    op = "<=" if m["upper"] else ">="
    return f"goldens passed: shift under the bound (closest: {m['name']} {_num(m['value'])} {op} {_num(m['bound'])})"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}"
