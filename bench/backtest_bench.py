"""A backtest against one screen, side by side: is `screener backtest` one computation over the
dates, not a loop of full runs?

    python bench/backtest_bench.py [--n 5000] [--dates 60] [--runs 3] [--workdir /tmp/btb]

Generates (once, into `--workdir`) a project of N securities with about five years of daily prices
(business days from 2021-07-01 to 2026-06-30, `adj_close` for 80% of them, `amount`, `market_cap`,
2% suspended part-way, 5% listed part-way), quarterly consensus (fy0 actual and two forecast years at
every quarter end), half-yearly 绿发信评 ESG grades, a universe with membership windows for 10% of
it, and a rule that reads consensus, ESG, exposure and `return_3m` with top 50 and keep 75. Then, in
one run, each in its own process with the checked-table cache warm (a private cache folder, filled by
a first untimed run):

- (a) `screener run RULE --as-of 2026-06-30 --no-export`;
- (b) a backtest over the last `--dates` month ends (`screener backtest` when the CLI has it, else
  `python -c` calling `screener.backtesting.backtest_rules`);

median wall time of `--runs` each, peak RSS of each process (`os.wait4`'s `ru_maxrss`, the kernel's
high-water mark), and the ratio (b) / (a). The issue's target is a ratio of at most 10.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import GRADES, symbols  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIRST_DAY, LAST_DAY = date(2021, 7, 1), date(2026, 6, 30)
AS_OF = "2026-06-30"

RULE = """\
name = "Backtest benchmark screen"
universe = ["bench"]

[filters]
rated = "esg_rating >= 'A-'"
profitable = "eps_fy1 > 0"
growing = "eps_growth_fy1 >= 0.05 and pe_fy1 < 60"

[scores]
growth = { expr = "eps_growth_fy1", weight = 0.4 }
esg = { expr = "esg_score", weight = 0.2 }
value = { expr = "pe_fy1", weight = 0.2, higher_is_better = false }
momentum = { expr = "return_3m", weight = 0.2 }

[output]
top = 50
keep = 75
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


def month_ends(last: date, count: int) -> list[date]:
    out, d = [], last
    while len(out) < count:
        out.append(d)
        d = d.replace(day=1) - timedelta(days=1)
    return sorted(out)


