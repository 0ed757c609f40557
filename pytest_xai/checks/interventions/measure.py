"""Shared steps of the interventions: resolve the model, validate, one batched forward, the result.

An intervention changes the input and reads the model's output: a region hidden (a fill) or
replaced by another image's pixels (a swap). ``InterventionResult`` says what was judged and
why; the assertions build their failure message and their report record from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_xai._util.validation import is_number
from pytest_xai.checks.interventions.fills import hide
from pytest_xai.errors import XaiTypeError, XaiValueError

if TYPE_CHECKING:
    from pytest_xai.classifier import Classifier
    from pytest_xai.regions import Region

@dataclass
class InterventionResult:
    """One intervention: the target's output before and after each changed image, and the verdict.

    ``check`` is "irrelevant", "ignores" or "needed"; ``metric``/``value``/``op``/``bound``
    the measured number against its bound; ``variants`` the changed images (one per fill or
    donor) and ``after`` their softmax rows; ``donor_classes`` the donors' predicted classes.
    """

    check: str
    region: str
    target: int
    class_names: list[str]
    image: np.ndarray
    before: np.ndarray  # softmax (C,)
    margin_before: float  # target logit minus the best other logit
    variants: list[np.ndarray]
    after: np.ndarray  # softmax (V, C)
    margin_after: np.ndarray  # (V,)
    metric: str
    value: float
    op: str  # "<=" (an upper bound) or ">="
    bound: float
    bound_name: str
    passed: bool
    fill: str | None = None
    # The logit-margin criterion, judged with the probability: irrelevant, "scaled_margin_drop"
    # (the margin's fall over ``logit_spread``, the IQR of the image's logits) under
    # "max_scaled_drop", or in logits "margin_drop" under "max_logit_drop", or "margin_change"
    # (|change|) under "max_logit_change" (each must hold with p); needed, "margin_drop" over "min_logit_drop" (p
    # or the margin suffices); ignores, "largest_margin_drop" over the donors, under
    # "max_logit_drop" (a donor past it is followed). logit_bound None: reported, not judged.
    logit_metric: str | None = None
    logit_value: float | None = None
    logit_bound: float | None = None
    logit_bound_name: str = ""
    logit_spread: float | None = None  # IQR of the original image's logits (irrelevant)
    donor_classes: list[int] = field(default_factory=list)
    followed: list[bool] = field(default_factory=list)
    shown: int = 0  # which variant the picture shows
    picture: Path | None = None

    @property
    def logit_passed(self) -> bool | None:
        """The margin criterion alone, or None where it is off (or a swap folds it into ``followed``)."""
        if self.logit_bound is None or self.logit_value is None or self.check == "ignores":
            return None
        if self.logit_bound_name.startswith("min_"):
            return self.logit_value >= self.logit_bound
        return self.logit_value <= self.logit_bound  # NaN fails

    @property
    def p_passed(self) -> bool:
        """The probability criterion alone."""
        return self.value <= self.bound if self.op == "<=" else self.value >= self.bound

    @property
    def target_name(self) -> str:
        return self.class_names[self.target]

    @property
    def p_before(self) -> float:
        return float(self.before[self.target])

    @property
    def p_after(self) -> list[float]:
        return [float(p) for p in self.after[:, self.target]]

    def name(self, index: int) -> str:
        return self.class_names[index]


def as_classifier_of(explain_or_classifier: Any, argument: str = "explain_or_classifier") -> Classifier:
    """The model behind the explain fixture, a ``Classifier``, or a module / callable (wrapped)."""
    from pytest_xai.classifier import Classifier, as_classifier
    from pytest_xai.engine.explain import explain as library_explain

    if isinstance(explain_or_classifier, Classifier):
        return explain_or_classifier
    accessor = getattr(explain_or_classifier, "model_under_test", None)
    if callable(accessor):  # the explain fixture
        return as_classifier(accessor())
    if explain_or_classifier is library_explain or explain_or_classifier is None:
        raise XaiTypeError(
            f"{argument}={explain_or_classifier!r} names no model; pass the explain fixture, a "
            "pytest_xai.Classifier or a torch.nn.Module"
        )
    return as_classifier(explain_or_classifier)


def check_fraction(value: Any, name: str, fix: str, low: float = 0.0, high: float = 1.0) -> float:
    """A bound in [low, high]: an int or float, numpy scalars included; not bool, not NaN."""
    if not is_number(value):
        raise XaiTypeError(f"{name}={value!r} is not a number; {fix}")
    number = float(value)
    if not (low <= number <= high):  # NaN fails too
        raise XaiValueError(f"{name}={value!r} must be a number in [{low:g}, {high:g}]; {fix}")
    return number


def check_logit_bound(value: Any, name: str, fix: str, unit: str = "logits") -> float | None:
    """A logit-margin bound: None (off) or a non-negative number (of ``unit``); not bool, not NaN."""
    if value is None:
        return None
    if not is_number(value):
        raise XaiTypeError(f"{name}={value!r} is not a number; {fix}")
    number = float(value)
    if not number >= 0:  # NaN fails too
        raise XaiValueError(f"{name}={value!r} must be a number of {unit} >= 0 or None; {fix}")
    return number


def region_mask(region: Any, image: np.ndarray) -> tuple[Region, np.ndarray]:
    """The region and its mask on ``image``; refuses an empty region or one covering everything."""
    from pytest_xai.regions import as_region

    reg = as_region(region)
    mask = reg.to_mask(*image.shape[:2])  # an empty region raises RegionError
    if mask.all():
        raise XaiValueError(
            f"region {reg.name!r} covers the whole {image.shape[0]}×{image.shape[1]} image; hiding "
            "it leaves nothing to compare with. Pass the part under test (e.g. the object or a tag)"
        )
    return reg, mask


def outputs(clf: Classifier, arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Softmax (N, C) and logits (N, C) of same-sized images: one batched forward, chunked."""
    import torch

    height, width = arrays[0].shape[:2]
    size = clf.auto_batch_size(height, width)
    chunks = []
    with torch.inference_mode():
        batch = clf.to_batch(arrays)
        for start in range(0, len(arrays), size):
            chunks.append(clf.logits(batch[start : start + size]))
        logits = torch.cat(chunks).double()
        probs = torch.softmax(logits, dim=1)
    return probs.cpu().numpy(), logits.cpu().numpy()


