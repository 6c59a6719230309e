"""A whole `screener run` (exports and history on) against the hand-written polars script, with
no history and with a year of daily history behind it, and `history --diff` at the same size.

    python bench/run_bench.py --n 200000 --runs 11 --workdir /tmp/runbench

Every way is a whole process, timed from outside (wall clock, interpreter start and imports
included, the same for each way), and the ways alternate run by run so that drift on a shared
machine lands on all of them alike; medians are reported. The project is `bench/generate.py`'s
(the screen `rules/bench.toml`: four filters, four score components, top 50, as of 2026-06-30).

- **hand-written polars**: `engine_bench.way_polars`, files to ranked top 50 (the reference);
- **screener run, no history**: `screener run rules/bench.toml --as-of 2026-06-30 --format csv,json`
  into an output folder emptied before each run (first run: a new history);
- **screener run, a year of history**: the same into a folder holding 250 earlier daily runs of
  the rule (the runs before are copies of one real run's records, re-dated a weekday apart and
  re-numbered, member files rewritten with their own run id and date: the store holds 250 whole
  runs of 200,000 members, as a year of daily runs would);
- **history --diff**: `screener history bench --diff` in that folder (the newest run against the
  one before: 200,000 members each).

Checked tables are cached before timing (a warm-up `screener run --no-export`): what every run
after the first sees for unchanged data. Children run with Python's bytecode cache on (as a user's
install has it), whatever this shell's PYTHONDONTWRITEBYTECODE says. The screener's top 50 is checked equal to the reference
(symbols in order) before any time is printed. The history's size per member per run is the
year folder's `history.sqlite` plus `history/` over (runs x members).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = "2026-06-30"


# Python as installed for users: modules compiled once to __pycache__ (this machine's environment
# sets PYTHONDONTWRITEBYTECODE, which would recompile screener's own modules at every start, 0.1 s)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    took = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return took


def screener(*args: str) -> list[str]:
    return [sys.executable, "-m", "screener", *args]


def polars_child(root: str) -> None:
    sys.path.insert(0, str(HERE))
    from engine_bench import way_polars

    print(json.dumps([s for s, _ in way_polars(Path(root))]))


def year_of_history(root: Path, out: Path, days: int) -> None:
    """`days` runs in `out`: one real run, then copies of it re-dated a weekday apart before it."""
    import polars as pl

    if out.exists():
        shutil.rmtree(out)
    first = date(2026, 6, 29)
    subprocess.run(screener("run", "rules/bench.toml", "--as-of", first.isoformat(), "--format", "csv",
                            "--out", str(out)), cwd=root, check=True, capture_output=True)
    con = sqlite3.connect(out / "history.sqlite", isolation_level=None)
    (members_file,) = con.execute("SELECT members_file FROM runs WHERE run_id = 1").fetchone()
    members = pl.read_parquet(out / members_file)
    cols = [r[1] for r in con.execute("PRAGMA table_info(runs)") if r[1] != "run_id"]
    wcols = [r[1] for r in con.execute("PRAGMA table_info(watchlist)") if r[1] != "run_id"]
    day = first
    con.execute("BEGIN")
    for _ in range(days - 1):
        day -= timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        cur = con.execute(f"INSERT INTO runs ({', '.join(cols)}) SELECT {', '.join(cols)} FROM runs WHERE run_id = 1")
        run_id = cur.lastrowid
        rel = f"history/run-{run_id:08d}.parquet"
        con.execute("UPDATE runs SET as_of = ?, members_file = ?, identical_to = NULL WHERE run_id = ?",
                    (day.isoformat(), rel, run_id))
        con.execute(f"INSERT INTO watchlist (run_id, {', '.join(wcols)}) SELECT ?, {', '.join(wcols)} FROM watchlist "
                    "WHERE run_id = 1", (run_id,))
        members.with_columns(pl.lit(run_id, dtype=pl.Int64).alias("run_id"), pl.lit(day).alias("as_of")).write_parquet(
            out / rel, compression="zstd", compression_level=3, statistics=True)
    con.execute("COMMIT")
    con.close()


def size_of(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and
               (p.name.startswith("history.sqlite") or p.parent.name == "history"))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-polars":
        polars_child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--days", type=int, default=250, help="runs of history behind the 'year' way")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/runbench"))
    args = ap.parse_args()
    root = args.workdir / f"n{args.n}"
    if not (root / "config.toml").exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(args.n), str(root)], check=True,
                       stdout=subprocess.DEVNULL)
    env_note = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    subprocess.run(screener("run", "rules/bench.toml", "--as-of", AS_OF, "--no-export"), cwd=root, check=True,
                   capture_output=True, env=ENV)  # warm the checked-table cache (and compile the modules)

    # the same top 50, before any time
    ref = json.loads(subprocess.run([sys.executable, __file__, "--child-polars", str(root)], capture_output=True,
                                    text=True, check=True, env=ENV).stdout)
    got = json.loads(subprocess.run(screener("run", "rules/bench.toml", "--as-of", AS_OF, "--no-export", "--json"),
                                    cwd=root, capture_output=True, text=True, check=True).stdout)
    mine = [r["symbol"] for r in got["rows"]]
    if mine != ref:
        raise SystemExit(f"the screener's top 50 differs from hand-written polars: {mine[:5]} vs {ref[:5]}")

    fresh, year = root / "out-none", root / "out-year"
    t = time.perf_counter()
    year_of_history(root, year, args.days)
    print(f"built {args.days} runs of history in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    history_bytes = size_of(year)
    per_member = history_bytes / (args.days * args.n)

    times: dict[str, list[float]] = {k: [] for k in ("polars", "none", "year", "diff")}
    run_cmd = screener("run", "rules/bench.toml", "--as-of", AS_OF, "--format", "csv,json")
    for i in range(args.runs):
        times["polars"].append(timed([sys.executable, __file__, "--child-polars", str(root)], root))
        if fresh.exists():
            shutil.rmtree(fresh)
        times["none"].append(timed(run_cmd + ["--out", str(fresh)], root))
        times["year"].append(timed(run_cmd + ["--out", str(year)], root))
        times["diff"].append(timed(screener("history", "bench", "--diff", "--out", str(year)), root))
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in times.items()), file=sys.stderr)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{args.n:,} securities, {env_note}, median of {args.runs} alternating runs (whole processes):\n")
    print("| way | median s | ratio to hand polars |")
    print("| --- | ---: | ---: |")
    labels = {"polars": "hand-written polars (files to top 50)",
              "none": "`screener run` (csv, json, history), no history before",
              "year": f"`screener run` (csv, json, history), {args.days} daily runs before",
              "diff": f"`screener history bench --diff` ({args.n:,} members a run)"}
    for k in ("polars", "none", "year", "diff"):
        print(f"| {labels[k]} | {med[k]:.2f} | {med[k] / med['polars']:.2f} |")
    print(f"\nyear vs none: {med['year'] / med['none'] - 1:+.1%}; diff vs one run: {med['diff'] / med['none']:.2f}")
    print(f"history of {args.days} runs: {history_bytes / 1e6:.1f} MB = {per_member:.1f} bytes per member per run")


if __name__ == "__main__":
    main()
