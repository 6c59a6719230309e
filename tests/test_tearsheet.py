"""The backtest tear sheet: the geometry of its charts (nulls are gaps), the page on a real
two-rule backtest of the sample project (one section per rule, the notices, the summary figures
as shown, every text escaped, Chinese headers) and the page as headless Chromium renders it."""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from screener import api
from screener.backtesting import backtest_rules
from screener.backtesting.stats import cumulative
from screener.config import load_config
from screener.outputs import tearsheet
from screener.outputs.tearsheet import (
    bucket_means,
    cumulative_curve,
    path_d,
    percent,
    period_bars,
    render_tearsheet,
    runs,
    spread_labels,
)

from .conftest import REPO
from .test_html import Tree, chromium, dom

RULES = ("esg_reporters_by_market.toml", "esg_compute_leaders.toml")
GENERATED = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The two sample rules backtested monthly from 2025-06-30 to 2026-11-20 with 10 bps costs,
    on a copy of the repository's sample project (run once for the module)."""
    root = tmp_path_factory.mktemp("tearsheet-sample")
    for name in ("rules", "universes"):
        shutil.copytree(REPO / name, root / name)
    shutil.copytree(REPO / "data" / "sample", root / "data" / "sample")
    shutil.copy(REPO / "config.toml", root / "config.toml")
    config = load_config(root / "config.toml")
    screens = api.load_screens(config, [str(root / "rules" / r) for r in RULES])
    return backtest_rules(config, screens, start=date(2025, 6, 30), end=date(2026, 11, 20), every="month",
                          cost_bps=10)


def page(results, lang: str = "en") -> str:
    return render_tearsheet(results, lang, GENERATED).decode("utf-8")


def shown_return(v: float | None) -> str:
    """A return as the page should show it, written independently of the module: signed, one
    decimal, no sign on zero."""
    if v is None:
        return "—"
    text = f"{v * 100:+.1f}%"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


def shown_summary(key: str, v) -> str:
    if v is None:
        return "—"
    if key in ("periods", "null_periods"):
        return str(v)
    if key in ("turnover_mean", "hit_rate"):
        return f"{v * 100:.1f}%"
    if key == "ic_mean":
        return f"{v:.3f}"
    if key == "ic_ir":
        return f"{v:.2f}"
    return shown_return(v)


# -- geometry helpers, no data ------------------------------------------------------------


def test_cumulative_curve_starts_at_zero_and_counts_a_null_period_as_zero():
    curve = cumulative_curve([0.1, None, -0.5])
    assert curve == pytest.approx([0.0, 0.1, 0.1, -0.45])
    assert curve[-1] == pytest.approx(cumulative([0.1, None, -0.5]))  # DESIGN's figure, same rule
    assert cumulative_curve([]) == [0.0]


def test_a_null_breaks_the_path_instead_of_dropping_to_zero():
    assert path_d([(0, 1), (1, None), (2, 3), (3, 4)]) == "M0.00,1.00 M2.00,3.00 L3.00,4.00"
    assert path_d([(0, 1), (1, 2)]) == "M0.00,1.00 L1.00,2.00"
    assert path_d([(0, None), (1, None)]) == ""


def test_a_null_ic_is_a_gap_and_a_zero_ic_is_a_visible_bar():
    starts = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    ends = [*starts[1:], date(2026, 5, 31)]
    x = tearsheet.time_scale(starts[0], ends[-1], tearsheet.Box(300, 100, 0, 0, 0, 0))
    y = lambda v: 50 - 50 * v  # noqa: E731  (zero at 50, up is smaller y)
    bars = period_bars([0.5, None, 0.0, -0.2], starts, ends, x, y)
    assert bars[1] is None  # nothing drawn for the null IC
    up, zero, down = bars[0], bars[2], bars[3]
    assert (up["y"], up["height"]) == (25.0, 25.0)
    assert zero["height"] == 1.5 and zero["y"] + zero["height"] == 50.0  # a tick on the zero line
    assert (down["y"], down["height"]) == (50.0, 10.0)
    for b, d, e in ((up, starts[0], ends[0]), (down, starts[3], ends[3])):  # inside its own period
        assert x(d) < b["x"] < b["x"] + b["width"] < x(e)


def test_bucket_means_skip_null_buckets_and_a_bucket_never_filled_has_no_mean():
    assert bucket_means([[0.1, None, 0.3], [0.3, 0.2, None], [None, None, None]], 3) == [
        (pytest.approx(0.2), 2), (pytest.approx(0.2), 1), (pytest.approx(0.3), 1)]
    assert bucket_means([[None, None]], 2) == [(None, 0), (None, 0)]


def test_runs_and_spread_labels():
    assert runs([False, True, True, False, True]) == [(1, 2), (4, 4)]
    assert runs([]) == []
    labels = spread_labels([{"y": 50.0}, {"y": 52.0}, {"y": 99.0}], 10, 100)
    ys = [lb["y"] for lb in labels]
    assert all(b - a >= 12 for a, b in zip(ys, ys[1:])) and ys[-1] <= 100


