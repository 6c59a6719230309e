"""The library for notebooks: plain arguments in (paths, names, ISO dates), polars frames and
dicts out; no printing, no files written. Bad input raises `InputError` (its `problems` say
where and what to do)."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def _config(config):
    from screener.config import Config, load_config

    if isinstance(config, Config):
        return config
    return load_config(config or "config.toml")


def _date(value, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        from screener.problems import InputError, Problem

        raise InputError([Problem("bad-date", f"{name} {value!r} is not a date", hint="write YYYY-MM-DD, e.g. 2026-06-30")]) from None


def _screen(config, rule):
    from screener import api
    from screener.rules.rule import Screen

    if isinstance(rule, Screen):
        return rule
    (screen,) = api.load_screens(config, [str(rule)])
    return screen


#: what the engine adds beside the fields (and internal `_` columns): never part of "the fields"
_ENGINE_COLUMNS = ("score", "rank", "group_rank", "pinned", "pin_reason")


def screen(rule, as_of=None, config=None, *, history=None):
    """The watchlist of one rule (a file path, a rule name in rules/, or a `Screen`) as of
    `as_of` (a date or ISO text; default: today in the configured timezone, or the newest price
    date of a sample snapshot, `api.default_as_of`), as a polars DataFrame in output order
    (scored rows by composite, ties by symbol, then pinned rows without a score, by symbol).

    Columns are named, never positional: every field (identity first, then each catalogue field
    the engine derives, `analysts` as an integer), then `filter.<name>` (bool) for each filter,
    `score.<name>` (normalised, as it enters the composite) for each score component, `raw.<name>`
    (the value before normalising) for each component, then `score`, `rank`, `pinned`; after them
    `pin_reason`, `group_rank` when the rule has `per` and `kept` when it has `keep`.

    A rule with `keep` is buffered against the previous watchlist P only when `history` names an
    output folder (the one holding `history.sqlite`, as `screener run --out`); without it, plain
    top. Nothing is written, not even to that history. `.to_pandas()` gives a pandas frame."""
    import polars as pl

    from screener import api
    from screener.engine.screen import run_screen
    from screener.outputs.report import INTEGER_FIELDS

    cfg = _config(config)
    rule_screen = _screen(cfg, rule)
    day = _date(as_of, "as_of") or api.default_as_of(cfg)[0]
    previous = None
    if history is not None and rule_screen.keep is not None:
        from screener.outputs.history import History

        previous = History(Path(history)).previous(rule_screen.stem, day)
    result = run_screen(rule_screen, cfg, api.load_data(cfg), day, all_fields=True, previous=previous)
    return watchlist_frame(result).with_columns(pl.col(c).cast(pl.Int64) for c in INTEGER_FIELDS
                                                if c in result.frame.columns)


def watchlist_frame(result):
    """`screen`'s frame from a `ScreenResult`: its included rows with the columns in the order
    `screen` documents (internal `_` columns dropped)."""
    sc = result.screen
    derived = {*_ENGINE_COLUMNS, *(result.filter_col(i) for i in range(len(sc.filters))),
               *(result.norm_col(i) for i in range(len(sc.scores))), *(result.raw_col(i) for i in range(len(sc.scores)))}
    fields = [c for c in result.frame.columns if not c.startswith("_") and c not in derived]
    columns = [*fields, *(result.filter_col(i) for i in range(len(sc.filters))),
               *(result.norm_col(i) for i in range(len(sc.scores))), *(result.raw_col(i) for i in range(len(sc.scores))),
               "score", "rank", "pinned", "pin_reason"]
    if sc.per:
        columns.append("group_rank")
    import polars as pl

    extra = [pl.col("_kept").alias("kept")] if sc.keep is not None else []
    return result.included.select(*columns, *extra)


def backtest(rule, start=None, end=None, every: str = "month", *, dates=None, buckets: int = 5,
             cost_bps: float | None = None, benchmark: str | None = None, pins: bool = False, config=None):
    """Backtest one rule (a file path, a rule name in rules/, or a `Screen`) from `start` to `end`
    (dates or ISO text; `end` defaults to today, or the newest date of a sample snapshot), at the
    end of each `every` period, or at explicit `dates`. Returns a `BacktestResult`: `.periods` (a
    polars DataFrame, one row per period), `.summary` (a dict), `.components`, `.notices`,
    `.to_dict()` (the `backtest --json` shape)."""
    from screener import api

    cfg = _config(config)
    screen = _screen(cfg, rule)
    start, end = _date(start, "start"), _date(end, "end")
    explicit = [_date(d, "dates") for d in dates] if dates else None
    if explicit is None and end is None:
        end = api.default_as_of(cfg)[0]
    (result,) = api.backtest(cfg, [screen], start=start, end=end, every=None if explicit else every, dates=explicit,
                             buckets=buckets, cost_bps=cost_bps, benchmark=benchmark, pins=pins)
    return result