def generate(n: int, root: Path) -> None:
    t0 = time.perf_counter()
    rng = np.random.default_rng(11)
    sym = symbols(n)
    for sub in ("universes", "data", "rules"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    (root / "rules" / "bt.toml").write_text(RULE, encoding="utf-8")

    days = pl.date_range(FIRST_DAY, LAST_DAY, "1d", eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    t = len(days)
    # membership: 10% join at a random month in the sample (a window [added, open))
    joins = rng.random(n) < 0.10
    added = np.where(joins, rng.integers(0, t, n), -1)
    pl.DataFrame({
        "symbol": sym, "name": "公司" + pl.int_range(0, n, eager=True).cast(pl.String),
        "exposure": rng.choice(["pure", "core", "partial", "peripheral"], n),
        "listed": np.where(rng.random(n) < 0.98, "true", "false"),
        "added": pl.Series([days[int(i)] if i >= 0 else None for i in added], dtype=pl.Date),
        "removed": pl.Series([None] * n, dtype=pl.Date),
    }).write_csv(root / "universes" / "bench.csv")

    # prices: a geometric random walk per security; rows only while listed and not suspended
    steps = rng.normal(0.0003, 0.02, (t, n))
    close = np.round(np.exp(np.cumsum(steps, axis=0)) * rng.uniform(5, 80, n), 2)
    close = np.maximum(close, 0.01)
    first = np.where(rng.random(n) < 0.05, rng.integers(0, t // 2, n), 0)
    last = np.where(rng.random(n) < 0.02, rng.integers(t // 2, t, n), t - 1)
    factor = np.cumprod(1 + (rng.random((t, n)) < 1 / 250) * 0.02, axis=0)  # dividends, about one a year
    has_adj = rng.random(n) < 0.8
    shares = rng.uniform(1e8, 5e9, n)
    i = np.arange(t)[:, None]
    keep = (i >= first[None, :]) & (i <= last[None, :])
    rows, cols = np.nonzero(keep)
    adj = np.where(has_adj[cols], np.round(close[rows, cols] * factor[rows, cols], 4), np.nan)
    pl.DataFrame({
        "symbol": sym.gather(cols), "close": close[rows, cols], "currency": "CNY", "as_of": days.gather(rows),
        "market_cap": np.round(close[rows, cols] * shares[cols], 0),
        "adj_close": pl.Series(adj).fill_nan(None),
        "amount": np.round(rng.uniform(1e6, 1e9, len(rows)), 0),
    }).sort("symbol", "as_of").write_csv(root / "data" / "prices.csv")

    # consensus: at every quarter end, the newest reported year (fy0, reported by April) and two forecasts
    eps_path = np.cumprod(1 + rng.normal(0.08, 0.2, (10, n)), axis=0) * rng.normal(0.8, 0.6, n)  # years 2019..2028
    frames = []
    for q in month_ends(LAST_DAY, 61)[::-1][::3][::-1]:  # 2021-06-30 .. 2026-06-30
        fy0 = q.year - 1 if q.month >= 5 else q.year - 2
        drift = 1 + rng.normal(0, 0.05, n)
        for k, year in enumerate((fy0, fy0 + 1, fy0 + 2)):
            eps = eps_path[year - 2019] * (1 if k == 0 else drift)
            frames.append(pl.DataFrame({"symbol": sym, "fiscal_year": year, "eps": np.round(eps, 4),
                                        "actual": "true" if k == 0 else "false", "as_of": q, "currency": "CNY"}))
    pl.concat(frames).write_csv(root / "data" / "consensus.csv")

    esg_dates = [date(y, m, 30) for y in range(2021, 2027) for m in (4, 10) if date(y, m, 30) <= LAST_DAY]
    pl.concat([pl.DataFrame({"symbol": sym, "rater": "绿发信评", "rating": pl.Series(rng.choice(GRADES, n)) + "pi",
                             "as_of": d}) for d in [date(2021, 6, 30)] + esg_dates]).write_csv(root / "data" / "esg.csv")
    print(f"wrote {root}: {n} securities, {len(rows):,} price rows in {time.perf_counter() - t0:.1f} s", flush=True)


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one process, and its stderr."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err}")
    return seconds, usage.ru_maxrss / 1024, err


def has_backtest_cli() -> bool:
    p = subprocess.run([sys.executable, "-m", "screener", "backtest", "--help"], capture_output=True)
    return p.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dates", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "screener-backtest-bench")
    parser.add_argument("--api", action="store_true", help="time the library call even when the CLI has `backtest`")
    opts = parser.parse_args()

    root = opts.workdir / f"n{opts.n}"
    if not (root / "data" / "prices.csv").is_file():
        generate(opts.n, root)
    env = {**os.environ, "SCREENER_CACHE_DIR": str(opts.workdir / "cache")}
    dates = month_ends(LAST_DAY, opts.dates)
    run_cmd = [sys.executable, "-m", "screener", "run", "rules/bt.toml", "--as-of", AS_OF, "--no-export"]
    if has_backtest_cli() and not opts.api:
        how = "screener backtest"
        bt_cmd = [sys.executable, "-m", "screener", "backtest", "rules/bt.toml", "--dates",
                  ",".join(d.isoformat() for d in dates), "--json"]
    else:
        how = "python -c backtest_rules(...)"
        code = (
            "from datetime import date; from pathlib import Path\n"
            "from screener.config import load_config\n"
            "from screener.api import load_screens\n"
            "from screener.backtesting import backtest_rules\n"
            "cfg = load_config(Path('config.toml'))\n"
            f"dates = [date.fromisoformat(d) for d in {[d.isoformat() for d in dates]!r}]\n"
            "(r,) = backtest_rules(cfg, load_screens(cfg, ['rules/bt.toml']), dates=dates)\n"
            "import sys; print(r.periods.height, r.summary, file=sys.stderr)\n"
        )
        bt_cmd = [sys.executable, "-c", code]

    timed(run_cmd, root, env)  # fills the checked-table cache; untimed
    runs, backtests = [], []
    for _ in range(opts.runs):  # interleaved: both see the same machine state
        runs.append(timed(run_cmd, root, env))
        backtests.append(timed(bt_cmd, root, env))
    run_s = statistics.median(s for s, _, _ in runs)
    bt_s = statistics.median(s for s, _, _ in backtests)
    run_mb = max(m for _, m, _ in runs)
    bt_mb = max(m for _, m, _ in backtests)
    prices = pl.scan_csv(root / "data" / "prices.csv").select(pl.len()).collect().item()
    print(f"{opts.n} securities, {prices:,} price rows, {len(dates)} dates ({dates[0]} .. {dates[-1]}), "
          f"median of {opts.runs}, cache warm")
    print(f"| way | median s | peak RSS MB |\n| --- | ---: | ---: |")
    print(f"| `screener run --no-export` (one date) | {run_s:.2f} | {run_mb:.0f} |")
    print(f"| backtest, {len(dates)} dates ({how}) | {bt_s:.2f} | {bt_mb:.0f} |")
    print(f"ratio backtest / run: {bt_s / run_s:.1f} (target <= 10); runs {[round(s, 2) for s, _, _ in runs]}, "
          f"backtests {[round(s, 2) for s, _, _ in backtests]}")
    print(backtests[-1][2].strip()[-400:])


if __name__ == "__main__":
    main()
