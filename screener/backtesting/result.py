"""What a backtest returns: the per-period table, the summary, per-component ICs, and what the
user must be told about the data (DESIGN.md "Backtests" defines every number).

`periods` columns, one row per period [date, end] (n dates give n - 1 periods):

    date (Date), end (Date), members (List[String], the watchlist at `date` in output order),
    watchlist_return, benchmark_return (Float64, null when no member / no benchmark security has a
    forward return), watchlist_net_return (only with `cost_bps`), ic (Float64), buckets
    (List[Float64], best bucket first; an empty bucket is null), turnover (Float64, null for the
    first period), missing_returns (Int64: members without a forward return), passers (Int64:
    passers at `date`), passers_with_return (Int64)

`component_ic`: one row per period with the IC of each score component's normalised value
(columns named after the components), over the same passers as `ic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

#: the JSON keys of a period, in DESIGN.md's order (`watchlist_net_return` only with costs)
PERIOD_KEYS = ("date", "end", "members", "watchlist_return", "benchmark_return", "watchlist_net_return", "ic",
               "buckets", "turnover", "missing_returns")


@dataclass(frozen=True)
class BacktestResult:
    """One rule's backtest. `to_dict()` is DESIGN.md's `backtest --json` object."""

    rule: str                    # the rule file as the user named it
    rule_name: str
    rule_text: str
    start: date | None           # --from (None with --dates)
    end: date | None             # --to
    every: str | None            # month | quarter | week; None with --dates
    dates: tuple[date, ...]      # the rebalance dates
    buckets: int
    periods: pl.DataFrame
    component_ic: pl.DataFrame
    summary: dict
    components: dict             # {name: {"ic_mean", "ic_ir"}}
    membership_dates: str        # "all" | "some" | "none"
    membership_detail: str       # e.g. "some (3 of 20 rows undated)"
    pins: bool
    sample: bool
    notices: tuple[str, ...]
    cost_bps: float | None = None
    benchmark: str | None = None  # a symbol, or None for the universe benchmark
    data: dict = field(default_factory=dict)  # snapshot folder, fingerprint, notice
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        periods = []
        for row in self.periods.iter_rows(named=True):
            out = {}
            for key in PERIOD_KEYS:
                if key == "watchlist_net_return" and self.cost_bps is None:
                    continue
                value = row.get(key)
                out[key] = value.isoformat() if isinstance(value, date) else value
            periods.append(out)
        return {
            "rule": self.rule,
            "rule_name": self.rule_name,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "every": self.every,
            "dates": [d.isoformat() for d in self.dates],
            "buckets": self.buckets,
            "cost_bps": self.cost_bps,
            "benchmark": self.benchmark,
            "periods": periods,
            "summary": dict(self.summary),
            "components": {k: dict(v) for k, v in self.components.items()},
            "membership_dates": self.membership_dates,
            "pins": self.pins,
            "sample": self.sample,
            "notices": list(self.notices),
            "data": dict(self.data),
        }
