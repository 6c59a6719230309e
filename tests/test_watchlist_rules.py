"""Groups, missing values, buffers and pins, end to end through rule files, on a world whose
expected watchlists are worked out by hand in each test."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.config import load_config
from screener.data.snapshot import load_snapshot
from screener.engine.screen import Previous, run_screen
from screener.rules.rule import parse_rule

from .conftest import CONFIG, write

D = date(2026, 6, 30)
# 20 listed securities 600001.SH .. 600020.SH; close 20 .. 1, so ranking on close puts
# 600001.SH first (rank r is 6000rr.SH); industries: 1-6 电子, 7 计算机, 8-20 blank (a null group)
SYMBOLS = [f"6000{i:02d}.SH" for i in range(1, 21)]


def industry(i: int) -> str:
    return "电子" if i <= 6 else ("计算机" if i == 7 else "")


@pytest.fixture
def world(tmp_path):
    write(tmp_path / "config.toml", CONFIG)
    rows = "".join(f"{s},名{i},core,true,{industry(i)}\n" for i, s in enumerate(SYMBOLS, 1))
    write(tmp_path / "universes" / "w.csv", "symbol,name,exposure,listed,industry\n" + rows)
    # market_cap missing for 600002.SH (for `missing`)
    prices = "".join(f"{s},{21 - i},CNY,2026-06-30,{'' if i == 2 else i * 10 ** 9}\n" for i, s in enumerate(SYMBOLS, 1))
    write(tmp_path / "data" / "prices.csv", "symbol,close,currency,as_of,market_cap\n" + prices)
    return tmp_path


def screen(text: str):
    return parse_rule(text, "w.toml", "w", ["w"])


def run(project, text, as_of=D, previous=None):
    cfg = load_config(project / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    return run_screen(screen(text), cfg, snap, as_of, previous=previous)


def verdict(res, symbol):
    return res.verdicts.filter(pl.col("symbol") == symbol).row(0, named=True)


BUFFERED = """
universe = ["w"]
[scores]
c = { expr = "close", weight = 1 }
[output]
top = 10
keep = 15
"""


def test_a_buffer_keeps_an_incumbent_at_rank_12_of_a_top_10_with_keep_15(world):
    p = Previous(date(2026, 5, 29), frozenset({SYMBOLS[2], SYMBOLS[11], SYMBOLS[15]}), run_id=7)
    res = run(world, BUFFERED, previous=p)
    # incumbents: rank 3 and rank 12 are within 15 and stay; rank 16 is outside; the other 8 slots
    # go to the best others: ranks 1, 2, 4..9
    assert res.included["rank"].to_list() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]
    assert res.previous == p
    assert verdict(res, SYMBOLS[11])["reason"] == "kept by the buffer (rank 12, keep 15)"
    assert verdict(res, SYMBOLS[9])["reason"] == "rank 10, its place taken by a member kept by the buffer (keep 15)"
    assert verdict(res, SYMBOLS[12])["reason"] == "rank 13, below top 10"
    assert verdict(res, SYMBOLS[15])["reason"] == "rank 16, outside keep 15"


def test_without_a_previous_watchlist_a_buffer_is_plain_top(world):
    res = run(world, BUFFERED, previous=None)
    assert res.included["rank"].to_list() == list(range(1, 11)) and res.previous is None


def test_per_group_top_with_a_group_smaller_than_top(world):
    res = run(world, """
        universe = ["w"]
        [scores]
        c = { expr = "close", weight = 1 }
        [output]
        top = 2
        per = "industry"
    """)
    # 电子 (ranks 1-6): 1, 2; 计算机 has one passer (rank 7); the blank group (ranks 8-20): 8, 9
    inc = res.included
    assert inc["rank"].to_list() == [1, 2, 7, 8, 9]
    assert inc["group_rank"].to_list() == [1, 2, 1, 1, 2]
    assert verdict(res, SYMBOLS[2])["reason"] == "rank 3 in industry 电子, below top 2 per industry"
    assert verdict(res, SYMBOLS[9])["group_rank"] == 3


def test_per_group_buffer_compares_group_rank(world):
    p = Previous(date(2026, 5, 29), frozenset({SYMBOLS[3], SYMBOLS[5]}), run_id=3)
    res = run(world, """
        universe = ["w"]
        [scores]
        c = { expr = "close", weight = 1 }
        [output]
        top = 2
        keep = 4
        per = "industry"
    """, previous=p)
    # 电子: incumbents at group ranks 4 (kept) and 6 (outside keep 4); then the best other: rank 1
    assert res.included.filter(pl.col("industry") == "电子")["group_rank"].to_list() == [1, 4]
    assert verdict(res, SYMBOLS[5])["reason"] == "rank 6 in industry 电子, outside keep 4"


def test_within_normalises_each_group_on_its_own(world):
    res = run(world, """
        universe = ["w"]
        [filters]
        some = "close >= 14"
        [scores]
        c = { expr = "close", weight = 1, within = "industry" }
    """)
    # passers: ranks 1-7 (close 20..14); 电子 has 6 (percentile 6/6 .. 1/6), 计算机 1 (1.0)
    got = dict(zip(res.included["symbol"], res.included["score.c"]))
    assert got[SYMBOLS[0]] == 1.0 and got[SYMBOLS[5]] == pytest.approx(1 / 6) and got[SYMBOLS[6]] == 1.0
    # ties on score break by symbol: 600001.SH and 600007.SH both 1.0
    assert res.included["symbol"].to_list()[:2] == [SYMBOLS[0], SYMBOLS[6]]


def test_missing_drop_rescales_that_securitys_weights(world):
    res = run(world, """
        universe = ["w"]
        [filters]
        top3 = "close >= 18"
        [scores]
        c = { expr = "close", weight = 3 }
        m = { expr = "market_cap", weight = 1, missing = "drop" }
    """)
    # passers 600001 (close 20, cap 1e9), 600002 (19, cap missing), 600003 (18, cap 3e9)
    # close percentiles: 1, 2/3, 1/3; cap percentiles among 2 present: 600001 0.5, 600003 1.0
    got = dict(zip(res.included["symbol"], res.included["score"]))
    assert got[SYMBOLS[0]] == pytest.approx(0.75 * 1 + 0.25 * 0.5)
    assert got[SYMBOLS[1]] == pytest.approx(2 / 3)          # only c counts, with weight 1
    assert got[SYMBOLS[2]] == pytest.approx(0.75 / 3 + 0.25 * 1.0)


@pytest.mark.parametrize("missing,expected", [("worst", 0.75 * 2 / 3), ("mean", 0.75 * 2 / 3 + 0.25 * 0.75)])
def test_missing_worst_and_mean(world, missing, expected):
    res = run(world, f"""
        universe = ["w"]
        [filters]
        top3 = "close >= 18"
        [scores]
        c = {{ expr = "close", weight = 3 }}
        m = {{ expr = "market_cap", weight = 1, missing = "{missing}" }}
    """)
    assert verdict(res, SYMBOLS[1])["score"] == pytest.approx(expected)


def test_winsorize_clips_before_normalising(world):
    res = run(world, """
        universe = ["w"]
        [scores]
        c = { expr = "close", weight = 1, normalize = "minmax", winsorize = 0.25 }
    """)
    # closes 1..20: quantiles 0.25 and 0.75 (linear) are 5.75 and 15.25; min-max over the clipped
    got = dict(zip(res.frame["symbol"], res.frame["score.c"]))
    assert got[SYMBOLS[0]] == 1.0 and got[SYMBOLS[19]] == 0.0
    assert got[SYMBOLS[10]] == pytest.approx((10 - 5.75) / (15.25 - 5.75))


PINNED = """
universe = ["w"]
[filters]
not_last = "close > 1"
[scores]
c = {{ expr = "close", weight = 1 }}
[output]
top = 3

