"""Determinism: same seed same bits, batch-size invariance, global RNGs untouched, batching."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from pytest_xai import Classifier, Explanation, explain, metrics
from pytest_xai.engine.fills import fill_image
from pytest_xai.engine.perturb import PerturbationJob, evaluate_jobs
from pytest_xai.engine.segmentation import segment
from pytest_xai.errors import (
    XaiValueError,
)

METHODS = ["lime", "kernel_shap", "gradient_shap"]


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_bits_other_seed_differs(shapes_clf, shapes_image, method):
    a = explain(shapes_clf, shapes_image, method=method, samples=300, seed=7)
    b = explain(shapes_clf, shapes_image, method=method, samples=300, seed=7)
    c = explain(shapes_clf, shapes_image, method=method, samples=300, seed=8)
    assert np.array_equal(a.heatmap, b.heatmap)
    assert not np.array_equal(a.heatmap, c.heatmap)


@pytest.mark.parametrize("method", METHODS)
def test_batch_size_changes_nothing_beyond_1e5(shapes_clf, shapes_image, method):
    results = [
        explain(shapes_clf, shapes_image, method=method, samples=300, batch_size=b)
        for b in (1, 7, 64, 1000)
    ]
    for other in results[1:]:
        np.testing.assert_allclose(other.heatmap, results[0].heatmap, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_global_rngs_are_neither_used_nor_disturbed(shapes_clf, shapes_image, method):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    expected = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    first = explain(shapes_clf, shapes_image, method=method, samples=200, seed=3)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expected
    # a different global state gives the same explanation: the globals are not used
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    second = explain(shapes_clf, shapes_image, method=method, samples=200, seed=3)
    assert np.array_equal(first.heatmap, second.heatmap)


@pytest.mark.parametrize("method", METHODS)
def test_many_images_equal_one_at_a_time(shapes_clf, shapes_samples, method):
    images = [s.image for s in shapes_samples]
    together = explain(shapes_clf, images, method=method, samples=300, seed=5)
    assert isinstance(together, list) and len(together) == 3
    for image, joint in zip(images, together):
        alone = explain(shapes_clf, image, method=method, samples=300, seed=5)
        assert joint.target == alone.target
        np.testing.assert_allclose(joint.heatmap, alone.heatmap, atol=1e-5, rtol=0)


def test_images_of_different_sizes_in_one_call(shapes_clf, shapes_image):
    small = shapes_image[:48, :40]
    out = explain(shapes_clf, [shapes_image, small], samples=200)
    assert [e.heatmap.shape for e in out] == [(64, 64), (48, 40)]


def test_forward_batches_are_bounded_and_shared(shapes_image, batch_recorder):
    """No forward pass sees more than batch_size images; two images share batches."""
    clf, seen = batch_recorder
    explain(clf, [shapes_image, shapes_image[::-1].copy()], samples=100)
    perturbation_batches = seen[1:]  # the first call is the unperturbed prediction
    assert max(perturbation_batches) <= 64
    assert sum(perturbation_batches) == 200
    assert len(perturbation_batches) == 4  # 200 rows in chunks of 64: shared across images


def test_superpixel_methods_use_mask_rows_as_documented(shapes_clf, shapes_image):
    lime = explain(shapes_clf, shapes_image, method="lime", samples=500)
    assert lime.meta["evaluations"] == 500
    assert lime.weights is not None and lime.segments is not None
    # the heatmap paints each superpixel's weight on its pixels
    assert np.array_equal(lime.heatmap, lime.weights[lime.segments].astype(np.float32))
    ks = explain(shapes_clf, shapes_image, method="kernel_shap", samples=500)
    # efficiency: weights sum to f(x) - f(∅)
    assert abs(ks.weights.sum() - (ks.local_prediction - ks.intercept)) < 1e-6


def test_probability_and_target_semantics(shapes_clf, shapes_samples):
    image = shapes_samples[2].image
    pred = shapes_clf.predict(image, top_k=3)
    assert abs(sum(pred.probabilities) - 1) < 1e-5  # softmax, not max(logits)
    exp = explain(shapes_clf, image, samples=100)
    assert exp.target == pred.label and exp.target_name == pred.name
    assert abs(exp.probability - pred.probability) < 1e-6
    other = explain(shapes_clf, image, samples=100, target="circle")
    assert other.target == 0 and other.target_name == "circle"


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_model_sees_exactly_where_mask_image_else_fill(shapes_image, memory_format):
    """Perturbed inputs are bit-identical to where(mask[:, segments], image, fill), in the
    model's layout, for chunks that span two images."""
    g = torch.Generator().manual_seed(0)
    images = [torch.from_numpy(shapes_image).permute(2, 0, 1), torch.rand(3, 64, 64, generator=g)]
    segments = [
        torch.from_numpy(segment(shapes_image, "slic", 30)),
        torch.randint(0, 7, (64, 64), generator=g),
    ]
    jobs = []
    for image, seg in zip(images, segments):
        m = int(seg.max()) + 1
        masks = torch.rand(45, m, generator=g) > 0.5
        jobs.append(PerturbationJob(image, fill_image(image, seg, m, "mean"), seg, masks, 0))
    seen: list[torch.Tensor] = []

    def logits(x: torch.Tensor) -> torch.Tensor:
        assert x.is_contiguous(memory_format=memory_format)
        seen.append(x.clone())
        return x.mean(dim=(2, 3))

    evaluate_jobs(logits, jobs, "logit", 32, memory_format)
    assert [len(x) for x in seen] == [32, 32, 26]
    expected = torch.cat(
        [torch.where(job.masks[:, job.segments][:, None], job.image, job.fill) for job in jobs]
    )
    assert torch.equal(torch.cat(seen), expected)


