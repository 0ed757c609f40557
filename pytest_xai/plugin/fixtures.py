"""What the plugin's image and explain fixtures hand to tests: image factory, cached explain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.jsonable import plain
from pytest_xai.plugin.session import XaiSession
from pytest_xai.registry import Params

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation
    from pytest_xai.recording import Recorder

MARKER_KEYS = ("method", "samples", "seed", "n_segments", "output", "baseline", "precision")


class ImageFactory:
    """``xai_image(name, size=None, resize="crop")``: load a test image and its
    ``<stem>.regions.json`` regions.

    Names resolve against ini ``xai_images_dir``, else against the test file's folder.
    ``size`` and ``resize`` are ``load_image``'s: by default the image keeps its aspect ratio
    (scaled to cover ``size``, then centre-cropped), and the regions follow it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str, size: int | tuple[int, int] | None = None, resize: str = "crop") -> Any:
        from pytest_xai.testimage import load_test_image

        if not isinstance(name, str):
            raise XaiTypeError(f"name={name!r} must be a file name such as 'cat.png'")
        path = self.folder / name
        if not path.is_file():
            raise XaiValueError(
                f"xai_image({name!r}): no file {path}; put the image there or set ini xai_images_dir"
            )
        return load_test_image(path, size, resize)


class ExplainFixture:
    """``explain(images, *, classifier=None, **kwargs)``: ``pytest_xai.explain`` with the model
    under test, cached.

    Accepts what ``pytest_xai.explain`` accepts (one image, a list, a 4-D batch). Defaults come
    from the call, then the ``xai`` markers (the test's, then its class's, then its module's,
    merged key by key), then ``--xai-seed``/``--xai-samples``, then ini
    ``xai_method``/``xai_samples``/``xai_precision``. The same classifier, image and parameters
    are computed once per session, and once across sessions through the persistent cache when
    the classifier's content key is exact (``Classifier.cache_key``).
    """

    def __init__(self, xai: XaiSession, request: pytest.FixtureRequest, recorder: Recorder | None) -> None:
        self.xai = xai
        self.request = request
        self.recorder = recorder
        self.marker: Params = {}
        for marker in reversed(list(request.node.iter_markers("xai"))):  # module, class, then test
            unknown = set(marker.kwargs) - set(MARKER_KEYS)
            if unknown or marker.args:
                raise XaiValueError(
                    f"@pytest.mark.xai got {sorted(unknown) or list(marker.args)}; "
                    f"it takes keyword arguments {MARKER_KEYS}"
                )
            self.marker.update(plain(dict(marker.kwargs)))  # the closer marker wins a key

    def defaults(self) -> Params:
        """The parameters every call starts from: settings, then the marker."""
        s = self.xai.settings
        out: Params = {}
        if s.method:
            out["method"] = s.method
        if s.samples is not None:
            out["samples"] = s.samples
        if s.seed is not None:
            out["seed"] = s.seed
        if s.precision is not None:
            out["precision"] = s.precision
        out.update(self.marker)
        return out

    def __call__(self, images: Any, *, classifier: Any = None, **kwargs: Any) -> Any:
        results, single = self._explain(images, classifier, kwargs)
        if self.recorder is not None:
            originals = list(images) if isinstance(images, (list, tuple)) else [images if single else None] * len(results)
            for original, exp in zip(originals, results):
                self.recorder.add_explanation(original if original is not None else exp.image, exp)
        return results[0] if single else results

    def unrecorded(self, images: Any, *, classifier: Any = None, **kwargs: Any) -> Any:
        """As ``explain(...)``, cached the same way, but not shown in the test's record: for
        helpers that explain auxiliary models (e.g. randomised copies in a sanity check)."""
        results, single = self._explain(images, classifier, kwargs)
        return results[0] if single else results

    def classifier(self, classifier: Any = None) -> Any:
        """The Classifier to explain: the call's, else ``xai_model``, passed through every
        wrapper in ``XaiSession.classifier_wrappers`` (e.g. a mutation-testing plugin swaps in
        a mutated copy there)."""
        from pytest_xai.classifier import as_classifier

        clf = as_classifier(classifier if classifier is not None else self.request.getfixturevalue("xai_model"))
        for wrap in self.xai.classifier_wrappers:
            clf = as_classifier(wrap(clf, self.request))
        return clf

    def model_under_test(self) -> Any:
        """The classifier this fixture explains by default (``xai_model``, wrapped as above):
        the model an intervention check runs on when it is given the fixture."""
        return self.classifier()

    def _explain(self, images: Any, classifier: Any, kwargs: Params) -> tuple[list[Explanation], bool]:
        """validate, then the cache policy: memo, disk, verify, refresh, compute the rest."""
        from pytest_xai.images import as_images

        clf = self.classifier(classifier)
        params = {**self.defaults(), **plain(kwargs)}  # numpy scalars never reach a golden's JSON
        arrays, single = as_images(images, "images")
        per_image = _per_image_params(params, len(arrays))
        return self.xai.cache.explain(clf, arrays, per_image, self.recorder), single



def ignored_model_option(fixturedef: Any, config: pytest.Config) -> str | None:
    """Why the ``xai_model`` fixture in use would test another model than ``--xai-model``
    names: a conftest override whose code never reads the option; None when it does (it
    calls ``getoption`` on "xai_model", or takes the plugin's ``xai_model`` as a parameter)."""
    spec = config.getoption("xai_model", None)
    func = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
    code = getattr(func, "__code__", None)
    if not spec or code is None or code.co_filename == str(Path(__file__).with_name("__init__.py")):
        return None
    reads = "getoption" in code.co_names and {"xai_model", "--xai-model"} & set(code.co_consts)
    wraps = "xai_model" in code.co_varnames[: code.co_argcount]
    if reads or wraps:
        return None
    return (
        f"--xai-model={spec} was given, but the xai_model fixture in use ({code.co_filename}:"
        f"{code.co_firstlineno}) overrides the plugin's and never reads it, so another model "
        "would be tested. Read it in the override (pytestconfig.getoption('xai_model') with "
        "pytest_xai.model_spec.load_model), or drop the option."
    )


def _per_image_params(params: Params, count: int) -> list[Params]:
    """One parameter set per image (a per-image ``target`` list is split)."""
    target = params.get("target")
    if not isinstance(target, (list, tuple)):
        return [params] * count
    if len(target) != count:
        raise XaiValueError(f"target has {len(target)} entries for {count} images; pass one per image")
    return [{**params, "target": t} for t in target]
