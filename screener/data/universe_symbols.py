"""The symbols of a universe file, for `check`: the file is checked (`snapshot.load_universe`) the
first time its content is seen, and its symbol set remembered by that content (SHA-256 of the bytes
and `SCHEMA_VERSION`) in the cache folder's `symbols/`. Later checks of an unchanged file read a
small JSON file and import neither polars nor pandera (0.41 s -> about 0.1 s for `check`). A file
that fails its checks is never remembered, so `check` keeps reporting it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from screener import limits


def universe_symbols(folder: Path, name: str, display) -> frozenset[str]:
    """Every symbol of universe `name` (any membership window); `InputError` for a missing or bad file."""
    from screener.data.cache import SCHEMA_VERSION, cache_dir

    path = Path(folder) / f"{name}.csv"
    entry = None
    root = cache_dir()
    if root is not None and path.is_file() and not path.is_symlink():
        shown = display(path)
        limits.regular_file(path, shown, "universe file")
        limits.check_table_shape(path, shown)
        try:
            digest = hashlib.sha256(SCHEMA_VERSION.encode() + b"\0" + path.read_bytes()).hexdigest()
            entry = root / "symbols" / f"{digest}.json"
            symbols = json.loads(entry.read_text(encoding="utf-8"))
            if isinstance(symbols, list) and all(isinstance(x, str) for x in symbols):
                entry.touch()  # used: kept by the cache's pruning
                return frozenset(symbols)
        except (OSError, ValueError):
            pass
    from screener.data.snapshot import load_universe

    symbols = frozenset(load_universe(Path(folder), name, display).get_column("symbol").to_list())
    if entry is not None:
        try:
            from screener.atomic import write_bytes

            write_bytes(entry, json.dumps(sorted(symbols), ensure_ascii=False).encode("utf-8"))
        except OSError:
            pass  # a read-only cache folder is no reason to fail a check
    return symbols
