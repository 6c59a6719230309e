"""Where the engine's time goes on one generated project: each phase of "files to ranked result"
timed on its own, then the parts of the point-in-time query collected one by one
(polars 2 removed `LazyFrame.profile()`).

    python bench/profile_engine.py /tmp/bw/n1000000           # a folder made by bench/generate.py
    python bench/profile_engine.py /tmp/bw/n1000000 --cached  # with the checked-table cache in ROOT/.cache

Phases, as a run with the cache off sees them: per snapshot file, hash it (`FileStamp.of`),
parse it straight to dtypes (the fast path's read), check it with pandera (`check_typed`), finish
the typing (`finish_typed`); then the universe, building the query (which materialises the newest
consensus per security and year) and collecting it.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

CACHED = "--cached" in sys.argv
os.environ["SCREENER_CACHE_DIR"] = str(Path(sys.argv[1]) / ".cache") if CACHED else "off"

import polars as pl  # noqa: E402

from screener import api  # noqa: E402

from screener.data import schemas
from screener.config import load_config  # noqa: E402
from screener.data.snapshot import FileStamp, load_members, load_snapshot  # noqa: E402
from screener.engine.derive import derive_fields  # noqa: E402
from screener.engine.screen import KEY_FIELDS, _apply  # noqa: E402

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

    for kind in () if CACHED else ("consensus", "prices", "esg"):
        path = config.data_dir / f"{kind}.csv"
        timed(f"{kind}: hash (streamed SHA-256)", lambda: FileStamp.of(path, kind))
        frame = timed(f"{kind}: parse to dtypes", lambda: pl.read_csv(path, infer_schema=False,
                                                                     schema_overrides=schemas.read_dtypes(kind)))
        timed(f"{kind}: pandera check_typed ({frame.height:,} rows)", lambda: schemas.check_typed(kind, frame))
        timed(f"{kind}: finish_typed", lambda: schemas.finish_typed(kind, frame))
        del frame
    snap = timed("load_snapshot (all of the above, as the engine calls it)",
                 lambda: load_snapshot(config.data_dir, config.display))
    members = timed("load_members (universe read, checked, typed)",
                    lambda: load_members(config.universes_dir, screen.universes, config.display))
    needed = set(screen.fields()) | set(KEY_FIELDS)
    lf = timed("build the query (collects the newest consensus rows)",
               lambda: _apply(screen, derive_fields(members, snap, AS_OF, config.esg_raters, config.exposure_scores,
                                                    needed)))
    timed("collect the query", lf.collect)
    width = max(len(r[0]) for r in rows)
    for label, s in rows:
        print(f"{label:<{width}}  {s:7.3f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    from screener.engine.derive import PRICES_SCHEMA, _asof, _consensus_fields, _newest, esg_fields

    parts = [
        ("consensus fields without revisions", lambda: _consensus_fields(snap.get("consensus"), AS_OF, ()).collect()),
        ("consensus fields with revision_3m", lambda: _consensus_fields(snap.get("consensus"), AS_OF,
                                                                        ("revision_3m",)).collect()),
        ("prices newest per symbol", lambda: _newest(_asof(snap.get("prices"), AS_OF, PRICES_SCHEMA), ["symbol"],
                                                     ["close", "currency", "market_cap", "as_of"]).collect()),
        ("esg fields", lambda: esg_fields(snap.get("esg"), AS_OF, config.esg_raters).collect()),
        ("fields for the members (derive_fields), built and collected",
         lambda: derive_fields(members, snap, AS_OF, config.esg_raters, config.exposure_scores, needed).collect()),
    ]
    print("\nparts of the query, each built and collected on its own:")
    for label, fn in parts:
        t = time.perf_counter()
        fn()
        print(f"{label:<{width}}  {time.perf_counter() - t:7.3f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
