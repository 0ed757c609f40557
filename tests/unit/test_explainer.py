"""explain: argument validation, determinism, batch-size invariance, untouched global RNGs, precision."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from tiny_samples import SEGMENTS

from pytest_xai import (
    Classifier,
    Explanation,
    Region,
    explain,
    metrics,
)
from pytest_xai.engine.baselines import fill_image
from pytest_xai.engine.perturb import PerturbationJob, evaluate_jobs
from pytest_xai.engine.segmentation import segment
from pytest_xai.errors import (
    XaiError,
    XaiTypeError,
    XaiValueError,
)
from pytest_xai.registry import METHODS

ALL_METHODS = ["lime", "kernel_shap", "gradient_shap"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ALL_METHODS)
def test_same_seed_same_bits_other_seed_differs(shapes_clf, shapes_image, method):
    a = explain(shapes_clf, shapes_image, method=method, samples=300, seed=7)
    b = explain(shapes_clf, shapes_image, method=method, samples=300, seed=7)
    c = explain(shapes_clf, shapes_image, method=method, samples=300, seed=8)
    assert np.array_equal(a.heatmap, b.heatmap)
    assert not np.array_equal(a.heatmap, c.heatmap)


@pytest.mark.slow
@pytest.mark.parametrize("method", ALL_METHODS)
def test_batch_size_changes_nothing_beyond_1e5(shapes_clf, shapes_image, method):
    results = [
        explain(shapes_clf, shapes_image, method=method, samples=300, batch_size=b)
        for b in (1, 7, 64, 1000)
    ]
    for other in results[1:]:
        np.testing.assert_allclose(other.heatmap, results[0].heatmap, atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("method", ALL_METHODS)
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


@pytest.mark.slow
@pytest.mark.parametrize("method", ALL_METHODS)
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


@pytest.mark.slow
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


@pytest.mark.slow
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


BAD_PARAMETERS: list[tuple[str, Callable[..., Any], type, str]] = [
    ("target range", lambda img, clf: explain(clf, img, target=7), ValueError, "target=7 is out of range"),
    ("target name", lambda img, clf: explain(clf, img, target="dog"), ValueError, "target='dog' is not a class name"),
    ("target type", lambda img, clf: explain(clf, img, target=1.5), TypeError, "target=1.5"),
    ("samples < 2", lambda img, clf: explain(clf, img, samples=1), ValueError, "samples=1 is out of range"),
    ("samples huge", lambda img, clf: explain(clf, img, samples=10**9), ValueError, "samples=1000000000"),
    ("samples type", lambda img, clf: explain(clf, img, samples="many"), TypeError, "samples='many'"),
    ("single segment", lambda img, clf: explain(clf, img, segments=np.zeros((64, 64), int)), ValueError,
     "single segment"),
    ("segments shape", lambda img, clf: explain(clf, img, segments=np.zeros((8, 8), int)), ValueError,
     "segments has shape (8, 8)"),
    ("segments name", lambda img, clf: explain(clf, img, segments="watershed"), ValueError, "segments='watershed'"),
    ("method", lambda img, clf: explain(clf, img, method="gradcam"), ValueError, "method='gradcam'"),
    ("output", lambda img, clf: explain(clf, img, output="softmax"), ValueError, "output='softmax'"),
    ("baseline name", lambda img, clf: explain(clf, img, baseline="noise"), ValueError, "baseline='noise'"),
    ("baseline range", lambda img, clf: explain(clf, img, baseline=2.0), ValueError, "baseline=2.0"),
    ("baseline shape", lambda img, clf: explain(clf, img, baseline=(1, 2)), TypeError, "baseline=(1, 2)"),
    ("kernel_shap too few", lambda img, clf: explain(clf, img, method="kernel_shap", samples=10), ValueError,
     "samples=10 is too few"),
    ("background size", lambda img, clf: explain(clf, img, method="gradient_shap", background=[img[:32]]),
     ValueError, "background[0] is 32×64"),
    ("background for lime", lambda img, clf: explain(clf, img, background=[img]), ValueError,
     "applies to method='gradient_shap', not 'lime'"),
    ("batch_size", lambda img, clf: explain(clf, img, batch_size=0), ValueError, "batch_size=0"),
    ("seed", lambda img, clf: explain(clf, img, seed=-1), ValueError, "seed=-1"),
    ("precision name", lambda img, clf: explain(clf, img, precision="fp8"), ValueError, "precision='fp8' is not known"),
    ("float16 on cpu", lambda img, clf: explain(clf, img, precision="float16"), ValueError,
     "precision='float16' is not supported on the CPU"),
    ("n_segments type", lambda img, clf: explain(clf, img, n_segments=2.5), TypeError, "n_segments=2.5 is not an int"),
    ("local_smoothing type", lambda img, clf: explain(clf, img, method="gradient_shap", local_smoothing="x"),
     TypeError, "local_smoothing='x'"),
    ("local_smoothing range", lambda img, clf: explain(clf, img, method="gradient_shap", local_smoothing=11),
     ValueError, "local_smoothing=11 must be a float in [0, 10)"),
    ("smoothing for lime", lambda img, clf: explain(clf, img, local_smoothing=0.1), ValueError,
     "local_smoothing=0.1 applies to method='gradient_shap', not 'lime'"),
    ("method type", lambda img, clf: explain(clf, img, method=None), ValueError, "method=None is not known"),
    ("targets per image", lambda img, clf: explain(clf, [img, img], target=[0]), ValueError,
     "target has 1 entries for 2 images"),
    ("empty list", lambda img, clf: explain(clf, []), ValueError, "images is empty"),
    ("empty batch", lambda img, clf: explain(clf, np.zeros((0, 64, 64, 3))), ValueError, "images is empty"),
    ("bad item in list", lambda img, clf: explain(clf, [img, img[:4]]), ValueError, "images[1] is 4×64 pixels"),
    ("int16 image", lambda img, clf: explain(clf, np.full((64, 64, 3), 1000, np.int16)), ValueError,
     "pass uint8 values in 0..255"),
    ("top_k", lambda img, clf: clf.predict(img, top_k=0), ValueError, "top_k=0"),
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), BAD_PARAMETERS, ids=[c[0] for c in BAD_PARAMETERS])
def test_bad_parameters_are_refused(case: str, call: Callable[..., Any], error: type, fragment: str, img: np.ndarray,
                   clf: Classifier) -> None:
    with pytest.raises(error) as info:
        call(img, clf)
    assert isinstance(info.value, XaiError)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("method", "name", "value", "fragment"),
    [
        ("kernel_shap", "background", "image", "background=<ndarray shape (16, 16, 3) float32>"),
        ("lime", "local_smoothing", np.array([0.1, 0.2]), "local_smoothing=<ndarray shape (2,)"),
        ("gradient_shap", "segments", SEGMENTS, "applies to method='lime' or 'kernel_shap'"),
        ("gradient_shap", "segments", "quickshift", "segments='quickshift' applies to"),
    ],
)
def test_an_argument_the_method_does_not_read_is_refused_shortly(
    tiny_clf: Classifier, tiny_img: np.ndarray, method: str, name: str, value: object, fragment: str
) -> None:
    given = tiny_img if isinstance(value, str) and value == "image" else value
    with pytest.raises(XaiValueError, match="applies to method=") as info:
        explain(tiny_clf, tiny_img, method=method, samples=10, **{name: given})  # type: ignore[arg-type]
    assert fragment in str(info.value) and len(str(info.value)) < 300


def test_unset_values_are_still_accepted(tiny_clf: Classifier, tiny_img: np.ndarray) -> None:
    exp = explain(tiny_clf, tiny_img, method="gradient_shap", samples=4, segments=None)
    assert isinstance(exp, Explanation)
    explain(tiny_clf, tiny_img, segments=SEGMENTS, samples=10, local_smoothing=np.float64(0.0))


def test_numpy_scalars_are_accepted_where_numbers_are(tiny_clf: Classifier, tiny_img: np.ndarray) -> None:
    assert len(tiny_clf.predict(tiny_img, top_k=np.int64(2)).labels) == 2  # type: ignore[union-attr]
    exp = explain(tiny_clf, tiny_img, segments=SEGMENTS, samples=10)
    assert isinstance(exp, Explanation)
    assert exp.boundaries(num_features=np.int64(2)).shape == (16, 16, 3)
    assert exp.overlay(scale=np.float32(1.0)).shape == (16, 16, 3)
    box = Region.box(np.float32(1), np.int64(0), np.float64(3), np.int32(2))
    assert box.to_mask(np.int64(4), np.int64(4)).sum() == 4
    with pytest.raises(XaiTypeError, match=r"top_k=2\.0 is not an int"):
        tiny_clf.predict(tiny_img, top_k=2.0)  # type: ignore[arg-type]


def test_validate_fills_unset_parameters_from_the_registry(shapes_clf: Classifier, shapes_image: np.ndarray) -> None:
    from pytest_xai.engine.explain import validate

    request = validate(
        shapes_clf, [shapes_image], method="kernel_shap", output="logit", samples=None, seed=0,
        segments=None, n_segments=50, baseline=None, background=None, local_smoothing=0.0,
        batch_size=None, precision="float32", tolerance=None, max_samples=None,
    )
    assert request.samples == METHODS["kernel_shap"].default_samples  # "auto": the cap
    assert request.auto is not None and request.auto.cap == request.samples
    assert request.baseline == METHODS["kernel_shap"].default_baseline
