"""`screener backtest` as a user runs it: the real CLI on the sample project and on small
projects written by the test; bad input exits 2 with a message, never a traceback."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest

from .conftest import write

RULE = "rules/esg_compute_leaders.toml"


def test_json_has_designs_shape_and_every_notice(sample, cli):
    r = cli(sample, "backtest", RULE, "--from", "2026-03-31", "--to", "2026-11-20", "--json", "--cost-bps", "10")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {"rule", "from", "to", "every", "periods", "summary", "components", "membership_dates", "pins",
            "sample", "notices"} <= set(out)
    assert (out["from"], out["to"], out["every"]) == ("2026-03-31", "2026-11-20", "month")
    # month ends 2026-03-31 .. 2026-10-31: 8 dates, 7 periods
    assert [p["date"] for p in out["periods"]][0] == "2026-03-31" and len(out["periods"]) == 7
    first = out["periods"][0]
    assert list(first) == ["date", "end", "members", "watchlist_return", "benchmark_return", "watchlist_net_return",
                           "ic", "buckets", "turnover", "missing_returns"]
    assert first["turnover"] is None and len(first["buckets"]) == 5
    # the rated filter needs the ESG ratings of 2026-04-21: nobody passes at 2026-03-31 (point in time)
    assert first["members"] == [] and first["watchlist_return"] is None
    assert out["summary"]["periods"] == 7 and out["summary"]["null_periods"] == 1
    assert set(out["components"]) == {"earnings", "esg", "exposure", "value"}
    assert out["membership_dates"] == "none" and out["sample"] is True and out["pins"] is False
    assert any("hindsight and survivorship bias" in n for n in out["notices"])
    assert any("SAMPLE DATA" in n for n in out["notices"])
    assert any("forward return" in n for n in out["notices"])


def test_the_terminal_summary_and_the_default_to_on_sample_data(sample, cli):
    r = cli(sample, "backtest", RULE, "--from", "2026-03-31")
    assert r.exit_code == 0, r.output
    assert "note: --to 2026-11-20, the newest date in the sample snapshot" in r.stderr
    assert "ESG compute leaders · backtest 2026-03-31 to 2026-11-20, every month · 7 periods" in r.stdout
    assert "cumulative" in r.stdout and "IC mean" in r.stdout and "components: earnings IC" in r.stdout
    assert "membership dates: none" in r.stdout and "hindsight and survivorship bias" in r.stdout


def test_several_rules_and_every_format(sample, cli, tmp_path):
    out_dir = tmp_path / "bt"
    r = cli(sample, "backtest", RULE, "rules/esg_reporters_by_market.toml", "--dates",
            "2026-06-30,2026-04-30,2026-05-31,2026-04-30", "--format", "csv,json,html", "--out", str(out_dir), "--json")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert [p["rule"] for p in payload] == [RULE, "rules/esg_reporters_by_market.toml"]
    assert payload[0]["every"] is None and payload[0]["from"] is None
    assert payload[0]["dates"] == ["2026-04-30", "2026-05-31", "2026-06-30"]  # sorted, duplicate dropped
    assert json.loads((out_dir / "backtest.json").read_text(encoding="utf-8")) == payload
    rows = list(csv.DictReader((out_dir / "esg_compute_leaders.periods.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [row["date"] for row in rows] == ["2026-04-30", "2026-05-31"]
    assert float(rows[0]["watchlist_return"]) == pytest.approx(payload[0]["periods"][0]["watchlist_return"], abs=0)
    assert int(rows[0]["member_count"]) == len(payload[0]["periods"][0]["members"])
    assert (out_dir / "backtest.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert "wrote" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--from", "2026-09-30", "--to", "2026-03-31"], "--from 2026-09-30 is after --to 2026-03-31"),
    (["--from", "2026-10-01", "--to", "2026-10-30"], "a backtest needs at least two"),
    (["--from", "2026-01-31", "--to", "2026-11-20", "--every", "fortnight"], "--every must be one of month, quarter, week"),
    (["--dates", "2026-04-30,2026-05-31", "--every", "month"], "--dates is not combined with"),
    (["--from", "2026-03-31", "--to", "2026-11-20", "--buckets", "1"], "--buckets must be at least 2"),
    (["--from", "2020-01-31", "--to", "2026-11-20"], "is before the earliest price"),
    (["--from", "2026-03-31", "--to", "2026-11-20", "--benchmark", "510300.SH"], "--benchmark 510300.SH: no prices"),
    (["--from", "2026-03-31", "--to", "2026-13-01"], "is not a date"),
])
def test_bad_input_exits_2_with_a_message(sample, cli, args, message):
    r = cli(sample, "backtest", RULE, *args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_more_buckets_than_passers_warns_and_leaves_empty_buckets_null(sample, cli):
    r = cli(sample, "backtest", RULE, "--from", "2026-04-30", "--to", "2026-06-30", "--buckets", "12", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert "2 of 2 dates have fewer passers with a return than --buckets 12" in r.stderr
    assert all(len(p["buckets"]) == 12 and None in p["buckets"] for p in out["periods"])


def test_a_universe_without_prices_says_so_and_exits_1(sample, cli):
    write(sample / "universes" / "unpriced.csv", "symbol,name,exposure,listed\n600999.SH,无价,pure,true\n688999.SH,无价二,core,true\n")
    write(sample / "rules" / "unpriced.toml", 'universe = ["unpriced"]\n[scores]\nx = { expr = "exposure_score" }\n')
    r = cli(sample, "backtest", "rules/unpriced.toml", "--from", "2026-03-31", "--to", "2026-06-30")
    assert r.exit_code == 1, r.output
    assert "every forward return is missing" in r.stderr


def test_a_benchmark_symbol_replaces_the_universe_benchmark(sample, cli):
    r = cli(sample, "backtest", RULE, "--from", "2026-04-30", "--to", "2026-06-30", "--benchmark", "603019.SH", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["benchmark"] == "603019.SH"
    import polars as pl

    prices = pl.read_csv(sample / "data" / "sample" / "prices.csv", try_parse_dates=True).filter(pl.col("symbol") == "603019.SH")

    def p(x: date) -> float:
        rows = prices.filter(pl.col("as_of") <= x).sort("as_of")
        col = "adj_close" if prices["adj_close"].drop_nulls().len() else "close"
        return rows.filter(pl.col(col).is_not_null())[col][-1]

    expected = p(date(2026, 5, 31)) / p(date(2026, 4, 30)) - 1
    assert out["periods"][0]["benchmark_return"] == pytest.approx(expected, abs=1e-12)


def test_pins_apply_at_past_dates_only_with_the_option(sample, cli):
    rule = (sample / RULE).read_text(encoding="utf-8") + (
        '\n[[pins]]\nsymbol = "603660.SH"\naction = "include"\nreason = "watch"\n'
        '\n[[pins]]\nsymbol = "000977.SZ"\naction = "exclude"\nreason = "compliance"\n')
    write(sample / "rules" / "pinned.toml", rule)
    args = ("backtest", "rules/pinned.toml", "--from", "2026-04-30", "--to", "2026-06-30", "--json")
    without = json.loads(cli(sample, *args).stdout)
    r = cli(sample, *args, "--pins")
    assert r.exit_code == 0, r.output
    with_pins = json.loads(r.stdout)
    assert without["pins"] is False and with_pins["pins"] is True
    for p in without["periods"]:
        assert "603660.SH" not in p["members"]
    for p in with_pins["periods"]:
        assert "603660.SH" in p["members"] and "000977.SZ" not in p["members"]
    assert any("pins are ignored at past dates" in n for n in without["notices"])
    assert any("look-ahead" in n for n in with_pins["notices"])