def test_numbers_for_people():
    assert percent(0.248915) == "24.9%"
    assert percent(0.248915, signed=True) == "+24.9%"
    assert percent(-0.0004, signed=True) == "0.0%"  # never "-0.0%"
    assert percent(None) == "—" and percent(float("nan")) == "—"
    assert tearsheet.figure(3.660364, "ratio") == "3.66"
    assert tearsheet.figure(-0.0001, "ic") == "0.000"
    assert tearsheet.figure(9, "count") == "9"


# -- the page on a real backtest ----------------------------------------------------------


def test_charts_have_a_point_per_date_a_bar_per_bucket_and_gaps_for_null_ics(results):
    axes = tearsheet.shared_axes(results)
    for r in results:
        n = r.periods.height
        cum = tearsheet.cumulative_chart(r, axes, "en")
        watch = next(line for line in cum["lines"] if line["key"] == "watchlist")
        assert watch["count"] == len(watch["points"]) == n + 1
        assert sum(p["hollow"] for p in watch["points"]) == r.summary["null_periods"]
        assert {line["key"] for line in cum["lines"]} == {"watchlist", "benchmark", "net"}
        ics = r.periods["ic"].to_list()
        ic = tearsheet.ic_chart(r, axes, "en")
        assert [b["date"] for b in ic["bars"]] == [d.isoformat() for d, v in zip(r.periods["date"], ics)
                                                   if v is not None]
        assert sum(1 for v in ics if v is None) > 0 and ic["gaps"]  # the sample has null ICs: shaded
        buckets = tearsheet.bucket_chart(r, axes, "en")
        assert [b["n"] for b in buckets["bars"]] == list(range(1, r.buckets + 1))
    # shared axes: the same y ticks in every section, so the rules compare by eye
    assert len({str(tearsheet.cumulative_chart(r, axes, "en")["y_ticks"]) for r in results}) == 1


def test_page_escapes_every_text_and_fetches_nothing(results):
    hostile = dataclasses.replace(results[0], rule_name=HOSTILE, rule_text=HOSTILE, rule=f"rules/{HOSTILE}.toml",
                                  notices=(*results[0].notices, HOSTILE), warnings=(HOSTILE,))
    html = page([hostile, results[1]])
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert not re.search(r"<script|<link|<img|<iframe|https?://|src=|@import", html)
    assert "display: none" not in html and "<details" not in html  # nothing on the page is hidden
    dom(html)  # tags balance


def test_notices_come_first_and_name_the_rules_that_carry_them(results):
    only_second = "only the second rule says this"
    second = dataclasses.replace(results[1], notices=(*results[1].notices, only_second),
                                 warnings=("3 of 16 dates have fewer passers with a return than --buckets 5",))
    doc = dom(page([results[0], second]))
    box = doc.one("div", id="notices")
    text = box.text()
    for notice in results[0].notices:
        assert notice in text
    items = {li.text().strip(): li for li in box.find_all("li")}
    assert f"{only_second} (esg_compute_leaders.toml)" in items
    warning = next(li for t, li in items.items() if t.startswith("3 of 16 dates"))
    assert "warning" in warning.classes and "(esg_compute_leaders.toml)" in warning.text()
    common = next(li for t, li in items.items() if "hindsight and survivorship bias" in t)
    assert "alarm" in common.classes and not common.find_all("span")  # both rules: nobody named
    assert results[0].data["notice"] in box.one("p", cls="sample").text()


def test_no_costs_no_net_figures(results):
    r = results[0]
    plain = dataclasses.replace(r, cost_bps=None, periods=r.periods.drop("watchlist_net_return"),
                                summary={k: v for k, v in r.summary.items() if k != "watchlist_net_cumulative"})
    doc = dom(page([plain]))
    keys = [tr.attrs["data-key"] for tr in doc.one("table", id="summary-table").one("tbody").find_all("tr")]
    assert "watchlist_net_cumulative" not in keys and "ic_mean" in keys
    assert not doc.find_all("path", cls="net")
    assert "net" not in [th.text() for th in doc.one("table", cls="periods").one("thead").find_all("th")]
    assert len(doc.find_all("section", cls="rule")) == 1


def test_zh_translates_the_page_words_and_rising_is_red(results):
    html = page(results, "zh")
    doc = dom(html)
    assert doc.one("html").attrs["lang"] == "zh"
    assert "累计收益" in html and "分组收益" in html and "最大回撤" in html
    assert "--up: #c62828" in html and "--down: #2e7d32" in html  # rising red, falling green
    english = page(results, "en")
    assert "--up: #2e7d32" in english
    # values never change with the language
    assert shown_return(results[0].summary["watchlist_cumulative"]) in html


def test_no_result_is_an_error():
    with pytest.raises(ValueError):
        render_tearsheet([])


# -- a real browser -------------------------------------------------------------------------


def vertices(d: str) -> int:
    return len(re.findall(r"[ML]-?\d", d))


