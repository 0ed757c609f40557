"""What one test did with explanations, recorded for the summary, the report and JUnit.

The plugin opens a TestRecord around each test call; the explain fixture, the assertion
helpers and the snapshot fixture add to it. It travels to the controlling process on the test
report (as plain JSON data), so pytest-xdist runs merge like serial ones.

numpy and PIL are imported by the functions that draw or hash, never at load time: the plugin
imports this module at every pytest start.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from pytest_xai.explanation import Explanation

_current: list[TestRecord] = []


@dataclass
class TestRecord:
    """Explanations, checks and golden outcomes of one test.

    ``computed`` explanations ran the engine; ``cached`` came from this session's memo and
    ``disk`` from the persistent cache; ``stale`` cache hits failed their check and were
    recomputed. ``pictures``: draw the images and overlays a report
    shows (off when no report or pytest-html page is written: they cost more than a cached
    explanation).
    """

    __test__ = False  # not a pytest test class

    nodeid: str
    results_dir: Path
    pictures: bool = True
    explanations: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    goldens: list[dict[str, Any]] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    disk: int = 0
    stale: int = 0
    seconds: float = 0.0
    _pictures: int = 0
    _by_image: dict[str, dict[str, Explanation]] = field(default_factory=dict)  # image key -> method -> exp

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "explanations": self.explanations,
            "checks": self.checks,
            "images": self.images,
            "goldens": self.goldens,
            "computed": self.computed,
            "cached": self.cached,
            "disk": self.disk,
            "stale": self.stale,
            "seconds": self.seconds,
        }

    @property
    def properties(self) -> list[tuple[str, object]]:
        """The JUnit properties (``user_properties``) of this test, from its checks and goldens.

        One per check, named ``xai_<kind>_<metric>[<subject>]`` (subject: the region, "a vs b"
        for two methods' agreement, else the method), one per golden measure,
        ``xai_golden_<measure>[<golden name>]``, and one per golden, ``xai_golden[<name>]``
        with its state ("passed", "failed (drift)", "written", ...). A measure's value is
        ``"<value> <op> <bound> passed|failed"``, e.g. ``"0.0331 <= 0.1 passed"`` (``<=`` an
        upper bound, ``>=`` a lower one; ``nan`` when not a number), or the bare value for a
        measure without a bound. A name repeated in one test gets ``#2``, ``#3``, ...
        """
        props = [_check_property(c) for c in self.checks]
        for golden in self.goldens:
            props += _golden_properties(golden)
        return _numbered(props)

    def artifact_path(self, stem: str) -> Path:
        """A fresh path for a PNG about this test under the results directory."""
        self._pictures += 1
        return self.results_dir / safe_name(self.nodeid) / f"{self._pictures:02d}-{safe_name(stem)}.png"

    def add_explanation(self, image: Any, exp: Explanation) -> None:
        """Record an explanation the test obtained: its overlay, with the image's named regions
        outlined, the positive mass in each region, and its agreement with the other methods'
        explanations of the same image in this test."""
        if exp.image is None:
            return
        key = image_key(exp.image)
        by_method = self._by_image.setdefault(key, {})
        if by_method.get(exp.method) is exp:
            return  # this test already recorded this very explanation
        by_method[exp.method] = exp
        regions = getattr(image, "regions", None) or {}
        if key not in self.images:
            from pytest_xai import render

            self.images[key] = {
                "name": getattr(image, "name", key),
                "picture": png_b64(render.to_uint8(exp.image)) if self.pictures else None,
                "regions": sorted(regions),
            }
        mass, overlay = _region_masses(exp, regions, self.pictures)
        self.explanations.append({
            "image": key,
            "method": exp.method,
            "output": exp.output,
            "target": exp.target_name,
            "probability": exp.probability,
            "samples": exp.samples,
            "seconds": exp.meta.get("seconds"),
            "mass": mass,
            "overlay": None if overlay is None else png_b64(overlay),
        })
        self.images[key]["agreement"] = _pairwise_agreement(by_method)


def _check_property(check: dict[str, Any]) -> tuple[str, str]:
    from pytest_xai.report import _is_upper

    if check.get("region"):
        subject = check["region"]
    elif check.get("other_method"):
        subject = f"{check.get('method')} vs {check['other_method']}"
    else:
        subject = check.get("method")
    upper = _is_upper(check)  # a check's own "op", else its kind's
    value = _verdict(check.get("value"), check.get("bound"), upper, check.get("passed"))
    return f"xai_{check.get('kind')}_{check.get('metric')}[{subject}]", value


def _golden_properties(golden: dict[str, Any]) -> list[tuple[str, str]]:
    from pytest_xai.report import golden_measures

    name = golden.get("name")
    state = f"{golden.get('state')}" + (f" ({golden['reason']})" if golden.get("reason") else "")
    return [(f"xai_golden[{name}]", state)] + [
        (f"xai_golden_{m['name']}[{name}]", _verdict(m["value"], m["bound"], m["upper"], m["passed"]))
        for m in golden_measures(golden)
        if m["value"] is not None
    ]


def _verdict(value: float | None, bound: float | None, upper: bool | None, passed: bool | None) -> str:
    """``"0.0331 <= 0.1 passed"``; the bare value without a bound."""
    text = "nan" if value is None else f"{value:.6g}"
    if bound is None:
        return text
    return f"{text} {'<=' if upper else '>='} {bound:.6g} {'passed' if passed else 'failed'}"


def _numbered(props: list[tuple[str, str]]) -> list[tuple[str, object]]:
    """``props`` with a repeated name made unique: name, name#2, name#3."""
    seen: dict[str, int] = {}
    out: list[tuple[str, object]] = []
    for name, value in props:
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}#{seen[name]}", value))
    return out


