"""Sanity check: an explanation depends on the model at all (cascading model-parameter
randomisation).

Records one check in the running test's record and builds its failure message from the same
numbers, as the assertion helpers do.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

from pytest_xai._util.validation import check_bound, finite_or_none
from pytest_xai.checks import metrics
from pytest_xai.checks import recorder as recording
from pytest_xai.checks.assertions import describe, measure_text, record_check
from pytest_xai.defaults import DEFAULT_MAX_SIMILARITY
from pytest_xai.errors import XaiTypeError, XaiValueError
from pytest_xai.explanation import Explanation
from pytest_xai.pictures import render
from pytest_xai.records import CheckResult
from pytest_xai.registry import Params


def assert_explanation_depends_on_model(
    explain: Callable[..., Any], image: Any, *, method: str = "lime",
    layers: int | Sequence[str] | None = None, max_similarity: float = DEFAULT_MAX_SIMILARITY,
    seed: int = 0, samples: int | None = None, classifier: Any = None,
) -> list[CheckResult]:
    """Fail when the explanation of a randomised model still looks like the trained model's.

    Cascading model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency
    maps"; Quantus' MPRT): the model's parameterised layers are re-drawn at random from the
    top (output) layer down, cumulatively, and each randomised copy is explained. If the
    explanation with every chosen layer randomised still correlates with the original, the
    method shows image structure (edges, colour blobs), not what the model uses. The model
    under test is never modified: a deep copy is randomised, with a seeded generator.

    Parameters
    ----------
    explain: ``pytest_xai.explain``, the ``explain`` fixture, or any callable
        ``f(image, *, classifier, method, seed[, samples])`` returning an Explanation.
    image: the image to explain.
    method: the attribution method under test.
    layers: the layers to randomise, top first: None (all parameterised layers), an int k
        (the top k) or module names as in ``model.named_modules()``.
    max_similarity: the highest acceptable similarity, in [-1, 1]: Spearman rank correlation
        of |attribution| (superpixel weights when both share segments, else heatmaps), as
        Adebayo et al. and Quantus' MPRT default.
    seed: seeds the explanations and the random weights (never the global RNG).
    samples: samples per explanation (default: the method's).
    classifier: the model (a ``Classifier`` wrapping a ``torch.nn.Module``, or a module);
        default the explain fixture's ``xai_model``.
    """
    __tracebackhide__ = True
    bound = check_bound(max_similarity, "max_similarity", low=-1.0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise XaiValueError(f"seed={seed!r} must be a non-negative int")
    clf = _sanity_classifier(explain, classifier)
    module = _module_of(clf)
    chosen = _cascade_layers(module, layers)
    run_trained, run_randomised = _explainers(explain, method, seed, samples)
    original = run_trained(clf, image)
    if metrics.is_silent(original):
        record_check("sanity", original, None, "spearman_abs", math.nan, bound, False, None, upper=True)
        raise AssertionError(
            f"the trained model's explanation carries {metrics.no_evidence(original)}\n"
            "  so there is nothing a randomised model could fail to reproduce\n"
            f"  trained: {describe(original)}"
        )
    cascade = _cascade(run_randomised, clf, module, chosen, original, image, seed)
    return [_judge_cascade(original, cascade, bound, len(chosen))]


def _judge_cascade(original: Explanation, cascade: list[tuple[str, Explanation, float]], bound: float, layers: int) -> CheckResult:
    """The sanity check's verdict on the fully randomised model's similarity, recorded; the
    failure message walks the cascade."""
    __tracebackhide__ = True
    final = cascade[-1][2]
    passed = final <= bound  # NaN fails
    picture = None
    if not passed:
        side = render.side_by_side([original.overlay(), cascade[-1][1].overlay()])
        picture = render.save_png(side, recording.picture_path(f"sanity-{original.method}"))
    steps = [{"layer": name, "similarity": finite_or_none(v)} for name, _, v in cascade]
    result = record_check(
        "sanity", original, None, "spearman_abs", final, bound, passed, picture, upper=True, cascade=steps
    )
    if not passed:
        trail = ", ".join(f"{name} {measure_text(v)}" for name, _, v in cascade)
        raise AssertionError(
            f"explanation does not depend on the model: with {layers} parameterised layer(s) "
            f"randomised, the {original.method} explanation still has Spearman |attribution| "
            f"{measure_text(final)} > max_similarity {bound:.3f} to the trained model's\n"
            "  so it shows image structure, not what the model uses (Adebayo et al. 2018)\n"
            f"  cascade (top layer first, cumulative): {trail}\n"
            f"  trained: {describe(original)}\n"
            f"  overlays (trained | all randomised): {picture}"
        )
    return result


def _sanity_classifier(explain: Any, classifier: Any) -> Any:
    """The classifier given, else the explain fixture's model."""
    if classifier is not None:
        return classifier
    model = getattr(explain, "model", None)
    if model is None and hasattr(explain, "request"):
        model = explain.request.getfixturevalue("xai_model")
    if model is None:
        raise XaiValueError(
            "classifier=None, and explain is not the explain fixture; pass classifier= (the model "
            "to randomise)"
        )
    return model


def _module_of(classifier: Any) -> Any:
    import torch

    from pytest_xai.classifier import Classifier

    model = classifier.model if isinstance(classifier, Classifier) else classifier
    if not isinstance(model, torch.nn.Module):
        raise XaiTypeError(
            f"classifier wraps a {type(model).__name__}, not a torch.nn.Module: its parameters "
            "cannot be randomised; pass a Classifier around an nn.Module"
        )
    return model


def _cascade_layers(module: Any, layers: Any) -> list[str]:
    """The names of the layers to randomise, top (output) layer first."""
    named = [name for name, m in module.named_modules() if next(m.parameters(recurse=False), None) is not None]
    top_first = named[::-1]  # definition order follows the forward pass in most models
    if not top_first:
        raise XaiValueError("the model has no parameters to randomise")
    if layers is None:
        return top_first
    if isinstance(layers, int) and not isinstance(layers, bool):
        if not 1 <= layers <= len(top_first):
            raise XaiValueError(f"layers={layers!r} must be in 1..{len(top_first)} (parameterised layers)")
        return top_first[:layers]
    if isinstance(layers, (list, tuple)) and layers and all(isinstance(n, str) for n in layers):
        unknown = [n for n in layers if n not in named]
        if unknown or len(set(layers)) != len(layers):
            raise XaiValueError(
                f"layers={list(layers)!r}: {unknown or 'duplicates'}; use distinct names of "
                f"parameterised layers: {', '.join(top_first)}"
            )
        return list(layers)
    raise XaiTypeError(f"layers={layers!r} must be None, an int or a list of module names")


def _explainers(
    explain: Any, method: str, seed: int, samples: int | None
) -> tuple[Callable[[Any, Any], Explanation], Callable[[Any, Any], Explanation]]:
    """How to explain the trained model and its randomised copies.

    The trained model goes through ``explain`` itself (the fixture records and caches it).
    Randomised copies go through the fixture's ``unrecorded``: resolved and cached like any
    explanation (a seeded copy has a stable fingerprint), but not shown in the report as the
    model's explanation.
    """
    from pytest_xai.engine.explain import explain as library_explain

    if not callable(explain):
        raise XaiTypeError(f"explain of type {type(explain).__name__} is not callable; pass the explain fixture")
    kwargs: Params = {"method": method, "seed": seed}
    if samples is not None:
        kwargs["samples"] = samples
    defaults = getattr(explain, "defaults", None)

    def trained(clf: Any, image: Any) -> Explanation:
        out = library_explain(clf, image, **kwargs) if explain is library_explain else explain(
            image, classifier=clf, **kwargs)
        return metrics.as_explanation(out, "explain(...)'s result")

    def randomised(clf: Any, image: Any) -> Explanation:
        if explain is not library_explain and not callable(defaults):
            return trained(clf, image)  # a user's callable: its own convention
        unrecorded = getattr(explain, "unrecorded", None)
        if callable(unrecorded):  # the explain fixture: cached, but not shown as the model's
            return metrics.as_explanation(
                unrecorded(image, classifier=clf, **kwargs), "explain(...)'s result"
            )
        params = {**(defaults() if callable(defaults) else {}), **kwargs}
        return metrics.as_explanation(library_explain(clf, image, **params), "explain(...)'s result")

    return trained, randomised


def _cascade(
    run: Callable[[Any, Any], Explanation], clf: Any, module: Any, chosen: list[str],
    original: Explanation, image: Any, seed: int,
) -> list[tuple[str, Explanation, float]]:
    """Randomise the chosen layers of a copy one after another; explain and compare each step."""
    import torch

    from pytest_xai.classifier import Classifier

    twin = copy.deepcopy(module)
    generator = torch.Generator().manual_seed(seed)
    modules = dict(twin.named_modules())
    steps = []
    for name in chosen:
        with torch.no_grad():
            for parameter in modules[name].parameters(recurse=False):
                _redraw(parameter, generator)
        randomised = (
            Classifier(twin, preprocess=clf.preprocess, class_names=clf.class_names, device=clf.device,
                       batch_size=clf.batch_size, channels_last=clf.channels_last)
            if isinstance(clf, Classifier) else twin
        )
        exp = run(randomised, image)
        # a randomised model whose explanation went silent keeps nothing of the original's
        similarity = 0.0 if metrics.is_silent(exp) else metrics.spearman(original, exp, absolute=True)
        steps.append((name, exp, similarity))
    return steps


def _redraw(parameter: Any, generator: Any) -> None:
    """Replace a parameter with Gaussian noise of its own spread (1/sqrt(size) when it has
    none, e.g. a zero bias): random, but activations keep their scale."""
    import torch

    values = parameter.detach().float()
    spread = float(values.std()) if values.numel() > 1 else 0.0
    if not spread > 0:
        spread = 1.0 / math.sqrt(values.numel())
    noise = torch.randn(values.shape, generator=generator) * spread
    parameter.copy_(noise.to(device=parameter.device, dtype=parameter.dtype))
