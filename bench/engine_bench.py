"""One realistic screen, four ways, on the same files: our engine, hand-written polars, idiomatic
pandas, DuckDB SQL. Results are checked equal before any time is reported.

    python bench/engine_bench.py --sizes 1000,100000,1000000 --runs 5

Each (size, way) runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. A way's time is
"files to ranked top 50": read the CSVs, point-in-time selection as of 2026-06-30 (rows dated later
must be ignored), fields, filters, percentile-rank normalisation over the passers, weighted composite,
order by score then symbol, top 50. `engine` is screener's own path with the checked-table cache
off (every file parsed as text and checked with pandera at every run); `engine-cached` is the same
with the cache warm (checked, typed Parquet copies keyed by content: what repeated runs see).
`validation` times the pandera checks the engine runs on clean files (`screener.data.schemas.check_typed`,
every file, the CSV parse before them not counted).
The screen: filters `esg_rating >= 'A'`, `eps_fy1 > 0`, `eps_growth_fy1 >= 0.05 and pe_fy1 < 60`,
`revision_3m > -0.1`; scores growth 0.4, ESG 0.2, exposure 0.2, P/E 0.2 lower-is-better; top 50.
Needs `pip install duckdb` for the SQL way.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = date(2026, 6, 30)
BACK_3M = AS_OF - timedelta(days=90)  # revision_3m compares with the consensus as of this date
GRADES_LOW_TO_HIGH = ["C", "CC", "CCC", "B-", "B", "B+", "BB-", "BB", "BB+", "BBB-", "BBB", "BBB+",
                      "A-", "A", "A+", "AA-", "AA", "AA+", "AAA"]
EXPOSURE = {"pure": 1.0, "core": 0.75, "partial": 0.5, "peripheral": 0.25}
WEIGHTS = {"growth": 0.4, "esg": 0.2, "exposure": 0.2, "value": 0.2}
WAYS = ("engine", "engine-cached", "polars", "pandas", "duckdb", "validation")
LABELS = {"engine": "engine (cache off: pandera checks every file)", "engine-cached": "engine (cached checked tables)",
          "polars": "hand-written polars", "pandas": "idiomatic pandas", "duckdb": "DuckDB SQL",
          "validation": "pandera checks alone (no parse)"}


# -- the four ways ----------------------------------------------------------------------------


def way_engine(root: Path):
    """load_snapshot (checked with pandera unless cached) + universe + run_screen + included."""
    from screener import api
    from screener.config import load_config
    from screener.data.snapshot import load_members, load_snapshot
    from screener.engine.screen import run_screen

    config = load_config(root / "config.toml")
    (screen,) = api.load_screens(config, [str(root / "rules" / "bench.toml")])
    snapshot = load_snapshot(config.data_dir, config.display)
    members = load_members(config.universes_dir, screen.universes, config.display)
    top = run_screen(screen, config, snapshot, AS_OF, members).included
    return list(zip(top["symbol"].to_list(), top["score"].to_list()))


def way_polars(root: Path):
    import polars as pl

    d = root / "data"
    lf_c = pl.scan_csv(d / "consensus.csv", schema_overrides={"symbol": pl.String, "fiscal_year": pl.Int64,
                                                              "eps": pl.Float64, "actual": pl.Boolean, "as_of": pl.Date})
    lf_p = pl.scan_csv(d / "prices.csv", schema_overrides={"symbol": pl.String, "close": pl.Float64, "as_of": pl.Date})
    lf_e = pl.scan_csv(d / "esg.csv", schema_overrides={"symbol": pl.String, "rating": pl.String, "as_of": pl.Date})
    lf_u = pl.scan_csv(root / "universes" / "bench.csv", schema_overrides={"symbol": pl.String, "exposure": pl.String,
                                                                            "listed": pl.Boolean})

    def newest(lf: pl.LazyFrame, day: date, keys: list[str], cols: list[str]) -> pl.LazyFrame:
        """Point in time: per key, the row with the greatest as_of <= day."""
        return lf.filter(pl.col("as_of") <= day).group_by(keys).agg(pl.col(cols).sort_by("as_of").last())

    # one pass over consensus: the newest row per (symbol, year), and in the same group-by the EPS of
    # the newest row dated on or before BACK_3M; collected once, since polars 2.1 would otherwise
    # re-read and re-group the CSV for each of the three frames below that use it
    back = pl.col("as_of") <= BACK_3M
    c = (lf_c.filter(pl.col("as_of") <= AS_OF).group_by(["symbol", "fiscal_year"])
         .agg(pl.col("eps", "actual").sort_by("as_of").last(),
              pl.when(back).then(pl.col("eps")).sort_by(pl.when(back).then(pl.col("as_of")), nulls_last=False).last()
              .alias("then"))
         .collect().lazy())
    fy0 = c.filter(pl.col("actual")).group_by("symbol").agg(pl.col("fiscal_year").max().alias("fy0"))
    c = c.join(fy0, on="symbol")
    eps0 = c.filter(pl.col("fiscal_year") == pl.col("fy0")).select("symbol", pl.col("eps").alias("eps0"))
    eps1 = (c.filter((pl.col("fiscal_year") == pl.col("fy0") + 1) & pl.col("actual").not_())
            .select("symbol", pl.col("eps").alias("eps1"), pl.when(pl.col("then") != 0)
                    .then((pl.col("eps") - pl.col("then")) / pl.col("then").abs()).alias("rev3m")))
    p = newest(lf_p, AS_OF, ["symbol"], ["close"])
    grade = pl.col("rating").str.extract(r"^(AAA|AA\+|AA-|AA|A\+|A-|A|BBB\+|BBB-|BBB|BB\+|BB-|BB|B\+|B-|B|CCC|CC|C)", 1)
    e = (newest(lf_e, AS_OF, ["symbol"], ["rating"])
         .select("symbol", grade.replace_strict(GRADES_LOW_TO_HIGH, list(range(19)), return_dtype=pl.Int32).alias("g")))
    f = (lf_u.join(eps0, on="symbol", how="left").join(eps1, on="symbol", how="left")
         .join(p, on="symbol", how="left").join(e, on="symbol", how="left")
         .with_columns(
             pl.when(pl.col("eps0") > 0).then(pl.col("eps1") / pl.col("eps0") - 1).alias("growth"),
             pl.when(pl.col("eps1") > 0).then(pl.col("close") / pl.col("eps1")).alias("pe"),
             (pl.col("g") * 100.0 / 18).alias("esg"),
             pl.col("exposure").replace_strict(EXPOSURE, return_dtype=pl.Float64).alias("exp"),
         )
         .filter(pl.col("listed") & (pl.col("g") >= GRADES_LOW_TO_HIGH.index("A")) & (pl.col("eps1") > 0)
                 & (pl.col("growth") >= 0.05) & (pl.col("pe") < 60) & (pl.col("rev3m") > -0.1)))

    def pct(x: pl.Expr) -> pl.Expr:
        return x.rank("average") / x.count()

    score = (WEIGHTS["growth"] * pct(pl.col("growth")) + WEIGHTS["esg"] * pct(pl.col("esg"))
             + WEIGHTS["exposure"] * pct(pl.col("exp")) + WEIGHTS["value"] * pct(-pl.col("pe")))
    out = (f.select("symbol", score.round(12).alias("score")).sort(["score", "symbol"], descending=[True, False])
           .head(50).collect())
    return list(zip(out["symbol"].to_list(), out["score"].to_list()))


def way_pandas(root: Path):
    import pandas as pd

    d = root / "data"
    c_all = pd.read_csv(d / "consensus.csv", usecols=["symbol", "fiscal_year", "eps", "actual", "as_of"],
                        parse_dates=["as_of"])
    c = c_all[c_all["as_of"] <= pd.Timestamp(AS_OF)].sort_values("as_of").drop_duplicates(["symbol", "fiscal_year"], keep="last")
    fy0 = c[c["actual"]].groupby("symbol")["fiscal_year"].max().rename("fy0")
    c = c.join(fy0, on="symbol")
    eps0 = c[c["fiscal_year"] == c["fy0"]].set_index("symbol")["eps"].rename("eps0")
    then = (c_all[c_all["as_of"] <= pd.Timestamp(BACK_3M)].sort_values("as_of")
            .drop_duplicates(["symbol", "fiscal_year"], keep="last")[["symbol", "fiscal_year", "eps"]]
            .rename(columns={"eps": "then"}))
    e1 = (c[(c["fiscal_year"] == c["fy0"] + 1) & ~c["actual"]][["symbol", "fiscal_year", "eps"]]
          .rename(columns={"eps": "eps1"}).merge(then, on=["symbol", "fiscal_year"], how="left"))
    e1["rev3m"] = ((e1["eps1"] - e1["then"]) / e1["then"].abs()).where(e1["then"] != 0)
    eps1 = e1.set_index("symbol")[["eps1", "rev3m"]]
    p = pd.read_csv(d / "prices.csv", usecols=["symbol", "close", "as_of"], parse_dates=["as_of"])
    p = p[p["as_of"] <= pd.Timestamp(AS_OF)].sort_values("as_of").drop_duplicates("symbol", keep="last").set_index("symbol")["close"]
    e = pd.read_csv(d / "esg.csv", usecols=["symbol", "rating", "as_of"], parse_dates=["as_of"])
    e = e[e["as_of"] <= pd.Timestamp(AS_OF)].sort_values("as_of").drop_duplicates("symbol", keep="last").set_index("symbol")
    grade = e["rating"].str.extract(r"^(AAA|AA\+|AA-|AA|A\+|A-|A|BBB\+|BBB-|BBB|BB\+|BB-|BB|B\+|B-|B|CCC|CC|C)")[0]
    g = grade.map({k: i for i, k in enumerate(GRADES_LOW_TO_HIGH)}).rename("g")
    u = pd.read_csv(root / "universes" / "bench.csv", usecols=["symbol", "exposure", "listed"]).set_index("symbol")
    f = u.join([eps0, eps1, p, g])
    f["growth"] = (f["eps1"] / f["eps0"] - 1).where(f["eps0"] > 0)
    f["pe"] = (f["close"] / f["eps1"]).where(f["eps1"] > 0)
    f["esg"] = f["g"] * 100.0 / 18
    f["exp"] = f["exposure"].map(EXPOSURE)
    f = f[f["listed"] & (f["g"] >= GRADES_LOW_TO_HIGH.index("A")) & (f["eps1"] > 0) & (f["growth"] >= 0.05)
          & (f["pe"] < 60) & (f["rev3m"] > -0.1)]
    score = (WEIGHTS["growth"] * f["growth"].rank(pct=True) + WEIGHTS["esg"] * f["esg"].rank(pct=True)
             + WEIGHTS["exposure"] * f["exp"].rank(pct=True) + WEIGHTS["value"] * (-f["pe"]).rank(pct=True))
    out = score.round(12).rename("score").reset_index().sort_values(["score", "symbol"], ascending=[False, True]).head(50)
    return list(zip(out["symbol"].tolist(), out["score"].tolist()))


def way_duckdb(root: Path):
    import duckdb

    d = root / "data"
    grades = ", ".join(f"('{g}', {i})" for i, g in enumerate(GRADES_LOW_TO_HIGH))
    exposure = ", ".join(f"('{k}', {v})" for k, v in EXPOSURE.items())
    sql = f"""
    WITH c AS (
      SELECT * FROM read_csv('{d / "consensus.csv"}', header=true,
        columns={{'symbol': 'VARCHAR', 'fiscal_year': 'BIGINT', 'eps': 'DOUBLE', 'actual': 'BOOLEAN', 'as_of': 'DATE',
                  'currency': 'VARCHAR', 'analysts': 'BIGINT'}})
      WHERE as_of <= DATE '{AS_OF}'
      QUALIFY row_number() OVER (PARTITION BY symbol, fiscal_year ORDER BY as_of DESC) = 1),
    fy0 AS (SELECT symbol, max(fiscal_year) AS fy0 FROM c WHERE actual GROUP BY symbol),
    e0 AS (SELECT c.symbol, eps AS eps0, fy0 FROM c JOIN fy0 USING (symbol) WHERE fiscal_year = fy0),
    t AS (
      SELECT symbol, fiscal_year, eps AS then_eps FROM read_csv('{d / "consensus.csv"}', header=true,
        columns={{'symbol': 'VARCHAR', 'fiscal_year': 'BIGINT', 'eps': 'DOUBLE', 'actual': 'BOOLEAN', 'as_of': 'DATE',
                  'currency': 'VARCHAR', 'analysts': 'BIGINT'}})
      WHERE as_of <= DATE '{BACK_3M}'
      QUALIFY row_number() OVER (PARTITION BY symbol, fiscal_year ORDER BY as_of DESC) = 1),
    e1 AS (SELECT c.symbol, eps AS eps1,
             CASE WHEN t.then_eps <> 0 THEN (eps - t.then_eps) / abs(t.then_eps) END AS rev3m
           FROM c JOIN fy0 USING (symbol) LEFT JOIN t ON t.symbol = c.symbol AND t.fiscal_year = c.fiscal_year
           WHERE c.fiscal_year = fy0 + 1 AND NOT actual),
    p AS (SELECT symbol, close FROM read_csv('{d / "prices.csv"}', header=true,
            columns={{'symbol': 'VARCHAR', 'close': 'DOUBLE', 'currency': 'VARCHAR', 'as_of': 'DATE'}})
          WHERE as_of <= DATE '{AS_OF}' QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY as_of DESC) = 1),
    g AS (SELECT * FROM (VALUES {grades}) t(grade, g)),
    e AS (SELECT symbol, g.g FROM (
            SELECT symbol, regexp_extract(rating, '^(AAA|AA\\+|AA-|AA|A\\+|A-|A|BBB\\+|BBB-|BBB|BB\\+|BB-|BB|B\\+|B-|B|CCC|CC|C)', 1) AS grade
            FROM read_csv('{d / "esg.csv"}', header=true,
              columns={{'symbol': 'VARCHAR', 'rater': 'VARCHAR', 'rating': 'VARCHAR', 'as_of': 'DATE'}})
            WHERE as_of <= DATE '{AS_OF}' QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY as_of DESC) = 1) r
          JOIN g USING (grade)),
    x AS (SELECT * FROM (VALUES {exposure}) t(exposure, exp)),
    f AS (
      SELECT u.symbol, e1.eps1, e1.rev3m,
        CASE WHEN e0.eps0 > 0 THEN e1.eps1 / e0.eps0 - 1 END AS growth,
        CASE WHEN e1.eps1 > 0 THEN p.close / e1.eps1 END AS pe,
        e.g * 100.0 / 18 AS esg, x.exp
      FROM read_csv('{root / "universes" / "bench.csv"}', header=true,
             columns={{'symbol': 'VARCHAR', 'name': 'VARCHAR', 'exposure': 'VARCHAR', 'listed': 'BOOLEAN'}}) u
      LEFT JOIN e0 USING (symbol) LEFT JOIN e1 USING (symbol) LEFT JOIN p USING (symbol)
      LEFT JOIN e USING (symbol) LEFT JOIN x USING (exposure)
      WHERE u.listed AND e.g >= {GRADES_LOW_TO_HIGH.index("A")}),
    passed AS (SELECT * FROM f WHERE eps1 > 0 AND growth >= 0.05 AND pe < 60 AND rev3m > -0.1),
    n AS (SELECT count(*) AS n FROM passed),
    scored AS (SELECT symbol,
      {WEIGHTS["growth"]} * (rank() OVER (ORDER BY growth) + (count(*) OVER (PARTITION BY growth) - 1) / 2.0) / n
      + {WEIGHTS["esg"]} * (rank() OVER (ORDER BY esg) + (count(*) OVER (PARTITION BY esg) - 1) / 2.0) / n
      + {WEIGHTS["exposure"]} * (rank() OVER (ORDER BY exp) + (count(*) OVER (PARTITION BY exp) - 1) / 2.0) / n
      + {WEIGHTS["value"]} * (rank() OVER (ORDER BY -pe) + (count(*) OVER (PARTITION BY pe) - 1) / 2.0) / n AS raw
    FROM passed, n)
    SELECT symbol, round(raw, 12) AS score FROM scored
    ORDER BY score DESC, symbol ASC LIMIT 50
    """
    return [(s, float(v)) for s, v in duckdb.sql(sql).fetchall()]


def way_validation(root: Path):
    """The pandera checks the engine runs on a clean file (`schemas.check_typed`), over every input
    file, timed without the CSV parse that precedes them (which every way pays): their share of
    `engine`. Returns the seconds spent checking."""
    import polars as pl

    from screener.data import schemas

    spent = 0.0
    for kind, path in (("universe", root / "universes" / "bench.csv"), ("consensus", root / "data" / "consensus.csv"),
                       ("prices", root / "data" / "prices.csv"), ("esg", root / "data" / "esg.csv")):
        frame = pl.read_csv(path, infer_schema=False, schema_overrides=schemas.read_dtypes(kind))
        start = time.perf_counter()
        ok = schemas.check_typed(kind, frame)
        spent += time.perf_counter() - start
        assert ok, f"{path} did not pass the checks"
        del frame
    return {"checking_seconds": spent}


# -- running ----------------------------------------------------------------------------------


def child(way: str, root: Path, runs: int) -> None:
    """Run one way `runs` times in this process; print times, result and peak RSS as JSON.

    Peak RSS is `ru_maxrss`: the high-water mark of this process's resident set (the kernel's own
    peak, so no sampling gap), which covers the interpreter, imports and every run of this way."""
    fn = {"engine": way_engine, "engine-cached": way_engine, "engine-fill": way_engine, "polars": way_polars,
          "pandas": way_pandas, "duckdb": way_duckdb, "validation": way_validation}[way]
    if way == "engine":
        os.environ["SCREENER_CACHE_DIR"] = "off"
    elif way in ("engine-cached", "engine-fill"):
        os.environ["SCREENER_CACHE_DIR"] = str(root / ".cache")
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn(root)
        times.append(result.pop("checking_seconds") if isinstance(result, dict) else time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "result": result, "rss_mb": rss_mb}))


def run_child(way: str, root: Path, runs: int) -> dict:
    p = subprocess.run([sys.executable, __file__, "--child", way, str(root), str(runs)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{way} on {root} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def differences(got: list, ref: list) -> list[str]:
    """What differs between two top-50 lists (empty when equal: same symbols in order, scores within 1e-9)."""
    out = []
    if len(got) != len(ref):
        out.append(f"{len(got)} rows against {len(ref)}")
    for k, (a, b) in enumerate(zip(got, ref)):
        if a[0] != b[0] or abs(a[1] - b[1]) > 1e-9:
            out.append(f"rank {k + 1}: {a[0]} {a[1]!r} against {b[0]} {b[1]!r}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--runs-for", default="", help="per-way run counts, e.g. pandas=1 (say so when reporting)")
    parser.add_argument("--workdir", default=None, help="where generated projects go (kept between runs)")
    parser.add_argument("--child", nargs=3, metavar=("WAY", "ROOT", "RUNS"), help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child(opts.child[0], Path(opts.child[1]), int(opts.child[2]))
        return
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="screener-bench-"))
    ways = opts.ways.split(",")
    runs_for = {k: int(v) for k, v in (x.split("=") for x in opts.runs_for.split(",") if x)}
    print(f"{date.today()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; each way in its own process; "
          f"median of {opts.runs} runs unless marked", flush=True)
    print("\n| size | way | median s | ratio to hand polars | peak RSS MB |")
    print("| ---: | --- | ---: | ---: | ---: |", flush=True)
    notes, failed = [], False
    for size in [int(s) for s in opts.sizes.split(",")]:
        root = work / f"n{size}"
        if not (root / "rules" / "bench.toml").exists():
            subprocess.run([sys.executable, str(HERE / "generate.py"), str(size), str(root)], check=True,
                           stdout=subprocess.DEVNULL)
        measured = {}
        for way in ways:
            if way == "engine-cached":
                run_child("engine-fill", root, 1)  # fill the cache in another process: peaks stay apart
            measured[way] = run_child(way, root, runs_for.get(way, opts.runs))
        # results first: every way's top 50 against hand-written polars (and the engine)
        reference = measured["polars"]["result"] if "polars" in measured else measured[ways[0]]["result"]
        bad = {}
        for way, m in measured.items():
            if way == "validation":
                continue
            diff = differences(m["result"], reference)
            if diff:
                bad[way] = diff
                print(f"\n{way} at {size:,} differs from hand-written polars ({len(diff)} differences):\n  "
                      + "\n  ".join(diff[:10]), file=sys.stderr)
        if bad:
            failed = True
        base = statistics.median(measured["polars"]["times"]) if "polars" in measured else float("nan")
        for way in ways:
            m = measured[way]
            n = len(m["times"])
            med = statistics.median(m["times"])
            label = LABELS[way] + (f" ({n} run{'s' if n > 1 else ''})" if n != opts.runs else "")
            shown = "results differ" if way in bad else f"{med:.3f}"
            print(f"| {size:,} | {label} | {shown} | {med / base:.2f} | {m['rss_mb']:.0f} |", flush=True)
        if "validation" in measured and "engine" in measured:
            share = statistics.median(measured["validation"]["times"]) / statistics.median(measured["engine"]["times"])
            notes.append(f"{size:,}: the pandera checks are {share:.0%} of the engine's cache-off run")
    print()
    for n in notes:
        print(n)
    if failed:
        raise SystemExit("some ways returned a different top 50 (see above): their times are not comparable")


if __name__ == "__main__":
    main()
