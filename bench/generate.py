"""Synthetic project for benchmarks: N securities, four fiscal years, several as_of dates.

    python bench/generate.py 100000 /tmp/bench-100k

Writes config.toml, universes/bench.csv, data/{consensus,prices,esg}.csv and rules/bench.toml in
the contract's formats. Deterministic (numpy seed 7). Point in time matters: every file also
holds rows dated after the benchmark's as_of (2026-06-30) that a correct screen must ignore.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

AS_OF = "2026-06-30"
GRADES = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB"]

RULE = """\
name = "Benchmark screen"
universe = ["bench"]

[filters]
rated = "esg_rating >= 'A'"
profitable = "eps_fy1 > 0"
growing = "eps_growth_fy1 >= 0.05 and pe_fy1 < 60"

[scores]
growth = { expr = "eps_growth_fy1", weight = 0.4 }
esg = { expr = "esg_score", weight = 0.2 }
exposure = { expr = "exposure_score", weight = 0.2 }
value = { expr = "pe_fy1", weight = 0.2, higher_is_better = false }

[output]
top = 50
"""

CONFIG = """\
[paths]
rules = "rules"
universes = "universes"
data = "data"
out = "out"
"""


def symbols(n: int) -> list[str]:
    """Distinct symbols that match the snapshot schema's canonical pattern (six digits and a
    mainland suffix); boards are not realistic, which no screen here depends on. Up to 2,000,000."""
    if n > 2_000_000:
        raise SystemExit("at most 2,000,000 securities")
    return [f"{i:06d}.{'SZ' if i < 1_000_000 else 'SH'}" if i < 1_000_000 else f"{i - 1_000_000:06d}.SH"
            for i in range(n)]


def main(n: int, root: Path) -> None:
    rng = np.random.default_rng(7)
    syms = symbols(n)
    if len(syms) < n:
        raise SystemExit(f"only {len(syms)} distinct symbols available")
    (root / "universes").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "rules").mkdir(exist_ok=True)
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    (root / "rules" / "bench.toml").write_text(RULE, encoding="utf-8")
    sym = pl.Series("symbol", syms)
    exposure = rng.choice(["pure", "core", "partial", "peripheral"], n)
    pl.DataFrame({"symbol": sym, "name": [f"公司{i}" for i in range(n)], "exposure": exposure,
                  "listed": np.where(rng.random(n) < 0.98, "true", "false")}).write_csv(root / "universes" / "bench.csv")

    eps0 = np.round(rng.normal(0.8, 0.6, n), 4)
    frames = []
    for as_of, drift in (("2026-04-30", 1.0), ("2026-05-31", 1.0 + rng.normal(0, 0.03, n)), ("2026-09-30", 1.5)):
        frames.append(pl.DataFrame({"symbol": sym, "fiscal_year": 2025, "eps": eps0, "actual": "true", "as_of": as_of}))
        growth = 1.0
        for year in (2026, 2027, 2028):
            growth = growth * (1 + rng.normal(0.12, 0.15, n))
            frames.append(pl.DataFrame({"symbol": sym, "fiscal_year": year, "eps": np.round(eps0 * growth * drift, 4),
                                        "actual": "false", "as_of": as_of}))
    pl.concat(frames).write_csv(root / "data" / "consensus.csv")

    close = np.round(np.abs(eps0) * rng.uniform(5, 80, n) + 1, 2)
    pl.concat([
        pl.DataFrame({"symbol": sym, "close": close, "currency": "CNY", "as_of": "2026-06-30"}),
        pl.DataFrame({"symbol": sym, "close": np.round(close * 3, 2), "currency": "CNY", "as_of": "2026-09-30"}),
    ]).write_csv(root / "data" / "prices.csv")

    pl.concat([
        pl.DataFrame({"symbol": sym, "rater": "绿发信评", "rating": [g + "pi" for g in rng.choice(GRADES, n)],
                      "as_of": "2026-04-21"}),
        pl.DataFrame({"symbol": sym, "rater": "绿发信评", "rating": "C", "as_of": "2026-09-30"}),
    ]).write_csv(root / "data" / "esg.csv")
    print(f"wrote {root}: {n} securities")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python bench/generate.py N OUTDIR")
    main(int(sys.argv[1]), Path(sys.argv[2]))
