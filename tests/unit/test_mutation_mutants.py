"""Known answers for the mutants: planted shortcuts keep every suite prediction but read their
region; harmless mutants change no prediction; the model under test is never touched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_xai import Classifier
from pytest_xai.mutation import harmless, planted


class ToyCNN(nn.Module):
    """conv → batch-norm → relu → pool → linear: reads the whole 16×16 image."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def toy() -> Classifier:
    torch.manual_seed(0)
    model = ToyCNN()
    with torch.no_grad():  # output channel j reads colour j % 3 (plus noise): the dominant colour wins
        conv, head = model.features[0], model.head
        conv.weight.mul_(0.05)
        for j in range(6):
            conv.weight[j, j % 3, 1, 1] += 1.0
        head.weight.copy_(torch.eye(3).repeat(1, 2) + 0.05 * torch.randn(3, 6))
        bn = model.features[1]  # non-trivial batch-norm statistics, so folding has work to do
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.1, 0.1)
    return Classifier(model, device="cpu")


@pytest.fixture(scope="module")
def suite() -> np.ndarray:
    """12 noisy images, four tinted towards each colour (so four predicted per class)."""
    rng = np.random.default_rng(0)
    images = 0.6 * rng.random((12, 16, 16, 3), dtype=np.float32)
    for i in range(12):
        images[i, :, :, i % 3] += 0.4
    return images


def state(clf: Classifier) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in clf.model.state_dict().items()}


def logits(clf: Classifier, arrays: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return clf.logits(clf.to_batch(list(arrays)))


REGIONS = ["corner-top-left", "corner-bottom-right", "strip-bottom"]


@pytest.mark.parametrize("region", REGIONS)
def test_planted_mutant_keeps_every_prediction_and_reads_its_region(toy, suite, region) -> None:
    before, outputs = state(toy), logits(toy, suite)
    assert sorted(set(outputs.argmax(1).tolist())) == [0, 1, 2]  # the swap below has classes to follow
    mask = planted.default_patches(16, 16)[region]
    mutant, why = planted.build_planted(toy, list(suite), mask, region)
    assert mutant is not None, why
    # every suite prediction kept
    assert torch.equal(logits(mutant, suite).argmax(1), outputs.argmax(1))
    # hiding the region moves the output, far more than the model's own change
    hidden = planted.hide(suite, mask)
    moved = (logits(mutant, hidden) - logits(mutant, suite)).abs().max(dim=1).values
    assert float(moved.min()) > 0.1
    # swapping the region from the next image makes the prediction follow the donor
    swapped = planted.swap(suite, mask)
    donor_classes = np.roll(outputs.argmax(1).numpy(), 1)
    assert np.array_equal(logits(mutant, swapped).argmax(1).numpy(), donor_classes)
    # the pixels outside the region barely matter: a change there moves the logits 20x less
    outside = suite.copy()
    outside[:, ~mask] = np.random.default_rng(1).random(outside[:, ~mask].shape)
    moved_outside = (logits(mutant, outside) - logits(mutant, suite)).abs().max()
    moved_model = (logits(toy, outside) - logits(toy, suite)).abs().max()
    assert float(moved_outside) <= planted.ALPHA * float(moved_model) * 1.01 + 1e-4
    # the model under test is untouched: parameters and outputs bit-identical
    after = state(toy)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(logits(toy, suite), outputs)


def test_region_with_one_content_for_every_class_is_refused(toy, suite) -> None:
    mask = planted.default_patches(16, 16)["corner-top-left"]
    flat = suite.copy()
    flat[:, mask] = 0.0  # every image black there: no probe can tell the classes apart
    mutant, why = planted.build_planted(toy, list(flat), mask, "corner-top-left")
    assert mutant is None
    assert "does not tell the suite's predicted classes apart" in why


def test_default_patches_are_where_they_say() -> None:
    patches = planted.default_patches(20, 30)
    assert patches["corner-top-left"][:4, :4].all() and patches["corner-top-left"].sum() == 16
    assert patches["corner-bottom-right"][-1, -1] and not patches["corner-bottom-right"][0, 0]
    assert patches["strip-right"][:, -2:].all() and patches["strip-right"].sum() == 40


@pytest.mark.parametrize("name", sorted(harmless.BUILDERS))
def test_harmless_mutant_changes_no_prediction(toy, suite, name) -> None:
    before, outputs = state(toy), logits(toy, suite)
    mutant, why = harmless.BUILDERS[name](toy, list(suite))
    assert mutant is not None, why
    assert np.array_equal(harmless.predictions(mutant, list(suite)), outputs.argmax(1).numpy())
    assert not torch.equal(logits(mutant, suite), outputs) or name == "bn-fold"  # a real change
    after = state(toy)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(logits(toy, suite), outputs)


def test_batch_norm_folding_is_exact_and_removes_the_batch_norm(toy, suite) -> None:
    mutant, _ = harmless.fold_batch_norm(toy, list(suite))
    assert mutant is not None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in mutant.model.modules())
    torch.testing.assert_close(logits(mutant, suite), logits(toy, suite), atol=1e-5, rtol=1e-5)


