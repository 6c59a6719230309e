"""A backtest for people at a terminal: per rule, the periods, the summary line, per-component IC
and every notice (undated membership, missing returns, pins, sample data)."""

from __future__ import annotations

from screener.outputs.terminal import Col, Text, _console, print_fitted  # Text: control characters escaped


def pct(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:+.{digits}f}%"


def share(v) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def num(v, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def print_backtest(results, wide: bool = False) -> None:
    """Per rule: the periods as a table that fits the terminal (numbers whole; when room is short,
    the least telling columns give way and a footer names them; `wide` shows all), then the summary."""
    console = _console()
    for r in results:
        when = (f"{r.start} to {r.end}, every {r.every}" if r.every else
                f"{len(r.dates)} dates from {r.dates[0]} to {r.dates[-1]}")
        bench = f"benchmark {r.benchmark}" if r.benchmark else "benchmark: the listed members of its universes"
        console.print(Text(f"{r.rule_name} · backtest {when} · {len(r.dates) - 1} periods · {bench}", style="bold"))
        ps = list(r.periods.iter_rows(named=True))
        cols = [Col("date", [p["date"].isoformat() for p in ps], 0, keep=True),
                Col("end", [p["end"].isoformat() for p in ps], 6),
                Col("members", [str(len(p["members"])) for p in ps], 7, "right"),
                Col("watchlist", [pct(p["watchlist_return"]) for p in ps], 1, "right"),
                Col("benchmark", [pct(p["benchmark_return"]) for p in ps], 2, "right")]
        if r.cost_bps is not None:
            cols.append(Col("net", [pct(p["watchlist_net_return"]) for p in ps], 3, "right"))
        cols += [Col("IC", [num(p["ic"]) for p in ps], 4, "right"),
                 Col("turnover", [share(p["turnover"]) for p in ps], 5, "right"),
                 Col("missing", [str(p["missing_returns"]) for p in ps], 8, "right"),
                 Col("buckets (best first)", [" ".join(pct(b) for b in p["buckets"]) for p in ps], 9, name="buckets")]
        print_fitted(console, cols, wide=wide, boxed=False)
        s = r.summary
        line = (f"cumulative {pct(s['watchlist_cumulative'])} vs benchmark {pct(s['benchmark_cumulative'])}"
                + (f" (net of {r.cost_bps:g} bps: {pct(s['watchlist_net_cumulative'])})" if r.cost_bps is not None else "")
                + f" · IC mean {num(s['ic_mean'], 3)}, IR {num(s['ic_ir'])} · hit rate "
                + ("—" if s["hit_rate"] is None else f"{s['hit_rate'] * 100:.0f}%")
                + f" · turnover {share(s['turnover_mean'])}"
                + f" · max drawdown {pct(s['max_drawdown'])} · {s['null_periods']} of {s['periods']} periods with no member return")
        console.print(Text(line))
        if r.components:
            comps = " · ".join(f"{name} IC {num(v['ic_mean'], 3)} (IR {num(v['ic_ir'])})" for name, v in r.components.items())
            console.print(Text(f"components: {comps}"))
        console.print(Text(f"membership dates: {r.membership_detail}"))
        for n in r.notices:
            console.print(Text(f"⚠ {n}", style="yellow"))
        console.print()
