"""Resume a ``samples="auto"`` run loaded from the cache, so that a check may still extend it.

Every round is redrawn from the seed by its index (``engine.rounds``), so a run is its seed,
its rounds and what its samples gave. A superpixel run stores the model output of each
coalition: its rounds are redrawn, the outputs reused. A GradientSHAP run needs nothing beyond
what every explanation stores: its heatmap (the mean) and its error basis (the batch means'
deviations) give back its groups' sums (``GradientRun.restore``). Either way, only the rounds a
check asks for are evaluated.
"""

from __future__ import annotations

import numpy as np
import torch

from pytest_xai._util.digest import array_record
from pytest_xai.classifier import Classifier
from pytest_xai.engine.baselines import fill_image
from pytest_xai.engine.explain import validate
from pytest_xai.engine.gradient import resume_gradient_shap
from pytest_xai.engine.methods import KERNEL_SHAP, LIME, Evaluator, SuperpixelRun, attribution_of
from pytest_xai.engine.perturb import PerturbationJob
from pytest_xai.engine.runners import Attribution, Group, Request, autocast_forward
from pytest_xai.explanation import Explanation
from pytest_xai.registry import Params

SUPERPIXEL_PIPELINES = {"lime": LIME, "kernel_shap": KERNEL_SHAP}  # runs resumed from stored outputs


def resume(clf: Classifier, exp: Explanation, image: np.ndarray, given: Params | None = None) -> bool:
    """Give ``exp`` (an auto explanation of ``image`` by ``clf``, read from disk) its grower
    back; False when it cannot be resumed (a fixed budget, another method, nothing to resume
    from, or a GradientSHAP background that ``given``, the explain call's parameters, lacks).

    ``given`` also supplies ``batch_size`` (None: the classifier's choice)."""
    given = given or {}
    if exp.params.get("samples") != "auto" or not {"tolerance", "max_samples"} <= exp.params.keys():
        return False
    if exp.method in SUPERPIXEL_PIPELINES:
        resumed = _superpixels(clf, exp, image, given)
    elif exp.method == "gradient_shap":
        resumed = _gradient_shap(clf, exp, image, given)
    else:
        return False
    if resumed is None or resumed.grower is None:
        return False
    exp.__dict__["_grower"] = resumed.grower
    return True


def _request(clf: Classifier, exp: Explanation, image: np.ndarray, given: Params, **own: object) -> Request:
    """The auto request that computed ``exp``, from its params (``own``: the method's own)."""
    p = exp.params
    options = {"segments": None, "n_segments": 50, "baseline": None, "background": None, "local_smoothing": 0.0, **own}
    request = validate(
        clf, [image], method=exp.method, output=exp.output, samples="auto", tolerance=p["tolerance"],
        max_samples=p["max_samples"], seed=exp.seed, batch_size=given.get("batch_size"),
        precision=p.get("precision", "float32"), extra={}, **options,
    )  # fmt: skip
    assert request.auto is not None
    return request


def _superpixels(clf: Classifier, exp: Explanation, image: np.ndarray, given: Params) -> Attribution | None:
    """The superpixel run: rounds redrawn from the seed, the stored outputs reused."""
    p = exp.params
    if exp.outputs is None or exp.segments is None:
        return None
    baseline = p.get("baseline")
    request = _request(
        clf, exp, image, given, n_segments=p["n_segments"], baseline=tuple(baseline) if isinstance(baseline, list) else baseline
    )
    assert request.auto is not None
    tensor = clf.to_batch([image])[0]
    seg = torch.from_numpy(np.asarray(exp.segments)).to(tensor.device)
    run = SuperpixelRun.start(SUPERPIXEL_PIPELINES[exp.method], seg, exp.seed, request.auto.round_size)
    while run.samples < len(exp.outputs):
        if run.draw_round(min(request.auto.round_size, len(exp.outputs) - run.samples)) is None:
            return None
    run.values = torch.from_numpy(np.asarray(exp.outputs, dtype=np.float64).copy())
    run.refit()
    fill = fill_image(tensor, seg, len(run.pixels), request.baseline)  # type: ignore[arg-type]
    job = PerturbationJob(tensor, fill, seg, run.masks[:0], exp.target)
    height, width = image.shape[:2]
    size = request.batch_size or clf.auto_batch_size(height, width, request.spec.bytes_per_pixel)
    forward = autocast_forward(clf.forward, clf.device, request.precision)
    evaluate = Evaluator(forward, request.output, size, clf.memory_format, f"one 3×{height}×{width} image")
    return attribution_of(request, np.asarray(exp.segments), job, run, evaluate)


def _gradient_shap(clf: Classifier, exp: Explanation, image: np.ndarray, given: Params) -> Attribution | None:
    """The GradientSHAP run: its groups from the heatmap and error basis, its background the
    default or the given one the explanation records (by content)."""
    p = exp.params
    recorded, background = p.get("background"), given.get("background")
    if exp.error_basis is None or np.ndim(exp.error_basis) != 3 or (recorded != "default" and background is None):
        return None
    request = _request(
        clf, exp, image, given, background=None if recorded == "default" else background,
        local_smoothing=p.get("local_smoothing", 0.0),
    )
    if request.background is not None and array_record(np.stack(request.background)) != recorded:
        return None  # another background than the one this run drew from
    height, width = image.shape[:2]
    group = Group(
        images=[image], tensors=clf.to_batch([image]), targets=[exp.target],
        forward=autocast_forward(clf.forward, clf.device, request.precision),
        batch_size=request.batch_size or clf.auto_batch_size(height, width, request.spec.bytes_per_pixel),
        memory_format=clf.memory_format,
    )  # fmt: skip
    return resume_gradient_shap(request, group, exp.heatmap, exp.error_basis, exp.samples)
