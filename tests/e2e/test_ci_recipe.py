"""The GitHub Actions recipe in docs/ci/ cannot rot: its pytest command uses only options the
plugin defines, runs as written, writes the cache it persists, and its gate reads the report."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_xai.defaults import CACHE_DIR_NAME

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docs" / "ci" / "github-actions.yml"
OPERATORS = {"&&", "||", ";", "|", "&"}

TINY_CONFTEST = """
import pytest
import torch

from pytest_xai import Classifier


@pytest.fixture(scope="session")
def xai_model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 2))
    return Classifier(net, device="cpu")
"""

EXPLAINING_TEST = """
import numpy as np


def test_explains(explain):
    image = np.random.default_rng(0).random((16, 16, 3)).astype("float32")
    quadrants = np.arange(16)[:, None] // 8 * 2 + np.arange(16)[None, :] // 8
    explain(image, method="lime", samples=20, segments=quadrants)
"""


def run_scripts() -> list[str]:
    """The ``run:`` scripts of the recipe's steps, in order (PyYAML when installed)."""
    text = RECIPE.read_text()
    try:
        import yaml
    except ImportError:
        return _run_blocks(text)
    document = yaml.safe_load(text)
    return [step["run"] for job in document["jobs"].values() for step in job["steps"] if "run" in step]


def _run_blocks(text: str) -> list[str]:
    """``run:`` values without a YAML library: inline values and ``|`` block scalars."""
    lines, scripts = text.splitlines(), []
    for i, line in enumerate(lines):
        found = re.match(r"^(\s*)(?:- )?run:\s*(.*)$", line)
        if not found:
            continue
        indent, value = len(found.group(1)), found.group(2).strip()
        if value not in ("|", ">", "|-", ">-"):
            scripts.append(value)
            continue
        block = []
        for following in lines[i + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following.strip())
        scripts.append("\n".join(block).strip() + "\n")
    return scripts


def commands(script: str) -> list[list[str]]:
    """Each simple command of a shell script as argv, environment assignments dropped."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        argv: list[str] = []
        for token in [*lexer, ";"]:
            if token in OPERATORS:
                while argv and re.fullmatch(r"[A-Za-z_]\w*=.*", argv[0]):
                    argv.pop(0)
                if argv:
                    out.append(argv)
                argv = []
            else:
                argv.append(token)
    return out


def pytest_arguments(argv: list[str]) -> list[str] | None:
    """The arguments of a ``pytest`` / ``python -m pytest`` command, else None."""
    if argv[0] == "pytest":
        return argv[1:]
    if argv[0] in ("python", "python3") and argv[1:3] == ["-m", "pytest"]:
        return argv[3:]
    return None


def recipe_pytest_commands() -> list[list[str]]:
    found = [args for s in run_scripts() for c in commands(s) if (args := pytest_arguments(c)) is not None]
    assert found, f"{RECIPE} runs no pytest command"
    return found


def recipe_gate() -> str:
    gates = [c[2] for s in run_scripts() for c in commands(s) if c[:2] == ["python", "-c"]]
    assert len(gates) == 1, f"{RECIPE} should hold one `python -c` gate, found {len(gates)}"
    return gates[0]


def test_the_recipe_has_the_steps_its_readme_describes() -> None:
    text = RECIPE.read_text()
    for action in ("actions/checkout@", "actions/setup-python@", "actions/cache/restore@",
                   "actions/cache/save@", "actions/upload-artifact@"):
        assert f"uses: {action}" in text, action
    # the persisted folder is the one the plugin writes its cache to
    assert text.count(f"path: .pytest_cache/d/{CACHE_DIR_NAME}") == 2
    assert (ROOT / "docs" / "ci" / "README.md").is_file()
    scripts = run_scripts()
    assert any("torch==" in s and "pip install" in s for s in scripts)
    assert sum(len(commands(s)) for s in scripts) >= 5  # pip twice, the key, pytest, the gate


def test_the_fallback_reader_finds_every_run_step() -> None:
    text = RECIPE.read_text()
    scripts = _run_blocks(text)
    assert len(scripts) == len(re.findall(r"^\s*(?:- )?run:", text, flags=re.MULTILINE))
    assert [c for s in scripts for c in commands(s)] == [c for s in run_scripts() for c in commands(s)]


def test_every_option_of_its_pytest_commands_exists(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    defined = set(re.findall(r"(?<![\w-])(--[A-Za-z][\w-]*)", result.stdout.str()))
    assert "--xai-cache" in defined and "--xai-report" in defined  # the plugin's group was read
    used = {arg.split("=", 1)[0] for args in recipe_pytest_commands() for arg in args if arg.startswith("--")}
    assert any(option.startswith("--xai-") for option in used)
    assert used <= defined, f"options the recipe uses that pytest does not define: {sorted(used - defined)}"


def test_its_pytest_command_runs_writes_the_cache_and_its_gate_decides(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (arguments,) = recipe_pytest_commands()
    reports = sorted(Path(arg.split("=", 1)[1]).suffix for arg in arguments if arg.startswith("--xai-report="))
    assert reports == [".html", ".json"]  # HTML for the artifact, JSON for the gate
    gate = recipe_gate()
    monkeypatch.setenv("CI", "true")  # as the recipe's step sets it
    pytester.makeconftest(TINY_CONFTEST)
    pytester.makepyfile(test_a=EXPLAINING_TEST)
    cache = pytester.path / ".pytest_cache" / "d" / CACHE_DIR_NAME

    # CI mode without the recipe's cache option reads the cache but writes nothing
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    assert not list(cache.rglob("*.npz"))

    result = pytester.runpytest("-p", "no:randomly", *arguments)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*cache=on*"])
    assert len(list(cache.rglob("*.npz"))) == 1  # what actions/cache/save persists
    passed = subprocess.run([sys.executable, "-c", gate], cwd=pytester.path, capture_output=True, text=True)
    assert passed.returncode == 0 and "xai gate:\n  passed" in passed.stdout, passed.stdout + passed.stderr

    pytester.makepyfile(test_b="def test_fails():\n    assert False\n")
    pytester.runpytest("-p", "no:randomly", *arguments).assert_outcomes(passed=1, failed=1)
    failed = subprocess.run([sys.executable, "-c", gate], cwd=pytester.path, capture_output=True, text=True)
    assert failed.returncode == 1 and "failed" in failed.stdout and "test_b.py::test_fails" in failed.stdout


def test_its_pytest_command_writes_every_report_the_job_uploads(pytester: pytest.Pytester) -> None:
    (arguments,) = recipe_pytest_commands()
    reports = [arg.split("=", 1)[1] for arg in arguments if arg.startswith("--xai-report=")]
    pytester.makepyfile("def test_ok():\n    pass\n")
    pytester.runpytest("-p", "no:randomly", *arguments).assert_outcomes(passed=1)
    assert [r for r in reports if not (pytester.path / r).is_file()] == []
