"""Watchlists with groups, a buffer, extra columns and pins, as a user sees them: the real CLI
(`run` twice, so the second run has a previous watchlist; `explain`) on a project written here,
and every export format read back.

The world, worked out by hand. One score, `eps_growth_fy1` (eps_fy0 = 1 for everyone, so growth
is eps_fy1 - 1); filter `eps_fy1 > 0`; `top = 1`, `keep = 2`, `per = "industry"`:

    symbol     industry  growth D1  growth D2  note
    600001.SH  计算机     0.35       0.50       a newer consensus row on 2026-06-15
    600002.SH  计算机     0.40       0.40
    600003.SH  计算机     0.30       0.30
    600004.SH  电子       0.45       0.45
    600005.SH  电子       0.20       0.20
    600006.SH  (blank)   0.10       0.10       the null group
    600007.SH  电子       0.60       0.60       exclude pin: never ranked or listed
    IONQ.US    (blank)   losses                include pin: fails the filter, listed without a score
    PRIVATE:x  (blank)   unlisted

Run 1 as of D1 = 2026-05-31 (no previous watchlist: plain top 1 per industry): ranks 600004 1,
600002 2, 600001 3, 600003 4, 600005 5, 600006 6; watchlist 600004, 600002, 600006, then IONQ.US.
Run 2 as of D2 = 2026-06-30, P = run 1: ranks 600001 1, 600004 2, 600002 3, ...; in 计算机
600001 is group rank 1 but 600002 (in P, group rank 2 <= keep 2) keeps the one slot; watchlist
600004 (rank 2, group 1), 600002 (rank 3, group 2, kept), 600006 (rank 6, group 1), IONQ.US
(pinned, no rank).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

from .conftest import CONFIG, write
from .test_formats import csv_rows, md_table, md_unescape, workbook, xlsx_sheet_rows
from .test_html import Tree, body_rows, chromium, dom

D1, D2 = "2026-05-31", "2026-06-30"
FORMATS = ("csv", "xlsx", "html", "json", "parquet", "md")
INCLUDE_REASON = "quantum option; review after Q3 results"
EXCLUDE_REASON = "conflict of interest [compliance]"
P1 = "previous watchlist: run 1 as of 2026-05-31"
NO_P = "no previous watchlist: plain top"

GROWTH_D1 = {"600001.SH": 0.35, "600002.SH": 0.40, "600003.SH": 0.30, "600004.SH": 0.45, "600005.SH": 0.20,
             "600006.SH": 0.10, "600007.SH": 0.60}
INDUSTRY = {"600001.SH": "计算机", "600002.SH": "计算机", "600003.SH": "计算机", "600004.SH": "电子",
            "600005.SH": "电子", "600006.SH": "", "600007.SH": "电子", "IONQ.US": ""}

RULE = f"""
name = "Grouped, buffered, pinned"
universe = ["w"]

[filters]
profitable = "eps_fy1 > 0"

[scores]
growth = {{ expr = "eps_growth_fy1", weight = 1 }}

[output]
top = 1
keep = 2
per = "industry"
columns = ["market_cap", "analysts", "market_cap"]

[[pins]]
symbol = "IONQ.US"
action = "include"
reason = "{INCLUDE_REASON}"

[[pins]]
symbol = "600007.SH"
action = "exclude"
reason = "{EXCLUDE_REASON}"
"""

# the same world, a rule whose component sets every option (for `explain`)
OPTIONS_RULE = """
name = "Within industries"
universe = ["w"]

[filters]
profitable = "eps_fy1 > 0"

[scores]
growth = { expr = "eps_growth_fy1", weight = 1, within = "industry", missing = "mean", winsorize = 0.1 }

