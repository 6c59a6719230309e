"""Where checked data is remembered, and under which schema version: standard library only, so
light commands (`check`) can use the cache without importing polars."""

from __future__ import annotations

import os
from pathlib import Path

#: bump when a schema or the typing changes, so cached tables are checked again
SCHEMA_VERSION = "4"  # 3: universe industry/added/removed (key symbol + window), prices adj_close/amount;
# 4: dates between 1900 and 2199, [limits] on header width, line and cell length


def cache_dir() -> Path | None:
    """Where checked tables are kept: $SCREENER_CACHE_DIR, else ~/.cache/theme-screener.
    `SCREENER_CACHE_DIR=off` disables the cache."""
    env = os.environ.get("SCREENER_CACHE_DIR")
    if env == "off":
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "theme-screener"
