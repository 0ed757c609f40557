"""Resume a ``samples="auto"`` run loaded from the cache, so that a check may still extend it.

A superpixel run is its seed, its rounds and the model output of each coalition: the rounds
are redrawn from the seed (``engine.rounds``), the stored outputs are reused, and only the
rounds a check asks for are evaluated.
"""

from __future__ import annotations

import numpy as np
import torch

from pytest_xai.classifier import Classifier
from pytest_xai.engine.baselines import fill_image
from pytest_xai.engine.explain import validate
from pytest_xai.engine.methods import KERNEL_SHAP, LIME, Evaluator, SuperpixelRun, attribution_of
from pytest_xai.engine.perturb import PerturbationJob
from pytest_xai.engine.runners import autocast_forward
from pytest_xai.explanation import Explanation

METHODS = {"lime": LIME, "kernel_shap": KERNEL_SHAP}


def resume(clf: Classifier, exp: Explanation, image: np.ndarray) -> bool:
    """Give ``exp`` (an auto explanation of ``image`` by ``clf``, read from disk) its grower
    back; False when it cannot be resumed (a fixed budget, another method, no outputs)."""
    method = METHODS.get(exp.method)
    p = exp.params
    if method is None or p.get("samples") != "auto" or exp.outputs is None or exp.segments is None:
        return False
    baseline = p.get("baseline")
    request = validate(
        clf, [image], method=exp.method, output=exp.output, samples="auto", tolerance=p["tolerance"],
        max_samples=p["max_samples"], seed=exp.seed, segments=None, n_segments=p["n_segments"],
        baseline=tuple(baseline) if isinstance(baseline, list) else baseline, background=None,
        local_smoothing=0.0, batch_size=None, precision=p.get("precision", "float32"), extra={},
    )  # fmt: skip
    assert request.auto is not None
    tensor = clf.to_batch([image])[0]
    seg = torch.from_numpy(np.asarray(exp.segments)).to(tensor.device)
    run = SuperpixelRun.start(method, seg, exp.seed, request.auto.round_size)
    while run.samples < len(exp.outputs):
        if run.draw_round(min(request.auto.round_size, len(exp.outputs) - run.samples)) is None:
            return False
    run.values = torch.from_numpy(np.asarray(exp.outputs, dtype=np.float64).copy())
    run.refit()
    fill = fill_image(tensor, seg, len(run.pixels), request.baseline)  # type: ignore[arg-type]
    job = PerturbationJob(tensor, fill, seg, run.masks[:0], exp.target)
    height, width = image.shape[:2]
    size = clf.auto_batch_size(height, width, request.spec.bytes_per_pixel)
    forward = autocast_forward(clf.forward, clf.device, request.precision)
    evaluate = Evaluator(forward, request.output, size, clf.memory_format, f"one 3×{height}×{width} image")
    resumed = attribution_of(request, np.asarray(exp.segments), job, run, evaluate)
    exp.__dict__["_grower"] = resumed.grower
    return True