[output]
top = 1
per = "industry"
"""


@pytest.fixture
def project(tmp_path) -> Path:
    write(tmp_path / "config.toml", CONFIG)
    members = "".join(f"{s},公司{s[5]},core,true,{INDUSTRY[s]}\n" for s in GROWTH_D1)
    write(tmp_path / "universes" / "w.csv", "symbol,name,exposure,listed,industry\n" + members
          + "IONQ.US,IonQ,pure,true,\nPRIVATE:x,私营,pure,false,\n")
    consensus = ["symbol,fiscal_year,eps,actual,as_of,currency,analysts"]
    for s, g in GROWTH_D1.items():
        consensus += [f"{s},2025,1.0,true,2026-04-30,CNY,6", f"{s},2026,{1 + g},false,2026-05-15,CNY,6"]
    consensus += ["600001.SH,2026,1.5,false,2026-06-15,CNY,7",
                  "IONQ.US,2025,-0.5,true,2026-04-30,USD,9", "IONQ.US,2026,-0.2,false,2026-05-15,USD,9"]
    write(tmp_path / "data" / "consensus.csv", "\n".join(consensus) + "\n")
    prices = ["symbol,close,currency,as_of,market_cap"]
    for day in (D1, D2):
        prices += [f"{s},10,CNY,{day},{(i + 1) * 10 ** 9}" for i, s in enumerate(GROWTH_D1)]
        prices += [f"IONQ.US,40,USD,{day},9000000000"]
    write(tmp_path / "data" / "prices.csv", "\n".join(prices) + "\n")
    write(tmp_path / "rules" / "grouped.toml", RULE)
    write(tmp_path / "rules" / "within.toml", OPTIONS_RULE)
    return tmp_path


def run_twice(project: Path, cli, *extra: str):
    """Run 1 as of D1 and run 2 as of D2 with every format; the two results' outputs."""
    outs = []
    for day in (D1, D2):
        r = cli(project, "run", "rules/grouped.toml", "--as-of", day, "--format", ",".join(FORMATS), *extra)
        assert r.exit_code == 0, r.output
        outs.append(r)
    return outs


def files(project: Path, day: str, formats=FORMATS) -> dict[str, bytes]:
    folder = project / "out" / "grouped" / day
    return {fmt: (folder / f"grouped.{fmt}").read_bytes() for fmt in formats}


# the expected watchlist of run 2: (symbol, rank, group_rank, pinned, kept)
EXPECTED_D2 = [("600004.SH", 2, 1, False, False), ("600002.SH", 3, 2, False, True),
               ("600006.SH", 6, 1, False, False), ("IONQ.US", None, None, True, False)]
KEPT_REASON = "kept by the buffer (rank 2 in industry 计算机, keep 2)"


