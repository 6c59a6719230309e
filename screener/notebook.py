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
