"""The notebook API: `screener.backtest(...)` with plain arguments, as DESIGN.md's "Python API" says."""

from __future__ import annotations

import polars as pl
import pytest


def test_screener_backtest_returns_periods_and_summary(sample, monkeypatch):
    monkeypatch.chdir(sample)
    import screener

    assert "backtest" in screener.__all__
    result = screener.backtest("rules/esg_compute_leaders.toml", "2026-04-30", "2026-07-31")
    assert isinstance(result.periods, pl.DataFrame) and isinstance(result.summary, dict)
    assert result.periods["date"].cast(pl.String).to_list() == ["2026-04-30", "2026-05-31", "2026-06-30"]
    assert result.summary["periods"] == 3
    # the same numbers as the CLI's library call
    from screener import api
    from screener.config import load_config

    cfg = load_config("config.toml")
    (same,) = api.backtest(cfg, api.load_screens(cfg, ["rules/esg_compute_leaders.toml"]),
                           start=result.dates[0], end=result.dates[-1], every="month")
    assert same.to_dict() == result.to_dict()
    # a rule name, and the end left out: the sample snapshot's newest date
    by_name = screener.backtest("esg_compute_leaders", "2026-08-31")
    assert by_name.end.isoformat() == "2026-11-20"


def test_bad_dates_raise_input_error(sample, monkeypatch):
    monkeypatch.chdir(sample)
    import screener

    with pytest.raises(screener.InputError) as e:
        screener.backtest("rules/esg_compute_leaders.toml", "2026-13-01", "2026-11-20")
    assert "is not a date" in e.value.problems[0].message