def test_a_browser_renders_one_section_per_rule_with_the_charts_and_figures(results, tmp_path):
    path = tmp_path / "backtest.html"
    path.write_text(page(results), encoding="utf-8")
    out = chromium(tmp_path / "profile-dom", "--dump-dom", path.as_uri())
    doc = Tree(out.stdout.decode("utf-8")).root  # the browser's serialisation, parsed again

    sections = doc.find_all("section", cls="rule")
    assert [s.attrs["id"] for s in sections] == ["rule-1", "rule-2"]
    for n, (section, r) in enumerate(zip(sections, results), start=1):
        periods = r.periods
        count = periods.height
        assert section.one("h2").text().endswith(r.rule_name)

        cum = section.one("svg", id=f"cumulative-{n}")
        for key in ("watchlist", "benchmark", "net"):
            line = next(p for p in cum.find_all("path") if p.attrs.get("data-series") == key)
            assert vertices(line.attrs["d"]) == count + 1 and line.attrs["d"].count("M") == 1
        assert len(cum.find_all("circle", cls="pt")) == count + 1
        assert len(cum.find_all("circle", cls="hollow")) == r.summary["null_periods"]

        buckets = section.one("svg", id=f"buckets-{n}")
        means = bucket_means(periods["buckets"].to_list(), r.buckets)
        groups = buckets.find_all("g", cls="bucket")
        assert [g.attrs["data-bucket"] for g in groups] == [str(i) for i in range(1, r.buckets + 1)]
        assert len(buckets.find_all("rect", cls="bar")) == sum(m is not None for m, _ in means)
        assert [g.find_all("text", cls="val")[0].text() for g in groups] == [shown_return(m) for m, _ in means]

        ic = section.one("svg", id=f"ic-{n}")
        with_ic = periods.filter(pl.col("ic").is_not_null())
        assert [b.attrs["data-period"] for b in ic.find_all("rect", cls="bar")] == \
            [d.isoformat() for d in with_ic["date"]]
        assert ic.find_all("rect", cls="gap")  # the null ICs of the first periods, shaded
        assert f"{r.summary['ic_mean']:.3f}" in ic.one("text", cls="mean-label").text()

        turnover = section.one("svg", id=f"turnover-{n}")
        assert len(turnover.find_all("rect", cls="bar")) == periods["turnover"].is_not_null().sum()

        rows = section.one("table", cls="periods").one("tbody").find_all("tr")
        assert [tr.attrs["data-date"] for tr in rows] == [d.isoformat() for d in periods["date"]]
        for tr, p in zip(rows, periods.iter_rows(named=True)):
            cells = {td.attrs["data-key"]: td.text() for td in tr.find_all("td")}
            assert cells["members"] == str(len(p["members"]))
            assert cells["watchlist_return"] == shown_return(p["watchlist_return"])
            assert cells["benchmark_return"] == shown_return(p["benchmark_return"])
            assert cells["watchlist_net_return"] == shown_return(p["watchlist_net_return"])
            assert cells["ic"] == ("—" if p["ic"] is None else f"{p['ic']:.3f}")
            assert cells["missing_returns"] == str(p["missing_returns"])

        comps = section.one("table", cls="components").one("tbody").find_all("tr")
        assert [tr.attrs["data-component"] for tr in comps] == list(r.components)

        facts = {s.attrs["data-fact"]: s.text() for s in section.find_all("span") if "data-fact" in s.attrs}
        missing = sum(periods["missing_returns"])
        members = sum(len(m) for m in periods["members"])
        assert f"{missing} / {members}" in facts["missing"]
        assert r.membership_dates == "none" and "none" in facts["membership"]
        assert section.one("pre", cls="rule-text").text() == r.rule_text

    summary = doc.one("table", id="summary-table")
    rows = {tr.attrs["data-key"]: tr for tr in summary.one("tbody").find_all("tr")}
    for key in ("periods", "null_periods", "watchlist_cumulative", "benchmark_cumulative",
                "watchlist_net_cumulative", "ic_mean", "ic_ir", "turnover_mean", "hit_rate", "max_drawdown"):
        shown = [td.text() for td in rows[key].find_all("td")]
        assert shown == [shown_summary(key, r.summary[key]) for r in results], key
    assert [td.text() for td in rows["missing_returns"].find_all("td")] == \
        [f"{sum(r.periods['missing_returns'])} / {sum(len(m) for m in r.periods['members'])}" for r in results]

    notices = doc.one("div", id="notices").text()
    for r in results:
        for notice in r.notices:
            assert notice in notices
    assert "hindsight and survivorship bias" in notices
    assert doc.one("div", id="notices").parent.tag == "header"  # before any number


def test_a_hollow_marker_is_a_period_without_a_return(results):
    """Spot-check one cumulative chart against the periods: a hollow marker sits where the
    watchlist had no return, on the same height as the marker before it (counted as 0)."""
    r = results[0]
    axes = tearsheet.shared_axes(results)
    points = next(ln for ln in tearsheet.cumulative_chart(r, axes, "en")["lines"] if ln["key"] == "watchlist")["points"]
    for before, p, ret in zip(points, points[1:], r.periods["watchlist_return"].to_list()):
        assert p["hollow"] == (ret is None)
        if ret is None:
            assert p["y"] == before["y"]

