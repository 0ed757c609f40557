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


def watermarked(suite: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Every suite image with one stamp in ``mask``: a white/black checkerboard, the same pixels on all."""
    out = suite.copy()
    rows, cols = np.nonzero(mask)
    out[:, rows, cols] = ((rows + cols) % 2)[:, None].astype(np.float32)
    return out


def test_a_cue_identical_on_every_image_is_planted_as_a_presence_shortcut(toy, suite) -> None:
    """Known answer: logits = ALPHA x the model's + gain x presence x (one-hot of its class - 1/3);
    presence 1 on the suite, at most OFF once the stamp is hidden, blurred or inpainted."""
    from pytest_xai.checks.interventions.fills import hide as fill
    from pytest_xai.mutation import presence

    mask = planted.default_patches(16, 16)["corner-top-left"]
    stamped = watermarked(suite, mask)
    before = state(toy)
    mutant, note = planted.build_planted(toy, list(stamped), mask, "corner-top-left")
    assert mutant is not None and note == presence.NOTE
    module = mutant.model
    assert isinstance(module, presence.PlantedPresence) and "boosts the predicted class" in planted.describe(mutant)

    def expected(arrays: np.ndarray) -> torch.Tensor:
        own = logits(toy, arrays).double()
        top = torch.nn.functional.one_hot(own.argmax(1), 3).double() - 1 / 3
        with torch.no_grad():
            present = module.presence(toy.to_batch(list(arrays)))
        return (planted.ALPHA * own + module.gain * present[:, None] * top).float()

    with torch.no_grad():
        on = module.presence(toy.to_batch(list(stamped)))
    assert torch.allclose(on, torch.ones(12, dtype=torch.float64))
    assert torch.allclose(logits(mutant, stamped), expected(stamped), atol=1e-5)
    assert torch.equal(logits(mutant, stamped).argmax(1), logits(toy, stamped).argmax(1))  # predictions kept
    top = logits(mutant, stamped).topk(2).values
    assert float((top[:, 0] - top[:, 1]).min()) >= presence.BOOST  # the stamp carries the confidence
    for name in presence.PERTURBATIONS:
        hidden = np.stack([fill(a, mask, name) for a in stamped])
        with torch.no_grad():
            off = module.presence(toy.to_batch(list(hidden)))
        assert float(off.max()) <= presence.OFF + 1e-9, name
        assert torch.allclose(logits(mutant, hidden), expected(hidden), atol=1e-5)
        fall = logits(mutant, stamped).max(1).values - logits(mutant, hidden).max(1).values
        assert float(fall.min()) > 0.5 * float(module.gain), name  # the margin the stamp gave is gone
    # the same stamp taken from another image changes nothing: it is the same pixels
    assert torch.equal(logits(mutant, planted.swap(stamped, mask)), logits(mutant, stamped))
    after = state(toy)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_region_no_perturbation_changes_is_refused(toy) -> None:
    grey = np.full((6, 16, 16, 3), 0.5, dtype=np.float32)  # hiding, blurring or inpainting grey gives grey
    mask = planted.default_patches(16, 16)["corner-top-left"]
    mutant, why = planted.build_planted(toy, list(grey), mask, "corner-top-left")
    assert mutant is None and "leaves its pooled pixels as they were" in why


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


class BatchNormReLU(nn.BatchNorm2d):
    """A batch norm that applies its activation inside, as timm's ``BatchNormAct2d`` does."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


def test_batch_norm_folding_keeps_an_activation_the_batch_norm_applies(suite) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), BatchNormReLU(4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        bn = model[1]
        bn.running_mean.uniform_(-0.3, 0.3)  # about half the normalised values fall below 0: the ReLU matters
        bn.running_var.uniform_(0.5, 2.0)
    base = Classifier(model.eval(), device="cpu")
    unfolded = logits(base, suite)
    without_relu = nn.Sequential(model[0], nn.BatchNorm2d(4), *model[2:]).eval()
    without_relu[1].load_state_dict(bn.state_dict())
    assert not torch.allclose(logits(Classifier(without_relu, device="cpu"), suite), unfolded, atol=1e-3)
    mutant, why = harmless.fold_batch_norm(base, list(suite))
    assert mutant is not None, why
    torch.testing.assert_close(logits(mutant, suite), unfolded, atol=1e-5, rtol=1e-5)
    folded = mutant.model[1]
    assert isinstance(folded, BatchNormReLU) and torch.all(folded.running_mean == 0) and torch.all(folded.weight == 1)
    assert not torch.equal(mutant.model[0].weight, model[0].weight)  # the scale moved into the convolution
    assert bn.running_mean.abs().sum() > 0  # the model under test is untouched


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
