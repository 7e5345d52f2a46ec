"""MediaPipe imported without matplotlib's pyplot.

``import mediapipe`` runs ``mediapipe.tasks.python.vision``'s ``__init__``, which imports its drawing
helpers, which import ``matplotlib.pyplot`` at their top for one plotting function we never call: 0.44 s
of every run's start, a third of its imports. A stand-in is registered under pyplot's name first; it loads
the real pyplot the first time anything asks it for a name (and hands that name on), so nothing behaves
differently, only later. Where the process already imported pyplot, nothing is registered.
(The standard library's ``importlib.util.LazyLoader`` cannot do this on Python 3.11: the ``import``
statement itself reads the module's ``__spec__``, which loads it.)
"""

from __future__ import annotations

import importlib
import sys
import types

PYPLOT = "matplotlib.pyplot"


class _Deferred(types.ModuleType):
    """Stands in for a module until one of its names is asked for."""

    def __getattr__(self, name: str):  # called only for names the stand-in lacks: all of the module's
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def defer_pyplot() -> None:
    """Register a stand-in for ``matplotlib.pyplot`` that imports it on first use."""
    sys.modules.setdefault(PYPLOT, _Deferred(PYPLOT))


def import_mediapipe():
    """-> (mediapipe, mediapipe.tasks.python.vision, BaseOptions), with pyplot deferred."""
    defer_pyplot()
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    return mp, vision, BaseOptions
