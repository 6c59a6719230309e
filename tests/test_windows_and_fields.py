"""Membership windows, industries and the fields from the optional columns (returns, traded
amount, revenue and net profit), each on a small world written by the test with values worked
out by hand; and the sample snapshot's default date.

The world, as of D = 2026-06-30 (D - 30 = 2026-05-31, D - 91 = 2026-03-31):

  603001.SH  adj_close on some rows: p(D) = 60 (adj); p(D - 30) is the newest *non-null* adj_close
             on or before 2026-05-31, the 2026-05-20 row's 50 (the 2026-05-31 row has no adj_close),
             so return_1m = 60 / 50 - 1 = 0.2 (from close it would be 30 / 28 - 1); return_3m =
             60 / 40 - 1 = 0.5; nothing a half-year back: return_6m null. amount over
             (2026-05-31, 2026-06-30]: 500 (06-01) and 1000 (06-30) -> 750; the 2026-05-31 row
             (2000) is exactly D - 30 and left out, the 2026-07-31 row is the future.
  603002.SH  close only: 25 / 20 - 1 = 0.25.
  0001.HK    suspended since 2026-04-30: p(D) = p(D - 30) = 44, return_1m = 0; return_3m = 44 / 40 - 1;
             no amount in the window: null. Revenue CNY 1.6e9 -> 2.0e9, market cap HKD 4.4e9,
             1 CNY = 1.1 HKD: ps_fy1 = 4.4e9 / (2.0e9 * 1.1) = 2.0, revenue_growth_fy1 0.25;
             net profit -1e8 -> 3e8: growth null (base <= 0).
  IONQ.US    adj_close appears on 2026-06-30 only: as of D it has adj_close, and p(D - 30) has none,
             so return_1m is null (never close against adj_close); as of 2026-06-20 it has no
             adj_close yet (rows after the run date never count): close 44 / 40 - 1 = 0.1.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.config import load_config
from screener.data.snapshot import load_members, load_snapshot, membership_dating
from screener.engine import derive
from screener.engine.derive import derive_fields, price_at
from screener.rules.fields import FIELDS

from .conftest import write
from .test_load_paths import assert_paths_agree

D = date(2026, 6, 30)

PRICES = """
symbol,close,currency,as_of,market_cap,adj_close,amount
603001.SH,20,CNY,2026-03-31,,40,
603001.SH,25,CNY,2026-05-20,,50,3000
603001.SH,28,CNY,2026-05-31,,,2000
603001.SH,29,CNY,2026-06-01,,58,500
603001.SH,30,CNY,2026-06-30,3000000000,60,1000
603001.SH,99,CNY,2026-07-31,,198,9000
603002.SH,20,CNY,2026-05-29,,,
603002.SH,25,CNY,2026-06-30,2000000000,,
0001.HK,40,HKD,2026-03-31,,,100
0001.HK,44,HKD,2026-04-30,4400000000,,200
IONQ.US,40,USD,2026-05-20,,,
IONQ.US,44,USD,2026-06-10,,,
IONQ.US,42,USD,2026-06-30,9000000000,84,
"""

CONSENSUS = """
symbol,fiscal_year,eps,actual,as_of,currency,analysts,net_profit,revenue
603001.SH,2025,1.0,true,2026-04-30,CNY,10,,
603001.SH,2026,1.5,false,2026-05-31,CNY,12,,
603002.SH,2025,0.8,true,2026-04-30,CNY,5,100000000,0
603002.SH,2026,1.0,false,2026-05-31,CNY,5,120000000,500000000
0001.HK,2025,1.6,true,2026-04-30,CNY,8,-100000000,1600000000
0001.HK,2026,2.0,false,2026-05-31,CNY,8,300000000,2000000000
IONQ.US,2025,-0.5,true,2026-04-30,USD,9,,
IONQ.US,2026,-0.2,false,2026-05-31,USD,9,,-5
"""


def fields_of(project, as_of=D, needed=None) -> dict[str, dict]:
    cfg = load_config(project / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    members = load_members(cfg.universes_dir, ("tiny",), cfg.display, as_of=as_of)
    lf = derive_fields(members, snap, as_of, cfg.esg_raters, cfg.exposure_scores, needed)
    return {r["symbol"]: r for r in lf.collect().iter_rows(named=True)}


@pytest.fixture
def world(tiny):
    write(tiny / "data" / "prices.csv", PRICES)
    write(tiny / "data" / "consensus.csv", CONSENSUS)
    return tiny


# -- returns: p(X) -----------------------------------------------------------------------------


def test_returns_use_adj_close_where_a_security_has_it_and_close_otherwise(world):
    f = fields_of(world)
    assert f["603001.SH"]["return_1m"] == pytest.approx(0.2)
    assert f["603001.SH"]["return_3m"] == pytest.approx(0.5)
    assert f["603001.SH"]["return_6m"] is None and f["603001.SH"]["return_12m"] is None
    assert f["603002.SH"]["return_1m"] == pytest.approx(0.25)
    assert f["PRIVATE:x"]["return_1m"] is None


def test_a_suspended_security_keeps_its_last_price(world):
    f = fields_of(world)["0001.HK"]
    assert f["return_1m"] == 0.0
    assert f["return_3m"] == pytest.approx(44 / 40 - 1)


def test_returns_never_mix_adj_close_and_close_and_never_see_later_rows(world):
    assert fields_of(world)["IONQ.US"]["return_1m"] is None
    early = fields_of(world, date(2026, 6, 20))["IONQ.US"]
    assert early["return_1m"] == pytest.approx(44 / 40 - 1)


def test_price_at_gives_p_of_x_at_many_dates(world):
    cfg = load_config(world / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    got = price_at(snap.get("prices"), [date(2026, 5, 31), D, date(2026, 3, 31)], known=D).collect()
    assert got.columns == ["symbol", "date", "price"]
    p = {(s, d): v for s, d, v in got.iter_rows()}
    assert p[("603001.SH", date(2026, 5, 31))] == 50 and p[("603001.SH", D)] == 60
    assert p[("603001.SH", date(2026, 3, 31))] == 40
    assert p[("0001.HK", D)] == 44 and p[("603002.SH", date(2026, 3, 31))] is None
    assert p[("IONQ.US", D)] == 84 and p[("IONQ.US", date(2026, 5, 31))] is None
    # by default the latest date decides who has adj_close: 2026-06-20 alone sees IONQ on close
    alone = price_at(snap.get("prices"), [date(2026, 6, 20)]).collect()
    assert alone.filter(pl.col("symbol") == "IONQ.US")["price"].item() == 44
    assert got.height == 4 * 3  # one row per symbol with a price row and date, in order
    assert got["symbol"].to_list() == sorted(got["symbol"].to_list())


def test_amount_average_counts_rows_after_d_minus_30_up_to_d(world):
    f = fields_of(world)
    assert f["603001.SH"]["amount_avg_1m"] == pytest.approx(750)
    assert f["0001.HK"]["amount_avg_1m"] is None
    assert f["603002.SH"]["amount_avg_1m"] is None  # rows, but no amount on them
    # one day later the 2026-06-01 row is still in, one day earlier the 2026-05-31 row comes in
    assert fields_of(world, date(2026, 6, 29))["603001.SH"]["amount_avg_1m"] == pytest.approx((2000 + 500) / 2)


def test_look_backs_are_skipped_when_no_rule_field_needs_them(world):
    f = fields_of(world, needed={"eps_fy1", "close"})
    row = f["603001.SH"]
    assert all(row[k] is None for k in ("return_1m", "return_3m", "return_6m", "return_12m", "amount_avg_1m"))
    assert row["close"] == 30
    only = fields_of(world, needed={"return_1m"})["603001.SH"]
    assert only["return_1m"] == pytest.approx(0.2) and only["return_3m"] is None


# -- revenue, net profit, P/S ------------------------------------------------------------------


def test_ps_converts_revenue_into_the_trading_currency(world):
    f = fields_of(world)
    hk = f["0001.HK"]
    assert hk["revenue_fy1"] == 2.0e9 and hk["net_profit_fy1"] == 3.0e8  # reporting currency (CNY)
    assert hk["ps_fy1"] == pytest.approx(2.0)
    assert f["603002.SH"]["ps_fy1"] == pytest.approx(4.0)
    assert f["IONQ.US"]["ps_fy1"] is None  # revenue <= 0
    (world / "data" / "fx.csv").unlink()
    f = fields_of(world)
    assert f["0001.HK"]["ps_fy1"] is None and f["0001.HK"]["revenue_fy1"] == 2.0e9
    assert f["603002.SH"]["ps_fy1"] == pytest.approx(4.0)


def test_growth_is_null_when_the_base_is_not_positive(world):
    f = fields_of(world)
    assert f["0001.HK"]["revenue_growth_fy1"] == pytest.approx(0.25)
    assert f["0001.HK"]["net_profit_growth_fy1"] is None  # base -1e8
    assert f["603002.SH"]["revenue_growth_fy1"] is None  # base 0
    assert f["603002.SH"]["net_profit_growth_fy1"] == pytest.approx(0.2)
    assert f["603001.SH"]["revenue_fy1"] is None and f["603001.SH"]["revenue_growth_fy1"] is None


# -- the catalogue and the derived columns -------------------------------------------------------


@pytest.mark.parametrize("needed", [None, set(), {"return_1m", "ps_fy1"}])
def test_every_catalogue_field_is_a_derived_column_and_every_other_column_is_documented(world, needed):
    cfg = load_config(world / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    members = load_members(cfg.universes_dir, ("tiny",), cfg.display, as_of=D)
    columns = derive_fields(members, snap, D, cfg.esg_raters, cfg.exposure_scores, needed).collect_schema().names()
    assert len(columns) == len(set(columns))
    assert set(FIELDS) <= set(columns), set(FIELDS) - set(columns)
    assert set(columns) - set(FIELDS) == set(derive.INTERNAL_COLUMNS)


def test_catalogue_kinds_of_the_new_fields():
    from screener.rules.fields import Kind

    assert FIELDS["industry"].kind == Kind.TEXT
    for name in ("return_1m", "return_3m", "return_6m", "return_12m", "amount_avg_1m", "revenue_fy1",
                 "net_profit_fy1", "revenue_growth_fy1", "net_profit_growth_fy1", "ps_fy1"):
        assert FIELDS[name].kind == Kind.NUMBER, name


# -- membership windows and industries ---------------------------------------------------------

WINDOWED = """
symbol,name,exposure,listed,name_en,exchange,source,note,industry,added,removed
603001.SH,甲公司,core,true,Alpha,SSE,test,,计算机,,
603002.SH,乙公司,pure,true,Beta,SSE,test,,,2026-07-01,
0001.HK,丙公司,partial,true,Gamma,HKEX,test,,计算机,2026-01-01,2026-06-30
0001.HK,丙公司,core,true,Gamma,HKEX,test,,计算机,2026-07-15,
IONQ.US,IonQ,pure,true,IonQ,NYSE,test,,,,
PRIVATE:x,私营,pure,false,Private X,,test,,,,
"""


def run_json(cli, project, as_of):
    r = cli(project, "run", "rules/small.toml", "--as-of", as_of, "--json", "--no-export")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def symbols_of(payload) -> set[str]:
    return {r["symbol"] for r in payload["rows"]} | {e["symbol"] for e in payload["excluded"]}


def test_a_run_uses_the_rows_whose_window_covers_its_date(tiny, cli):
    write(tiny / "universes" / "tiny.csv", WINDOWED)
    before = run_json(cli, tiny, "2026-06-30")
    # 603002.SH joins on 2026-07-01; 0001.HK left on 2026-06-30 (the window is [added, removed))
    assert symbols_of(before) == {"603001.SH", "IONQ.US", "PRIVATE:x"}
    assert before["members"] == 3
    after = run_json(cli, tiny, "2026-07-20")
    assert symbols_of(after) == {"603001.SH", "603002.SH", "0001.HK", "IONQ.US", "PRIVATE:x"}
    hk = next(r for r in after["rows"] if r["symbol"] == "0001.HK")
    assert hk["exposure"] == "core"  # the rejoined row's exposure


def test_universes_counts_members_as_of_a_date(tiny, cli):
    write(tiny / "universes" / "tiny.csv", WINDOWED)
    r = cli(tiny, "universes", "--as-of", "2026-06-30", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["members"] == 3
    r = cli(tiny, "universes", "tiny", "--as-of", "2026-07-20", "--json")
    assert sorted(m["symbol"] for m in json.loads(r.stdout)) == ["0001.HK", "603001.SH", "603002.SH", "IONQ.US", "PRIVATE:x"]


def test_members_carry_industry_and_one_row_per_symbol(tiny):
    write(tiny / "universes" / "tiny.csv", WINDOWED)
    write(tiny / "universes" / "other.csv", "symbol,name,exposure,listed,industry\n0001.HK,丙,pure,true,电子\n"
          "603002.SH,乙,core,true,电子\n")
    cfg = load_config(tiny / "config.toml")
    allrows = load_members(cfg.universes_dir, ("tiny",), cfg.display)  # no date: every symbol once
    assert allrows["symbol"].to_list() == ["0001.HK", "603001.SH", "603002.SH", "IONQ.US", "PRIVATE:x"]
    m = load_members(cfg.universes_dir, ("tiny", "other"), cfg.display, as_of=date(2026, 7, 20))
    rows = {r["symbol"]: r for r in m.iter_rows(named=True)}
    assert rows["0001.HK"]["industry"] == "计算机"  # the first universe's, in the order given
    assert rows["0001.HK"]["themes"] == ["tiny", "other"] and rows["0001.HK"]["exposure"] == "pure"
    assert rows["603002.SH"]["industry"] == "电子"  # blank in tiny: the first non-null
    assert rows["IONQ.US"]["industry"] is None  # blank is null, never ""
    early = load_members(cfg.universes_dir, ("tiny", "other"), cfg.display, as_of=date(2026, 6, 30))
    hk = early.filter(pl.col("symbol") == "0001.HK").row(0, named=True)
    assert hk["themes"] == ["other"] and hk["industry"] == "电子"


def test_blank_industry_is_a_null_group_a_rule_can_test(tiny, cli):
    write(tiny / "universes" / "tiny.csv", WINDOWED)
    write(tiny / "rules" / "ind.toml", """
        universe = ["tiny"]
        [filters]
        unclassified = "is_null(industry)"
    """)
    r = cli(tiny, "run", "rules/ind.toml", "--as-of", "2026-07-20", "--json", "--no-export")
    assert r.exit_code == 0, r.output
    assert {row["symbol"] for row in json.loads(r.stdout)["rows"]} == {"603002.SH", "IONQ.US"}
    f = fields_of(tiny, date(2026, 7, 20))
    assert f["603001.SH"]["industry"] == "计算机" and f["IONQ.US"]["industry"] is None


def test_overlapping_windows_are_an_error_naming_both_rows(tiny, cli):
    write(tiny / "universes" / "tiny.csv", """
        symbol,name,exposure,listed,added,removed
        603001.SH,甲公司,core,true,2026-01-01,2026-07-01
        603002.SH,乙公司,pure,true,,
        603001.SH,甲公司,core,true,2026-06-01,
    """)
    for args in (("run", "rules/small.toml", "--as-of", "2026-06-30", "--no-export"), ("data", "check")):
        r = cli(tiny, *args)
        assert r.exit_code == 2, r.output
        assert "universes/tiny.csv:4:" in r.output and "row 3 (line 4) overlaps row 1 (line 2)" in r.output, r.output
        assert "603001.SH" in r.output and "Traceback" not in r.output


def test_a_repeated_symbol_without_windows_overlaps_too(tiny, cli):
    write(tiny / "universes" / "tiny.csv", """
        symbol,name,exposure,listed
        603001.SH,甲公司,core,true
        603001.SH,甲公司,pure,true
    """)
    r = cli(tiny, "data", "check")
    assert r.exit_code == 2 and "row 2 (line 3) overlaps row 1 (line 2)" in r.output, r.output


def test_removed_not_after_added_is_an_error_naming_the_row(tiny, cli):
    write(tiny / "universes" / "tiny.csv", """
        symbol,name,exposure,listed,added,removed
        603001.SH,甲公司,core,true,,
        603002.SH,乙公司,pure,true,2026-03-01,2026-03-01
    """)
    r = cli(tiny, "run", "rules/small.toml", "--as-of", "2026-06-30", "--no-export")
    assert r.exit_code == 2
    assert "universes/tiny.csv:3:" in r.output and "row 2, column removed: 2026-03-01 is not after added 2026-03-01" \
        in r.output, r.output


def test_a_malformed_window_date_names_the_row_and_column(tiny, cli):
    write(tiny / "universes" / "tiny.csv", """
        symbol,name,exposure,listed,added,removed
        603001.SH,甲公司,core,true,2026/03/01,
    """)
    r = cli(tiny, "data", "check")
    assert r.exit_code == 2
    assert "universes/tiny.csv:2:" in r.output
    assert "row 1, column added: '2026/03/01' is not a date (YYYY-MM-DD)" in r.output, r.output


def test_membership_dating_all_some_none(tiny):
    u = tiny / "universes"
    write(u / "dated.csv", "symbol,name,exposure,listed,added,removed\n603001.SH,a,pure,true,2026-01-01,\n"
          "603002.SH,b,pure,true,,2026-05-01\n")
    write(u / "half.csv", "symbol,name,exposure,listed,added\n603001.SH,a,pure,true,2026-01-01\n"
          "603002.SH,b,pure,true,\n0001.HK,c,pure,true,\n")
    cfg = load_config(tiny / "config.toml")
    dated = membership_dating(u, ("dated",), cfg.display)
    assert (dated.kind, dated.undated_rows, dated.total_rows) == ("all", 0, 2)
    assert str(dated) == "all"
    half = membership_dating(u, ("half",), cfg.display)
    assert (half.kind, half.undated_rows, half.total_rows) == ("some", 2, 3)
    assert str(half) == "some (2 of 3 rows undated)"
    assert membership_dating(u, ("tiny",), cfg.display).kind == "none"
    both = membership_dating(u, ("dated", "half", "tiny"), cfg.display)
    assert (both.kind, both.undated_rows, both.total_rows) == ("some", 7, 10)


def test_universes_count_the_members_of_today(tiny, cli):
    write(tiny / "universes" / "tiny.csv", WINDOWED)
    import time_machine

    with time_machine.travel(datetime(2026, 6, 30, 4, tzinfo=timezone.utc), tick=False):
        counts = json.loads(cli(tiny, "universes", "--json").stdout)
        members = json.loads(cli(tiny, "universes", "tiny", "--json").stdout)
    assert counts[0]["members"] == 3 and counts[0]["listed"] == 2
    assert sorted(m["symbol"] for m in members) == ["603001.SH", "IONQ.US", "PRIVATE:x"]
    with time_machine.travel(datetime(2026, 7, 20, 4, tzinfo=timezone.utc), tick=False):
        counts = json.loads(cli(tiny, "universes", "--json").stdout)
    assert counts[0]["members"] == 5


UNIVERSE_CLEAN = [["600000.SH", "000001.SZ"], ["甲", "B"], ["pure", "core"], ["true", "false"],
                  ["计算机", "", "电子"], ["", "2026-01-01", "2026-06-01"], ["", "2026-03-01", "2026-06-01", "2026-12-31"]]
UNIVERSE_ODD = [[" 600000.SH", ""], [" 甲", ""], ["Pure", ""], ["yes", " true"], [" 计算机", "电子 "],
                ["2026/01/01", " 2026-01-01", "2026-02-30"], ["2026-13-01", "2026-06-01 ", "x"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(*[st.sampled_from(c) for c in UNIVERSE_CLEAN]), min_size=1, max_size=5),
       odd=st.none() | st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 2)))
def test_the_fast_path_never_disagrees_with_the_text_path_on_windows(tmp_path, rows, odd):
    """Repeated symbols with and without windows (overlapping, touching, empty), blanks, bad dates."""
    assert_paths_agree(tmp_path, "universe", "symbol,name,exposure,listed,industry,added,removed", rows, odd,
                       UNIVERSE_ODD)


# -- the sample snapshot's default date ---------------------------------------------------------


def test_default_as_of_is_the_newest_price_date_of_a_sample_snapshot(sample):
    from screener.api import default_as_of

    day, note = default_as_of(load_config(sample / "config.toml"))
    assert day == date(2026, 11, 20)
    assert note == "as of 2026-11-20, the newest date in the sample snapshot (pass --as-of to choose)"


def test_default_as_of_is_today_on_any_other_snapshot(tiny):
    from screener.api import default_as_of
    import time_machine

    with time_machine.travel(datetime(2027, 3, 15, 4, tzinfo=timezone.utc), tick=False):
        assert default_as_of(load_config(tiny / "config.toml")) == (date(2027, 3, 15), None)


@pytest.mark.parametrize("later", [date(2026, 12, 1), date(2027, 3, 15), date(2031, 1, 2)])
def test_the_readme_first_command_prints_no_warning_on_a_later_day(sample, cli, later):
    import time_machine

    with time_machine.travel(datetime.combine(later, datetime.min.time(), timezone.utc) + timedelta(hours=4),
                             tick=False):
        r = cli(sample, "run", "rules/esg_compute_leaders.toml")
        assert r.exit_code == 0, r.output
        assert "warning" not in r.output.lower() and "warning" not in r.stderr.lower(), r.stderr
        assert "as of 2026-11-20, the newest date in the sample snapshot (pass --as-of to choose)" in r.stderr
        assert (sample / "watchlists" / "esg_compute_leaders" / "2026-11-20").is_dir()
        js = cli(sample, "run", "rules/esg_compute_leaders.toml", "--json", "--no-export")
        assert json.loads(js.stdout)["as_of"] == "2026-11-20"  # stdout stays JSON; the note is on stderr
        ex = cli(sample, "explain", "esg_compute_leaders", "000977.SZ", "--json")
        assert ex.exit_code == 0 and "newest date in the sample snapshot" in ex.stderr
        assert json.loads(ex.stdout)["as_of"] == "2026-11-20"


def test_an_explicit_as_of_prints_no_note(sample, cli):
    r = cli(sample, "run", "rules/esg_compute_leaders.toml", "--as-of", "2026-11-26", "--no-export")
    assert r.exit_code == 0 and "newest date in the sample snapshot" not in r.stderr


# -- the sample snapshot has values for the new fields -------------------------------------------


def test_the_sample_snapshot_feeds_the_new_fields(sample):
    cfg = load_config(sample / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    day = date(2026, 11, 20)
    names = ("esg_compute", "esg_reporters", "ai_compute", "quantum", "bci")
    members = load_members(cfg.universes_dir, names, cfg.display, as_of=day)
    frame = derive_fields(members, snap, day, cfg.esg_raters, cfg.exposure_scores).collect()
    listed = frame.filter(pl.col("listed"))
    for name in ("return_1m", "return_3m", "return_6m", "return_12m", "amount_avg_1m", "revenue_fy1",
                 "net_profit_fy1", "revenue_growth_fy1", "ps_fy1"):
        assert listed[name].null_count() == 0, name
    prices = snap.get("prices").collect()
    assert prices["as_of"].max() == day and prices["as_of"].min() <= day - timedelta(days=548)
    # the Hong Kong listings have no adj_close (returns from close); the others have it on every row
    hk = prices.filter(pl.col("symbol").str.ends_with(".HK"))
    assert hk["adj_close"].null_count() == hk.height
    assert prices.filter(pl.col("symbol").str.ends_with(".HK").not_())["adj_close"].null_count() == 0


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["600000.SH", "000001.SZ", "0020.HK"]), st.integers(0, 60),
                               st.floats(1, 100), st.none() | st.floats(1, 300)), min_size=1, max_size=25),
       at=st.lists(st.integers(0, 70), min_size=1, max_size=4), known=st.integers(0, 70))
def test_price_at_follows_the_definition_of_p(rows, at, known):
    """price_at against the definition written out in Python: per security, adj_close series if any
    row known at `known` has one, else close; the newest value of that series on or before X."""
    start = date(2026, 1, 1)
    seen: dict = {}
    for symbol, day, close, adj in rows:
        seen[(symbol, day)] = (close, adj)  # one row per (symbol, as_of), as the schema guarantees
    frame = pl.DataFrame([{"symbol": s, "as_of": start + timedelta(days=d), "close": c, "currency": "CNY",
                           "market_cap": None, "adj_close": a, "amount": None} for (s, d), (c, a) in seen.items()],
                         schema=derive.PRICES_SCHEMA)
    dates = [start + timedelta(days=x) for x in at]
    k = start + timedelta(days=known)
    got = {(s, d): p for s, d, p in price_at(frame.lazy(), dates, known=k).collect().iter_rows()}
    expected = {}
    for symbol in {s for s, _ in seen}:
        mine = sorted((start + timedelta(days=d), c, a) for (s, d), (c, a) in seen.items() if s == symbol)
        mine = [r for r in mine if r[0] <= k]
        if not mine:
            continue
        use_adj = any(a is not None for _, _, a in mine)
        for x in set(dates):
            values = [(a if use_adj else c) for day, c, a in mine if day <= x and (a if use_adj else c) is not None]
            expected[(symbol, x)] = values[-1] if values else None
    assert got == expected
