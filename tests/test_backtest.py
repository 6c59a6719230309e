"""The backtest against an independent reference.

Every number of a backtest (`screener.backtesting`) is recomputed here from the project's CSV files with pandas,
numpy, fractions and scipy only, following DESIGN.md "Backtests" word by word: this file never
imports `screener.backtesting.stats` or `screener.engine.derive`. The reference builds the point-in-time
fields, the filters, the percentile-rank components and the composite (in exact fractions, so a
tie is a mathematical tie), the ranks and the buffered selection by hand, p(X), forward returns,
Spearman ICs (`scipy.stats.spearmanr`), buckets, turnover, costs and the summary; the backtest
must agree within 1e-9.

The world (`world` fixture), rebalanced at the month ends of January to July 2026:

- 600001.SH has `adj_close` (a dividend on 2026-04-17 moves it away from `close`) with one blank
  `adj_close` cell (2026-05-29: p(X) takes the newest non-null one, never that row's close);
- 600003.SH has `adj_close` too and is suspended after 2026-03-06 (no rows: it keeps its price);
  600004.SH (close only) is suspended the same day, so their later returns tie at 0;
- 600005.SH has no price before 2026-02-13: no return in the first period, no `pe_fy1` at the
  first date (its value component scores the worst, 0);
- 600006.SH is a member only in [2026-02-15, 2026-04-15);
- 600007.SH and 600008.SH are identical: their composites and returns tie, and the tie breaks by
  symbol at the edge of the top 3;
- 600009.SH is rated BB (fails `rated`) but is listed: it counts in the universe benchmark; it
  is suspended with 600003.SH and 600004.SH (three equal returns: a constant series);
- PRIVATE:u is unlisted (never a passer, not in the benchmark);
- 510300.SH is an ETF with prices only (`--benchmark`);
- every security is rated C from 2026-03-20 to 2026-04-10, so nobody passes at 2026-03-31: an
  empty watchlist, a null period in the middle.
The rule ranks on EPS growth (0.6) and P/E (0.4, lower is better), top 3, keep 5.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from screener.backtesting import backtest_rules, resolve_dates
from screener.backtesting.dates import rebalance_dates
from screener.config import load_config
from screener.data.snapshot import load_snapshot
from screener.problems import InputError
from screener.rules.rule import parse_rule

from .conftest import CONFIG, write

TOL = 1e-9
MONTH_ENDS = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31),
              date(2026, 6, 30), date(2026, 7, 31)]

UNIVERSE = """
symbol,name,exposure,listed,added,removed
600001.SH,甲,core,true,,
600002.SH,乙,core,true,,
600003.SH,丙,core,true,,
600004.SH,丁,core,true,,
600005.SH,戊,core,true,,
600006.SH,己,core,true,2026-02-15,2026-04-15
600007.SH,庚,core,true,,
600008.SH,辛,core,true,,
600009.SH,壬,core,true,,
PRIVATE:u,私,pure,false,,
"""

RULE = """
name = "Backtest reference"
universe = ["t"]

[filters]
profitable = "eps_fy1 > 0"
rated = "esg_rating >= 'BBB'"

[scores]
growth = { expr = "eps_growth_fy1", weight = 0.6 }
value = { expr = "pe_fy1", weight = 0.4, higher_is_better = false }

