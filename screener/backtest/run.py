"""A backtest of one rule: the screen at each rebalance date, point in time, and forward returns.

The inputs are read and checked once (the snapshot's tables held in memory, the universe files
loaded once); each date then costs one point-in-time derive and one ranking, never a full run.
Prices for every date are looked up in one group-by (`derive.price_at`).

At each date D, in order (the buffer chains them):
1. members: the universe rows whose membership window covers D;
2. the screen as of D (`engine.screen.apply_screen`), with P = the previous date's watchlist when
   the rule has `keep`, and the rule's pins only when `pins` is asked for;
3. forward returns over [D, E] (E the next date): p(E) / p(D) - 1, p(X) as DESIGN.md defines it
   (adj_close where the security has it on any row, else close; never a mix);
4. the period's figures (`screener.backtest.stats`).
The last date only closes the last period: it is not screened.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl

from screener.backtest import stats
from screener.backtest.result import BacktestResult
from screener.config import Config
from screener.data.snapshot import Snapshot, load_universes, membership_dating, union_members
from screener.engine.derive import price_at
from screener.engine.screen import Previous, apply_screen, score_column
from screener.problems import InputError, Problem
from screener.rules.rule import Screen

UNDATED_NOTICE = "today's constituents at every past date: hindsight and survivorship bias ({detail})"
CONSENSUS_NOTICE = ("consensus history is point in time only if its as_of dates are the dates the forecasts "
                    "were published")
PINS_NOTICE = "pins applied at every past date (--pins): a pin written today is look-ahead at past dates"
PINS_IGNORED_NOTICE = "the rule's pins are ignored at past dates (pass --pins to apply them)"


def in_memory(snapshot: Snapshot) -> Snapshot:
    """The snapshot with every table collected once, so each date reads memory, not files."""
    frames = {k: (v.collect().lazy() if v is not None else None) for k, v in snapshot.frames.items()}
    return replace(snapshot, frames=frames)


def run_backtest(config: Config, screen: Screen, snapshot: Snapshot, dates: list[date], *, start: date | None = None,
                 end: date | None = None, every: str | None = None, buckets: int = 5, cost_bps: float | None = None,
                 benchmark: str | None = None, pins: bool = False) -> BacktestResult:
    """Backtest `screen` over `dates` (at least two, sorted) on an in-memory `snapshot`.

    Raises `InputError` when no price is known at the first date, or when `benchmark` has no
    price at all."""
    prices = snapshot.get("prices")
    if prices is None:
        raise InputError([Problem("no-prices", f"no prices file in {snapshot.folder.name}: a backtest needs prices",
                                  hint="add prices.csv to the snapshot (screener data import ... --kind prices)")])
    first_price = prices.select(pl.col("as_of").min()).collect().item()
    if first_price is None or dates[0] < first_price:
        raise InputError([Problem("before-prices", f"the first date {dates[0]} is before the earliest price "
                                  f"({first_price or 'none'}) in {snapshot.folder.name}",
                                  hint=f"start on or after {first_price}" if first_price else "add prices first")])
    if benchmark is not None:
        has = prices.filter(pl.col("symbol") == benchmark).select(pl.len()).collect().item()
        if not has:
            raise InputError([Problem("unknown-benchmark", f"--benchmark {benchmark}: no prices for it in "
                                      f"{snapshot.folder.name}", hint="name a symbol that has rows in prices.csv")])

    used = screen if pins else replace(screen, pins=())
    universes = load_universes(config.universes_dir, screen.universes, config.display)
    # p(X) at every date; whether a security uses adj_close is decided over its whole file
    px = price_at(prices, dates, known=date.max).collect()
    price_of = {(s, d): p for s, d, p in px.iter_rows()}
    needed = set(screen.fields())

    periods, comp_rows, warnings = [], [], []
    previous: Previous | None = None
    prior_watchlist: list[str] | None = None
    thin_dates = 0
    for d, e in zip(dates, dates[1:]):
        from screener.engine.derive import derive_fields

        members = union_members(universes, d)
        lf = derive_fields(members, snapshot, d, config.esg_raters, config.exposure_scores, needed)
        frame = apply_screen(used, lf, d, previous).collect()
        ret = {s: _return(price_of.get((s, d)), price_of.get((s, e))) for s in frame["symbol"]}

        watchlist = frame.filter(pl.col("_included"))["symbol"].to_list()
        member_returns = [ret[s] for s in watchlist]
        present = [r for r in member_returns if r is not None]
        if benchmark is not None:
            bench = _return(price_of.get((benchmark, d)), price_of.get((benchmark, e)))
        else:
            listed = frame.filter(pl.col("listed").fill_null(False))["symbol"].to_list()
            bench = stats.mean_or_none([ret[s] for s in listed])

        passers = frame.filter(pl.col("_passed"))  # best first: composite desc, then symbol
        scored = [(row["score"], ret[row["symbol"]], row) for row in passers.iter_rows(named=True)
                  if ret[row["symbol"]] is not None]
        ic = stats.spearman([s for s, _, _ in scored], [r for _, r, _ in scored])
        if scored and len(scored) < buckets:
            thin_dates += 1
        bucket = stats.bucket_returns([r for _, r, _ in scored], buckets) if scored else [None] * buckets
        comp_rows.append({"date": d, **{c.name: stats.spearman([row[score_column(c.name)] for _, _, row in scored],
                                                                [r for _, r, _ in scored]) for c in screen.scores}})
        turnover = None
        if prior_watchlist is not None and watchlist:
            before = set(prior_watchlist)
            turnover = sum(1 for s in watchlist if s not in before) / len(watchlist)
        wr = stats.mean_or_none(present)
        period = {"date": d, "end": e, "members": watchlist, "watchlist_return": wr, "benchmark_return": bench,
                  "ic": ic, "buckets": bucket, "turnover": turnover,
                  "missing_returns": len(member_returns) - len(present),
                  "passers": passers.height, "passers_with_return": len(scored)}
        if cost_bps is not None:
            traded = 1.0 if prior_watchlist is None else (2 * turnover if turnover is not None else None)
            period["watchlist_net_return"] = (None if wr is None or traded is None
                                              else wr - cost_bps / 10000 * traded)
        periods.append(period)
        prior_watchlist = watchlist
        if screen.keep is not None:
            previous = Previous(d, frozenset(watchlist), None)

    if thin_dates:
        warnings.append(f"{thin_dates} of {len(periods)} dates have fewer passers with a return than "
                        f"--buckets {buckets}: their empty buckets are null")
    period_frame = _period_frame(periods, buckets, cost_bps is not None)
    summary = _summary(periods, cost_bps is not None)
    comp_frame = pl.DataFrame(comp_rows, schema={"date": pl.Date, **{c.name: pl.Float64 for c in screen.scores}})
    components = {c.name: {"ic_mean": stats.mean_or_none(comp_frame[c.name].to_list()),
                           "ic_ir": stats.information_ratio(comp_frame[c.name].to_list())} for c in screen.scores}

    dating = membership_dating(config.universes_dir, screen.universes, config.display)
    missing = sum(p["missing_returns"] for p in periods)
    total = sum(len(p["members"]) for p in periods)
    notices = []
    if dating.kind != "all":
        detail = ("no universe row carries membership dates" if dating.kind == "none" else
                  f"{dating.undated_rows} of {dating.total_rows} universe rows carry no membership dates")
        notices.append(UNDATED_NOTICE.format(detail=detail))
    notices.append(f"{missing} of {total} member forward returns were missing" if missing
                   else "no member forward return was missing")
    if pins:
        notices.append(PINS_NOTICE)
    elif screen.pins:
        notices.append(PINS_IGNORED_NOTICE)
    if snapshot.get("consensus") is not None:
        notices.append(CONSENSUS_NOTICE)
    if snapshot.sample and snapshot.notice:
        notices.append(snapshot.notice)
    return BacktestResult(
        rule=screen.path, rule_name=screen.name, rule_text=screen.text, start=start, end=end, every=every,
        dates=tuple(dates), buckets=buckets, periods=period_frame, component_ic=comp_frame, summary=summary,
        components=components, membership_dates=dating.kind, membership_detail=str(dating), pins=pins,
        sample=snapshot.sample, notices=tuple(notices), cost_bps=cost_bps, benchmark=benchmark,
        data={"folder": snapshot.folder.name, "fingerprint": snapshot.fingerprint, "sample": snapshot.sample,
              "notice": snapshot.notice},
        warnings=tuple(warnings),
    )


def _return(p0: float | None, p1: float | None) -> float | None:
    if p0 is None or p1 is None or p0 == 0:
        return None
    return p1 / p0 - 1


def _period_frame(periods: list[dict], buckets: int, with_cost: bool) -> pl.DataFrame:
    schema = {"date": pl.Date, "end": pl.Date, "members": pl.List(pl.String), "watchlist_return": pl.Float64,
              "benchmark_return": pl.Float64, "ic": pl.Float64, "buckets": pl.List(pl.Float64),
              "turnover": pl.Float64, "missing_returns": pl.Int64, "passers": pl.Int64,
              "passers_with_return": pl.Int64}
    if with_cost:
        schema["watchlist_net_return"] = pl.Float64
    return pl.DataFrame(periods, schema=schema)


def _summary(periods: list[dict], with_cost: bool) -> dict:
    wr = [p["watchlist_return"] for p in periods]
    br = [p["benchmark_return"] for p in periods]
    ics = [p["ic"] for p in periods]
    out = {
        "periods": len(periods),
        "null_periods": sum(1 for r in wr if r is None),
        "watchlist_cumulative": stats.cumulative(wr),
        "benchmark_cumulative": stats.cumulative(br),
        "ic_mean": stats.mean_or_none(ics),
        "ic_ir": stats.information_ratio(ics),
        "turnover_mean": stats.mean_or_none([p["turnover"] for p in periods]),
        "hit_rate": stats.hit_rate(wr, br),
        "max_drawdown": stats.max_drawdown(wr),
    }
    if with_cost:
        out["watchlist_net_cumulative"] = stats.cumulative([p.get("watchlist_net_return") for p in periods])
    return out
