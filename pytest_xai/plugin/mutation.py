"""``pytest --xai-mutate``: after the normal run, re-run the explanation tests against mutants.

One plugin object, registered in ``pytest_configure`` only when the option is given. During the
normal run its ``pytest_xai_wrap_classifier`` hook notes which models under
test each test explains, and at each test's teardown its recorder shows with which images and
regions, and which checks it made. After the test loop it builds the chosen mutants, re-runs
each model's passing tests against each of its mutants in CI mode (goldens read-only, nothing
written to the explanation cache, no report reaches the terminal or the outcome counts), and
prints the detection table; the ``--xai-report`` file carries it (``RunReport.mutation``).

This module imports only the standard library and pytest; torch and numpy come with the
mutants, when the normal run is over.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai.mutation import plan
from pytest_xai.records.mutation import HARMLESS, PLANTED, MutantResult, MutationReport

if TYPE_CHECKING:
    from pytest_xai.checks.recorder import Recorder
    from pytest_xai.plugin.session import XaiSession
    from pytest_xai.records import CheckResult, GoldenVerdict
    from pytest_xai.regions import Region

PLUGIN_NAME = "xai-mutate"
DEFAULT_MODEL_LABEL = "xai_model"
# A failed test that recorded no failed check or golden: its own assert, or an error.
NO_CHECK = "no xai check (the test's own assert or an error)"
INTERVENTIONS = {"irrelevant": "assert_region_irrelevant", "needed": "assert_region_needed",
                 "ignores": "assert_prediction_ignores"}


def register(config: pytest.Config, xai: XaiSession, recorder_key: pytest.StashKey[Recorder]) -> None:
    """Register the plugin object and its classifier wrapper (not in xdist workers)."""
    options = xai.settings.mutation
    if options is None or xai.is_worker:
        return
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("--xai-mutate re-runs tests in this process; drop -n (pytest-xdist)")
    plugin = MutationPlugin(config, xai, recorder_key, plan.parse_budget(options.budget))
    config.pluginmanager.register(plugin, PLUGIN_NAME)


@dataclass
class _Active:
    fingerprint: str
    classifier: Any


@dataclass
class _Built:
    spec: plan.MutantSpec
    classifier: Any  # None: not built
    note: str
    items: list[pytest.Item]


class MutationPlugin:
    """Watches the normal run, then runs every chosen mutant and keeps the MutationReport."""

    def __init__(self, config: pytest.Config, xai: XaiSession, recorder_key: pytest.StashKey[Recorder],
                 budget: int) -> None:
        self.config = config
        self.xai = xai
        self.recorder_key = recorder_key
        self.budget = budget
        self.twin: str | None = None if xai.settings.mutation is None else xai.settings.mutation.twin
        self.models: dict[str, plan.SuiteModel] = {}
        self.labels: dict[str, dict[str, tuple[str, Any]]] = {}  # nodeid -> fingerprint -> (label, clf)
        self.checks: dict[str, list[CheckResult]] = {}
        self.checked: dict[str, dict[str, Region]] = {}  # nodeid -> the regions its checks judged
        self.failed: set[str] = set()
        self.direct: list[str] = []  # tests that took a model fixture but never explained with it
        self.passed: set[str] = set()
        self.active: _Active | None = None
        self.report: MutationReport | None = None
        self.skipped: str = ""

    # -- during the normal run ------------------------------------------------------------------
    def pytest_xai_wrap_classifier(self, classifier: Any, request: pytest.FixtureRequest) -> Any:
        """The active mutant in place of its model; in the normal run, None (the classifier
        itself), after noting it when it is a model the suite tests (not a helper's copy)."""
        clf = classifier
        if self.active is not None:
            return self.active.classifier if clf.fingerprint == self.active.fingerprint else None
        label = _label(request, clf)
        if label is not None:
            self.labels.setdefault(request.node.nodeid, {})[clf.fingerprint] = (label, clf)
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """Note the images, regions and checks of the models under test this test explained."""
        recorder = item.stash.get(self.recorder_key, None)
        labels = self.labels.get(item.nodeid, {})
        if self.active is not None or recorder is None:
            return
        self.checks[item.nodeid] = list(recorder.record.checks)
        if not labels and DEFAULT_MODEL_LABEL in getattr(item, "fixturenames", ()):
            self.direct.append(item.nodeid)
        self.checked[item.nodeid] = recorder.checked_regions()
        for label, clf in labels.values():  # an intervention test uses the model, explaining nothing
            self.models.setdefault(clf.fingerprint, plan.SuiteModel(label, clf.fingerprint, clf)).add_test(item.nodeid)
        for key, exp, regions in recorder.explained():
            source = exp.source
            found = None if source is None else labels.get(source.fingerprint)
            if found is not None and exp.image is not None:
                label, clf = found
                model = self.models.setdefault(clf.fingerprint, plan.SuiteModel(label, clf.fingerprint, clf))
                model.add(item.nodeid, key, exp.image, dict(regions))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.active is not None:
            return
        if report.failed or report.skipped:
            self.failed.add(report.nodeid)
        elif report.when == "call":
            self.passed.add(report.nodeid)

    # -- after the normal run -------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        if session.shouldfail or session.shouldstop:
            self.skipped = "the run was stopped early; mutants not run"
        elif not self.config.getoption("collectonly"):
            self.report = self.run(session)
        return result

    def run(self, session: pytest.Session) -> MutationReport:
        """validate → plan → build → run each mutant → package."""
        started, cpu = time.perf_counter(), time.process_time()
        seed = int(self.config.getoption("xai_seed", None) or 0)
        specs = self._candidates()
        built = self._build(plan.order(specs, seed), session.items)
        report = MutationReport(seed=seed, budget=self.budget,
                                candidates=sum(s.kind == PLANTED for s in specs),
                                not_rerun=[n for n in self.direct if n in self.passed and n not in self.failed])
        report.mutants = self._run_built(built)
        report.seconds, report.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        return report

    def _candidates(self) -> list[plan.MutantSpec]:
        from pytest_xai.mutation import harmless, planted

        out = []
        for model in self.models.values():
            if not model.images:  # no test explained an image with it: nothing to plant on
                continue
            checks = [c for nodeid in model.nodeids for c in self.checks.get(nodeid, [])]
            avoid, focus = plan.region_names(checks, "avoid"), plan.region_names(checks, "focus")
            height, width = _suite_size(model)
            # sidecar regions and those given in code (Region.box(...)) alike keep the patches off
            regions = [*model.regions.values(), *(self.checked.get(n, {}) for n in model.nodeids)]
            taken = [m for name in avoid + focus
                     if (m := planted.union_mask(regions, name, height, width)) is not None]
            free = [name for name, mask in planted.default_patches(height, width).items()
                    if not any((mask & t).any() for t in taken)]
            names = list(harmless.BUILDERS) + (["twin"] if self.twin and model.label == DEFAULT_MODEL_LABEL else [])
            out += plan.candidates(model, avoid, free, names)
        return out

    def _build(self, ordered: list[plan.MutantSpec], items: list[pytest.Item]) -> list[_Built]:
        """Build mutants in ``ordered`` until ``budget`` planted ones are built, then the harmless."""
        runnable = [item for item in items if item.nodeid in self.passed and item.nodeid not in self.failed]
        out: list[_Built] = []
        for spec in ordered:
            if spec.kind == PLANTED and sum(b.spec.kind == PLANTED and b.classifier is not None for b in out) >= self.budget:
                continue
            model = self.models[spec.fingerprint]
            mutant, note = _make(spec, model, self.twin, self.config)
            selected = [item for item in runnable if item.nodeid in model.nodeids] if mutant is not None else []
            out.append(_Built(spec, mutant, note, selected))
        return out

    def _run_built(self, built: list[_Built]) -> list[MutantResult]:
        """Run each built mutant's tests with it swapped in, in CI mode and with a cache that
        reads but never writes (mutants' explanations stay in this session's memo)."""
        from pytest_xai.plugin.cache import CachePolicy

        xai = self.xai
        saved_settings, saved_cache = xai.settings, xai.cache
        xai.settings = replace(saved_settings, ci=True, update=None, ci_reason="--xai-mutate", cache_mode="read")
        disk = None if saved_cache.disk is None else replace(saved_cache.disk, write=False)
        xai.cache = CachePolicy(disk, saved_cache.memo)
        folder = Path(tempfile.mkdtemp(prefix="xai-mutate-"))
        queue = [(b, item) for b in built for item in b.items]
        results = {id(b): _result(b) for b in built}
        seen: dict[int, tuple[list[CheckResult], list[GoldenVerdict]]] = {id(b): ([], []) for b in built}
        try:
            for index, (b, item) in enumerate(queue):
                self.active = _Active(b.spec.fingerprint, b.classifier)
                nextitem = queue[index + 1][1] if index + 1 < len(queue) else None
                started, cpu = time.perf_counter(), time.process_time()
                checks, goldens = self._run_item(item, nextitem, folder, results[id(b)])
                seen[id(b)][0].extend(checks)
                seen[id(b)][1].extend(goldens)
                results[id(b)].seconds += time.perf_counter() - started
                results[id(b)].cpu_seconds += time.process_time() - cpu
                if nextitem is None or queue[index + 1][0] is not b:
                    self._progress(results[id(b)])
        finally:
            self.active = None
            xai.settings, xai.cache = saved_settings, saved_cache
            shutil.rmtree(folder, ignore_errors=True)
        return [_finished(results[id(b)], *seen[id(b)]) for b in built]

    def _run_item(
        self, item: pytest.Item, nextitem: pytest.Item | None, folder: Path, result: MutantResult
    ) -> tuple[list[CheckResult], list[GoldenVerdict]]:
        """Run one test against the active mutant, silently; add what failed to ``result`` and
        return the test's checks and goldens.

        ``nextitem`` is the test that runs next (None after the last), so fixtures are torn down
        as pytest's own loop would: session fixtures once, at the end.
        """
        from _pytest.runner import runtestprotocol

        from pytest_xai.checks.recorder import Recorder, recording
        from pytest_xai.records import TestRecord

        recorder = Recorder(TestRecord(item.nodeid), folder, pictures=False)
        item.stash[self.recorder_key] = recorder
        with recording(recorder):
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
        record = recorder.record
        failed_checks = [c for c in record.checks if not c.passed]
        failed_goldens = [g for g in record.goldens if g.failed]
        kinds = [_kind_label(c) for c in failed_checks] + ["golden"] * len(failed_goldens)
        methods = [c.method or "" for c in failed_checks if c.kind != "intervention"]
        methods += [_golden_method(g) for g in failed_goldens]
        if any(r.failed for r in reports):
            result.failed.append(item.nodeid)
            result.failed_kinds = sorted(set(result.failed_kinds) | set(kinds or [NO_CHECK]))
            result.failed_methods = sorted(set(result.failed_methods) | {m for m in methods if m})
        return record.checks, record.goldens

    # -- reporting ------------------------------------------------------------------------------
    def _progress(self, result: MutantResult) -> None:
        """One line per mutant as it finishes (a mutation run takes minutes)."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            verdict = f"{len(result.failed)}/{len(result.tests)} tests failed"
            terminal.write_line(f"xai mutate: {result.kind} {result.model} {result.name}: {verdict} "
                                f"({result.seconds:.0f} s)")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None and not self.skipped:
            return
        terminalreporter.section("xai mutation")
        if self.report is None:
            terminalreporter.write_line(self.skipped)
            return
        for line in self.report.lines():
            terminalreporter.write_line(line, red=line.startswith(("FALSE ALARM", "SURVIVED")))


def _suite_size(model: plan.SuiteModel) -> tuple[int, int]:
    """The most common (height, width) of the model's suite images."""
    sizes = [tuple(a.shape[:2]) for a in model.images.values()]
    return max(set(sizes), key=sizes.count)


def _make(spec: plan.MutantSpec, model: plan.SuiteModel, twin: str | None, config: pytest.Config) -> tuple[Any, str]:
    """Build one mutant: its Classifier, or None and why not."""
    from pytest_xai.mutation import harmless, planted

    height, width = _suite_size(model)
    arrays = [a for a in model.images.values() if tuple(a.shape[:2]) == (height, width)]
    if spec.kind == PLANTED:
        if spec.source == plan.AVOID:
            mask = planted.union_mask(list(model.regions.values()), spec.name, height, width)
        else:
            mask = planted.default_patches(height, width)[spec.name]
        if mask is None:
            return None, f"region {spec.name!r} is on no {height}x{width} suite image"
        return planted.build_planted(model.classifier, arrays, mask, spec.name)
    if spec.name == "twin":
        base = Path(config.inipath).parent if config.inipath else config.rootpath
        mutant, note = harmless.twin_checkpoint(str(twin), base)(model.classifier, arrays)
    else:
        mutant, note = harmless.BUILDERS[spec.name](model.classifier, arrays)
    if mutant is not None:
        moved = int((harmless.predictions(mutant, arrays) != harmless.predictions(model.classifier, arrays)).sum())
        if moved:
            return None, f"changes {moved} suite prediction(s), so it is not a harmless release here"
    return mutant, note


def _result(b: _Built) -> MutantResult:
    return MutantResult(kind=b.spec.kind, model=b.spec.model, name=b.spec.name, source=b.spec.source,
                        built=b.classifier is not None, note=b.note, tests=[i.nodeid for i in b.items])


def _label(request: pytest.FixtureRequest, clf: Any) -> str | None:
    """The fixture name of the model under test ``clf`` is, or wraps; None for a model built
    inside the test (a sanity check's randomised copy, a helper's)."""
    funcargs = dict(getattr(request.node, "funcargs", {}) or {})
    if "xai_model" not in funcargs and "xai_model" in request.fixturenames:
        funcargs["xai_model"] = request.getfixturevalue("xai_model")
    model = getattr(clf, "model", None)
    return next((name for name, value in funcargs.items() if value is clf or value is model), None)


def _kind_label(check: CheckResult) -> str:
    """A failed check's kind for the table: "avoid", "focus", ...; an intervention names its
    assertion, and whether it backed an attribution check (``confirm=``)."""
    if check.kind != "intervention":
        return check.kind or NO_CHECK
    name = INTERVENTIONS.get(check.method or "", check.method or "intervention")
    role = (check.details or {}).get("role")
    return f"intervention {name}" + (" (confirm=)" if role == "confirm" else "")


def _golden_method(golden: GoldenVerdict) -> str:
    """The method of a golden, from its file name (``<test>[.<name>].<method>.npz``), else ""."""
    from pytest_xai.registry import METHODS

    stem = Path(golden.path).stem
    return next((m for m in METHODS if stem.endswith(f".{m}") or golden.name == m), "")


def _finished(result: MutantResult, checks: list[CheckResult], goldens: list[GoldenVerdict]) -> MutantResult:
    """The survivor's reason, from the checks and goldens its tests recorded."""
    from pytest_xai.mutation.survival import survival_reason

    if result.kind == PLANTED and result.built and not result.failed:
        result.reason = survival_reason(result.name, checks, goldens, len(result.tests))
    elif result.kind == HARMLESS and not result.built and not result.note:
        result.note = "not built"
    return result
