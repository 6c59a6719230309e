"""Does the rule work? The screen at each past date, point in time, with forward returns
(DESIGN.md "Backtests").

- `dates.py`: rebalance dates (month, quarter, week ends; or explicit dates);
- `run.py`: one rule over the dates, the snapshot read once;
- `stats.py`: Spearman IC, buckets, cumulative returns, drawdown, IR;
- `result.py`: `BacktestResult` and its JSON shape.

`backtest_rules` is the entry point the CLI, `api` and the notebook function `screener.backtest` use.
"""

from __future__ import annotations

from datetime import date

from screener.problems import InputError, Problem


def resolve_dates(start: date | None, end: date | None, every: str | None, dates=None) -> list[date]:
    """The rebalance dates from either --from/--to/--every or --dates; `InputError` (exit 2) for
    a mix of the two, --from after --to, an unknown --every, or fewer than two dates."""
    from screener.backtesting.dates import EVERY, explicit_dates, rebalance_dates

    if dates:
        if start is not None or end is not None or every is not None:
            raise InputError([Problem("bad-option", "--dates is not combined with --from, --to or --every",
                                      hint="give either --dates D1,D2,... or --from D1 --to D2 [--every month]")])
        out = explicit_dates(dates)
        what = "--dates"
    else:
        if start is None or end is None:
            raise InputError([Problem("bad-option", "a backtest needs --from and --to (or --dates)",
                                      hint="e.g. --from 2025-06-30 --to 2026-11-20 --every month")])
        if start > end:
            raise InputError([Problem("bad-option", f"--from {start} is after --to {end}",
                                      hint="swap them: --from is the first date")])
        every = every or "month"
        if every not in EVERY:
            from screener.problems import suggestion

            raise InputError([Problem("bad-option", f"--every must be one of {', '.join(EVERY)}; got {every!r}",
                                      hint=suggestion(every, EVERY, "period"))])
        out = rebalance_dates(start, end, every)
        what = f"--every {every} from {start} to {end}"
    if len(out) < 2:
        raise InputError([Problem("too-few-dates", f"{what} gives {len(out)} date{'s' if len(out) != 1 else ''}; "
                                  "a backtest needs at least two (n dates make n - 1 periods)",
                                  hint="widen --from/--to, or choose a shorter --every")])
    return out


def backtest_rules(config, screens, *, start: date | None = None, end: date | None = None, every: str | None = None,
                   dates=None, buckets: int = 5, cost_bps: float | None = None, benchmark: str | None = None,
                   pins: bool = False, snapshot=None) -> list:
    """One `BacktestResult` per screen over the same dates; the snapshot is read and checked
    once and held in memory for all of them."""
    from screener.backtesting.run import in_memory, run_backtest

    if buckets < 2:
        raise InputError([Problem("bad-option", f"--buckets must be at least 2; got {buckets}",
                                  hint="--buckets 5 (quintiles) or 10 (deciles)")])
    if cost_bps is not None and cost_bps < 0:
        raise InputError([Problem("bad-option", f"--cost-bps must not be negative; got {cost_bps:g}")])
    chosen = resolve_dates(start, end, every, dates)
    if snapshot is None:
        from screener.data.snapshot import load_snapshot

        snapshot = load_snapshot(config.data_dir, config.display)
    snapshot = in_memory(snapshot)
    shown_every = None if dates else (every or "month")
    from screener.backtesting.shared import SharedWork

    shared = SharedWork(config, snapshot, chosen)  # rules reading the same fields derive them once
    return [run_backtest(config, s, snapshot, chosen, start=None if dates else start, end=None if dates else end,
                         every=shown_every, buckets=buckets, cost_bps=cost_bps, benchmark=benchmark, pins=pins,
                         shared=shared)
            for s in screens]