[output]
top = 3
keep = 5
"""

# (symbol, base close, weekly drift): closes on every Friday from 2026-01-02 to 2026-07-31
PRICE_PATHS = {
    "600001.SH": (30.0, 0.012), "600002.SH": (20.0, -0.004), "600003.SH": (15.0, 0.02), "600004.SH": (12.0, 0.01),
    "600005.SH": (40.0, 0.006), "600006.SH": (18.0, 0.015), "600007.SH": (25.0, -0.012), "600008.SH": (25.0, -0.012),
    "600009.SH": (10.0, 0.008), "510300.SH": (4.0, 0.002),
}
ADJ_FACTOR = {"600001.SH": lambda d: 1.0 if d < date(2026, 4, 17) else 1.03, "600003.SH": lambda d: 1.1}
SUSPENDED_AFTER = {"600003.SH": date(2026, 3, 6), "600004.SH": date(2026, 3, 6), "600009.SH": date(2026, 3, 6)}
FIRST_PRICE = {"600005.SH": date(2026, 2, 13)}
BLANK_ADJ = {("600001.SH", date(2026, 5, 29))}

# (symbol, fiscal_year, eps, actual, as_of): fy0 2025 reported on 2026-01-10, fy1 2026 revised
CONSENSUS_ROWS = [
    *[(s, 2025, 1.0, True, "2026-01-10") for s in ("600001.SH", "600002.SH", "600003.SH", "600004.SH", "600005.SH",
                                                    "600006.SH", "600007.SH", "600008.SH", "600009.SH")],
    ("600001.SH", 2026, 1.30, False, "2026-01-10"), ("600001.SH", 2026, 1.10, False, "2026-02-20"),
    ("600001.SH", 2026, 1.40, False, "2026-04-20"),
    ("600002.SH", 2026, 1.20, False, "2026-01-10"), ("600002.SH", 2026, 1.45, False, "2026-05-20"),
    ("600003.SH", 2026, 1.10, False, "2026-01-10"), ("600003.SH", 2026, 1.35, False, "2026-02-20"),
    ("600004.SH", 2026, 1.05, False, "2026-01-10"),
    ("600005.SH", 2026, 1.50, False, "2026-01-10"), ("600005.SH", 2026, 1.15, False, "2026-04-20"),
    ("600006.SH", 2026, 1.60, False, "2026-01-10"),
    ("600007.SH", 2026, 1.25, False, "2026-01-10"), ("600007.SH", 2026, 1.28, False, "2026-05-20"),
    ("600008.SH", 2026, 1.25, False, "2026-01-10"), ("600008.SH", 2026, 1.28, False, "2026-05-20"),
    ("600009.SH", 2026, 1.90, False, "2026-01-10"),
]
ESG_GRADES = {"600001.SH": "AA-pi", "600002.SH": "Api", "600003.SH": "BBBpi", "600004.SH": "AApi",
              "600005.SH": "A+pi", "600006.SH": "AAApi", "600007.SH": "Api", "600008.SH": "Api", "600009.SH": "BBpi"}
DOWNGRADE, RESTORE = date(2026, 3, 20), date(2026, 4, 10)


def fridays(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=7)


def price_rows() -> list[str]:
    rows = []
    for s, (base, drift) in PRICE_PATHS.items():
        for k, d in enumerate(fridays(date(2026, 1, 2), date(2026, 7, 31))):
            if d > SUSPENDED_AFTER.get(s, date.max) or d < FIRST_PRICE.get(s, date.min):
                continue
            close = round(base * (1 + drift) ** k * (1 + 0.03 * math.sin(1.7 * k + len(s) + base)), 2)
            adj = ""
            if s in ADJ_FACTOR and (s, d) not in BLANK_ADJ:
                adj = f"{round(close * ADJ_FACTOR[s](d), 4)}"
            rows.append(f"{s},{close},CNY,{d},{adj}")
    return rows


def write_world(root: Path, rule: str = RULE) -> Path:
    write(root / "config.toml", CONFIG)
    write(root / "universes" / "t.csv", UNIVERSE)
    write(root / "data" / "prices.csv", "symbol,close,currency,as_of,adj_close\n" + "\n".join(price_rows()) + "\n")
    write(root / "data" / "consensus.csv", "symbol,fiscal_year,eps,actual,as_of,currency\n" + "".join(
        f"{s},{y},{e},{str(a).lower()},{d},CNY\n" for s, y, e, a, d in CONSENSUS_ROWS))
    esg = [f"{s},绿发信评,{g},2025-12-31" for s, g in ESG_GRADES.items()]
    esg += [f"{s},绿发信评,C,{DOWNGRADE}" for s in ESG_GRADES]
    esg += [f"{s},绿发信评,{g},{RESTORE}" for s, g in ESG_GRADES.items()]
    write(root / "data" / "esg.csv", "symbol,rater,rating,as_of\n" + "\n".join(esg) + "\n")
    write(root / "rules" / "t.toml", rule)
    return root


@pytest.fixture
def world(tmp_path) -> Path:
    return write_world(tmp_path)


# -- the reference: pandas, fractions and scipy, straight from DESIGN.md ------------------------

GRADES = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-", "B+", "B", "B-",
          "CCC", "CC", "C"]  # high to low


def grade_index(rating) -> int | None:
    """Position on the scale counted from the bottom (higher is better); the rater suffix dropped."""
    if not isinstance(rating, str):
        return None
    letters = rating.rstrip("abcdefghijklmnopqrstuvwxyz")
    return len(GRADES) - 1 - GRADES.index(letters) if letters in GRADES else None


def read_world(root: Path) -> dict[str, pd.DataFrame]:
    uni = pd.read_csv(root / "universes" / "t.csv", dtype=str, keep_default_na=False)
    for c in ("added", "removed"):
        uni[c] = uni[c].map(lambda v: date.fromisoformat(v) if v else None)
    uni["listed"] = uni["listed"] == "true"
    out = {"universe": uni}
    for name in ("prices", "consensus", "esg"):
        frame = pd.read_csv(root / "data" / f"{name}.csv")
        frame["as_of"] = frame["as_of"].map(date.fromisoformat)
        out[name] = frame
    out["consensus"]["actual"] = out["consensus"]["actual"].astype(bool)
    return out


def newest(frame: pd.DataFrame, d: date, keys: list[str]) -> pd.DataFrame:
    """Per key, the row with the greatest as_of <= d."""
    known = frame[frame["as_of"] <= d].sort_values("as_of")
    return known.groupby(keys, as_index=False).tail(1)


def p_at(prices: pd.DataFrame, symbol: str, x: date) -> float | None:
    """p(X): the newest non-null adj_close with as_of <= X for a security with adj_close on any row,
    else its newest close; however old."""
    rows = prices[prices["symbol"] == symbol].sort_values("as_of")
    col = "adj_close" if rows["adj_close"].notna().any() else "close"
    known = rows[(rows["as_of"] <= x) & rows[col].notna()]
    return float(known[col].iloc[-1]) if len(known) else None


def forward(prices: pd.DataFrame, symbol: str, d: date, e: date) -> float | None:
    p0, p1 = p_at(prices, symbol, d), p_at(prices, symbol, e)
    return None if p0 is None or p1 is None else p1 / p0 - 1


def pct_rank(values: dict[str, float | None]) -> dict[str, Fraction]:
    """Percentile rank among the present values (average rank / count, ties share), exactly; a
    missing value scores the worst, 0."""
    present = pd.Series({k: v for k, v in values.items() if pd.notna(v)}, dtype=float)
    ranks = present.rank(method="average")
    return {k: (Fraction(ranks[k]) / len(present) if k in ranks.index else Fraction(0)) for k in values}


def screen_at(w: dict, d: date) -> pd.DataFrame:
    """The rule as of d: one row per member with listed, passed, the exact components and composite,
    sorted like the engine's frame (passers by composite desc, then symbol) with rank."""
    uni = w["universe"]
    covers = uni["added"].map(lambda a: a is None or a <= d) & uni["removed"].map(lambda r: r is None or d < r)
    members = uni[covers][["symbol", "listed"]].set_index("symbol")
    cons = newest(w["consensus"], d, ["symbol", "fiscal_year"])
    close = newest(w["prices"], d, ["symbol"]).set_index("symbol")["close"]
    rating = newest(w["esg"], d, ["symbol"]).set_index("symbol")["rating"]
    rows = []
    for s, m in members.iterrows():
        c = cons[cons["symbol"] == s]
        actual = c[c["actual"]]
        fy0 = actual["fiscal_year"].max() if len(actual) else None
        eps0 = float(actual[actual["fiscal_year"] == fy0]["eps"].iloc[0]) if fy0 is not None else None
        fc = c[~c["actual"]]
        fy1 = fy0 + 1 if fy0 is not None else (fc["fiscal_year"].min() if len(fc) else None)
        hit = fc[fc["fiscal_year"] == fy1]
        eps1 = float(hit["eps"].iloc[0]) if len(hit) else None
        growth = eps1 / eps0 - 1 if eps1 is not None and eps0 is not None and eps0 > 0 else None
        px = float(close[s]) if s in close.index else None
        pe = px / eps1 if px is not None and eps1 is not None and eps1 > 0 else None
        g = grade_index(rating.get(s))
        passed = bool(m["listed"]) and eps1 is not None and eps1 > 0 and g is not None and g >= grade_index("BBB")
        rows.append({"symbol": s, "listed": bool(m["listed"]), "passed": passed, "growth": growth,
                     "value": -pe if pe is not None else None})
    frame = pd.DataFrame(rows)
    passers = frame[frame["passed"]]
    comp = {"growth": pct_rank(dict(zip(passers["symbol"], passers["growth"]))),
            "value": pct_rank(dict(zip(passers["symbol"], passers["value"])))}
    frame["score.growth"] = frame["symbol"].map(comp["growth"])
    frame["score.value"] = frame["symbol"].map(comp["value"])
    frame["score"] = [Fraction(3, 5) * g + Fraction(2, 5) * v if ok else None
                      for ok, g, v in zip(frame["passed"], frame["score.growth"], frame["score.value"])]
    frame["_key"] = [(-sc, s) if ok else (1, s) for ok, sc, s in zip(frame["passed"], frame["score"], frame["symbol"])]
    frame = frame.assign(_p=~frame["passed"]).sort_values(["_p", "_key"]).drop(columns=["_p", "_key"])
    frame = frame.reset_index(drop=True)
    frame["rank"] = [i + 1 if ok else None for i, ok in enumerate(frame["passed"])]
    return frame


