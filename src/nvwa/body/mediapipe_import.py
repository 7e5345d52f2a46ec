"""MediaPipe imported without matplotlib's pyplot.

``import mediapipe`` runs ``mediapipe.tasks.python.vision``'s ``__init__``, which imports its drawing
helpers, which import ``matplotlib.pyplot`` at their top for one plotting function we never call: 0.3-0.44 s
of every run's start, 0.2 s of it matplotlib's package itself (``import matplotlib.pyplot`` loads the
package first). While MediaPipe is imported stand-ins are registered under pyplot's name and the package's,
and taken away again right after: the drawing helpers keep pyplot's stand-in, which imports the real pyplot
the first time anything asks it for a name (and hands that name on); everyone else importing either later
gets the real module. Where the process already imported one of them, no stand-in for it is registered. (The standard library's
``importlib.util.LazyLoader`` cannot do this on Python 3.11: the ``import`` statement itself reads the
module's ``__spec__``, which loads it.)
"""

from __future__ import annotations

import importlib
import sys
import types

PACKAGE, PYPLOT = "matplotlib", "matplotlib.pyplot"


class _Deferred(types.ModuleType):
    """Stands in for a module until one of its names is asked for."""

    def __getattr__(self, name: str):  # called only for names the stand-in lacks: all of the module's
        if sys.modules.get(self.__name__) is self:
            sys.modules.pop(self.__name__, None)  # (two threads may get here at once)
        return getattr(importlib.import_module(self.__name__), name)


def import_mediapipe():
    """-> (mediapipe, mediapipe.tasks.python.vision, BaseOptions), pyplot not imported by them."""
    stand_ins = {} if PYPLOT in sys.modules else {PYPLOT: _Deferred(PYPLOT)}
    if stand_ins and PACKAGE not in sys.modules:
        # `import matplotlib.pyplot as plt` imports the package, then takes its attribute pyplot
        stand_ins[PACKAGE] = _Deferred(PACKAGE)
        stand_ins[PACKAGE].pyplot = stand_ins[PYPLOT]
    sys.modules.update(stand_ins)
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                sys.modules.pop(name, None)
    return mp, vision, BaseOptions