def _region_masses(
    exp: Explanation, regions: dict[str, Any], draw: bool
) -> tuple[dict[str, float | None], np.ndarray | None]:
    """Positive mass per named region, and (``draw``) the overlay with those regions outlined."""
    from pytest_xai import metrics, render
    from pytest_xai.errors import RegionError

    mass: dict[str, float | None] = {}
    overlay = exp.overlay() if draw else None  # pixel-level maps smoothed for the eye
    for name, region in regions.items():
        try:
            value = metrics.relevance_mass(exp, region)
            if overlay is not None:
                overlay = render.draw_outline(overlay, metrics.region_mask(exp, region))
        except RegionError:
            continue  # a region that does not fit this image: nothing to measure
        mass[name] = round(value, 4) if value == value else None  # JSON has no NaN
    return mass, overlay


def _pairwise_agreement(by_method: dict[str, Explanation]) -> dict[str, dict[str, float | None]]:
    """Spearman and top-k IoU between each pair of methods that explained one image."""
    from pytest_xai import metrics

    rows = {}
    methods = sorted(by_method)
    for i, a in enumerate(methods):
        for b in methods[i + 1 :]:
            found = metrics.agreement(by_method[a], by_method[b])
            rows[f"{a} vs {b}"] = {"spearman": _finite(found.spearman), "top_k_iou": _finite(found.top_k_iou)}
    return rows


def _finite(value: float | None) -> float | None:
    """Rounded for the report; None where the value is missing or not finite (strict JSON)."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return round(float(value), 4)


def current() -> TestRecord | None:
    """The record of the test now running, if the plugin is active."""
    return _current[-1] if _current else None


@contextmanager
def recording(record: TestRecord) -> Iterator[TestRecord]:
    _current.append(record)
    try:
        yield record
    finally:
        _current.remove(record)


def safe_name(text: str) -> str:
    """A file-system-safe rendering of ``text``; a short hash keeps distinct texts distinct."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", text).strip("._") or "_"
    if cleaned != text or len(cleaned) > 120:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:110]}-{digest}"
    return cleaned


def rel_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (the rootdir) when it lies inside it, else as given."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def png_b64(picture: np.ndarray) -> str:
    """An RGB uint8 picture as a base64 PNG string (for the self-contained report)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image_key(image: np.ndarray) -> str:
    """A content hash of an image, used to group a test's explanations by image."""
    import numpy as np

    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:12]