def select(frame: pd.DataFrame, top: int, keep: int | None, previous: list[str] | None) -> list[str]:
    """DESIGN's buffer, by hand: members of P that pass and rank within `keep`, best first, up to
    `top`; then the best-ranked others until there are `top`; in rank order."""
    order = frame[frame["passed"]]
    ranked = list(zip(order["symbol"], order["rank"]))
    if keep is None or previous is None:
        return [s for s, _ in ranked[:top]]
    kept = [s for s, r in ranked if s in previous and r <= keep][:top]
    others = [s for s, _ in ranked if s not in kept][:top - len(kept)]
    return [s for s, _ in ranked if s in kept or s in others]


def spearman_ref(x: list[float], y: list[float]) -> float | None:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)


def mean(xs):
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def ir(xs):
    xs = pd.Series([x for x in xs if x is not None], dtype=float)
    if len(xs) < 2 or xs.std(ddof=1) == 0:
        return None
    return float(xs.mean() / xs.std(ddof=1))


def reference(root: Path, dates: list[date], *, top=3, keep=5, buckets=5, cost_bps=None, benchmark=None) -> dict:
    w = read_world(root)
    prices = w["prices"]
    periods, comp_ics = [], {"growth": [], "value": []}
    previous = None
    for d, e in zip(dates, dates[1:]):
        frame = screen_at(w, d)
        members = select(frame, top, keep, previous)
        ret = {s: forward(prices, s, d, e) for s in frame["symbol"]}
        present = [ret[s] for s in members if ret[s] is not None]
        if benchmark:
            bench = forward(prices, benchmark, d, e)
        else:
            bench = mean([ret[s] for s in frame[frame["listed"]]["symbol"]])
        scored = frame[frame["passed"] & frame["symbol"].map(lambda s: ret[s] is not None)]
        rs = [ret[s] for s in scored["symbol"]]
        ic = spearman_ref([float(v) for v in scored["score"]], rs)
        for c in comp_ics:
            comp_ics[c].append(spearman_ref([float(v) for v in scored[f"score.{c}"]], rs))
        groups = [[] for _ in range(buckets)]
        for i, r in enumerate(rs):
            groups[math.floor(i * buckets / len(rs))].append(r)
        turnover = None
        if previous is not None and members:
            turnover = sum(1 for s in members if s not in previous) / len(members)
        wr = mean(present)
        period = {"date": d, "end": e, "members": members, "watchlist_return": wr, "benchmark_return": bench,
                  "ic": ic, "buckets": [mean(g) for g in groups], "turnover": turnover,
                  "missing_returns": len(members) - len(present), "frame": frame}
        if cost_bps is not None:
            # traded: 1 for the first period, 2 x turnover after it (a period with no return has no net return)
            period["watchlist_net_return"] = (None if wr is None else
                                              wr - cost_bps / 10000 * (1.0 if previous is None else 2 * turnover))
        periods.append(period)
        previous = members

    def compound(rs):
        return float(np.prod([1 + (r or 0.0) for r in rs]) - 1)

    wr = [p["watchlist_return"] for p in periods]
    br = [p["benchmark_return"] for p in periods]
    wealth = np.cumprod([1.0] + [1 + (r or 0.0) for r in wr])
    drawdown = float(min(0.0, (wealth / np.maximum.accumulate(wealth) - 1).min()))
    hits = [(a, b) for a, b in zip(wr, br) if a is not None]
    summary = {
        "periods": len(periods), "null_periods": sum(r is None for r in wr),
        "watchlist_cumulative": compound(wr), "benchmark_cumulative": compound(br),
        "ic_mean": mean([p["ic"] for p in periods]), "ic_ir": ir([p["ic"] for p in periods]),
        "turnover_mean": mean([p["turnover"] for p in periods]),
        "hit_rate": sum(1 for a, b in hits if b is not None and a > b) / len(hits) if hits else None,
        "max_drawdown": drawdown,
    }
    if cost_bps is not None:
        summary["watchlist_net_cumulative"] = compound([p["watchlist_net_return"] for p in periods])
    components = {c: {"ic_mean": mean(v), "ic_ir": ir(v)} for c, v in comp_ics.items()}
    return {"periods": periods, "summary": summary, "components": components, "component_ic": comp_ics}


