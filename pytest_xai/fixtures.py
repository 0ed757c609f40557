"""What the plugin's image and explain fixtures hand to tests: image factory, cached explain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xai import _record
from pytest_xai.cache import explanation_key, key_part, plain
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.mutation.runner import swap as mutation_swap
from pytest_xai.session import XaiSession

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.explanation import Explanation

MARKER_KEYS = ("method", "samples", "seed", "n_segments", "output", "baseline", "precision")
VERIFY_TOLERANCE = 1e-4  # a cache hit's probability and value must match a fresh forward this well


class ImageFactory:
    """``xai_image(name, size=None)``: load a test image and its ``<stem>.regions.json`` regions.

    Names resolve against ini ``xai_images_dir``, else against the test file's folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str, size: int | tuple[int, int] | None = None) -> Any:
        from pytest_xai.testimage import load_test_image

        if not isinstance(name, str):
            raise XaiTypeError(f"name={name!r} must be a file name such as 'cat.png'")
        path = self.folder / name
        if not path.is_file():
            raise XaiValueError(
                f"xai_image({name!r}): no file {path}; put the image there or set ini xai_images_dir"
            )
        return load_test_image(path, size)


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

    def __init__(self, xai: XaiSession, request: pytest.FixtureRequest, record: _record.TestRecord | None) -> None:
        self.xai = xai
        self.request = request
        self.record = record
        self.marker: dict[str, Any] = {}
        for marker in reversed(list(request.node.iter_markers("xai"))):  # module, class, then test
            unknown = set(marker.kwargs) - set(MARKER_KEYS)
            if unknown or marker.args:
                raise XaiValueError(
                    f"@pytest.mark.xai got {sorted(unknown) or list(marker.args)}; "
                    f"it takes keyword arguments {MARKER_KEYS}"
                )
            self.marker.update(plain(dict(marker.kwargs)))  # the closer marker wins a key

    def defaults(self) -> dict[str, Any]:
        """The parameters every call starts from: settings, then the marker."""
        s = self.xai.settings
        out: dict[str, Any] = {}
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
        if self.record is not None:
            originals = list(images) if isinstance(images, (list, tuple)) else [images if single else None] * len(results)
            for original, exp in zip(originals, results):
                self.record.add_explanation(original if original is not None else exp.image, exp)
        return results[0] if single else results

    def unrecorded(self, images: Any, *, classifier: Any = None, **kwargs: Any) -> Any:
        """As ``explain(...)``, cached the same way, but not shown in the test's record: for
        helpers that explain auxiliary models (e.g. randomised copies in a sanity check)."""
        results, single = self._explain(images, classifier, kwargs)
        return results[0] if single else results

    def _explain(self, images: Any, classifier: Any, kwargs: dict[str, Any]) -> tuple[list[Explanation], bool]:
        """validate → look up (session memo, then disk) → compute the rest in one call."""
        from pytest_xai.classifier import as_classifier
        from pytest_xai.images import as_images

        clf = as_classifier(classifier if classifier is not None else self.request.getfixturevalue("xai_model"))
        clf = mutation_swap(self.request, clf, classifier, images)  # --xai-mutate: the active mutant
        params = {**self.defaults(), **plain(kwargs)}  # numpy scalars never reach a golden's JSON
        arrays, single = as_images(images, "images")
        per_image = self._per_image_params(params, len(arrays))
        keys = [self._keys(clf, array, p) for array, p in zip(arrays, per_image)]
        looked = [self._lookup(memo, disk, array) for (memo, disk), array in zip(keys, arrays)]
        found = self._verified(clf, arrays, per_image, looked)
        for (memo, _), hit, kept in zip(keys, looked, found):
            if memo is not None and kept is not None and hit is not None and hit[1] == "disk":
                self.xai.memo[memo] = kept  # read from disk once per session
        stale = [i for i, (hit, kept) in enumerate(zip(looked, found)) if hit is not None and kept is None]
        if stale and hasattr(clf, "refresh"):  # weights may have changed in place: key them anew
            clf.refresh()
            for i in stale:
                keys[i] = self._keys(clf, arrays[i], per_image[i])
        results = self._compute_missing(clf, arrays, per_image, keys, found)
        for exp in results:  # shared by every test that asks again: no test may change it
            for array in (exp.heatmap, exp.weights, exp.segments):
                if array is not None:
                    array.setflags(write=False)
        return results, single

    @staticmethod
    def _per_image_params(params: dict[str, Any], count: int) -> list[dict[str, Any]]:
        """One parameter set per image (a per-image ``target`` list is split)."""
        target = params.get("target")
        if not isinstance(target, (list, tuple)):
            return [params] * count
        if len(target) != count:
            raise XaiValueError(f"target has {len(target)} entries for {count} images; pass one per image")
        return [{**params, "target": t} for t in target]

    def _keys(self, clf: Any, array: np.ndarray, params: dict[str, Any]) -> tuple[tuple[Any, ...] | None, str | None]:
        """The session memo key and the persistent cache key; None where it must not cache.

        A classifier whose content cannot be known exactly (``cache_key`` None) is memoised
        under its ``session_key``, unique to the object, and never persisted; a parameter
        without a content key (an arbitrary object) is not cached at all."""
        from pytest_xai.cache import array_digest

        content = getattr(clf, "cache_key", None)
        device = str(getattr(clf, "device", ""))
        try:
            param_key = repr(key_part(params))
        except TypeError:
            return None, None
        memo = (getattr(clf, "session_key", None) or content, device, repr(array_digest(array)), param_key)
        disk = None if content is None else explanation_key(content, device, array, params)
        return (memo if memo[0] is not None else None), disk

    def _lookup(
        self, memo: tuple[Any, ...] | None, disk: str | None, array: np.ndarray
    ) -> tuple[Explanation, str] | None:
        """A cached explanation and where it came from ("cached": this session, "disk")."""
        hit = None if memo is None else self.xai.memo.get(memo)
        if hit is not None:
            return hit, "cached"
        if disk is None or self.xai.disk is None:
            return None
        hit = self.xai.disk.get(disk)
        if hit is None:
            return None
        hit.image = array  # the stored picture is uint8; keep the exact input
        return hit, "disk"

    def _verified(
        self, clf: Any, arrays: list[np.ndarray], per_image: list[dict[str, Any]],
        looked: list[tuple[Explanation, str] | None],
    ) -> list[Explanation | None]:
        """Cache hits that the model still stands behind; the others become misses.

        A key cannot see everything that changes a model (a changed ``forward``, a module-level
        setting its preprocess reads, weights changed in place after the fingerprint was taken),
        so each hit is checked with one forward pass of its image: the target, its probability
        and the explained output's value must match the cached explanation's.
        """
        from pytest_xai.explainer import predict

        hits = [i for i, found in enumerate(looked) if found is not None]
        if not hits:
            return [None] * len(looked)
        output = looked[hits[0]][0].output  # type: ignore[index]
        predicted = predict(
            clf, [arrays[i] for i in hits], [per_image[i].get("target") for i in hits], output
        )
        found: list[Explanation | None] = [None] * len(looked)
        for i, row in zip(hits, predicted.rows()):
            hit, kind = looked[i]  # type: ignore[misc]
            if _still_valid(hit, *row):
                found[i] = hit
                self._count(kind)
            else:
                self._count("stale")
        return found

    def _compute_missing(
        self, clf: Any, arrays: list[np.ndarray], per_image: list[dict[str, Any]],
        keys: list[tuple[tuple[Any, ...] | None, str | None]], found: list[Explanation | None],
    ) -> list[Explanation]:
        """``found`` completed: every image without a cached result explained in one call (so
        they share batches), memoised and, where the key is exact, stored on disk."""
        from pytest_xai.explainer import explain

        missing = [i for i, r in enumerate(found) if r is None]
        if not missing:
            return [r for r in found if r is not None]
        params = dict(per_image[missing[0]])
        if len(missing) > 1 and "target" in params:
            params["target"] = [per_image[i]["target"] for i in missing]
        started = time.perf_counter()
        computed = explain(clf, [arrays[i] for i in missing], **params)
        if self.record is not None:
            self.record.computed += len(missing)
            self.record.seconds += time.perf_counter() - started
        results = list(found)
        for i, exp in zip(missing, computed if isinstance(computed, list) else [computed]):
            results[i] = exp
            memo, disk = keys[i]
            if memo is not None:
                self.xai.memo[memo] = exp
            if disk is not None and self.xai.disk is not None:
                self.xai.disk.put(disk, exp)
        return [r for r in results if r is not None]

    def _count(self, kind: str) -> None:
        if self.record is not None:
            setattr(self.record, kind, getattr(self.record, kind) + 1)


def _still_valid(hit: Explanation, target: int, probability: float, logit: float, value: float) -> bool:
    """Whether the model, run now, gives the cached explanation's target, probability, logit
    and explained value (within float32 noise between batch compositions). The logit sees what
    a saturated probability hides (a rescaled head)."""

    def close(cached: Any, now: float) -> bool:
        return isinstance(cached, float) and abs(cached - now) <= VERIFY_TOLERANCE * max(1.0, abs(now))

    return (
        hit.target == target
        and abs(hit.probability - probability) <= VERIFY_TOLERANCE
        and close(hit.meta.get("logit"), logit)
        and close(hit.meta.get("output_value"), value)
    )


def ignored_model_option(fixturedef: Any, config: pytest.Config) -> str | None:
    """Why the ``xai_model`` fixture in use would test another model than ``--xai-model``
    names: a conftest override whose code never reads the option; None when it does (it
    calls ``getoption`` on "xai_model", or takes the plugin's ``xai_model`` as a parameter)."""
    spec = config.getoption("xai_model", None)
    func = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
    code = getattr(func, "__code__", None)
    if not spec or code is None or code.co_filename == str(Path(__file__).with_name("plugin.py")):
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
