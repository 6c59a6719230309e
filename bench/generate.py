"""Synthetic project for benchmarks: N securities, four fiscal years, several as_of dates.

    python bench/generate.py 100000 /tmp/bench-100k

Writes config.toml, universes/bench.csv, data/{consensus,prices,esg}.csv and rules/bench.toml in
the contract's formats (docs: ../../shared/DESIGN.md). Deterministic (numpy seed 7).

- symbols: six-digit codes with a mainland suffix cycling SH/SZ/BJ (schema-valid, not real boards);
  up to 2,000,000 distinct;
- consensus: fiscal years 2025 (actual) and 2026-2028 (forecasts) at three as_of dates,
  2026-03-31, 2026-05-31 and 2026-09-30; the benchmark runs as of 2026-06-30, so the May rows count,
  the March rows feed `revision_3m` (D - 90 days = 2026-04-01) and the September rows are the future
  a correct screen must ignore;
- prices: CNY closes at 2026-03-31, 2026-06-30 and 2026-09-30 (future, tripled);
- esg: 绿发信评 grades with the `pi` suffix at 2025-10-31 and 2026-04-21, and a future `C` at 2026-09-30.
"""

from __future__ import annotations

import sys
import time
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
not_cut = "revision_3m > -0.1"

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

[esg]
raters = ["绿发信评"]
"""


def symbols(n: int) -> pl.Series:
    """Distinct symbols matching the schema's SYMBOL_PATTERN: `000000.SH`, `000001.SZ`, `000002.BJ`, ...
    past 1,000,000 the codes restart with the suffixes shifted by one, so they stay distinct."""
    if n > 2_000_000:
        raise SystemExit("at most 2,000,000 securities")
    i = pl.int_range(0, n, eager=True)
    block = i // 1_000_000
    code = (i % 1_000_000).cast(pl.String).str.zfill(6)
    suffix = ((i + block) % 3).replace_strict([0, 1, 2], ["SH", "SZ", "BJ"], return_dtype=pl.String)
    return (code + "." + suffix).alias("symbol")


def main(n: int, root: Path) -> None:
    t0 = time.perf_counter()
    rng = np.random.default_rng(7)
    sym = symbols(n)
    assert sym.n_unique() == n
    for sub in ("universes", "data", "rules"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    (root / "rules" / "bench.toml").write_text(RULE, encoding="utf-8")

    exposure = rng.choice(["pure", "core", "partial", "peripheral"], n)
    listed = np.where(rng.random(n) < 0.98, "true", "false")
    pl.DataFrame({"symbol": sym, "name": "公司" + pl.int_range(0, n, eager=True).cast(pl.String),
                  "exposure": exposure, "listed": listed}).write_csv(root / "universes" / "bench.csv")

    # one growth path per security; each consensus date scales the forecasts by its own drift
    eps0 = np.round(rng.normal(0.8, 0.6, n), 4)
    paths = np.cumprod(1 + rng.normal(0.12, 0.15, (3, n)), axis=0)
    drifts = {"2026-03-31": 1.0 + rng.normal(0, 0.02, n),
              "2026-05-31": 1.0 + rng.normal(0.0, 0.08, n),
              "2026-09-30": np.full(n, 1.5)}
    analysts = rng.integers(1, 40, n)
    frames = []
    for as_of, drift in drifts.items():
        frames.append(pl.DataFrame({"symbol": sym, "fiscal_year": 2025, "eps": eps0, "actual": "true",
                                    "as_of": as_of, "currency": "CNY", "analysts": analysts}))
        for k, year in enumerate((2026, 2027, 2028)):
            frames.append(pl.DataFrame({"symbol": sym, "fiscal_year": year, "eps": np.round(eps0 * paths[k] * drift, 4),
                                        "actual": "false", "as_of": as_of, "currency": "CNY", "analysts": analysts}))
    pl.concat(frames).write_csv(root / "data" / "consensus.csv")

    close = np.round(np.abs(eps0) * rng.uniform(5, 80, n) + 1, 2)
    pl.concat([
        pl.DataFrame({"symbol": sym, "close": np.round(close * rng.uniform(0.8, 1.2, n), 2), "currency": "CNY",
                      "as_of": "2026-03-31"}),
        pl.DataFrame({"symbol": sym, "close": close, "currency": "CNY", "as_of": "2026-06-30"}),
        pl.DataFrame({"symbol": sym, "close": np.round(close * 3, 2), "currency": "CNY", "as_of": "2026-09-30"}),
    ]).write_csv(root / "data" / "prices.csv")

    pl.concat([
        pl.DataFrame({"symbol": sym, "rater": "绿发信评", "rating": pl.Series(rng.choice(GRADES, n)) + "pi",
                      "as_of": "2025-10-31"}),
        pl.DataFrame({"symbol": sym, "rater": "绿发信评", "rating": pl.Series(rng.choice(GRADES, n)) + "pi",
                      "as_of": "2026-04-21"}),
        pl.DataFrame({"symbol": sym, "rater": "绿发信评", "rating": "C", "as_of": "2026-09-30"}),
    ]).write_csv(root / "data" / "esg.csv")
    print(f"wrote {root}: {n} securities in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python bench/generate.py N OUTDIR")
    main(int(sys.argv[1]), Path(sys.argv[2]))
