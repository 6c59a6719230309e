"""Where the engine's time goes on one generated project: each phase of "files to ranked result"
timed on its own, then the parts of the derive + screen query collected one by one
(polars 2 removed `LazyFrame.profile()`).

    python bench/profile_engine.py /tmp/bw/n1000000      # a folder made by bench/generate.py

Phases (cache off, as in engine_bench's `engine` way): per snapshot file, read the bytes, parse as
text (`read_text_table`), check with pandera (`schemas.validate`), convert to dtypes
(`schemas.to_typed`); then the universe, and the lazy point-in-time query collected once.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

os.environ["SCREENER_CACHE_DIR"] = "off"

import polars as pl  # noqa: E402

from screener import api, schemas  # noqa: E402
from screener.config import load_config  # noqa: E402
from screener.data import load_members, load_snapshot, read_text_table  # noqa: E402
from screener.derive import derive_fields  # noqa: E402
from screener.engine import KEY_FIELDS, _apply  # noqa: E402

AS_OF = date(2026, 6, 30)


def main(root: Path) -> None:
    import pandera.polars  # noqa: F401  (import cost is not the checks' cost)

    config = load_config(root / "config.toml")
    (screen,) = api.load_screens(config, [str(root / "rules" / "bench.toml")])
    rows = []

    def timed(label, fn):
        t = time.perf_counter()
        out = fn()
        rows.append((label, time.perf_counter() - t))
        return out

    for kind in ("consensus", "prices", "esg"):
        path = config.data_dir / f"{kind}.csv"
        raw = timed(f"{kind}: read bytes", path.read_bytes)
        text = timed(f"{kind}: parse as text", lambda: read_text_table(path, kind, raw))
        timed(f"{kind}: pandera validate ({text.height:,} rows)", lambda: schemas.validate(kind, text, kind))
        timed(f"{kind}: to_typed", lambda: schemas.to_typed(kind, text))
    total_load = timed("load_snapshot (all of the above, as the engine calls it)",
                       lambda: load_snapshot(config.data_dir, config.display))
    members = timed("load_members (universe read, validated, typed)",
                    lambda: load_members(config.universes_dir, screen.universes, config.display))
    needed = set(screen.fields()) | set(KEY_FIELDS)
    lf = _apply(screen, derive_fields(members, total_load, AS_OF, config.esg_raters, config.exposure_scores, needed))
    timed("derive + filters + scores: one lazy query, collect", lf.collect)
    width = max(len(r[0]) for r in rows)
    for label, s in rows:
        print(f"{label:<{width}}  {s:7.3f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    # polars 2 removed LazyFrame.profile(): time the query's parts as separate collects instead
    from screener.derive import CONSENSUS_SCHEMA, PRICES_SCHEMA, _asof, _consensus_fields, _newest, esg_fields

    snap = total_load
    parts = [
        ("consensus newest per (symbol, year): sort + group_by.last",
         lambda: _newest(_asof(snap.get("consensus"), AS_OF, CONSENSUS_SCHEMA), ["symbol", "fiscal_year"]).collect()),
        ("consensus fields without revisions", lambda: _consensus_fields(snap.get("consensus"), AS_OF, False).collect()),
        ("consensus fields with revision_1m/3m", lambda: _consensus_fields(snap.get("consensus"), AS_OF, True).collect()),
        ("prices newest per symbol", lambda: _newest(_asof(snap.get("prices"), AS_OF, PRICES_SCHEMA), ["symbol"]).collect()),
        ("esg fields", lambda: esg_fields(snap.get("esg"), AS_OF, config.esg_raters).collect()),
        ("whole query again", lf.collect),
    ]
    print("\nparts of the query, each collected on its own:")
    for label, fn in parts:
        t = time.perf_counter()
        fn()
        print(f"{label:<{width}}  {time.perf_counter() - t:7.3f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