# -- comparing ------------------------------------------------------------------------------------

def close_to(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(close_to(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= TOL
    return a == b


PERIOD_FIELDS = ("date", "end", "members", "watchlist_return", "benchmark_return", "ic", "buckets", "turnover",
                 "missing_returns")


def assert_matches(result, ref: dict, with_cost: bool = False) -> None:
    fields = PERIOD_FIELDS + (("watchlist_net_return",) if with_cost else ())
    got = result.periods.to_dicts()
    assert len(got) == len(ref["periods"])
    for mine, want in zip(got, ref["periods"]):
        for key in fields:
            assert close_to(mine[key], want[key]), (want["date"], key, mine[key], want[key])
    assert set(result.summary) == set(ref["summary"])
    for key, want in ref["summary"].items():
        assert close_to(result.summary[key], want), (key, result.summary[key], want)
    assert set(result.components) == set(ref["components"])
    for name, want in ref["components"].items():
        for key in ("ic_mean", "ic_ir"):
            assert close_to(result.components[name][key], want[key]), (name, key)
        assert close_to(result.component_ic[name].to_list(), ref["component_ic"][name]), name
    # the JSON object carries the same numbers
    out = result.to_dict()
    assert [p["date"] for p in out["periods"]] == [p["date"].isoformat() for p in ref["periods"]]
    for mine, want in zip(out["periods"], ref["periods"]):
        assert close_to(mine["watchlist_return"], want["watchlist_return"]) and mine["members"] == want["members"]
        assert ("watchlist_net_return" in mine) == with_cost


def backtest(root: Path, **kw):
    cfg = load_config(root / "config.toml")
    screen = parse_rule((root / "rules" / "t.toml").read_text(encoding="utf-8"), "rules/t.toml", "t", ["t"])
    (result,) = backtest_rules(cfg, [screen], **kw)
    return result


# -- the tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("buckets", [5, 10])
def test_every_number_agrees_with_the_reference(world, buckets):
    result = backtest(world, start=date(2026, 1, 15), end=date(2026, 7, 31), every="month", buckets=buckets)
    assert list(result.dates) == MONTH_ENDS
    assert result.every == "month" and result.start == date(2026, 1, 15)
    ref = reference(world, MONTH_ENDS, buckets=buckets)
    assert len(ref["periods"]) == len(MONTH_ENDS) - 1 == 6  # n dates, n - 1 periods
    assert_matches(result, ref)
    if buckets == 10:  # 7 or 8 passers with a return in 10 buckets: some are empty, hence null
        assert any(b is None for p in result.periods["buckets"].to_list() if p for b in p)


def test_the_world_covers_what_it_claims(world):
    """The reference (and so the backtest, which matches it) meets every case this file is about."""
    ref = reference(world, MONTH_ENDS)
    by_date = {p["date"]: p for p in ref["periods"]}
    jan, feb, mar, apr, may = (by_date[d] for d in MONTH_ENDS[:5])
    ranks = {d: dict(zip(p["frame"]["symbol"], p["frame"]["rank"])) for d, p in by_date.items()}
    scores = {d: dict(zip(p["frame"]["symbol"], p["frame"]["score"])) for d, p in by_date.items()}
    # a composite tie at the edge of the top 3 breaks by symbol
    assert scores[MONTH_ENDS[0]]["600007.SH"] == scores[MONTH_ENDS[0]]["600008.SH"]
    assert "600007.SH" in jan["members"] and "600008.SH" not in jan["members"]
    # a tie of two different mixes of components (0.6 * 3/8 + 0.4 * 5/8 = 0.6 * 1/8 + 0.4 * 1)
    assert scores[MONTH_ENDS[1]]["600002.SH"] == scores[MONTH_ENDS[1]]["600004.SH"] == Fraction(19, 40)
    # the buffer: incumbents at ranks 3 and 4 stay, so rank 2 (600003.SH) is left out in February
    assert ranks[MONTH_ENDS[1]]["600003.SH"] == 2 and feb["members"] == ["600006.SH", "600005.SH", "600007.SH"]
    assert ranks[MONTH_ENDS[4]]["600002.SH"] == 1 and "600002.SH" not in may["members"]
    # a member without a price at the first date: no return, no P/E (scored the worst, 0)
    assert jan["missing_returns"] == 1 and "600005.SH" in jan["members"]
    assert jan["frame"].set_index("symbol").loc["600005.SH", "score.value"] == 0
    # nobody passes at the end of March: an empty watchlist, a null period in the middle
    assert mar["members"] == [] and mar["watchlist_return"] is None and mar["turnover"] is None
    assert apr["turnover"] == 1.0  # against the empty watchlist before it
    # membership window [2026-02-15, 2026-04-15)
    member = {d: "600006.SH" in set(p["frame"]["symbol"]) for d, p in by_date.items()}
    assert [member[d] for d in MONTH_ENDS[:6]] == [False, True, True, False, False, False]
    # suspended: returns 0 from the first date after the suspension, tying with each other
    prices = read_world(world)["prices"]
    for s in ("600003.SH", "600004.SH"):
        assert forward(prices, s, MONTH_ENDS[3], MONTH_ENDS[4]) == 0
    # p(X) takes the newest non-null adj_close: the 2026-05-29 row has none
    assert p_at(prices, "600001.SH", MONTH_ENDS[4]) == prices[(prices.symbol == "600001.SH")
                                                              & (prices.as_of == date(2026, 5, 22))]["adj_close"].item()
    assert ref["summary"]["null_periods"] == 1 and ref["summary"]["max_drawdown"] < 0


def test_costs_and_a_benchmark_symbol(world):
    result = backtest(world, start=date(2026, 1, 1), end=date(2026, 7, 31), cost_bps=25, benchmark="510300.SH")
    ref = reference(world, MONTH_ENDS, cost_bps=25, benchmark="510300.SH")
    assert_matches(result, ref, with_cost=True)
    assert result.summary["watchlist_net_cumulative"] < result.summary["watchlist_cumulative"]
    assert result.to_dict()["benchmark"] == "510300.SH" and result.to_dict()["cost_bps"] == 25


def test_members_are_the_rule_run_as_of_each_date_with_the_previous_dates_watchlist(world, cli):
    """`screener run --as-of D` (no history, so no P: plain top) gives every passer's rank; the
    backtest's members are the rule's selection from those ranks with P = its own members at the
    previous date, built here by hand."""
    import json
    import re

    result = backtest(world, dates=MONTH_ENDS)
    members = dict(zip(result.periods["date"].to_list(), result.periods["members"].to_list()))
    previous = None
    for d in MONTH_ENDS[:-1]:
        out = cli(world, "run", "rules/t.toml", "--as-of", d.isoformat(), "--no-export", "--json")
        assert out.exit_code == 0, out.output
        payload = json.loads(out.stdout)
        assert payload["previous"] is None
        ranks = {r["symbol"]: r["rank"] for r in payload["rows"]}
        for ex in payload["excluded"]:
            m = re.match(r"rank (\d+)", ex["reason"] or "")
            if m:
                ranks[ex["symbol"]] = int(m.group(1))
        ranked = sorted(ranks, key=ranks.get)
        if previous is None:
            expected = [r["symbol"] for r in payload["rows"]]
        else:
            kept = [s for s in ranked if s in previous and ranks[s] <= 5][:3]
            others = [s for s in ranked if s not in kept][:3 - len(kept)]
            expected = [s for s in ranked if s in kept or s in others]
        assert members[d] == expected, d
        previous = expected


@pytest.mark.parametrize("symbols, expect_ic", [
    ("'600003.SH', '600004.SH'", "none"),                 # two passers: under 3
    ("'600002.SH', '600003.SH', '600004.SH'", "scipy"),   # exactly 3
])
def test_ic_is_null_under_three_passers_with_a_return(world, symbols, expect_ic):
    rule = RULE.replace("rated = \"esg_rating >= 'BBB'\"", f'few = "symbol in ({symbols})"')
    assert rule != RULE
    write(world / "rules" / "t.toml", rule)
    result = backtest(world, dates=MONTH_ENDS[:2])
    (ic,) = result.periods["ic"].to_list()
    w = read_world(world)
    d, e = MONTH_ENDS[:2]
    frame = screen_at(w, d)
    chosen = [s.strip(" '") for s in symbols.split(",")]
    frame = frame[frame["symbol"].isin(chosen)]
    rs = [forward(w["prices"], s, d, e) for s in frame["symbol"]]
    if expect_ic == "none":
        assert ic is None and len(rs) == 2
    else:
        # ranked among the three passers only
        g = pd.Series([v for v in frame["growth"]]).rank(method="average") / 3
        v = pd.Series([v for v in frame["value"]]).rank(method="average") / 3
        composite = list(0.6 * g + 0.4 * v)
        assert ic is not None and abs(ic - spearmanr(composite, rs).statistic) <= TOL


def test_ic_is_null_for_a_constant_series(world):
    # constant returns: the three suspended securities from the first date after the suspension
    write(world / "rules" / "t.toml", """
        universe = ["t"]
        [filters]
        suspended = "symbol in ('600003.SH', '600004.SH', '600009.SH')"
        [scores]
        growth = { expr = "eps_growth_fy1", weight = 1 }
    """)
    result = backtest(world, dates=MONTH_ENDS[1:5])
    ics = result.periods["ic"].to_list()
    w = read_world(world)
    rets = [[forward(w["prices"], s, d, e) for s in ("600003.SH", "600004.SH", "600009.SH")]
            for d, e in zip(MONTH_ENDS[1:4], MONTH_ENDS[2:5])]
    assert len(set(rets[0])) == 3 and rets[1] == rets[2] == [0.0, 0.0, 0.0]
    assert ics[0] is not None and ics[1] is None and ics[2] is None
    assert result.periods["passers_with_return"].to_list() == [3, 3, 3]
    # constant composite: every passer scores the same (one component, all equal)
    write(world / "rules" / "t.toml", """
        universe = ["t"]
        [scores]
        exposure = { expr = "exposure_score", weight = 1 }
    """)
    result = backtest(world, dates=MONTH_ENDS[:3])
    assert result.periods["ic"].to_list() == [None, None]
    assert all(n >= 3 for n in result.periods["passers_with_return"].to_list())


def test_explicit_dates_are_sorted_and_deduplicated(world):
    given_dates = [MONTH_ENDS[3], MONTH_ENDS[0], date(2026, 2, 14), MONTH_ENDS[3], MONTH_ENDS[1]]
    result = backtest(world, dates=given_dates)
    chosen = [MONTH_ENDS[0], date(2026, 2, 14), MONTH_ENDS[1], MONTH_ENDS[3]]
    assert list(result.dates) == chosen and result.periods.height == 3
    out = result.to_dict()
    assert out["every"] is None and out["from"] is None and out["to"] is None
    assert_matches(result, reference(world, chosen))


def test_weekly_rebalancing_on_sundays_agrees_with_the_reference(world):
    result = backtest(world, start=date(2026, 2, 1), end=date(2026, 3, 7), every="week")
    sundays = [date(2026, 2, 1), date(2026, 2, 8), date(2026, 2, 15), date(2026, 2, 22), date(2026, 3, 1)]
    assert list(result.dates) == sundays and all(d.weekday() == 6 for d in sundays)
    assert_matches(result, reference(world, sundays))


def test_rebalance_dates():
    # week: Sundays, both ends inclusive
    assert rebalance_dates(date(2026, 1, 1), date(2026, 1, 25), "week") == [
        date(2026, 1, 4), date(2026, 1, 11), date(2026, 1, 18), date(2026, 1, 25)]
    assert rebalance_dates(date(2026, 1, 4), date(2026, 1, 10), "week") == [date(2026, 1, 4)]
    # month: calendar month ends, a leap February
    assert rebalance_dates(date(2028, 1, 31), date(2028, 4, 29), "month") == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]
    # quarter: 03-31, 06-30, 09-30, 12-31
    assert rebalance_dates(date(2025, 11, 15), date(2026, 9, 29), "quarter") == [
        date(2025, 12, 31), date(2026, 3, 31), date(2026, 6, 30)]
    assert rebalance_dates(date(2026, 3, 31), date(2026, 12, 31), "quarter") == [
        date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31)]
    assert rebalance_dates(date(2026, 4, 1), date(2026, 6, 29), "quarter") == []


def test_quarterly_backtest_agrees_with_the_reference(world):
    # prices stop at 2026-07-31: the last period's returns are all 0 (every security keeps its price)
    result = backtest(world, start=date(2026, 1, 1), end=date(2026, 12, 31), every="quarter")
    quarters = [date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31)]
    assert list(result.dates) == quarters and result.periods["end"].to_list() == quarters[1:]
    assert_matches(result, reference(world, quarters))
    assert result.periods["watchlist_return"].to_list()[-1] == 0.0


