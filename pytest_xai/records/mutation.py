"""The mutation score: what each mutant did to the suite, the detection table and its JSON.

Pure data and text, standard library only (``records.RunReport`` carries a ``MutationReport``);
the HTML section is ``report.mutation``, the survivors' reasons ``mutation.survival``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pytest_xai._util.jsonable import JSON

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

    def to_json(self) -> JSON:
        return {**asdict(self), "score": self.score()}

    @classmethod
    def from_json(cls, data: JSON) -> MutationReport:
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


def verdict(m: MutantResult) -> str:
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
            out.append(f"{verdict(m)} {m.model} {m.name}: {what}")
    out += [f"not built {m.model} {m.name}: {m.note}" for m in skipped]
    return out
