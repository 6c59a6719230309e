"""A backtest for people at a terminal: per rule, the periods, the summary line, per-component IC
and every notice (undated membership, missing returns, pins, sample data)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from screener.outputs.terminal import _console


def pct(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:+.{digits}f}%"


def share(v) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def num(v, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def print_backtest(results) -> None:
    console = _console()
    for r in results:
        when = (f"{r.start} to {r.end}, every {r.every}" if r.every else
                f"{len(r.dates)} dates from {r.dates[0]} to {r.dates[-1]}")
        bench = f"benchmark {r.benchmark}" if r.benchmark else "benchmark: the listed members of its universes"
        console.print(Text(f"{r.rule_name} · backtest {when} · {len(r.dates) - 1} periods · {bench}", style="bold"))
        table = Table(show_edge=False, pad_edge=False, box=None)
        cols = ["date", "end", "members", "watchlist", "benchmark"]
        if r.cost_bps is not None:
            cols.append("net")
        cols += ["IC", "turnover", "missing", "buckets (best first)"]
        for c in cols:
            table.add_column(c, justify="left" if c in ("date", "end", "buckets (best first)") else "right")
        for p in r.periods.iter_rows(named=True):
            cells = [p["date"].isoformat(), p["end"].isoformat(), str(len(p["members"])), pct(p["watchlist_return"]),
                     pct(p["benchmark_return"])]
            if r.cost_bps is not None:
                cells.append(pct(p["watchlist_net_return"]))
            cells += [num(p["ic"]), share(p["turnover"]),
                      str(p["missing_returns"]), " ".join(pct(b) for b in p["buckets"])]
            table.add_row(*cells)
        console.print(table)
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