@pytest.mark.parametrize("kwargs, words", [
    ({"start": date(2026, 5, 1), "end": date(2026, 4, 1)}, "after --to"),
    ({"start": date(2026, 5, 1), "end": date(2026, 5, 30)}, "gives 0 dates"),
    ({"start": date(2026, 5, 1), "end": date(2026, 6, 29)}, "gives 1 date;"),
    ({"dates": [date(2026, 5, 31), date(2026, 5, 31)]}, "gives 1 date;"),
    ({"dates": [date(2026, 5, 31), date(2026, 6, 30)], "every": "month"}, "not combined"),
    ({"dates": [date(2026, 5, 31), date(2026, 6, 30)], "start": date(2026, 5, 1)}, "not combined"),
    ({"start": date(2026, 1, 1), "end": date(2026, 6, 30), "every": "year"}, "--every must be one of"),
    ({"start": date(2026, 1, 1)}, "needs --from and --to"),
])
def test_resolve_dates_rejects_bad_input(kwargs, words):
    args = {"start": None, "end": None, "every": None, "dates": None, **kwargs}
    with pytest.raises(InputError) as e:
        resolve_dates(args["start"], args["end"], args["every"], args["dates"])
    assert words in e.value.problems[0].message


@pytest.mark.parametrize("kwargs", [{"buckets": 1}, {"cost_bps": -5}])
def test_backtest_rejects_bad_options(world, kwargs):
    with pytest.raises(InputError):
        backtest(world, dates=MONTH_ENDS, **kwargs)


