"""What to mutate: the models the suite explains, their images and regions, and the chosen mutants.

``SuiteModel`` is what the normal run showed about one model under test; ``candidates`` lists
every mutant it allows; ``choose`` keeps a seeded, budgeted selection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_xai.records.mutation import HARMLESS, PLANTED

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.records import CheckResult
    from pytest_xai.regions import Region

DEFAULT_BUDGET = 8  # planted mutants per run when --xai-mutate has no number
AVOID = "avoid test"
DEFAULT_PATCH = "default patch"


@dataclass
class SuiteModel:
    """A model under test as the normal run used it: the classifier, every image explained with
    it (by content key, with its named regions) and the tests that explained with it."""

    label: str
    fingerprint: str
    classifier: Any
    images: dict[str, np.ndarray] = field(default_factory=dict)  # image key -> (H, W, 3) array
    regions: dict[str, dict[str, Region]] = field(default_factory=dict)  # image key -> name -> Region
    nodeids: list[str] = field(default_factory=list)

    def add(self, nodeid: str, key: str, array: np.ndarray, regions: dict[str, Region]) -> None:
        self.images.setdefault(key, array)
        self.regions.setdefault(key, {}).update(regions)
        self.add_test(nodeid)

    def add_test(self, nodeid: str) -> None:
        """A test that used the model (an intervention test may explain no image)."""
        if nodeid not in self.nodeids:
            self.nodeids.append(nodeid)


@dataclass(frozen=True)
class MutantSpec:
    """One mutant to build: ``kind`` planted or harmless, the model's label and fingerprint,
    ``name`` (the region, or the harmless change) and, for planted ones, the region's source."""

    kind: str
    model: str
    fingerprint: str
    name: str
    source: str = ""


def region_names(checks: list[CheckResult], kind: str) -> list[str]:
    """The region names the checks of ``kind`` ("avoid", "focus") used, in first-seen order."""
    out: list[str] = []
    for check in checks:
        name = check.region
        if check.kind == kind and name and name not in out:
            out.append(name)
    return out


def candidates(
    model: SuiteModel, avoid: list[str], free_patches: list[str], harmless: list[str]
) -> list[MutantSpec]:
    """Every mutant for ``model``: a planted one per avoid-test region and per default patch
    that overlaps no tested region, and each harmless change."""
    out = [MutantSpec(PLANTED, model.label, model.fingerprint, name, AVOID) for name in avoid]
    out += [MutantSpec(PLANTED, model.label, model.fingerprint, name, DEFAULT_PATCH) for name in free_patches]
    out += [MutantSpec(HARMLESS, model.label, model.fingerprint, name) for name in harmless]
    return out


def order(specs: list[MutantSpec], seed: int) -> list[MutantSpec]:
    """The planted mutants in the order they are tried, then every harmless one.

    The regions the suite's avoid tests name come first (they are the shortcuts the suite claims
    to rule out), then default patches; each group in an order drawn from ``seed``, so one seed
    always picks the same mutants. The runner builds them in this order until ``budget`` planted
    mutants are built (one that cannot be built is listed, and the next is tried).
    """
    rng = random.Random(seed)
    named = [s for s in specs if s.kind == PLANTED and s.source == AVOID]
    patches = [s for s in specs if s.kind == PLANTED and s.source != AVOID]
    rng.shuffle(named)
    rng.shuffle(patches)
    return named + patches + [s for s in specs if s.kind == HARMLESS]


def parse_budget(raw: Any) -> int:
    """``--xai-mutate[=N]``: N planted mutants, N >= 1."""
    from pytest import UsageError

    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"--xai-mutate={raw!r} is not a number; pass a count of planted mutants, "
                         f"e.g. --xai-mutate={DEFAULT_BUDGET}, and put a bare --xai-mutate after the "
                         "test paths (it takes the next word as its count)") from None
    if value < 1:
        raise UsageError(f"--xai-mutate={raw!r} must be at least 1; pass e.g. --xai-mutate={DEFAULT_BUDGET}")
    return value
