"""Domain exceptions of pytest_xai: every error a user can provoke is one of these."""

from __future__ import annotations


class XaiError(Exception):
    """Base class of every error raised by pytest_xai."""


class XaiValueError(XaiError, ValueError):
    """An argument has an invalid value; the message names it, the value and the fix."""


class XaiTypeError(XaiError, TypeError):
    """An argument has the wrong type; the message names it, the type received and the fix."""


class ModelOutputError(XaiValueError):
    """The model returned something that is not a finite (N, C) batch of logits."""


class SnapshotError(XaiValueError):
    """A golden file is corrupt, foreign, from a newer serializer or made with other params.

    ``problem`` says what is wrong with the file and ``fix`` what to do about it; the message
    is both, joined by "; " (code reads the fields, never the text).
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class ModelSpecError(XaiValueError):
    """An --xai-model / xai_model spec cannot be imported or loaded."""


class RegionError(XaiValueError):
    """A region is empty, lies outside the image or does not match its shape."""


class OutOfMemoryRetryError(XaiError, RuntimeError):
    """The device ran out of memory even at batch size 1."""
