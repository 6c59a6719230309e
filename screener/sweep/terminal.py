"""A sweep for people: the variants ranked by the `--by` figure, the base rule first."""

from __future__ import annotations


def _fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value * 100:+.1f}%"
    return f"{value:.3f}"


def print_sweep(result, limit: int = 50) -> None:
    from rich.console import Console
    from rich.table import Table

    from screener.outputs.safe import printable
    from screener.sweep.spec import shown

    payload = result.to_dict()
    console = Console(highlight=False)
    when = f"{result.start} to {result.end}, every {result.every}" if result.every else \
        ", ".join(d.isoformat() for d in result.dates)
    console.print(f"{printable(result.rule_name)} · sweep {when} · {len(result.variants)} variants, ranked by {result.by}",
                  markup=False)
    table = Table(show_edge=False, pad_edge=False)
    for col in ("rank", *result.keys, result.by, "IC mean", "cumulative", "hit rate", "max DD", "overlap"):
        table.add_column(printable(col), justify="right" if col not in result.keys else "left")
    cols = [("ic_mean", "num"), ("watchlist_cumulative", "pct"), ("hit_rate", "pct"), ("max_drawdown", "pct")]
    by_kind = "pct" if result.by in ("watchlist_cumulative", "watchlist_net_cumulative", "benchmark_cumulative",
                                     "hit_rate", "max_drawdown", "turnover_mean") else "num"

    def row(label, values, s, overlap, style=None):
        table.add_row(label, *values, _fmt(s.get(result.by), by_kind), *[_fmt(s.get(k), kind) for k, kind in cols],
                      _fmt(overlap, "num"), style=style)

    row("base", ["(as written)"] + [""] * (len(result.keys) - 1), payload["base"]["summary"], 1.0, style="bold")
    ranked = sorted(zip(result.variants, payload["variants"]), key=lambda x: x[1]["rank"])
    for (v, _), out in ranked[:limit]:
        row(str(out["rank"]), [printable(shown(v.values[k])) for k in result.keys], out["summary"], out["overlap_mean"])
    console.print(table)
    if len(ranked) > limit:
        console.print(f"... and {len(ranked) - limit} more variants (--json or --format csv for all)", markup=False)
    for n in payload["notices"]:
        console.print(f"note: {printable(n)}", markup=False)
