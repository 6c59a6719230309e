"""48 weight variants against one backtest, side by side: is a sweep shared work, not 48 backtests?

    python bench/sweep_bench.py [--n 5000] [--dates 60] [--runs 2] [--workdir /tmp/btb]

The project is bench/backtest_bench.py's (generated into `--workdir` if missing: N securities,
five years of daily prices, quarterly consensus, half-yearly ESG grades; the rule `rules/bt.toml`
reads consensus, ESG, exposure and `return_3m`, top 50, keep 75). Each way runs in its own process
with the checked-table cache warm (a first untimed run fills it), interleaved, median of `--runs`:

- (a) `screener backtest rules/bt.toml --dates <the last N month ends> --json`;
- (b) `screener sweep rules/bt.toml --set scores.growth.weight=0.1,0.2,0.3,0.4
  --set scores.esg.weight=0.1,0.2,0.3,0.4 --set scores.value.weight=0.1,0.2,0.3 --dates ... --json`
  (48 variants plus the base rule), with `--workers 1` (everything shared in one process) and with
  the default workers (a process pool: each worker derives the fields once for its variants).

Before any time is printed, the sweep's base rule must equal the backtest (summary and
components, every digit) and the variant equal to the rule as written must too. The issue's
target: (b) at most 5 times (a).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backtest_bench import LAST_DAY, generate, month_ends  # noqa: E402

SETS = ["scores.growth.weight=0.1,0.2,0.3,0.4", "scores.esg.weight=0.1,0.2,0.3,0.4", "scores.value.weight=0.1,0.2,0.3"]


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the main process, and stdout."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"{' '.join(cmd[:4])} failed with status {status}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read().decode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dates", type=int, default=60)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "screener-backtest-bench")
    opts = parser.parse_args()

    root = opts.workdir / f"n{opts.n}"
    if not (root / "data" / "prices.csv").is_file():
        generate(opts.n, root)
    env = {**os.environ, "SCREENER_CACHE_DIR": str(opts.workdir / "cache")}
    dates = ",".join(d.isoformat() for d in sorted(month_ends(LAST_DAY, opts.dates)))
    screener = [sys.executable, "-m", "screener"]
    backtest = [*screener, "backtest", "rules/bt.toml", "--dates", dates, "--json"]
    sets = [a for s in SETS for a in ("--set", s)]
    ways = {
        "backtest (one rule)": backtest,
        "sweep, 48 variants, --workers 1": [*screener, "sweep", "rules/bt.toml", *sets, "--dates", dates, "--json",
                                            "--workers", "1"],
        "sweep, 48 variants, default workers": [*screener, "sweep", "rules/bt.toml", *sets, "--dates", dates, "--json"],
    }
    timed(backtest, root, env)  # fills the checked-table cache; untimed
    times: dict[str, list] = {k: [] for k in ways}
    for _ in range(opts.runs):  # interleaved: every way sees the same machine state
        for name, cmd in ways.items():
            times[name].append(timed(cmd, root, env))

    bt = json.loads(times["backtest (one rule)"][-1][2])
    for name in list(ways)[1:]:
        sw = json.loads(times[name][-1][2])
        assert sw["base"]["summary"] == bt["summary"] and sw["base"]["components"] == bt["components"], name
        same = [v for v in sw["variants"] if v["variant"] == {"scores.growth.weight": 0.4, "scores.esg.weight": 0.2,
                                                               "scores.value.weight": 0.2}]
        assert len(sw["variants"]) == 48 and same, name
    first = statistics.median(s for s, _, _ in times["backtest (one rule)"])
    print(f"{opts.n} securities, {opts.dates} month ends, median of {opts.runs}, cache warm, {os.cpu_count()} cores")
    print("| way | median s | ratio to one backtest | peak RSS MB (main process) |\n| --- | ---: | ---: | ---: |")
    for name in ways:
        s = statistics.median(t for t, _, _ in times[name])
        mb = max(m for _, m, _ in times[name])
        print(f"| {name} | {s:.2f} | {s / first:.2f} | {mb:.0f} |")
    print("runs:", {k: [round(t, 2) for t, _, _ in v] for k, v in times.items()})


if __name__ == "__main__":
    main()
