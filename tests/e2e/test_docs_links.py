"""Every relative link and every repository path named in README.md and docs/ exists.

Checked: markdown links and images (``[text](target)``, ``![alt](target)``) that are not URLs,
their ``#anchor`` against the target's headings, and inline backticked paths whose first part
is a top-level entry of the repository (`benchmarks/bench.py`, `example_project/tests/`).
Fenced code blocks are skipped: they show a user's project, not this one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "benchmarks" / "README.md"])
# top-level folders that are tools' output or local state, never named as repository paths
NOT_REPO = {".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".xai-results",
            "build", "dist", "__pycache__"}

FENCED = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE = re.compile(r"`([^`\n]+)`")
PATHLIKE = re.compile(r"^\.?[\w.-]+(?:/[\w.\-\[\]]+)*/?$")


def prose(markdown: str) -> str:
    """The page without its fenced code blocks."""
    return FENCED.sub("", markdown)


def links(markdown: str) -> list[str]:
    """Relative link targets (with any #anchor) of the page's prose; URLs and mail are left out."""
    return [t for t in LINK.findall(prose(markdown)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def repo_paths(markdown: str, top_level: set[str]) -> list[str]:
    """Inline backticked tokens that name a path inside the repository."""
    found = []
    for code in CODE.findall(prose(markdown)):
        for token in code.split():  # `benchmarks/bench.py --device cuda` names benchmarks/bench.py
            if PATHLIKE.match(token) and "/" in token and token.split("/")[0] in top_level:
                found.append(token)
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t]*#*$", prose(markdown), re.M)}


def top_level_entries(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.name not in NOT_REPO and not p.name.endswith(".egg-info")}


def broken(page: Path, root: Path = ROOT) -> list[str]:
    """Links and paths of ``page`` that lead nowhere, each with the reason."""
    text = page.read_text()
    problems = []
    for target in links(text):
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            problems.append(f"link {target!r}: no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            problems.append(f"link {target!r}: {dest.name} has no heading with anchor #{anchor}")
    for token in repo_paths(text, top_level_entries(root)):
        if not (root / token).exists():
            problems.append(f"path `{token}`: no such file or folder in the repository")
    return problems


def test_the_extractors_find_links_paths_and_anchors() -> None:
    """The extractors on a made-up page: what counts, what is skipped."""
    page = (
        "# Top\n## Gating a release in CI\nSee [the plugin](docs/plugin.md#options) and "
        "![pic](docs/report.png \"a title\"), [web](https://example.org/x.md), [a](#top).\n"
        "Run `benchmarks/bench.py` or `benchmarks/` with `pytest --xai-update` on `my/own.py`,\n"
        "`python docs/x.py --quick`.\n"
        "```python\n[not a link](nowhere.md) `benchmarks/nothing.py`\n```\n"
    )
    assert links(page) == ["docs/plugin.md#options", "docs/report.png", "#top"]
    assert repo_paths(page, {"benchmarks", "docs"}) == ["benchmarks/bench.py", "benchmarks/", "docs/x.py"]
    assert anchors(page) == {"top", "gating-a-release-in-ci"}
    assert slug("The `explain` fixture: seeds, 1.5× bounds") == "the-explain-fixture-seeds-15-bounds"


def test_a_broken_link_path_or_anchor_is_reported(tmp_path: Path) -> None:
    """A made-up repository: each kind of broken reference is named, the good ones are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "bench.py").write_text("")
    (tmp_path / "docs" / "cache.md").write_text("# Cache\n## Keeping the cache in CI\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/cache.md#keeping-the-cache-in-ci) [gone](docs/missing.md) "
        "[bad anchor](docs/cache.md#nope) `benchmarks/bench.py` `benchmarks/gone.py`\n"
    )
    problems = broken(page, tmp_path)
    assert len(problems) == 3, problems
    assert "docs/missing.md" in problems[0]
    assert "#nope" in problems[1]
    assert "benchmarks/gone.py" in problems[2]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_path_exists(page: Path) -> None:
    assert page.is_file(), f"{page} is missing"
    assert broken(page) == []