[[pins]]
symbol = "600001.SH"
action = "exclude"
reason = "compliance list"

[[pins]]
symbol = "600008.SH"
action = "include"
reason = "core position"

[[pins]]
symbol = "600020.SH"
action = "include"
reason = "watch after the restructuring"
until = "{until}"
"""


def test_pins_include_exclude_and_never_take_a_slot(world):
    res = run(world, PINNED.format(until="2026-12-31"))
    inc = res.included
    # 600001 is excluded (never ranked): 600002 is now rank 1; top 3 unpinned: ranks 1-3; the
    # pinned passer 600008 keeps its rank 7; the pinned 600020 fails not_last: no rank, last
    assert inc["symbol"].to_list() == [SYMBOLS[1], SYMBOLS[2], SYMBOLS[3], SYMBOLS[7], SYMBOLS[19]]
    assert inc["rank"].to_list() == [1, 2, 3, 7, None]
    assert inc["pinned"].to_list() == [False, False, False, True, True]
    assert inc["score"][4] is None
    ex = verdict(res, SYMBOLS[0])
    assert (ex["failed"], ex["reason"], ex["rank"]) == (["pin"], "excluded by pin: compliance list", None)
    assert verdict(res, SYMBOLS[7])["reason"] == "pinned: core position"
    # the excluded security is not normalised: the passers' percentiles are over 18 values
    assert verdict(res, SYMBOLS[1])["score"] == pytest.approx(1.0)
    assert verdict(res, SYMBOLS[18])["score"] == pytest.approx(1 / 18)


def test_an_expired_pin_is_ignored_with_a_warning(world):
    res = run(world, PINNED.format(until="2026-06-29"))
    assert SYMBOLS[19] not in res.included["symbol"].to_list()
    assert any("600020.SH expired on 2026-06-29" in w for w in res.warnings)


# -- properties ------------------------------------------------------------------------------

closes = st.lists(st.integers(1, 50), min_size=20, max_size=20)


def write_closes(project, values):
    write(project / "data" / "prices.csv", "symbol,close,currency,as_of,market_cap\n"
          + "".join(f"{s},{v},CNY,2026-06-30,{(i + 1) * 1e9:.0f}\n" for i, (s, v) in enumerate(zip(SYMBOLS, values))))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=closes, threshold=st.integers(1, 50))
def test_adding_a_filter_never_adds_passers(world, values, threshold):
    write_closes(world, values)
    base = """
        universe = ["w"]
        [filters]
        a = "market_cap > 3e9"
        [scores]
        c = { expr = "close", weight = 1 }
    """
    before = run(world, base)
    after = run(world, base.replace('a = "market_cap > 3e9"', f'a = "market_cap > 3e9"\n        b = "close >= {threshold}"'))
    assert set(after.frame.filter(pl.col("_passed"))["symbol"]) <= set(before.frame.filter(pl.col("_passed"))["symbol"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=closes, k=st.sampled_from([0.001, 0.5, 3.0, 1000.0]), missing=st.sampled_from(["worst", "mean", "drop"]))
def test_scaling_every_weight_keeps_the_order(world, values, k, missing):
    write_closes(world, values)
    rule = """
        universe = ["w"]
        [scores]
        c = {{ expr = "close", weight = {a} }}
        m = {{ expr = "market_cap", weight = {b}, normalize = "zscore", missing = "{missing}" }}
        [output]
        top = 8
        per = "industry"
    """
    one = run(world, rule.format(a=1, b=2, missing=missing))
    scaled = run(world, rule.format(a=k, b=2 * k, missing=missing))
    assert scaled.frame["symbol"].to_list() == one.frame["symbol"].to_list()
    assert scaled.included["symbol"].to_list() == one.included["symbol"].to_list()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=closes, seed=st.integers(0, 10_000))
def test_a_members_row_never_depends_on_the_order_of_the_input_files(world, values, seed):
    write_closes(world, values)
    rule = """
        universe = ["w"]
        [scores]
        c = { expr = "close", weight = 1, within = "industry", normalize = "zscore" }
        m = { expr = "market_cap", weight = 1, winsorize = 0.1 }
        [output]
        top = 3
        keep = 5
        per = "industry"
    """
    prev = Previous(date(2026, 5, 29), frozenset(SYMBOLS[::3]), run_id=1)
    base = run(world, rule, previous=prev).verdicts
    for name in ("data/prices.csv", "universes/w.csv"):
        path = world / name
        pl.read_csv(path, infer_schema=False).sample(fraction=1.0, shuffle=True, seed=seed).write_csv(path)
    assert run(world, rule, previous=prev).verdicts.equals(base)
