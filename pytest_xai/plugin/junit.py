"""A test's JUnit properties (``user_properties``), read from its record's checks and goldens."""

from __future__ import annotations

import re

from pytest_xai.records import CheckResult, GoldenVerdict, TestRecord

# characters XML 1.0 cannot hold (and DEL), as pytest's junitxml escapes property values
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\u007e\u0080-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def properties(record: TestRecord) -> list[tuple[str, object]]:
    """The JUnit properties of one test.

    One per check, named ``xai_<kind>_<metric>[<subject>]`` (subject: the region, "a vs b"
    for two methods' agreement, else the method), one per golden measure,
    ``xai_golden_<measure>[<golden name>]``, and one per golden, ``xai_golden[<name>]``
    with its state ("passed", "failed (drift)", "written", ...). A measure's value is
    ``"<value> <op> <bound> passed|failed"``, e.g. ``"0.0331 <= 0.1 passed"`` (``<=`` an
    upper bound, ``>=`` a lower one; ``nan`` when not a number), or the bare value for a
    measure without a bound. A name repeated in one test gets ``#2``, ``#3``, ... A character
    XML cannot hold (a control character in a region's name) is written ``#xNN``, as pytest
    writes it in values, so the JUnit file always parses.
    """
    props = [_check_property(c) for c in record.checks]
    for golden in record.goldens:
        props += _golden_properties(golden)
    return _numbered([(xml_text(name), xml_text(value)) for name, value in props])


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold written as ``#xNN``."""
    return _NOT_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def _check_property(check: CheckResult) -> tuple[str, str]:
    value = _verdict(check.value, check.bound, check.upper, check.passed)
    return f"xai_{check.kind}_{check.metric}[{check.subject}]", value


def _golden_properties(golden: GoldenVerdict) -> list[tuple[str, str]]:
    state = golden.state + (f" ({golden.reason})" if golden.reason else "")
    return [(f"xai_golden[{golden.name}]", state)] + [
        (f"xai_golden_{m.name}[{golden.name}]", _verdict(m.value, m.bound, m.upper, m.passed))
        for m in golden.measured()
        if m.value is not None
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
