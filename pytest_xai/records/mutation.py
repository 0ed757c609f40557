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
    does not apply (``note`` says why); it then counts nowhere; a built one's ``note`` says how
    it was planted when that is not the usual way. ``failed_kinds``: the kinds of the checks
    that failed ("avoid", "focus", "golden", "intervention assert_region_needed", ...; a failure
    without a failed check says so). ``failed_methods``: the attribution methods of the failed
    checks and goldens. ``reason``: for a surviving planted mutant, why no test failed.
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
    # passing tests that took the model under test's fixture itself, not through ``explain``:
    # no mutant can be swapped in for them, so none re-ran them
    not_rerun: list[str] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {**asdict(self), "score": self.score()}

    @classmethod
    def from_json(cls, data: JSON) -> MutationReport:
        mutants = [MutantResult(**m) for m in data.get("mutants", [])]
        kept = {k: data[k] for k in ("seed", "budget", "seconds", "cpu_seconds", "candidates", "not_rerun") if k in data}
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
        return (f"the suite catches {s['planted_caught']} of {s['planted']} planted shortcuts"
                f"{self.budget_words()} and raises "
                f"{s['false_alarms']} false alarm{'s' if s['false_alarms'] != 1 else ''} on "
                f"{s['harmless']} harmless release{'s' if s['harmless'] != 1 else ''}")

    def budget_words(self) -> str:
        """"" when the budget was built in full, else how many were built of it and why not more."""
        built = len(self.planted())
        if built >= self.budget:
            return ""
        unbuilt = sum(1 for m in self.mutants if m.kind == PLANTED and not m.built)
        why = (f"{unbuilt} of {self.candidates} candidate regions could not be built, see 'not built' below"
               if unbuilt else f"only {self.candidates} candidate region{'s' if self.candidates != 1 else ''}")
        return f" ({built} built of --xai-mutate={self.budget}: {why})"

    def not_rerun_words(self) -> str:
        """Which passing tests no mutant reached, and how to let it reach them."""
        shown = ", ".join(self.not_rerun[:3]) + (" ..." if len(self.not_rerun) > 3 else "")
        return (f"not re-run: {len(self.not_rerun)} passing test(s) take the model fixture itself, not the "
                "explain fixture, so no mutant reaches them (pass explain to assert_region_irrelevant and the "
                f"other interventions): {shown}")

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
        if self.not_rerun:
            out.append(self.not_rerun_words())
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
        how = f" [{m.note}]" if m.note else ""
        out.append(f"SURVIVED {m.model} region {m.name!r} ({m.source}){how}: {m.reason}")
    for m in mutants:
        if m.built and ((m.kind == PLANTED and m.caught) or (m.kind == HARMLESS and not m.caught)):
            what = f"caught by {len(m.failed)}/{len(m.tests)} tests ({', '.join(m.failed_kinds)})" \
                if m.kind == PLANTED else f"no test failed ({len(m.tests)} run)"
            how = f" [{m.note}]" if m.kind == PLANTED and m.note else ""
            out.append(f"{verdict(m)} {m.model} {m.name}{how}: {what}")
    out += [f"not built {m.model} {m.name}: {m.note}" for m in skipped]
    return out
