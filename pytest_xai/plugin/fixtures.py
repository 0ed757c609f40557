"""What the plugin's image and explain fixtures hand to tests: image factory, cached explain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai._util.jsonable import plain
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.plugin.session import XaiSession
from pytest_xai.plugin.stash_keys import explained_key
from pytest_xai.registry import Params

if TYPE_CHECKING:
    from pytest_xai.checks.recorder import Recorder
    from pytest_xai.explanation import Explanation

MARKER_KEYS = (
    "method", "samples", "tolerance", "max_samples", "seed", "n_segments", "output", "baseline", "precision",
)
MARKER_OPTIONS = ("golden",)  # the marker's keys that are not explain() parameters (plugin.autogolden)


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
        from pytest_xai.plugin.testimage import load_test_image

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
        self.marker: Params = merged_marker(request.node)

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
        originals = list(images) if isinstance(images, (list, tuple)) else [images if single else None] * len(results)
        remembered = self.request.node.stash.setdefault(explained_key, [])  # for goldens and their previews
        for original, exp in zip(originals, results):
            remembered.append((original, exp))
            if self.recorder is not None:
                self.recorder.add_explanation(original if original is not None else exp.image, exp)
        return results[0] if single else results

    def unrecorded(self, images: Any, *, classifier: Any = None, **kwargs: Any) -> Any:
        """As ``explain(...)``, cached the same way, but not shown in the test's record: for
        helpers that explain auxiliary models (e.g. randomised copies in a sanity check)."""
        results, single = self._explain(images, classifier, kwargs)
        return results[0] if single else results

    def classifier(self, classifier: Any = None) -> Any:
        """The Classifier to explain: the call's, else ``xai_model``, or what a plugin's
        ``pytest_xai_wrap_classifier`` returns in its place (mutation testing swaps in a
        mutated copy there)."""
        from pytest_xai.classifier import as_classifier

        clf = as_classifier(classifier if classifier is not None else self.request.getfixturevalue("xai_model"))
        wrapped = self.request.config.hook.pytest_xai_wrap_classifier(classifier=clf, request=self.request)
        return clf if wrapped is None else as_classifier(wrapped)

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
        results = self.xai.cache.explain(clf, arrays, per_image, self.recorder)
        for exp in results:  # shared with every later test that asks for it: none may change it
            exp.lock()
        return results, single



def merged_marker(node: pytest.Item) -> Params:
    """The ``xai`` markers' keywords merged key by key, the closest marker winning: a
    ``pytest.param(..., marks=...)`` mark beats the test's, which beats its class's, then its
    module's; of two stacked decorators the one nearer the ``def`` wins."""
    merged: Params = {}
    for marker in reversed(closest_first(node)):
        unknown = set(marker.kwargs) - set(MARKER_KEYS) - set(MARKER_OPTIONS)
        if unknown or marker.args:
            raise XaiValueError(
                f"@pytest.mark.xai got {sorted(unknown) or list(marker.args)}; "
                f"it takes keyword arguments {MARKER_KEYS + MARKER_OPTIONS}"
            )
        if not isinstance(marker.kwargs.get("golden", False), bool):
            raise XaiValueError(f"@pytest.mark.xai(golden={marker.kwargs['golden']!r}) must be True or False")
        params = {k: v for k, v in marker.kwargs.items() if k not in MARKER_OPTIONS}
        merged.update(plain(params))  # the closer marker wins a key
    return merged


def closest_first(node: pytest.Item) -> list[pytest.Mark]:
    """The ``xai`` markers from the test outwards. A test's own markers list its function's
    first and its parameter set's last (pytest's order); the parameter set's are closer."""
    out: list[pytest.Mark] = []
    for current in reversed(node.listchain()):
        own = [m for m in current.own_markers if m.name == "xai"]
        callspec = getattr(current, "callspec", None)
        param_ids = {id(m) for m in getattr(callspec, "marks", ())}
        out += [m for m in own if id(m) in param_ids] + [m for m in own if id(m) not in param_ids]
    return out


def _per_image_params(params: Params, count: int) -> list[Params]:
    """One parameter set per image (a per-image ``target`` list is split)."""
    target = params.get("target")
    if not isinstance(target, (list, tuple)):
        return [params] * count
    if len(target) != count:
        raise XaiValueError(f"target has {len(target)} entries for {count} images; pass one per image")
    return [{**params, "target": t} for t in target]
