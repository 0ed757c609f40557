"""Loading the plugin costs nothing heavy: no numpy, PIL, torch or matplotlib at import time."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "PIL", "torch", "matplotlib")


@pytest.mark.slow
@pytest.mark.parametrize("module", [
    "pytest_xai.plugin", "pytest_xai.plugin.settings", "pytest_xai.plugin.session", "pytest_xai.plugin.fixtures",
    "pytest_xai.plugin.html_extras", "pytest_xai.plugin.snapshot", "pytest_xai.plugin.run_report", "pytest_xai.plugin.cache",
    "pytest_xai.records", "pytest_xai.checks.recorder", "pytest_xai.goldens.store", "pytest_xai.goldens.modes",
    "pytest_xai.plugin.goldens", "pytest_xai.report", "pytest_xai.report.html",
])
def test_plugin_modules_import_nothing_heavy(module: str) -> None:
    code = f"import {module}, sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"import {module} loaded {out.stdout.strip()}"


@pytest.mark.slow
def test_help_group_and_nothing_heavy_without_explanations(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["xai: explanation regression testing (pytest_xai):", "*--xai-update*"])
    pytester.makepyfile(test_plain="""
import sys

def test_plain():
    assert [m for m in ("numpy", "PIL", "torch", "matplotlib") if m in sys.modules] == []
""")
    pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly").assert_outcomes(passed=1)