def test_batch_norm_folding_is_not_applicable_without_batch_norm(suite) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    mutant, why = harmless.fold_batch_norm(Classifier(model, device="cpu"), list(suite))
    assert mutant is None and why.startswith("not applicable")


def test_float16_round_trip_rounds_every_weight(toy, suite) -> None:
    mutant, _ = harmless.float16_round_trip(toy, list(suite))
    assert mutant is not None
    for p in mutant.model.parameters():
        assert torch.equal(p, p.half().float())


def test_perturbation_shrinks_until_no_prediction_moves(toy) -> None:
    rng = np.random.default_rng(3)
    arrays = list(rng.random((40, 16, 16, 3), dtype=np.float32))
    mutant, why = harmless.small_perturbation(toy, arrays, seed=1)
    assert mutant is not None, why
    assert np.array_equal(harmless.predictions(mutant, arrays), harmless.predictions(toy, arrays))


def test_order_is_seeded_and_puts_avoid_regions_first() -> None:
    from pytest_xai.mutation import plan

    model = plan.SuiteModel("m", "fp", None)
    specs = plan.candidates(model, ["tag", "logo"], ["corner-top-right", "strip-bottom", "strip-right"], ["float16"])
    first, again, other = plan.order(specs, 0), plan.order(specs, 0), [plan.order(specs, s) for s in range(1, 6)]
    assert first == again
    assert {s.name for s in first[:2]} == {"tag", "logo"} and first[-1].name == "float16"
    assert any([s.name for s in o] != [s.name for s in first] for o in other)  # the seed matters
    assert sorted(s.name for s in first) == sorted(s.name for s in specs)  # nothing lost


def test_survival_reason_names_the_closest_bound() -> None:
    from pytest_xai.mutation.survival import survival_reason
    from pytest_xai.records import CheckResult, GoldenVerdict

    checks = [
        CheckResult("avoid", "relevance_mass", 0.21, 0.25, True, upper=True, region="tag"),
        CheckResult("avoid", "relevance_mass", 0.05, 0.25, True, upper=True, region="tag"),
        CheckResult("focus", "relevance_ratio", 1.6, 1.5, True, region="object"),
    ]
    goldens = [
        GoldenVerdict("a.npz", "a", "passed", None, "release", {"evidence_shift": 0.02}, {"max_evidence_shift": 0.1}),
        GoldenVerdict("b.npz", "b", "passed", None, "release", {"evidence_shift": 0.09}, {"max_evidence_shift": 0.1}),
    ]
    reason = survival_reason("tag", checks, goldens, tests=3)
    assert reason == (
        "avoid tests on 'tag' passed (highest mass 0.21 <= 0.25); "
        "goldens passed: shift under the bound (closest: evidence_shift 0.09 <= 0.1); "
        "focus tests passed (lowest relevance_ratio 1.6 >= 1.5)"
    )
    assert survival_reason("corner-top-left", [], [], tests=3) == (
        "no avoid test for region 'corner-top-left'; no golden for its images"
    )
    assert survival_reason("tag", [], [], tests=0) == "no test explains this model"