# -- nothing after D influences the watchlist at D ----------------------------------------------------

WORLD_SYMBOLS = [line.split(",")[0] for line in UNIVERSE.strip().splitlines()[1:]] + ["510300.SH"]
LETTERS = st.sampled_from(GRADES)


def later_rows(after: date, until: date):
    """Random consensus, price and ESG rows dated in (after, until]."""
    day = st.dates(min_value=after + timedelta(days=1), max_value=until)
    sym = st.sampled_from(WORLD_SYMBOLS)
    money = st.floats(0.5, 200, allow_nan=False).map(lambda x: round(x, 2))
    consensus = st.lists(st.fixed_dictionaries({
        "symbol": sym, "fiscal_year": st.integers(2024, 2028), "eps": st.floats(-3, 5).map(lambda x: round(x, 3)),
        "actual": st.booleans(), "as_of": day, "currency": st.just("CNY")}), max_size=12)
    prices = st.lists(st.fixed_dictionaries({
        "symbol": sym, "close": money, "currency": st.just("CNY"), "as_of": day,
        "adj_close": st.none() | money}), max_size=12)
    esg = st.lists(st.fixed_dictionaries({
        "symbol": sym, "rater": st.sampled_from(["绿发信评", "MSCI"]), "as_of": day,
        "rating": st.tuples(LETTERS, st.sampled_from(["", "pi"])).map("".join)}), max_size=8)
    return st.fixed_dictionaries({"consensus": consensus, "prices": prices, "esg": esg})


