"""Whether a conftest's ``xai_model`` fixture reads ``--xai-model``: seen, not guessed.

``config.option`` counts every read of its ``xai_model`` attribute (``getoption("xai_model")``,
``getoption("--xai-model")`` and ``config.option.xai_model`` all end there). A fixture that
overrides the plugin's ``xai_model`` and reads nothing while it is set up would test another
model than the option names. Standard library only: this runs at start-up.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEST = "xai_model"


class WatchedOptions(argparse.Namespace):
    """``config.option`` that counts reads of ``xai_model`` on its watch (vars() counts too: it
    may read it). Each watch makes its own subclass, whose ``watch`` is a class attribute, so the
    options' own attributes (which xdist sends to its workers) stay as they were."""

    watch: ModelOptionWatch

    def __getattribute__(self, name: str) -> Any:
        if name in (DEST, "__dict__"):
            type(self).watch.count += 1
        return super().__getattribute__(name)


class ModelOptionWatch:
    """Which fixtures read ``--xai-model`` while they were set up, and the ``xai_model``
    fixtures found to ignore it (each later test that asks for one fails the same way)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.spec: str | None = config.getoption(DEST, None)  # read before the watch starts
        self.readers: set[str] = set()  # fixture names whose setup read the option
        self.needs: dict[str, set[str]] = {}  # fixture name -> the fixtures it asked for
        self.problems: dict[Any, str] = {}  # FixtureDef -> message
        self.count = 0  # reads of the option so far
        if type(config.option) is argparse.Namespace:
            config.option.__class__ = type("WatchedOptions", (WatchedOptions,), {"watch": self})

    def reads(self) -> int | None:
        """How often ``xai_model`` has been read so far; None when reads are not counted."""
        watched = getattr(type(self.config.option), "watch", None)
        return self.count if watched is self else None

    def setup_done(self, fixturedef: Any, before: int | None) -> str | None:
        """Note whether this fixture read the option; for an ``xai_model`` fixture, the
        problem when neither it nor a fixture it asked for (at any depth) read it."""
        after = self.reads()
        name = fixturedef.argname
        self.needs.setdefault(name, set()).update(fixturedef.argnames)
        if before is not None and after is not None and after > before:
            self.readers.add(name)
        if name != DEST or before is None or name in self.readers or self.asked_a_reader(fixturedef.argnames):
            return None
        problem = ignored_model_option(fixturedef, self.spec)
        if problem is not None:
            self.problems[fixturedef] = problem
        return problem

    def asked_a_reader(self, names: Any) -> bool:
        todo, seen = list(names), set()
        while todo:
            name = todo.pop()
            if name in self.readers:
                return True
            if name not in seen:
                seen.add(name)
                todo += self.needs.get(name, ())
        return False


def ignored_model_option(fixturedef: Any, spec: str | None) -> str | None:
    """Why the ``xai_model`` fixture just set up, which read nothing, tests another model than
    ``--xai-model=spec`` names: it overrides the plugin's and does not take the plugin's
    ``xai_model`` as an argument. None otherwise (no option, the plugin's own fixture)."""
    func = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
    code = getattr(func, "__code__", None)
    if not spec or code is None:
        return None
    if code.co_filename == str(Path(__file__).with_name("__init__.py")):  # the plugin's own
        return None
    if DEST in tuple(fixturedef.argnames):  # wraps the plugin's fixture, which reads the option
        return None
    where = f" ({code.co_filename}:{code.co_firstlineno})"
    return (
        f"--xai-model={spec} was given, but the xai_model fixture in use{where} overrides the "
        "plugin's and did not read the option while it was set up, so another model would be "
        "tested. Read it in the override (pytestconfig.getoption('xai_model') with "
        "pytest_xai.models.load_model), or drop the option."
    )