def margin(logits: np.ndarray, target: int) -> np.ndarray:
    """The target's logit minus the best other logit, per row: positive while it wins."""
    others = np.delete(logits, target, axis=1)
    return logits[:, target] - (others.max(axis=1) if others.shape[1] else 0.0)


def logit_spread(logits: np.ndarray) -> float:
    """The spread of one image's logits (C,): their interquartile range, the standard deviation
    where half of them tie (IQR 0). The scale of a margin's fall that holds for any network: it
    is the same under a logit temperature, and the bulk of the classes sets it, so a confident
    network's few winning classes do not widen it."""
    q1, q3 = np.percentile(logits, [25.0, 75.0])
    spread = float(q3 - q1)
    return spread if spread > 0 else float(np.std(logits))


def scaled(fall: float, spread: float) -> float:
    """``fall`` in units of ``spread``; a fall on logits with no spread at all is infinite."""
    if spread > 0:
        return fall / spread
    return math.inf if fall > 0 else 0.0


def class_names(clf: Classifier, count: int) -> list[str]:
    return [clf.class_name(i) for i in range(count)]


def resolve_target(clf: Classifier, target: Any, probs: np.ndarray) -> int:
    """The class to watch: the predicted one (None), or an index / class name."""
    return int(np.argmax(probs)) if target is None else clf.class_index(target, probs.shape[0])


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def region_reliance(clf: Classifier, image: np.ndarray, masks: dict[str, np.ndarray], target: int,
                    fill: str) -> dict[str, float]:
    """How far ``target``'s logit margin falls when each region is hidden with ``fill``, in
    interquartile ranges of the image's logits: one forward of the image and one variant per region."""
    variants = [hide(image, mask, fill) for mask in masks.values()]
    _, logits = outputs(clf, [image, *variants])
    margins = margin(logits, target)
    spread = logit_spread(logits[0])
    return {name: scaled(float(margins[0] - margins[i + 1]), spread) for i, name in enumerate(masks)}