KEYS = {"consensus": ["symbol", "fiscal_year", "as_of"], "prices": ["symbol", "as_of"], "esg": ["symbol", "rater", "as_of"]}


def with_rows(snapshot, extra: dict):
    """The snapshot with `extra` rows appended (rows whose key is already taken are dropped, as a
    checked file could not hold both)."""
    frames = dict(snapshot.frames)
    for name, rows in extra.items():
        if not rows:
            continue
        base = frames[name].collect()
        new = pl.DataFrame(rows).with_columns(pl.col("as_of").cast(pl.Date))
        new = (new.select([pl.col(c).cast(t) if c in new.columns else pl.lit(None, dtype=t).alias(c)
                           for c, t in base.schema.items()])
               .unique(KEYS[name], keep="first").join(base, on=KEYS[name], how="anti"))
        frames[name] = pl.concat([base, new]).lazy()
    return replace(snapshot, frames=frames)


@pytest.fixture
def loaded(world):
    cfg = load_config(world / "config.toml")
    screen = parse_rule(RULE, "rules/t.toml", "t", ["t"])
    snap = load_snapshot(cfg.data_dir, cfg.display)
    base = backtest_rules(cfg, [screen], dates=MONTH_ENDS, snapshot=snap)[0]
    return cfg, screen, snap, base.periods["members"].to_list()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=later_rows(MONTH_ENDS[-1], date(2027, 12, 31)))
