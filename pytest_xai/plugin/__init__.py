"""pytest hooks, options and fixtures of pytest_xai (the ``pytest11`` entry point).

Each feature with hooks is its own plugin object, registered in ``pytest_configure`` (pytest's
cacheprovider style): collection bookkeeping, the merged results, the golden lifecycle and the
run summary; the fixtures share the ``XaiSession`` in ``config.stash``. Only the standard
library and pytest are imported here: numpy, PIL and torch load when a fixture needs them.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_xai._util.paths import safe_name
from pytest_xai.checks.recorder import Recorder, recording
from pytest_xai.errors import XaiError
from pytest_xai.plugin.autogolden import AutoGoldens, overrule_xfail
from pytest_xai.plugin.collection import CollectionPlugin
from pytest_xai.plugin.goldens import GoldenLifecycle
from pytest_xai.plugin.model_option import ModelOptionWatch
from pytest_xai.plugin.options import add_options, bare_update_flag
from pytest_xai.plugin.results import ResultsPlugin, StaleResults
from pytest_xai.plugin.session import XaiSession
from pytest_xai.plugin.shards import ShardPlugin
from pytest_xai.plugin.summary import RunSummary
from pytest_xai.records import TestRecord

xai_key = pytest.StashKey[XaiSession]()
goldens_key = pytest.StashKey[GoldenLifecycle]()
recorder_key = pytest.StashKey[Recorder]()
model_watch_key = pytest.StashKey[ModelOptionWatch]()
registries_key = pytest.StashKey[list[tuple[Any, dict[str, object]]]]()  # registries before the hooks added


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_xai.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """``pytest --xai-update tests/``: the path after the bare flag is a path, not its value."""
    if bare_update_flag(args):  # read again, so the initial conftests come from that path
        early_config.known_args_namespace = parser.parse_known_args(args, namespace=copy.copy(early_config.option))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "xai(method=None, samples=None, seed=None, n_segments=None, output=None, baseline=None, "
        "precision=None, golden=False): "
        "explanation parameters for the explain fixture in this test; golden=True judges every "
        "explanation it returns against its golden when the test body ends, passed or failed",
    )
    register_extensions(config)
    xai = config.stash[xai_key] = XaiSession.from_config(config)
    collected, results = CollectionPlugin(xai), ResultsPlugin(xai)
    goldens = config.stash[goldens_key] = GoldenLifecycle(xai, collected, results)
    config.pluginmanager.register(collected, "xai-collection")
    config.pluginmanager.register(results, "xai-results")
    config.pluginmanager.register(goldens, "xai-goldens")
    config.pluginmanager.register(AutoGoldens(xai, goldens, recorder_key), "xai-autogoldens")
    config.pluginmanager.register(RunSummary(xai, results, goldens), "xai-summary")
    config.pluginmanager.register(ShardPlugin(xai), "xai-shards")
    config.pluginmanager.register(StaleResults(xai, collected, lambda: goldens.complete), "xai-stale-results")
    config.stash[model_watch_key] = ModelOptionWatch(config)  # after the settings read the option
    if xai.settings.calibration is not None:
        from pytest_xai.plugin.calibrate import calibrate_plugin

        plugin = calibrate_plugin(xai, recorder_key, xai.settings.calibration)
        config.pluginmanager.register(plugin, "xai-calibrate")
    if xai.settings.mutation is not None:  # --xai-mutate: docs/mutation.md
        from pytest_xai.plugin.mutation import register

        register(config, xai, recorder_key)


# hook -> (module, registry, register function): what each pytest_xai_register_* hook adds to
EXTENSIONS = {
    "pytest_xai_register_methods": ("pytest_xai.registry", "METHODS", "register_method"),
    "pytest_xai_register_golden_modes": ("pytest_xai.goldens.modes", "GOLDEN_MODES", "register_golden_mode"),
    "pytest_xai_register_model_loaders": ("pytest_xai.models", "MODEL_LOADERS", "register_model_loader"),
    "pytest_xai_register_fills": ("pytest_xai.checks.interventions.fills", "FILLS", "register_fill"),
}


def register_extensions(config: pytest.Config) -> None:
    """Let plugins register methods, golden modes, model loaders and fills (plugin/hookspecs.py)
    before the options that name them are checked, and conftests loaded later when pytest loads
    them (the hooks are historic)."""
    kept = config.stash[registries_key] = []
    for name, (module_name, registry_name, register_name) in EXTENSIONS.items():
        register = _registering(kept, name, module_name, registry_name, register_name)
        getattr(config.hook, name).call_historic(kwargs={register_name: register})


def _registering(kept: list[tuple[Any, dict[str, object]]], hook: str, module_name: str, registry_name: str,
                 register_name: str) -> Any:
    """The register function a hook receives. The registry is imported at its first
    registration (a run without extensions loads no numpy), what it held then is kept for
    ``pytest_unconfigure`` to put back (one session's extensions never reach the next session
    in the process), and a refused registration is a usage error naming the hook."""

    def register(*args: Any, **kwargs: Any) -> Any:
        import importlib

        module = importlib.import_module(module_name)
        registry = getattr(module, registry_name)
        if all(seen is not registry for seen, _ in kept):
            kept.append((registry, dict(registry)))
        try:
            return getattr(module, register_name)(*args, **kwargs)
        except XaiError as e:
            raise pytest.UsageError(f"{hook}: {e}") from None

    return register


def pytest_unconfigure(config: pytest.Config) -> None:
    for registry, before in config.stash.get(registries_key, []):
        registry.clear()
        registry.update(before)


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[xai_key].settings
    mode = "read-only (CI mode: " + s.ci_reason + ")" if s.ci else (f"update={s.update}" if s.update else "compare")
    ignored = "; --xai-update ignored in CI mode" if s.ci and s.update else ""
    cache = s.cache_mode if getattr(config, "cache", None) is not None else "off (no cacheprovider)"
    return [f"xai: goldens {mode}{ignored}; device={s.device}; model={s.model or 'from conftest'}; cache={cache}"]


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
    """An ``xai_model`` override that never reads ``--xai-model`` fails every test that uses it."""
    watch = request.config.stash[model_watch_key]
    known = watch.problems.get(fixturedef)
    if known is not None:  # each later test fails the same way, without building it again
        pytest.fail(known, pytrace=False)
    before = watch.reads()
    value = yield
    problem = watch.setup_done(fixturedef, before)
    if problem is not None:
        fixturedef.cached_result = None  # not kept: every test that asks for it fails
        pytest.fail(problem, pytrace=False)
    return value


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    settings = item.config.stash[xai_key].settings
    shown = bool(settings.reports) or bool(item.config.getoption("htmlpath", None))
    recorder = Recorder(TestRecord(item.nodeid), settings.results_dir, pictures=shown)
    # this test's pictures from an earlier run would look like this run's: start afresh
    shutil.rmtree(settings.results_dir / safe_name(item.nodeid), ignore_errors=True)
    item.stash[recorder_key] = recorder
    with recording(recorder):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    recorder = item.stash.get(recorder_key, None)
    if recorder is not None and call.when == "call":
        overrule_xfail(report, recorder.record.goldens)
    if recorder is not None and call.when == "teardown":
        from pytest_xai.plugin.junit import properties

        record = recorder.record
        if not record.empty:
            report.xai_record = record.to_json()
            if item.config.getoption("htmlpath", None):  # pytest-html writes a page
                from pytest_xai.plugin.html_extras import extras_for

                report.extras = [*getattr(report, "extras", []), *extras_for(record)]
        report.user_properties.extend(properties(record))
    return report


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def xai_model(pytestconfig: pytest.Config) -> Any:
    """The Classifier under test (session scope).

    Built from ``--xai-model SPEC`` or ini ``xai_model``: ``package.module:factory`` (returns a
    Classifier or nn.Module), a TorchScript file, or ``torchvision:resnet18=weights.pth``.
    Override this fixture in conftest.py to build the model yourself. Nothing is downloaded.
    """
    from pytest_xai.errors import ModelSpecError
    from pytest_xai.models import load_model

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
    """The device this process explains on: under xdist, worker k takes ``--xai-devices``
    entry k mod n, or with several GPUs and device auto/cuda, cuda:(k mod count)."""
    from pytest_xai.plugin.devices import device_for, worker_index

    settings = config.stash[xai_key].settings
    workerinput = getattr(config, "workerinput", None)
    worker = None if workerinput is None else worker_index(str(workerinput.get("workerid", "gw0")))

    def cuda_count() -> int:
        import torch

        return torch.cuda.device_count()

    return device_for(settings.device, settings.devices, worker, cuda_count)


@pytest.fixture
def xai_image(request: pytest.FixtureRequest) -> Any:
    """Factory: ``xai_image("cat.png", size=None, resize="crop")`` returns the image with ``.regions``.

    The name resolves against ini ``xai_images_dir`` (default: the test file's folder). Regions
    come from the sidecar ``cat.regions.json``:
    ``{"object": {"box": [x0, y0, x1, y1]}, "tag": {"mask": "cat.tag.png"}}``.
    """
    from pytest_xai.plugin.fixtures import ImageFactory

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
    from pytest_xai.plugin.fixtures import ExplainFixture

    return ExplainFixture(request.config.stash[xai_key], request, request.node.stash.get(recorder_key, None))


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
    from pytest_xai.plugin.snapshot import snapshot_for

    config = request.config
    recorder = request.node.stash.get(recorder_key, None)
    return snapshot_for(config.stash[xai_key], config.stash[goldens_key], request.node, recorder)
