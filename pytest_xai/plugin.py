"""pytest hooks, options and fixtures of pytest_xai; each hook hands its work to XaiSession."""

from __future__ import annotations

import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_xai import _record
from pytest_xai.mutation.runner import register as register_mutation
from pytest_xai.session import XaiSession
from pytest_xai.settings import add_options

xai_key = pytest.StashKey[XaiSession]()
record_key = pytest.StashKey[_record.TestRecord]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "xai(method=None, samples=None, seed=None, n_segments=None, output=None, baseline=None, "
        "precision=None): "
        "explanation parameters for the explain fixture in this test",
    )
    xai = config.stash[xai_key] = XaiSession.from_config(config)
    config.pluginmanager.register(_ReportListener(xai), "xai-report-listener")
    register_mutation(config)  # only with --xai-mutate: pytest_xai.mutation.runner.MutationPlugin


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[xai_key].settings
    mode = "read-only (CI mode: " + s.ci_reason + ")" if s.ci else (f"update={s.update}" if s.update else "compare")
    ignored = "; --xai-update ignored in CI mode" if s.ci and s.update else ""
    cache = s.cache_mode if getattr(config, "cache", None) is not None else "off (no cacheprovider)"
    return [f"xai: goldens {mode}{ignored}; device={s.device}; model={s.model or 'from conftest'}; cache={cache}"]


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[xai_key].deselected.extend(items)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every item before other plugins and conftests filter them (some never report it)."""
    config.stash[xai_key].collected_items = list(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[xai_key].collection_finished(session)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
    if fixturedef.argname == "xai_model":  # every test that uses the model, explaining or not
        from pytest_xai.fixtures import ignored_model_option

        problem = ignored_model_option(fixturedef, request.config)
        if problem is not None:
            pytest.fail(problem, pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    problem = item.config.stash[xai_key].usage_error
    if problem is not None:
        raise pytest.UsageError(problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    xai = item.config.stash[xai_key]
    shown = xai.settings.report is not None or bool(item.config.getoption("htmlpath", None))
    record = _record.TestRecord(item.nodeid, xai.settings.results_dir, pictures=shown)
    # this test's pictures from an earlier run would look like this run's: start afresh
    shutil.rmtree(xai.settings.results_dir / _record.safe_name(item.nodeid), ignore_errors=True)
    item.stash[record_key] = record
    with _record.recording(record):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    record = item.stash.get(record_key, None)
    if record is not None and call.when == "teardown":
        if record.explanations or record.checks or record.goldens:
            report.xai_record = record.to_json()
            if item.config.getoption("htmlpath", None):  # pytest-html writes a page
                from pytest_xai.html_extras import extras_for

                report.extras = [*getattr(report, "extras", []), *extras_for(report.xai_record)]
        report.user_properties.extend(record.properties)
    return report


class _ReportListener:
    """Receives every test report in the controlling process (xdist workers' reports too)."""

    def __init__(self, xai: XaiSession) -> None:
        self.xai = xai

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.xai.is_worker:
            self.xai.add_report(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: merge what a worker collected (all workers collect the same tests) and its
    failed golden writes."""
    from pytest_xai.session import Collection

    output = getattr(node, "workeroutput", {})
    xai = node.config.stash[xai_key]
    if output.get("xai_collection"):
        xai.collection = Collection.from_json(output["xai_collection"])
    xai.write_errors.extend(output.get("xai_write_errors", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    xai = session.config.stash[xai_key]
    xai.flush_writes()
    if xai.is_worker:
        session.config.workeroutput["xai_collection"] = xai.collection.to_json()  # type: ignore[attr-defined]
        session.config.workeroutput["xai_write_errors"] = xai.write_errors  # type: ignore[attr-defined]
        return
    xai.session_finished(session, exitstatus)
    if xai.settings.report is not None:
        xai.write_report(session, xai.settings.report)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    xai = config.stash[xai_key]
    if xai.is_worker or not (xai.records or xai.unused or xai.settings.ci or xai.write_errors or xai.warnings):
        return
    terminalreporter.section("xai")
    for line in xai.summary_lines():
        terminalreporter.write_line(line, red=line.startswith("write failed"))


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def xai_model(pytestconfig: pytest.Config) -> Any:
    """The Classifier under test (session scope).

    Built from ``--xai-model SPEC`` or ini ``xai_model``: ``package.module:factory`` (returns a
    Classifier or nn.Module), a TorchScript file, or ``torchvision:resnet18=weights.pth``.
    Override this fixture in conftest.py to build the model yourself. Nothing is downloaded.
    """
    from pytest_xai.errors import ModelSpecError
    from pytest_xai.model_spec import load_model

    xai = pytestconfig.stash[xai_key]
    spec = xai.settings.model
    if not spec:
        raise pytest.UsageError(
            "no model under test: pass --xai-model SPEC, set ini xai_model, or override the "
            "xai_model fixture in conftest.py"
        )
    base = Path(pytestconfig.inipath).parent if pytestconfig.inipath else pytestconfig.rootpath
    try:
        return load_model(spec, worker_device(pytestconfig), base)
    except ModelSpecError as e:
        raise pytest.UsageError(f"--xai-model/xai_model: {e}") from None


def worker_device(config: pytest.Config) -> str:
    """The configured device; under xdist with several GPUs, worker k takes cuda:(k mod n)."""
    device = config.stash[xai_key].settings.device
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or device not in ("auto", "cuda"):
        return device
    import torch

    count = torch.cuda.device_count()
    if count <= 1:
        return device
    index = int(str(workerinput.get("workerid", "gw0")).lstrip("gw") or 0)
    return f"cuda:{index % count}"


@pytest.fixture
def xai_image(request: pytest.FixtureRequest) -> Any:
    """Factory: ``xai_image("cat.png", size=None)`` returns the image with ``.regions``.

    The name resolves against ini ``xai_images_dir`` (default: the test file's folder). Regions
    come from the sidecar ``cat.regions.json``:
    ``{"object": {"box": [x0, y0, x1, y1]}, "tag": {"mask": "cat.tag.png"}}``.
    """
    from pytest_xai.fixtures import ImageFactory

    folder = request.config.stash[xai_key].settings.images_dir or Path(request.node.path).parent
    return ImageFactory(folder)


@pytest.fixture
def explain(request: pytest.FixtureRequest) -> Any:
    """``explain(images, *, classifier=None, **kwargs)``: pytest_xai.explain on ``xai_model``.

    Takes what ``pytest_xai.explain`` takes (one image, a list, a 4-D batch). Seed, samples,
    method and precision come from the call, the ``@pytest.mark.xai(...)`` marker,
    ``--xai-seed``/``--xai-samples`` and ini ``xai_method``/``xai_samples``/``xai_precision``,
    in that order. Results are memoised for the session and kept in the persistent cache
    (``--xai-cache``); the terminal summary counts both. ``explain.unrecorded(...)`` is the
    same without adding the explanation to the test's record.
    """
    from pytest_xai.fixtures import ExplainFixture

    return ExplainFixture(request.config.stash[xai_key], request, request.node.stash.get(record_key, None))


@pytest.fixture
def xai_snapshot(request: pytest.FixtureRequest) -> Any:
    """Golden explanations: ``xai_snapshot.assert_match(explanation, name=None, *, mode=None,
    max_shift=None, min_spearman=None, min_top_k_iou=None)``.

    ``mode="release"`` (default; ini ``xai_golden_mode``) passes while the target class is the
    same and the evidence moved at most ``max_shift`` of the image diagonal; ``"strict"``
    compares the ranking (Spearman, top-20% IoU), for one model across environments.
    Goldens live in ``__xai_snapshots__/<module>/<test>[.<name>].npz`` beside the test, with a
    .png preview. Update with ``pytest --xai-update``; CI mode never writes.
    """
    from pytest_xai.snapshots import SnapshotFixture

    return SnapshotFixture(request.config.stash[xai_key], request.node, request.node.stash.get(record_key, None))