def test_run_2_every_format_shows_groups_pins_the_buffer_the_columns_and_p(project, cli):
    first, second = run_twice(project, cli)
    out = files(project, D2)
    symbols = [e[0] for e in EXPECTED_D2]

    # ---- JSON: rows carry group_rank, pinned, pin_reason, kept, reason; P named; the exclude pin
    payload = json.loads(out["json"])
    rows = payload["rows"]
    assert [(r["symbol"], r["rank"], r["group_rank"], r["pinned"], r["kept"]) for r in rows] == EXPECTED_D2
    ionq = rows[-1]
    assert ionq["score"] is None and ionq["pin_reason"] == INCLUDE_REASON
    assert ionq["reason"] == f"pinned: {INCLUDE_REASON}"
    assert rows[1]["reason"] == KEPT_REASON and rows[0]["reason"] is None
    assert all(r["pinned"] is False and r["pin_reason"] is None for r in rows[:3])
    assert [r["industry"] for r in rows] == ["电子", "计算机", None, None]
    assert rows[0]["market_cap"] == 4e9 and rows[0]["analysts"] == 6
    assert payload["previous"] == {"run_id": 1, "as_of": D1} and payload["keep"]
    excluded = {e["symbol"]: e for e in payload["excluded"]}
    assert excluded["600007.SH"]["failed"] == ["pin"]
    assert excluded["600007.SH"]["reason"] == f"excluded by pin: {EXCLUDE_REASON}"
    assert excluded["600001.SH"]["failed"] == []
    assert excluded["600001.SH"]["reason"] == "rank 1 in industry 计算机, its place taken by a member kept by the buffer (keep 2)"
    assert "600007.SH" not in [r["symbol"] for r in rows]

    # ---- CSV: the same rows; blanks (never 0) for the pinned row's rank and score; P in every row
    table = csv_rows(out["csv"])
    header = list(table[0])
    assert header[:3] == ["rank", "group_rank", "symbol"]
    for column in ("industry", "market_cap", "analysts", "pinned", "pin_reason", "kept", "reason",
                   "previous_watchlist"):
        assert header.count(column) == 1, column
    assert header.index("market_cap") < header.index("analysts")  # `columns` in the rule's order
    assert [(r["symbol"], r["rank"], r["group_rank"], r["pinned"], r["kept"]) for r in table] == [
        (s, "" if rk is None else str(rk), "" if g is None else str(g), str(p).lower(), str(k).lower())
        for s, rk, g, p, k in EXPECTED_D2]
    assert table[-1]["score"] == "" and table[-1]["score_growth"] == ""
    assert table[-1]["pin_reason"] == INCLUDE_REASON and table[1]["reason"] == KEPT_REASON
    assert {r["previous_watchlist"] for r in table} == {P1}

    # ---- Parquet: typed columns, nulls for the pinned row
    frame = pl.read_parquet(io.BytesIO(out["parquet"]))
    assert frame["symbol"].to_list() == symbols
    assert frame.schema["group_rank"] == pl.Int64 and frame.schema["pinned"] == pl.Boolean
    assert frame["rank"].to_list() == [2, 3, 6, None] and frame["group_rank"].to_list() == [1, 2, 1, None]
    assert frame["pinned"].to_list() == [False, False, False, True]
    assert frame["kept"].to_list() == [False, True, False, False]
    assert frame["pin_reason"].to_list() == [None, None, None, INCLUDE_REASON]
    assert frame["market_cap"].to_list()[0] == 4e9 and "analysts" in frame.columns
    assert frame["previous_watchlist"].unique().to_list() == [P1]

    # ---- XLSX: the same rows, an empty rank cell, P and the rule's options on the about sheet
    wb = workbook(out["xlsx"])
    sheet = xlsx_sheet_rows(wb["watchlist"])
    assert [(r["symbol"], r["rank"], r["group_rank"], r["pinned"], r["kept"]) for r in sheet] == EXPECTED_D2
    assert sheet[-1]["score"] is None and sheet[-1]["pin_reason"] == INCLUDE_REASON
    assert sheet[0]["market_cap"] == 4e9 and sheet[0]["industry"] == "电子"
    about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r[0]}
    assert about["previous watchlist"] == P1
    assert (about["per"], about["keep"], about["top"], about["pinned"]) == ("industry", 2, 1, 1)
    assert about["excluded: pin"] == 1 and about["excluded: below top per industry"] == 3
    assert about["pin: 600007.SH"] == f"exclude: {EXCLUDE_REASON}"

    # ---- HTML: the pinned row marked with its reason, "—" for its rank, P in the provenance
    doc = dom(out["html"].decode("utf-8"))
    trs = body_rows(doc)
    assert [tr.attrs["data-symbol"] for tr in trs] == symbols
    cells = [{td.attrs["class"].split()[0][2:]: td.text() for td in tr.find_all("td")} for tr in trs]
    assert [c["rank"] for c in cells] == ["2", "3", "6", "—"]
    assert [c["group_rank"] for c in cells] == ["1", "2", "1", "—"]
    assert cells[-1]["score"] == "—" and cells[-1]["reason"] == f"📌 pinned: {INCLUDE_REASON}"
    assert cells[1]["reason"] == KEPT_REASON and cells[0]["reason"] == ""
    assert cells[0]["industry"] == "电子" and cells[0]["market_cap"] == "4.0 bn"
    assert [("pinned" in tr.classes) for tr in trs] == [False, False, False, True]
    assert doc.one("dd", id="previous-watchlist").text() == P1
    filters = {tr.find_all("td")[0].text(): tr.find_all("td") for tr in
               doc.one("section", id="filters").one("tbody").find_all("tr")}
    assert filters["pin"][2].text() == "1" and "600007.SH" in filters["pin"][1].text()
    assert filters["below top 1 per industry"][2].text() == "3"
    bars = doc.one("svg", id="components-chart").find_all("g", cls="row")
    assert [g.attrs["data-symbol"] for g in bars] == symbols[:3]  # no composite, no bar

    # ---- Markdown: the same rows; the pin marked; P named below the table
    md = out["md"].decode("utf-8")
    mrows = md_table(md)
    assert [(r["symbol"], r["rank"], r["group_rank"]) for r in mrows] == [
        ("600004.SH", "2", "1"), ("600002.SH", "3", "2"), ("600006.SH", "6", "1"), ("IONQ.US", "—", "—")]
    assert mrows[-1]["reason"] == f"📌 pinned: {INCLUDE_REASON}" and mrows[-1]["score"] == "—"
    assert mrows[1]["reason"] == KEPT_REASON and mrows[0]["market_cap"] == "4.0 bn"
    assert "pinned" not in mrows[0] and "previous_watchlist" not in mrows[0]
    assert P1 in md_unescape(md)
    assert "pin 1, below top per industry 3" in md

    # ---- the terminal
    text = second.output
    assert P1 in text and NO_P in first.output
    assert f"📌 pinned: {INCLUDE_REASON}" in text and KEPT_REASON in text
    assert "Excluded: unlisted 1, pin 1, below top per industry 3" in text
    assert "top 1 per industry of 6 passing, 1 pinned" in text
    ionq_line = next(line for line in text.splitlines() if "IONQ.US" in line)
    assert ionq_line.split()[:2] == ["—", "—"] and " 0 " not in ionq_line  # no rank, no group rank


