"""pandera, imported without pandas when that is safe.

pandera imports pandas whenever pandas is installed (about 0.45 s with its first validation:
most of a cold `screener run`), though its polars API uses none of it; likewise numpy (80 ms),
and hypothesis, for data synthesis we never use (70 ms where the test extra is installed).
pandera supports running without them, so the first validation in the main thread runs with them
hidden: pandera's own import then takes its pandas-free path. Anything that imports them later
gets them as usual.

Only the main thread does this (the finder is process-wide; a worker thread might be importing
pandas for its own reasons), only before anything has imported pandas, and only once. If pandera
ever needs pandas on this path, the ImportError is caught and pandera is imported the ordinary way.
"""

from __future__ import annotations

import sys
import threading
from importlib.abc import MetaPathFinder
from typing import Callable, TypeVar

T = TypeVar("T")
_settled = False


_HIDDEN = ("pandas", "hypothesis", "numpy")


class _HidePandas(MetaPathFinder):
    """Answers "no such module" for `_HIDDEN` (consulted only for modules not yet imported)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _HIDDEN:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None


def with_pandera(fn: Callable[[object], T]) -> T:
    """`fn(pandera.polars)`, the first call in the main thread with pandas hidden (see above)."""
    global _settled
    if _settled or "pandas" in sys.modules or threading.current_thread() is not threading.main_thread():
        _settled = True
        import pandera.polars as pa

        return fn(pa)
    finder = _HidePandas()
    sys.meta_path.insert(0, finder)
    try:
        import pandera.polars as pa

        return fn(pa)
    except ImportError:
        sys.meta_path.remove(finder)
        for name in [m for m in sys.modules if m == "pandera" or m.startswith("pandera.")]:
            del sys.modules[name]
        import pandera.polars as pa

        return fn(pa)
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        _settled = True
