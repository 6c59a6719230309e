"""Field derivations and ranking on hand-computed cases (see the world described in conftest)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.config import load_config
from screener.data.snapshot import load_members, load_snapshot
from screener.engine.screen import run_screen
from screener.problems import InputError
from screener.rules.rule import parse_rule

from .conftest import write

D = date(2026, 6, 30)


def screen_of(text: str, universes=("tiny",)):
    return parse_rule(text, "test.toml", "test", list(universes))


def run(project, text, as_of=D):
    cfg = load_config(project / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    return run_screen(screen_of(text), cfg, snap, as_of, all_fields=True)


ALL = """
universe = ["tiny"]
[scores]
growth = { expr = "eps_growth_fy1", weight = 1 }
"""


def fields(project, as_of=D) -> dict[str, dict]:
    res = run(project, ALL, as_of)
    return {r["symbol"]: r for r in res.frame.iter_rows(named=True)}


def test_point_in_time_fields(tiny):
    a = fields(tiny)["603001.SH"]
    assert a["fy0_year"] == 2025 and a["eps_fy0"] == 1.0
    assert a["fy1_year"] == 2026 and a["eps_fy1"] == 1.5  # the 2026-12-31 row (9.9) is the future
    assert a["eps_fy2"] == 1.8
    assert a["eps_growth_fy1"] == pytest.approx(0.5)
    assert a["eps_growth_fy2"] == pytest.approx(0.2)
    assert a["close"] == 30.0  # the 2026-07-31 price is the future
    assert a["pe_fy1"] == pytest.approx(20.0)
    assert a["pe_fy2"] == pytest.approx(30 / 1.8)
    assert a["peg_fy1"] == pytest.approx(0.4)
    assert a["analysts"] == 12
    assert a["market"] == "CN" and a["exchange"] == "SSE" and a["currency"] == "CNY"


def test_revisions_compare_the_same_fiscal_year(tiny):
    a = fields(tiny)["603001.SH"]
    # 1m: as of 2026-05-31 the FY2026 consensus was already 1.5 -> no change
    assert a["revision_1m"] == pytest.approx(0.0)
    # 3m: as of 2026-04-01 it was 1.2 -> (1.5 - 1.2) / 1.2
    assert a["revision_3m"] == pytest.approx(0.25)
    # 603002.SH has no consensus 90 days back -> null, not zero
    assert fields(tiny)["603002.SH"]["revision_3m"] is None


def test_before_the_annual_report_fy0_is_unknown(tiny):
    a = fields(tiny, date(2026, 4, 15))["603001.SH"]
    # FY2025 is still a forecast (0.9); with no reported year fy1 is the earliest forecast year
    assert a["eps_fy0"] is None
    assert a["fy1_year"] == 2025 and a["eps_fy1"] == 0.9
    assert a["eps_fy2"] == 1.2
    assert a["eps_growth_fy1"] is None
    assert a["close"] is None  # no price known yet


def test_fx_converts_reporting_currency_for_valuation(tiny):
    c = fields(tiny)["0001.HK"]
    assert c["eps_currency"] == "CNY" and c["currency"] == "HKD"
    assert c["fx_rate"] == pytest.approx(1.1)  # the 2026-07-15 rate is the future
    assert c["eps_fy1"] == 2.0  # EPS stays in its reporting currency
    assert c["pe_fy1"] == pytest.approx(44 / (2.0 * 1.1))
    later = fields(tiny, date(2026, 7, 20))["0001.HK"]
    assert later["fx_rate"] == pytest.approx(1.3)


def test_inverse_fx_pair_and_missing_rate(tiny):
    write(tiny / "data" / "fx.csv", "base,quote,rate,as_of\nHKD,CNY,0.9,2026-06-01\n")
    c = fields(tiny)["0001.HK"]
    assert c["fx_rate"] == pytest.approx(1 / 0.9)
    (tiny / "data" / "fx.csv").unlink()
    c = fields(tiny)["0001.HK"]
    assert c["pe_fy1"] is None and c["peg_fy1"] is None and c["_fx_missing"] is True
    assert c["eps_growth_fy1"] == pytest.approx(0.25)  # growth does not need FX


def test_losses_make_growth_and_valuation_null(tiny):
    e = fields(tiny)["IONQ.US"]
    assert e["eps_fy0"] == -0.5 and e["eps_fy1"] == -0.2
    assert e["eps_growth_fy1"] is None and e["pe_fy1"] is None and e["peg_fy1"] is None


def test_esg_first_configured_rater_wins_and_suffix_is_dropped(tiny):
    f = fields(tiny)
    assert str(f["603001.SH"]["esg_rating"]) == "AA-"  # 绿发信评 listed in config beats MSCI's AAA
    assert f["603001.SH"]["esg_rater"] == "绿发信评"
    assert f["603001.SH"]["esg_score"] == pytest.approx(100 * 15 / 18, abs=1e-3)
    assert str(f["603002.SH"]["esg_rating"]) == "A"  # an unlisted rater still counts when alone
    assert f["0001.HK"]["esg_rating"] is None


def test_missing_snapshot_files_give_null_fields(tiny):
    for name in ("consensus", "prices", "esg"):  # some missing: their fields are null, with a warning
        (tiny / "data" / f"{name}.csv").unlink()
    res = run(tiny, ALL)
    assert res.frame.height == 5
    assert res.frame["eps_fy1"].null_count() == 5 and res.frame["esg_rating"].null_count() == 5
    assert any("consensus" in w for w in res.warnings)
    (tiny / "data" / "fx.csv").unlink()  # every one missing: an error (issue 14), not a screen of nulls
    with pytest.raises(InputError) as info:
        run(tiny, ALL)
    assert info.value.problems[0].code == "empty-snapshot"


def test_filters_nulls_unlisted_and_ranking(tiny):
    res = run(tiny, """
        universe = ["tiny"]
        [filters]
        profitable = "eps_fy1 > 0"
        [scores]
        growth = { expr = "eps_growth_fy1", weight = 0.5 }
        value = { expr = "pe_fy1", weight = 0.5, higher_is_better = false }
    """)
    inc = res.included
    # passers: 603001 (g .5, pe 20), 603002 (g .25, pe 25), 0001.HK (g .25, pe 20)
    # growth ranks: 603001 1.0; the other two tie at 1.5/3 = 0.5
    # value (lower pe better, negated): pe 20 tie -> (2.5)/3, pe 25 -> 1/3
    expected = {
        "603001.SH": 0.5 * 1.0 + 0.5 * 2.5 / 3,
        "0001.HK": 0.5 * 0.5 + 0.5 * 2.5 / 3,
        "603002.SH": 0.5 * 0.5 + 0.5 * 1 / 3,
    }
    assert inc["symbol"].to_list() == ["603001.SH", "0001.HK", "603002.SH"]
    assert inc["rank"].to_list() == [1, 2, 3]
    for sym, score in expected.items():
        assert inc.filter(pl.col("symbol") == sym)["score"].item() == pytest.approx(score)
    ex = {r["symbol"]: r for r in res.excluded.iter_rows(named=True)}
    assert set(ex) == {"IONQ.US", "PRIVATE:x"}
    v = res.verdicts.filter(pl.col("symbol") == "IONQ.US").row(0, named=True)
    assert (v["failed"], v["missing"], v["reason"]) == (["profitable"], [], "failed profitable")
    assert ex["PRIVATE:x"]["listed"] is False


def test_null_filter_is_false_and_remembered_as_missing(tiny):
    res = run(tiny, """
        universe = ["tiny"]
        [filters]
        rated = "esg_rating >= 'A'"
    """)
    assert sorted(res.included["symbol"]) == ["603001.SH", "603002.SH"]
    row = res.frame.filter(pl.col("symbol") == "0001.HK").row(0, named=True)
    v = res.verdicts.filter(pl.col("symbol") == "0001.HK").row(0, named=True)
    assert row["filter.rated"] is None
    assert (v["failed"], v["missing"], v["reason"]) == (["rated"], ["rated"], "failed rated (missing data: rated)")


def test_ties_break_by_symbol_and_top_n(tiny):
    res = run(tiny, """
        universe = ["tiny"]
        [filters]
        priced = "not is_null(close) and listed"
        [scores]
        same = { expr = "exposure_score * 0", weight = 1 }
        [output]
        top = 2
    """)
    assert res.frame.filter(pl.col("_passed"))["symbol"].to_list() == ["0001.HK", "603001.SH", "603002.SH", "IONQ.US"]
    assert res.included["symbol"].to_list() == ["0001.HK", "603001.SH"]


@pytest.mark.parametrize("how,expected", [
    ("rank", [0.25, 0.625, 0.625, 1.0]),
    ("minmax", [0.0, 1 / 3, 1 / 3, 1.0]),
    ("zscore", [(v - 2.25) / (4.75 / 3) ** 0.5 for v in (1, 2, 2, 4)]),
])
def test_normalisers(tiny, how, expected):
    # closes 1, 2, 2, 4: ranks 1, 2.5, 2.5, 4 of 4; mean 2.25, sample std sqrt(4.75 / 3)
    write(tiny / "universes" / "tiny.csv", "symbol,name,exposure,listed\n603001.SH,a,pure,true\n603002.SH,b,pure,true\n0001.HK,c,pure,true\nIONQ.US,d,pure,true\n")
    write(tiny / "data" / "prices.csv", "symbol,close,currency,as_of\n603001.SH,1,CNY,2026-06-30\n603002.SH,2,CNY,2026-06-30\n0001.HK,2,HKD,2026-06-30\nIONQ.US,4,USD,2026-06-30\n")
    res = run(tiny, f"""
        universe = ["tiny"]
        [scores]
        x = {{ expr = "close", weight = 1, normalize = "{how}" }}
    """)
    got = {r["symbol"]: r["score.x"] for r in res.frame.iter_rows(named=True)}
    assert [got[s] for s in ("603001.SH", "603002.SH", "0001.HK", "IONQ.US")] == pytest.approx(expected)


def test_equal_values_normalise_to_the_middle(tiny):
    write(tiny / "data" / "prices.csv", "symbol,close,currency,as_of\n603001.SH,5,CNY,2026-06-30\n603002.SH,5,CNY,2026-06-30\n")
    for how, value in (("minmax", 0.5), ("zscore", 0.0)):
        res = run(tiny, f'universe = ["tiny"]\n[scores]\nx = {{ expr = "close", weight = 1, normalize = "{how}" }}\n')
        assert res.included.filter(pl.col("close").is_not_null())["score.x"].to_list() == [value, value]


def test_missing_component_scores_as_the_worst(tiny):
    res = run(tiny, ALL)
    row = res.frame.filter(pl.col("symbol") == "IONQ.US").row(0, named=True)
    assert row["raw.growth"] is None and row["score.growth"] == 0.0 and row["score"] == 0.0


def test_weights_are_scaled(tiny):
    a = run(tiny, RULE_W.format(1, 3))
    b = run(tiny, RULE_W.format(10, 30))
    assert a.included["symbol"].to_list() == b.included["symbol"].to_list()
    assert a.included["score"].to_list() == pytest.approx(b.included["score"].to_list())


RULE_W = """
universe = ["tiny"]
[scores]
growth = {{ expr = "coalesce(eps_growth_fy1, 0)", weight = {} }}
value = {{ expr = "coalesce(pe_fy1, 100)", weight = {}, higher_is_better = false }}
"""


def test_union_of_universes_keeps_highest_exposure(tiny):
    write(tiny / "universes" / "other.csv", "symbol,name,exposure,listed\n0001.HK,丙,pure,true\n")
    cfg = load_config(tiny / "config.toml")
    m = load_members(cfg.universes_dir, ("tiny", "other"), cfg.display)
    row = m.filter(pl.col("symbol") == "0001.HK").row(0, named=True)
    assert row["themes"] == ["tiny", "other"] and row["exposure"] == "pure"
    assert m.height == 5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_shuffled_input_rows_never_change_the_ranking(tiny_factory, seed):
    project = tiny_factory()
    base = run(project, RULE_W.format(1, 1))
    for name in ("consensus", "prices", "esg", "fx"):
        p = project / "data" / f"{name}.csv"
        pl.read_csv(p, infer_schema=False).sample(fraction=1.0, shuffle=True, seed=seed).write_csv(p)
    p = project / "universes" / "tiny.csv"
    pl.read_csv(p, infer_schema=False).sample(fraction=1.0, shuffle=True, seed=seed).write_csv(p)
    shuffled = run(project, RULE_W.format(1, 1))
    assert shuffled.included["symbol"].to_list() == base.included["symbol"].to_list()
    assert shuffled.included["score"].to_list() == pytest.approx(base.included["score"].to_list())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(eps=st.floats(-50, 50, allow_nan=False), close=st.floats(0.01, 1e4))
def test_future_rows_never_change_a_result(tiny_factory, eps, close):
    project = tiny_factory()
    base = run(project, RULE_W.format(1, 1))
    with open(project / "data" / "consensus.csv", "a", encoding="utf-8") as fh:
        fh.write(f"603002.SH,2026,{eps},false,2026-07-01,CNY,3,,\n603002.SH,2025,{eps},true,2026-08-01,CNY,3,,\n")
    with open(project / "data" / "prices.csv", "a", encoding="utf-8") as fh:
        fh.write(f"603002.SH,{close},CNY,2026-07-01,\n")
    later = run(project, RULE_W.format(1, 1))
    assert later.frame.drop("_fx_missing").equals(base.frame.drop("_fx_missing"))


@pytest.fixture
def tiny_factory(tmp_path_factory):
    """A fresh tiny project per hypothesis example (function fixtures are shared across examples)."""
    from . import conftest

    def make():
        root = tmp_path_factory.mktemp("tiny")
        write(root / "config.toml", conftest.CONFIG)
        write(root / "universes" / "tiny.csv", conftest.UNIVERSE)
        for name, text in (("consensus", conftest.CONSENSUS), ("prices", conftest.PRICES),
                           ("esg", conftest.ESG), ("fx", conftest.FX)):
            write(root / "data" / f"{name}.csv", text)
        return root

    return make


@pytest.mark.parametrize("raters,rating,rater,score", [
    ('["华证"]', "A", "华证", 75.0),            # nine grades AAA..C: A is 6/8 of the way up
    ('["MSCI"]', "BBB", "MSCI", 50.0),         # seven grades AAA..CCC
    ('["秩鼎"]', "AAA", "秩鼎", 85.98),         # its own 0-100 score, grade from the brackets
    ('["绿发信评", "华证"]', "AA-", "绿发信评", round(100 * 15 / 18, 4)),
])
def test_each_rater_scale_maps_onto_esg_score(tiny, raters, rating, rater, score):
    write(tiny / "data" / "esg.csv", "symbol,rater,rating,as_of\n"
          "603002.SH,华证,A,2026-04-21\n603002.SH,MSCI,BBB,2026-04-21\n603002.SH,秩鼎,85.98(AAA),2026-04-21\n"
          "603002.SH,绿发信评,AA-pi,2026-04-21\n")
    cfg = (tiny / "config.toml").read_text(encoding="utf-8").replace('raters = ["绿发信评"]', f"raters = {raters}")
    (tiny / "config.toml").write_text(cfg, encoding="utf-8")
    row = fields(tiny)["603002.SH"]
    assert (str(row["esg_rating"]), row["esg_rater"]) == (rating, rater)
    assert row["esg_score"] == pytest.approx(score)


def test_default_run_computes_revisions_only_when_the_rule_reads_them(tiny):
    cfg = load_config(tiny / "config.toml")
    snap = load_snapshot(cfg.data_dir, cfg.display)
    uses = run_screen(screen_of('universe = ["tiny"]\n[filters]\nr = "revision_3m > 0"\n'), cfg, snap, D)
    assert uses.frame.filter(pl.col("symbol") == "603001.SH")["revision_3m"].item() == pytest.approx(0.25)
    skips = run_screen(screen_of(ALL), cfg, snap, D)
    assert skips.frame["revision_3m"].null_count() == skips.frame.height
    assert skips.included["symbol"].to_list() == run(tiny, ALL).included["symbol"].to_list()


def test_name_lists_by_mask_equal_the_lists_built_row_by_row():
    """`verdicts._name_lists` builds the failed/missing lists from a bit mask and a table of the
    distinct masks; it must give what a list per row gives, nulls (not true) included."""
    import random

    import polars as pl

    from screener.engine.verdicts import _name_lists

    rng = random.Random(5)
    n, k = 400, 9
    frame = pl.DataFrame({f"c{i}": [rng.choice([True, False, None]) for _ in range(n)] for i in range(k)},
                         schema={f"c{i}": pl.Boolean for i in range(k)})
    conditions = [(pl.col(f"c{i}"), f"filter {i}") for i in range(k)]

    def row_by_row(conds):
        return pl.concat_list([pl.when(c).then(pl.lit(name)).otherwise(pl.lit(None, dtype=pl.String))
                               for c, name in conds]).list.drop_nulls()

    expected = frame.select(row_by_row(conditions).alias("l"))["l"].to_list()
    assert _name_lists(frame, conditions, row_by_row).to_list() == expected
    assert expected == [[f"filter {i}" for i in range(k) if row[f"c{i}"] is True] for row in frame.to_dicts()]