def test_a_browser_shows_the_pinned_row_and_p(project, cli, tmp_path):
    run_twice(project, cli)
    page = project / "out" / "grouped" / D2 / "grouped.html"
    out = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    doc = Tree(out.stdout.decode("utf-8")).root  # the browser's serialisation, parsed again
    trs = body_rows(doc)
    assert [tr.attrs["data-symbol"] for tr in trs] == [e[0] for e in EXPECTED_D2]
    pinned = [tr for tr in trs if "pinned" in tr.classes]
    assert [tr.attrs["data-symbol"] for tr in pinned] == ["IONQ.US"]
    assert pinned[0].one("td", cls="c-reason").text() == f"📌 pinned: {INCLUDE_REASON}"
    assert pinned[0].one("td", cls="c-rank").text() == "—"
    assert doc.one("dd", id="previous-watchlist").text() == P1
    assert doc.one("div", id="pinned-count").text().startswith("1")


def test_run_1_every_format_says_there_was_no_previous_watchlist(project, cli):
    r = cli(project, "run", "rules/grouped.toml", "--as-of", D1, "--format", ",".join(FORMATS))
    assert r.exit_code == 0, r.output
    out = files(project, D1)
    assert json.loads(out["json"])["previous"] is None
    assert [r["symbol"] for r in json.loads(out["json"])["rows"]] == ["600004.SH", "600002.SH", "600006.SH", "IONQ.US"]
    assert {r["previous_watchlist"] for r in csv_rows(out["csv"])} == {NO_P}
    assert pl.read_parquet(io.BytesIO(out["parquet"]))["previous_watchlist"].unique().to_list() == [NO_P]
    about = {r[0]: r[1] for r in workbook(out["xlsx"])["about"].iter_rows(values_only=True) if r[0]}
    assert about["previous watchlist"] == NO_P
    assert dom(out["html"].decode("utf-8")).one("dd", id="previous-watchlist").text() == NO_P
    assert NO_P in out["md"].decode("utf-8")
    assert NO_P in r.output


