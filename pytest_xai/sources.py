"""Which classifier produced an explanation, so a check can run an intervention on that model
(``confirm=True``). A weak map: it keeps neither the explanation nor the model alive."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

_SOURCES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def remember(explanations: Any, classifier: Any) -> None:
    """Note the classifier that produced ``explanations`` (one or a list)."""
    for exp in explanations if isinstance(explanations, list) else [explanations]:
        with contextlib.suppress(TypeError):  # not weak-referenceable: confirm=True asks for the model
            _SOURCES[exp] = classifier


def source_of(explanation: Any) -> Any:
    """The classifier remembered for ``explanation``, or None."""
    try:
        return _SOURCES.get(explanation)
    except TypeError:
        return None