def test_rows_after_the_last_date_change_no_watchlist(loaded, extra):
    cfg, screen, snap, members = loaded
    (result,) = backtest_rules(cfg, [screen], dates=MONTH_ENDS, snapshot=with_rows(snap, extra))
    assert result.periods["members"].to_list() == members


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), k=st.integers(0, len(MONTH_ENDS) - 2))
def test_rows_after_a_date_leave_the_watchlists_up_to_it_unchanged(loaded, data, k):
    cfg, screen, snap, members = loaded
    until = data.draw(st.sampled_from([MONTH_ENDS[k + 1], MONTH_ENDS[-1]]))  # before the next date, or any later
    extra = data.draw(later_rows(MONTH_ENDS[k], until))
    (result,) = backtest_rules(cfg, [screen], dates=MONTH_ENDS, snapshot=with_rows(snap, extra))
    assert result.periods["members"].to_list()[:k + 1] == members[:k + 1]


def test_the_properties_are_not_vacuous(loaded):
    """Rows dated after a date can change later watchlists: the property above is not trivially true."""
    cfg, screen, snap, members = loaded
    assert all(members[k] for k in (0, 1, 3, 4, 5))
    extra = {"consensus": [{"symbol": "600004.SH", "fiscal_year": 2026, "eps": 3.0, "actual": False,
                            "as_of": date(2026, 2, 1), "currency": "CNY"}], "prices": [], "esg": []}
    (result,) = backtest_rules(cfg, [screen], dates=MONTH_ENDS, snapshot=with_rows(snap, extra))
    after = result.periods["members"].to_list()
    assert after[0] == members[0] and after[1] != members[1] and "600004.SH" in after[1]


# -- the backtest's shortcut: each date derives from the rows it reads -----------------------------

@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_deriving_from_the_rows_read_equals_deriving_from_the_whole_snapshot(loaded, data):
    """`derive.rows_read` cuts the snapshot down to the rows derive reads at each date (a backtest
    derives each date from that cut): every field, over random extra rows (blank adj_close and
    amount, several raters, revisions, FX), is exactly what derive gives over the whole snapshot."""
    from screener.data.snapshot import load_universes, union_members
    from screener.engine import derive

    cfg, _, snap, _ = loaded
    start = date(2025, 10, 1)
    day = st.dates(min_value=start, max_value=date(2026, 9, 30))
    sym = st.sampled_from(WORLD_SYMBOLS)
    money = st.floats(0.5, 200, allow_nan=False).map(lambda x: round(x, 2))
    extra = data.draw(st.fixed_dictionaries({
        "consensus": st.lists(st.fixed_dictionaries({
            "symbol": sym, "fiscal_year": st.integers(2024, 2028), "eps": st.floats(-3, 5).map(lambda x: round(x, 3)),
            "actual": st.booleans(), "as_of": day, "currency": st.sampled_from(["CNY", "HKD"]),
            "revenue": st.none() | money, "net_profit": st.none() | money}), max_size=30),
        "prices": st.lists(st.fixed_dictionaries({
            "symbol": sym, "close": money, "currency": st.just("CNY"), "as_of": day, "adj_close": st.none() | money,
            "amount": st.none() | money, "market_cap": st.none() | money}), max_size=40),
        "esg": st.lists(st.fixed_dictionaries({
            "symbol": sym, "rater": st.sampled_from(["绿发信评", "MSCI", "华证"]), "as_of": day,
            "rating": st.tuples(LETTERS, st.sampled_from(["", "pi"])).map("".join)}), max_size=15),
    }))
    fx = pl.DataFrame({"base": ["CNY", "CNY", "HKD"], "quote": ["HKD", "HKD", "CNY"], "rate": [1.1, 1.2, 0.8],
                       "as_of": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 2, 1)]})
    full = with_rows(snap, extra)
    full = replace(full, frames={**full.frames, "fx": fx.lazy()})
    dates = data.draw(st.lists(day, min_size=1, max_size=4))
    needed = data.draw(st.sampled_from([None, {"return_1m", "amount_avg_1m"}, {"eps_growth_fy1", "pe_fy1"}]))
    cut = derive.rows_read(full, dates, needed)
    universes = load_universes(cfg.universes_dir, ("t",), cfg.display)
    for d in set(dates):
        members = union_members(universes, None)
        whole = derive.derive_fields(members, full, d, cfg.esg_raters, cfg.exposure_scores, needed).collect()
        part = derive.derive_fields(members, cut[d], d, cfg.esg_raters, cfg.exposure_scores, needed).collect()
        assert whole.sort("symbol").equals(part.sort("symbol")), d