SEGMENTS = np.repeat(np.arange(4), 64).reshape(16, 16)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    )


@pytest.fixture
def tiny_img() -> np.ndarray:
    return np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)


@pytest.fixture
def tiny_clf() -> Classifier:
    return Classifier(net(), device="cpu")


def _no_grad(batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return batch.mean((2, 3))


@pytest.mark.parametrize(
    "model",
    [_no_grad, lambda b: b.mean((2, 3)).detach(), lambda b: (b.mean((2, 3)) * 10).long()],
    ids=["no_grad", "detached", "integer"],
)
def test_gradient_shap_on_a_model_without_gradients(tiny_img: np.ndarray, model: object) -> None:
    tiny_clf = Classifier(model, device="cpu")  # type: ignore[arg-type]
    with pytest.raises(XaiValueError, match=r"differentiable with respect to its input.*'lime'"):
        explain(tiny_clf, tiny_img, method="gradient_shap", samples=4)
    assert isinstance(explain(tiny_clf, tiny_img, segments=SEGMENTS, samples=10), Explanation)


def test_parameters_are_plain_python_types(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    exp = explain(shapes_clf, shapes_image, samples=np.int64(60), seed=np.int32(2), n_segments=np.int64(10))
    for key in ("samples", "seed", "n_segments"):
        assert type(exp.params[key]) is int, key
    assert exp.params["precision"] == "float32"


@pytest.mark.parametrize(("method", "samples"), [("lime", 400), ("gradient_shap", 100)])
def test_bfloat16_agrees_with_float32_above_the_strict_golden_bounds(
    shapes_clf: Classifier, shapes_samples: list, method: str, samples: int
) -> None:
    if not torch.amp.is_autocast_available("cpu"):
        pytest.skip("this torch has no CPU autocast")
    for sample in shapes_samples:
        full = explain(shapes_clf, sample.image, method=method, samples=samples, n_segments=30)
        half = explain(shapes_clf, sample.image, method=method, samples=samples, n_segments=30,
                       precision="bfloat16")
        assert half.params["precision"] == "bfloat16" and full.params["precision"] == "float32"
        assert half.target == full.target  # targets are predicted at float32
        assert not np.array_equal(half.heatmap, full.heatmap)  # bf16 really ran
        assert metrics.spearman(half, full) >= 0.7
        assert metrics.top_k_iou(half, full) >= 0.55
