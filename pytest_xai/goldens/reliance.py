"""Release mode's fourth criterion: a named region the new model relies on more.

A golden records, for each named region of its image, how far the explained class's logit
margin fell when the region was hidden (grey fill), in interquartile ranges of the image's
logits, measured on the model that computed it. A release is measured the same way on its own
model: a region whose reliance grew by more than ``max_reliance_gain`` fails the golden and is
named. A confident network that learned a watermark can keep its heatmap almost where it was
while the watermark carries its margin (benchmarks/results/real_releases.md); hiding the region
sees that use directly, in one forward pass of the image and one copy per region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pytest_xai.goldens.describe import RegionGain, compared, within

if TYPE_CHECKING:
    from pytest_xai.explanation import Explanation

KEY = "reliance"  # the golden's meta entry: region name -> margin fall when hidden
FILL = "grey"


def measure(exp: Explanation, masks: dict[str, np.ndarray]) -> dict[str, float] | None:
    """Each region's reliance on the model that computed ``exp`` (its ``source``); None when
    that model, the image or the regions are not at hand."""
    from pytest_xai.checks.interventions.measure import region_reliance
    from pytest_xai.classifier import Classifier
    from pytest_xai.images import as_image

    clf, image = exp.source, exp.image
    masks = {name: mask for name, mask in masks.items() if mask.shape == exp.heatmap.shape and mask.any()}
    if not isinstance(clf, Classifier) or image is None or not masks:
        return None
    return region_reliance(clf, as_image(image, "explanation.image"), masks, exp.target, FILL)


def record(exp: Explanation) -> dict[str, dict[str, float]]:
    """The meta entry a golden stores beside its regions (``previews.caption_meta``): each
    region's reliance; nothing when it cannot be measured."""
    from pytest_xai.goldens.previews import stored_regions

    found = measure(exp, stored_regions(exp))
    return {KEY: {name: round(value, 6) for name, value in found.items()}} if found else {}


def reliance_gain(golden: Explanation, actual: Explanation, bound: float, rests: str | None) -> RegionGain:
    """The largest growth of reliance on a region recorded with ``golden``, but ``rests`` (the
    region the golden's evidence rests on: relying on the object more is not a shortcut),
    against ``bound``. Passes, and says why, when it cannot be measured."""
    from pytest_xai.goldens.previews import stored_regions

    recorded = {str(k): float(v) for k, v in dict(golden.meta.get(KEY) or {}).items()}
    regions = stored_regions(golden)
    masks = {name: mask for name, mask in regions.items() if name in recorded and name != rests}
    if not regions:  # the region-gain criterion already says the golden has none
        return RegionGain(None, float("nan"), True, "", "", "reliance_gain")
    if not masks:
        words = ("no region reliance is recorded with this golden (it needs named regions and the model that "
                 "computed it), so reliance is not judged; re-record it with pytest --xai-update")
        return RegionGain(None, float("nan"), True, "", words, "reliance_gain")
    now = measure(actual, masks)
    if now is None:
        words = ("reliance on the golden's regions is not measured: the new explanation's model is not at hand "
                 "(an explanation read from a file); compare one computed in this run")
        return RegionGain(None, float("nan"), True, "", words, "reliance_gain")
    gains = {name: now[name] - recorded[name] for name in now}
    name = max(gains, key=lambda k: gains[k] if gains[k] == gains[k] else np.inf)
    value = gains[name]
    text = compared(f"reliance gained on region {name!r}", value, "max_reliance_gain", bound, upper=True)
    finding = text
    if value == value:
        finding += (f": hiding region {name!r} now lowers the margin by {now[name]:.2f} interquartile ranges of "
                    f"the logits, the golden's model by {recorded[name]:.2f}")
    return RegionGain(name, value, within(value, bound, True), text, finding, "reliance_gain")
