"""Counterfactual swaps: a region's pixels taken from donor images of other classes (seeded)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_xai.errors import XaiTypeError, XaiValueError


def donor_arrays(donors: Any, image: np.ndarray) -> list[np.ndarray]:
    """The donors as H×W×3 float32 arrays of ``image``'s size; a clear error otherwise."""
    from pytest_xai.images import as_image

    if not isinstance(donors, (list, tuple)) and not (isinstance(donors, np.ndarray) and donors.ndim == 4):
        raise XaiTypeError(
            f"donors of type {type(donors).__name__} is not a list of images; pass e.g. "
            "donors=[xai_image('square.png'), xai_image('triangle.png')]"
        )
    if len(donors) == 0:
        raise XaiValueError("donors is empty; pass at least one image of another class")
    arrays = [as_image(d, f"donors[{i}]") for i, d in enumerate(donors)]
    for i, array in enumerate(arrays):
        if array.shape != image.shape:
            raise XaiValueError(
                f"donors[{i}] is {array.shape[0]}×{array.shape[1]} but the image is "
                f"{image.shape[0]}×{image.shape[1]}; pass donors of the image's size (the region "
                "is taken from the same pixels)"
            )
    return arrays


def eligible(donor_classes: list[int], target: int, names: list[str], max_donors: int, seed: int) -> list[int]:
    """Indices of donors whose predicted class is not ``target``, at most ``max_donors`` of
    them, drawn with ``seed`` when there are more (in the donors' order)."""
    others = [i for i, c in enumerate(donor_classes) if c != target]
    if not others:
        found = sorted({names[c] for c in donor_classes})
        raise XaiValueError(
            f"all {len(donor_classes)} donors are predicted as {', '.join(map(repr, found))}, the "
            f"target class {names[target]!r}: a swap from them tests nothing. Pass donors the model "
            "predicts as another class"
        )
    if len(others) <= max_donors:
        return others
    chosen = np.random.default_rng(seed).choice(len(others), size=max_donors, replace=False)
    return [others[k] for k in sorted(chosen)]


def donor_masks(donors: Any, name: str, mask: np.ndarray) -> list[np.ndarray]:
    """Each donor's own region ``name`` (a test image's ``.regions[name]``), else ``mask``: the
    same place in the donor."""
    from pytest_xai.errors import RegionError

    out = []
    for i, donor in enumerate(donors):
        region = (getattr(donor, "regions", None) or {}).get(name)
        if region is None:
            out.append(mask)
            continue
        try:
            out.append(region.to_mask(*mask.shape))
        except RegionError as e:
            raise XaiValueError(f"donors[{i}].regions[{name!r}] does not fit the donor: {e}") from e
    return out


def paste(image: np.ndarray, donor: np.ndarray, mask: np.ndarray, donor_mask: np.ndarray | None = None) -> np.ndarray:
    """``image`` with its region replaced by the donor's region content.

    With ``donor_mask`` None or equal to ``mask``: the ``mask`` pixels taken from ``donor`` (the
    same place). Otherwise the image's region is first filled from its surroundings (inpaint),
    then the donor's region pixels are pasted, shifted so that the two regions' bounding-box
    centres meet (a cue at another position in the donor, e.g. a spot); pixels shifted off the
    image are dropped.
    """
    if donor_mask is None or np.array_equal(donor_mask, mask):
        return np.where(mask[..., None], donor, image).astype(np.float32)
    from pytest_xai.checks.interventions.fills import hide

    out = hide(image, mask, "inpaint")
    ys, xs = np.nonzero(donor_mask)
    dy, dx = (_centre(mask) - _centre(donor_mask)).round().astype(int)
    ty, tx = ys + dy, xs + dx
    inside = (ty >= 0) & (ty < image.shape[0]) & (tx >= 0) & (tx < image.shape[1])
    out[ty[inside], tx[inside]] = donor[ys[inside], xs[inside]]
    return out.astype(np.float32)


def _centre(mask: np.ndarray) -> np.ndarray:
    """The centre of a mask's bounding box, (y, x)."""
    ys, xs = np.nonzero(mask)
    return np.array([(ys.min() + ys.max()) / 2.0, (xs.min() + xs.max()) / 2.0])


def followed(
    after: np.ndarray, donor_classes: list[int], target: int, p_before: float, max_change: float
) -> list[bool]:
    """Per swapped image: the prediction became the donor's class, or the target's probability
    fell by more than ``max_change``."""
    return [
        int(np.argmax(row)) == donor or p_before - float(row[target]) > max_change
        for row, donor in zip(after, donor_classes)
    ]