def test_run_json_rows_always_carry_pinned(project, cli):
    """Even a rule without pins: `pinned` false and `pin_reason` null on every row; no
    `group_rank`, `kept` or `reason` without `per`, `keep` or pins."""
    write(project / "rules" / "plain.toml", """
        universe = ["w"]
        [filters]
        profitable = "eps_fy1 > 0"
        [scores]
        growth = { expr = "eps_growth_fy1", weight = 1 }
        [output]
        top = 3
        """)
    r = cli(project, "run", "rules/plain.toml", "--as-of", D2, "--json", "--no-export")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [(x["rank"], x["pinned"], x["pin_reason"]) for x in rows] == [(1, False, None), (2, False, None),
                                                                         (3, False, None)]
    assert not {"group_rank", "kept", "reason"} & set(rows[0])


def test_explain_shows_the_group_the_pin_and_the_previous_watchlist(project, cli):
    run_twice(project, cli)
    kept = cli(project, "explain", "rules/grouped.toml", "600002.SH", "--as-of", D2)
    assert kept.exit_code == 0, kept.output
    text = kept.output
    assert "industry: 计算机" in text and "2 in industry 计算机" in text
    assert P1 in text and KEPT_REASON in text
    pinned = cli(project, "explain", "rules/grouped.toml", "IONQ.US", "--as-of", D2)
    assert "IN (📌 pinned)" in pinned.output and f"pinned: {INCLUDE_REASON}" in pinned.output
    out = cli(project, "explain", "rules/grouped.toml", "600007.SH", "--as-of", D2)
    assert "OUT" in out.output and f"excluded by pin: {EXCLUDE_REASON}" in out.output
    data = json.loads(cli(project, "explain", "rules/grouped.toml", "600002.SH", "--as-of", D2, "--json").stdout)
    assert (data["group_rank"], data["per"], data["group"], data["keep"]) == (2, "industry", "计算机", 2)
    assert data["previous"] == {"run_id": 1, "as_of": D1}


def test_explain_shows_a_components_options(project, cli):
    r = cli(project, "explain", "rules/within.toml", "600002.SH", "--as-of", D2)
    assert r.exit_code == 0, r.output
    assert "[within industry · missing mean · winsorize 0.1]" in r.output
    assert "previous watchlist" not in r.output  # no buffer, no P to name


def test_lang_zh_labels_every_new_header(project, cli):
    r = cli(project, "run", "rules/grouped.toml", "--as-of", D1, "--format", "csv,xlsx,md,html", "--lang", "zh")
    assert r.exit_code == 0, r.output
    out = files(project, D1, ("csv", "xlsx", "md", "html"))
    header = list(csv_rows(out["csv"])[0])
    for zh in ("组内排名", "行业", "总市值", "分析师数", "人工纳入", "人工纳入原因", "缓冲保留", "入选说明", "上期观察名单"):
        assert zh in header, zh
    assert not {"group_rank", "industry", "pinned", "pin_reason", "kept", "reason", "previous_watchlist"} & set(header)
    xlsx_header = [c.value for c in workbook(out["xlsx"])["watchlist"][1]]
    assert "组内排名" in xlsx_header and "人工纳入" in xlsx_header
    md_header = md_table(out["md"].decode("utf-8"))[0].keys()
    assert "组内排名" in md_header and "入选说明" in md_header
    doc = dom(out["html"].decode("utf-8"))
    headers = [th.text() for th in doc.one("table", id="watchlist").find_all("th")]
    assert "组内排名" in headers and "入选说明" in headers and "行业" in headers
    filters = [tr.find_all("td")[0].text() for tr in doc.one("section", id="filters").one("tbody").find_all("tr")]
    assert "未进前 1（按 industry 分组）" in filters
    assert doc.one("dd", id="previous-watchlist").text() == "无上期观察名单：按排名直接取前列"  # NO_P in zh


def test_every_field_and_watchlist_column_has_a_chinese_header():
    from screener.outputs.labels import ZH
    from screener.rules.fields import FIELDS

    missing = [f for f in FIELDS if f not in ZH]
    assert not missing, f"no zh label for {missing}"
    for column in ("group_rank", "pinned", "pin_reason", "kept", "reason", "previous_watchlist", "as_of",
                   "price_as_of", "consensus_as_of", "data_notice"):
        assert column in ZH, column
