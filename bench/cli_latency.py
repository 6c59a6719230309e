"""CLI latency, whole process: `screener --help`, `screener check` on rules/, `screener run` on the
sample data. Median of repeated runs, each a fresh process (what a user waits for).

    python bench/cli_latency.py [--runs 15]

`run` is measured twice: with the checked-table cache warm (what every run after the first
sees) and with the cache off (`SCREENER_CACHE_DIR=off`: every file parsed and checked with
pandera, what the first run after a data change costs). Exports and history go to a temp folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"--help": 0.3, "check": 0.5, "run": 0.8}


def measure(args: list[str], runs: int, env: dict) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "screener", *args], cwd=ROOT, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
        if p.returncode != 0:
            raise SystemExit(f"`screener {' '.join(args)}` failed:\n{p.stderr.decode()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    opts = parser.parse_args()
    out = tempfile.mkdtemp(prefix="screener-bench-")
    cache = tempfile.mkdtemp(prefix="screener-cache-")
    warm = dict(os.environ, SCREENER_CACHE_DIR=cache)
    cold = dict(os.environ, SCREENER_CACHE_DIR="off")
    run = ["run", "rules/esg_compute_leaders.toml", "--as-of", "2026-11-26", "--out", out]
    measure(run, 1, warm)  # fill the cache
    rows = [
        ("screener --help", measure(["--help"], opts.runs, warm), TARGETS["--help"]),
        ("screener check (rules/)", measure(["check"], opts.runs, warm), TARGETS["check"]),
        ("screener run (sample, cache warm)", measure(run, opts.runs, warm), TARGETS["run"]),
        ("screener run (sample, cache off)", measure(run, opts.runs, cold), TARGETS["run"]),
    ]
    print(f"| command | median s | min s | max s | target s | met |  ({opts.runs} runs each, {os.cpu_count()} cores)")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, times, target in rows:
        med = statistics.median(times)
        print(f"| {name} | {med:.3f} | {min(times):.3f} | {max(times):.3f} | {target} | {'yes' if med < target else 'NO'} |")


if __name__ == "__main__":
    main()
