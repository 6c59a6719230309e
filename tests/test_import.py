"""`screener.data.imports`: vendor exports (Wind, iFinD, Choice, generic) into snapshot files.

Every vendor file is written by the test into tmp_path, modelled on the real layouts
(`/work/shared/NOTES-dependencies.md`, "Vendor data"): multi-line headers with bracketed
parameters, `——` missing markers, a `数据来源：Wind` footer, GBK CSV, UTF-8 with BOM.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from screener.config import load_config
from screener.data.imports import (KINDS, SOURCES, ImportReport, Rejection, import_file, normalise_header, parse_number,
                                   parse_unit)
from screener.problems import InputError

from .conftest import write

AS_OF = date(2026, 11, 26)
D = "[交易日期] 2026-11-26"


# -- fixture writers -----------------------------------------------------------------------------


def xlsx(path: Path, rows: list[list], formats: dict[tuple[int, int], str] | None = None) -> Path:
    """Write rows to the first sheet of a new workbook (None = an empty cell)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for (row, col), fmt in (formats or {}).items():
        ws.cell(row=row, column=col).number_format = fmt
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def csv_file(path: Path, rows: list[list], encoding: str = "utf-8", bom: bool = False) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    data = buf.getvalue().encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


WIND_HEADER = [
    "证券代码", "证券简称",
    f"一致预测每股收益(FY1)\n{D}", f"一致预测每股收益(FY2)\n{D}", f"一致预测每股收益(FY3)\n{D}",
    f"一致预测净利润(FY1)\n{D}\n[单位] 亿元",
    f"预测机构家数\n{D}",
    "每股收益EPS(基本)\n[报告期] 2025年报",
]


def wind_consensus(path: Path) -> Path:
    """A Wind consensus export: FY1..FY3 EPS, FY1 net profit in 亿元, analysts, reported 2025 EPS."""
    return xlsx(path, [
        WIND_HEADER,
        ["603019.SH", "中科曙光", 1.52, 1.98, 2.41, 22.3, 25, 1.25],
        ["300308.SZ", "中际旭创", 7.81, 10.2, "12.5", "86.5", 40, 4.5],
        ["1772.HK", "赣锋锂业", "——", "——", "——", "——", "——", "——"],  # not covered: skipped
        ["RGTI.O", "Rigetti", -0.2, -0.15, "--", "-", 8, -0.3],
        ["BADCODE", "坏代码", 1.0, 1.1, 1.2, 1.0, 3, 0.9],  # rejected: not a symbol
        ["000977.SZ", "浪潮信息", "n/a", 2.1, 2.6, 30, 20, 1.4],  # FY1 rejected, the rest imported
        [None] * 8,
        ["数据来源：Wind", None, None, None, None, None, None, None],
    ])


def project(tmp_path: Path, extra_config: str = "") -> Path:
    write(tmp_path / "config.toml", f"""
        [paths]
        rules = "rules"
        universes = "universes"
        data = "data"
        out = "out"
        """ + extra_config)
    return tmp_path


def cfg(root: Path):
    return load_config(root / "config.toml")


def rows_of(path: Path) -> list[dict]:
    return pl.read_csv(path, infer_schema=False).to_dicts()


def by_key(rows: list[dict], *key: str) -> dict:
    return {tuple(r[k] for k in key): r for r in rows}


def run_import(root: Path, file: Path, source: str, kind: str, as_of: date = AS_OF, **kw) -> ImportReport:
    return import_file(file, source=source, kind=kind, as_of=as_of, into=root / "data", config=cfg(root), **kw)


# -- headers, units, numbers --------------------------------------------------------------------


def test_header_normalisation_reads_parameters_and_keeps_fy():
    h = normalise_header(f"一致预测净利润(FY1)\n{D}\n[单位] 亿元")
    assert (h.key, h.fy, h.year, h.unit, h.date) == ("一致预测净利润", 1, None, "亿元", "2026-11-26")
    h = normalise_header("预测净利润平均值 [年度] 2026 [单位] 亿元")
    assert (h.key, h.fy, h.year, h.unit) == ("预测净利润平均值", None, 2026, "亿元")
    h = normalise_header("每股收益EPS(基本)\n[报告期] 2025年报")
    assert (h.key, h.year) == ("每股收益eps(基本)", 2025)
    h = normalise_header("总市值（亿元）")  # full-width brackets, trailing unit dropped from the name
    assert (h.key, h.unit) == ("总市值", "亿元")
    h = normalise_header("收盘价\n[交易日期] 2026-11-26\n[币种] 港元")
    assert (h.key, h.currency) == ("收盘价", "HKD")
    assert normalise_header("2026预测每股收益").year == 2026


@pytest.mark.parametrize("text, scale, expected", [
    ("1.52", 1, "1.52"),
    ("22.3", Decimal(10**8), "2230000000"),           # header [单位] 亿元
    ("1,234.5", Decimal(10**4), "12345000"),          # thousands separator, 万元
    ("829.14亿", Decimal(10**4), "82914000000"),      # the cell's own unit wins over the header's
    ("3.2万", 1, "32000"),
    ("12.5%", 1, "0.125"),
    ("12.5", Decimal("0.01"), "0.125"),              # header (%)
    ("(1.2)", 1, "-1.2"),                            # accounting negative
    ("１２．５", 1, "12.5"),                          # full-width digits
    ("-0.2", 1, "-0.2"),
])
def test_parse_number_units(text, scale, expected):
    value = parse_number(text, Decimal(scale))
    assert format(value.normalize(), "f") == expected


@pytest.mark.parametrize("text", ["——", "--", "-", "", "  ", "N/A", "#N/A", None])
def test_missing_markers_are_null(text):
    assert parse_number(text) is None


@pytest.mark.parametrize("text", ["abc", "1.2.3", "12 apples", "1.5x"])
def test_parse_number_rejects_text(text):
    with pytest.raises(ValueError):
        parse_number(text)


def test_units_table():
    assert parse_unit("亿元") == (Decimal(10**8), None)
    assert parse_unit("万元") == (Decimal(10**4), None)
    assert parse_unit("万股") == (Decimal(10**4), None)
    assert parse_unit("股") == (Decimal(1), None)
    assert parse_unit("%") == (Decimal("0.01"), None)
    assert parse_unit("百万美元") == (Decimal(10**6), "USD")
    assert parse_unit("基本") is None


def test_public_names():
    assert SOURCES == ("wind", "ifind", "choice", "generic")
    assert KINDS == ("consensus", "prices", "esg")


# -- Wind consensus ------------------------------------------------------------------------------


def test_wind_consensus_xlsx(tmp_path):
    root = project(tmp_path)
    rep = run_import(root, wind_consensus(tmp_path / "in" / "wind.xlsx"), "wind", "consensus")
    out = rows_of(root / "data" / "consensus.csv")
    assert list(out[0]) == ["symbol", "fiscal_year", "eps", "actual", "as_of", "currency", "analysts", "net_profit",
                            "revenue"]
    rows = by_key(out, "symbol", "fiscal_year")
    # the reported 2025 column makes FY1 = 2026
    assert rows[("603019.SH", "2025")] == {"symbol": "603019.SH", "fiscal_year": "2025", "eps": "1.25",
                                           "actual": "true", "as_of": "2026-11-26", "currency": "CNY",
                                           "analysts": None, "net_profit": None, "revenue": None}
    assert rows[("603019.SH", "2026")] == {"symbol": "603019.SH", "fiscal_year": "2026", "eps": "1.52",
                                           "actual": "false", "as_of": "2026-11-26", "currency": "CNY",
                                           "analysts": "25", "net_profit": "2230000000", "revenue": None}
    assert rows[("603019.SH", "2027")]["eps"] == "1.98" and rows[("603019.SH", "2027")]["net_profit"] is None
    assert rows[("603019.SH", "2028")]["eps"] == "2.41"
    assert rows[("300308.SZ", "2026")]["net_profit"] == "8650000000"  # text "86.5" in 亿元
    assert rows[("300308.SZ", "2028")]["eps"] == "12.5"
    # Wind's RGTI.O is canonical RGTI.US, reporting in USD; its missing FY3 gives no row
    assert rows[("RGTI.US", "2026")]["currency"] == "USD" and rows[("RGTI.US", "2026")]["eps"] == "-0.2"
    assert ("RGTI.US", "2028") not in rows
    # uncovered 1772.HK (all ——) gives nothing, and is no rejection
    assert not any(s == "1772.HK" for s, _ in rows)
    # 000977.SZ: FY1 'n/a' is a missing marker: FY1 has net profit but no EPS -> rejected; FY2, FY3 imported
    assert ("000977.SZ", "2026") not in rows and rows[("000977.SZ", "2027")]["eps"] == "2.1"
    assert rep.rows_read == 6  # blank row and footer not counted
    assert rep.rows_skipped == 1
    assert rep.rows_imported == len(out) == rep.rows_new
    assert rep.rows_changed == rep.rows_unchanged == 0
    assert [(r.row, r.column.split(" ")[0], r.value) for r in rep.rejected] == [
        (5, "证券代码", "BADCODE"),
        (6, "一致预测每股收益(FY1)", "n/a"),
    ]
    assert "not a symbol" in rep.rejected[0].reason
    assert rep.target.endswith("consensus.csv") and rep.rejected_report.endswith("consensus.rejected.csv")
    assert rep.to_dict()["rejected"][0]["value"] == "BADCODE"


def test_non_numeric_eps_rejects_only_that_year(tmp_path):
    root = project(tmp_path)
    f = xlsx(tmp_path / "w.xlsx", [
        WIND_HEADER,
        ["603019.SH", "中科曙光", "1.5元x", 1.98, 2.41, 22.3, 25, 1.25],
    ])
    rep = run_import(root, f, "wind", "consensus")
    years = {r["fiscal_year"] for r in rows_of(root / "data" / "consensus.csv")}
    assert years == {"2025", "2027", "2028"}
    (rej,) = rep.rejected
    assert rej.row == 1 and rej.value == "1.5元x" and "not a number" in rej.reason
    assert rej.column == f"一致预测每股收益(FY1) {D}"


@pytest.mark.parametrize("as_of, fy1", [(date(2026, 11, 26), 2026), (date(2026, 4, 30), 2025), (date(2026, 5, 1), 2026),
                                        (date(2027, 3, 15), 2026)])
def test_fy_mapping_without_reported_column(tmp_path, as_of, fy1):
    """No reported year in the file: FY1 is this year after April 30, last year up to April 30."""
    root = project(tmp_path)
    f = xlsx(tmp_path / "w.xlsx", [
        ["证券代码", "证券简称", f"一致预测每股收益(FY1)\n[交易日期] {as_of}", f"一致预测每股收益(FY2)\n[交易日期] {as_of}"],
        ["603019.SH", "中科曙光", 1.5, 1.9],
    ])
    rep = run_import(root, f, "wind", "consensus", as_of=as_of)
    rows = rows_of(root / "data" / "consensus.csv")
    assert [(r["fiscal_year"], r["eps"], r["as_of"]) for r in rows] == [
        (str(fy1), "1.5", as_of.isoformat()), (str(fy1 + 1), "1.9", as_of.isoformat())]
    assert rep.notes == ()  # the header dates are the import date


def test_fy_mapping_follows_the_reported_year(tmp_path):
    """A reported 2025 column makes FY1 2026 even in March 2026, before the April 30 rule would."""
    root = project(tmp_path)
    rep = run_import(root, wind_consensus(tmp_path / "w.xlsx"), "wind", "consensus", as_of=date(2026, 3, 15))
    years = sorted({r["fiscal_year"] for r in rows_of(root / "data" / "consensus.csv") if r["actual"] == "false"})
    assert years == ["2026", "2027", "2028"]
    assert any("as of 2026-11-26; imported as of 2026-03-15" in n for n in rep.notes)


def test_footer_blank_rows_and_missing_markers_are_no_rejections(tmp_path):
    root = project(tmp_path)
    f = xlsx(tmp_path / "w.xlsx", [
        WIND_HEADER,
        ["603019.SH", "中科曙光", 1.52, "——", "--", "-", 25, 1.25],
        [None] * 8,
        ["688256.SH", "寒武纪", "—", "——", None, "", "--", "——"],
        ["数据来源：Wind", None, None, None, None, None, None, None],
        ["注：一致预测为近180天机构预测均值", None, None, None, None, None, None, None],
    ])
    rep = run_import(root, f, "wind", "consensus")
    assert rep.rejected == () and rep.rejected_report is None
    assert not (root / "data" / "consensus.rejected.csv").exists()
    assert rep.rows_read == 2 and rep.rows_skipped == 1
    rows = rows_of(root / "data" / "consensus.csv")
    assert [(r["symbol"], r["fiscal_year"], r["eps"]) for r in rows] == [("603019.SH", "2025", "1.25"),
                                                                         ("603019.SH", "2026", "1.52")]


# -- Choice: wide [年度] columns, units -----------------------------------------------------------


def test_choice_wide_year_columns_to_long_rows(tmp_path):
    root = project(tmp_path)
    f = xlsx(tmp_path / "choice.xlsx", [
        ["代码", "名称", "预测每股收益平均值 [年度] 2026", "预测每股收益平均值 [年度] 2027",
         "预测净利润平均值 [年度] 2026 [单位] 万元", "预测净利润平均值 [年度] 2027 [单位] 万元", "预测机构家数"],
        ["603019", "中科曙光", 1.5, 1.9, "223,000", "829.14亿", 25],
        ["00020", "商汤-W", -0.05, 0.01, -150000, "——", 6],
        ["数据来源：东方财富Choice数据", None, None, None, None, None, None],
    ])
    rep = run_import(root, f, "choice", "consensus")
    rows = by_key(rows_of(root / "data" / "consensus.csv"), "symbol", "fiscal_year")
    assert set(rows) == {("603019.SH", "2026"), ("603019.SH", "2027"), ("0020.HK", "2026"), ("0020.HK", "2027")}
    assert rows[("603019.SH", "2026")]["net_profit"] == "2230000000"  # 223,000 万元
    assert rows[("603019.SH", "2027")]["net_profit"] == "82914000000"  # "829.14亿" carries its own unit
    assert rows[("603019.SH", "2027")]["analysts"] == "25"  # a yearless analysts column feeds every year
    assert rows[("0020.HK", "2026")]["net_profit"] == "-1500000000"
    assert rows[("0020.HK", "2027")]["net_profit"] is None
    assert rows[("0020.HK", "2026")]["currency"] == "HKD"  # the market's when the file does not say
    assert all(r["actual"] == "false" for r in rows.values())
    assert rep.rows_imported == 4 and rep.rejected == ()


def test_wrong_source_says_which_profile_reads_it(tmp_path):
    root = project(tmp_path)
    f = xlsx(tmp_path / "w.xlsx", [WIND_HEADER[:5], ["603019.SH", "中科曙光", 1.52, 1.98, 2.41]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "choice", "consensus")
    (p,) = e.value.problems
    assert p.code == "nothing-usable" and "try --source wind" in p.hint
    assert "预测每股收益平均值" in p.hint  # the headers expected for choice
    assert not (root / "data").exists()
    # with a reported column the choice profile reads that much, and the notes say what it left out
    rep = run_import(root, wind_consensus(tmp_path / "w2.xlsx"), "choice", "consensus")
    assert {r["actual"] for r in rows_of(root / "data" / "consensus.csv")} == {"true"}
    assert any("一致预测每股收益(FY1)" in n and "try --source wind" in n for n in rep.notes)


# -- iFinD prices, GBK ---------------------------------------------------------------------------


def ifind_prices(path: Path) -> Path:
    return csv_file(path, [
        ["股票代码", "股票简称", "收盘价(元)\n[交易日期]2026-11-26", "总市值\n[交易日期]2026-11-26\n[单位]亿元"],
        ["603019.SH", "中科曙光", "71.25", "1,042.5"],
        ["0020.HK", "商汤-W", "1.85", "662.3"],
        ["IONQ.N", "IonQ", "45.1", "120.5"],
        ["300308.SZ", "中际旭创", "0", "1000"],      # rejected: close must be > 0
        ["688256.SH", "寒武纪", "--", "2500"],        # rejected: a market cap without a close
        ["来源：同花顺iFinD", "", "", ""],
    ], encoding="gbk")


def test_ifind_prices_gbk_csv(tmp_path):
    root = project(tmp_path)
    f = ifind_prices(tmp_path / "prices.csv")
    with pytest.raises(UnicodeDecodeError):
        f.read_bytes().decode("utf-8")
    rep = run_import(root, f, "ifind", "prices")
    assert rep.encoding == "gb18030"
    out = rows_of(root / "data" / "prices.csv")
    # every column of the prices schema, the optional adj_close and amount blank (the export has neither)
    assert list(out[0]) == ["symbol", "close", "currency", "as_of", "market_cap", "adj_close", "amount"]
    assert out == [
        {"symbol": "0020.HK", "close": "1.85", "currency": "HKD", "as_of": "2026-11-26", "market_cap": "66230000000",
         "adj_close": None, "amount": None},
        {"symbol": "603019.SH", "close": "71.25", "currency": "CNY", "as_of": "2026-11-26", "market_cap": "104250000000",
         "adj_close": None, "amount": None},
        {"symbol": "IONQ.US", "close": "45.1", "currency": "USD", "as_of": "2026-11-26", "market_cap": "12050000000",
         "adj_close": None, "amount": None},
    ]
    assert [(r.row, r.value, r.reason) for r in rep.rejected] == [
        (4, "0", "must be greater than 0"),
        (5, "--", "no close price (the snapshot needs one)"),
    ]


def test_currency_column_and_cap_in_another_currency(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "p.csv", [
        ["证券代码", "收盘价", "总市值\n[单位] 亿元\n[币种] 人民币", "交易币种"],
        ["0020.HK", "1.85", "600", "港币"],   # cap in CNY, price in HKD: rejected
        ["603019.SH", "71.25", "1042.5", "人民币"],
        ["688256.SH", "500", "2100", "XX1"],  # not a currency
    ])
    rep = run_import(root, f, "wind", "prices")
    assert [r["symbol"] for r in rows_of(root / "data" / "prices.csv")] == ["603019.SH"]
    reasons = {r.row: r.reason for r in rep.rejected}
    assert "market cap in CNY but the price in HKD" in reasons[1]
    assert "not a currency" in reasons[3]


# -- ESG -----------------------------------------------------------------------------------------


def test_esg_csv_utf8_bom_with_rater_column(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "esg.csv", [
        ["证券代码", "证券简称", "ESG评级", "评级机构"],
        ["603019.SH", "中科曙光", "AA+pi", "绿发信评"],
        ["300308.SZ", "中际旭创", "A", "绿发信评"],
        ["688256.SH", "寒武纪", "Z", "绿发信评"],
        ["000977.SZ", "浪潮信息", "AA", ""],  # no rater on the row, none given: rejected
    ], bom=True)
    rep = run_import(root, f, "wind", "esg")
    assert rep.encoding == "utf-8-sig"
    out = rows_of(root / "data" / "esg.csv")
    assert out == [
        {"symbol": "300308.SZ", "rater": "绿发信评", "rating": "A", "as_of": "2026-11-26"},
        {"symbol": "603019.SH", "rater": "绿发信评", "rating": "AA+pi", "as_of": "2026-11-26"},
    ]
    reasons = {r.row: (r.value, r.reason) for r in rep.rejected}
    assert reasons[3] == ("Z", "is not an ESG grade (AAA, AA+, ... C; a suffix such as pi may follow)")
    assert "no rater" in reasons[4][1]


def hz_file(path: Path) -> Path:
    """Modelled on AKShare's stock_esg_hz_sina (华证): ESG评分 is a score, ESG等级 the grade."""
    return csv_file(path, [
        ["日期", "股票代码", "交易市场", "股票名称", "ESG评分", "ESG等级", "环境", "环境等级", "社会", "社会等级"],
        ["2025-10-31", "600522.SH", "cn", "中天科技", "99.86", "AAA", "88.5", "A", "92.59", "AA"],
        ["2025-10-31", "300760.SZ", "cn", "迈瑞医疗", "99.84", "BBB", "82.5", "BBB", "93.8", "AA"],
    ])


def test_huazheng_file_needs_a_rater(tmp_path):
    root = project(tmp_path)
    f = hz_file(tmp_path / "hz.csv")
    with pytest.raises(InputError) as e:
        run_import(root, f, "wind", "esg")
    assert [p.code for p in e.value.problems] == ["no-rater"] and "--rater" in e.value.problems[0].hint
    rep = run_import(root, f, "wind", "esg", rater="华证")
    assert rows_of(root / "data" / "esg.csv") == [
        {"symbol": "300760.SZ", "rater": "华证", "rating": "BBB", "as_of": "2026-11-26"},
        {"symbol": "600522.SH", "rater": "华证", "rating": "AAA", "as_of": "2026-11-26"},
    ]
    assert any("环境等级" in n for n in rep.notes)  # ignored columns are listed


def test_rater_named_in_the_header_and_wide_esg(tmp_path):
    root = project(tmp_path)
    f = xlsx(tmp_path / "esg.xlsx", [
        ["证券代码", "证券简称", "华证ESG评级\n[交易日期] 2026-11-26", "Wind ESG评级", "MSCI ESG评级"],
        ["603019.SH", "中科曙光", "AA", "A", "BBB"],
        ["300308.SZ", "中际旭创", "A", "——", "BB"],
    ])
    run_import(root, f, "wind", "esg")
    got = {(r["symbol"], r["rater"]): r["rating"] for r in rows_of(root / "data" / "esg.csv")}
    assert got == {("603019.SH", "华证"): "AA", ("603019.SH", "Wind"): "A", ("603019.SH", "MSCI"): "BBB",
                   ("300308.SZ", "华证"): "A", ("300308.SZ", "MSCI"): "BB"}


def test_score_with_grade_in_parentheses(tmp_path):
    """stock_esg_zd_sina writes `88.31(AAA)`; with no grade column, ESG评分 is read as the grade."""
    root = project(tmp_path)
    f = csv_file(tmp_path / "zd.csv", [
        ["股票代码", "ESG评分", "环境总评", "评分日期"],
        ["00386.HK", "88.31(AAA)", "94.66(AAA)", "2026-03-31"],
        ["600028.SH", "71.5", "80(A)", "2026-03-31"],
    ])
    rep = run_import(root, f, "wind", "esg", rater="中诚信绿金")
    assert rows_of(root / "data" / "esg.csv") == [
        {"symbol": "0386.HK", "rater": "中诚信绿金", "rating": "AAA", "as_of": "2026-11-26"}]
    assert [(r.row, r.value) for r in rep.rejected] == [(2, "71.5")]


# -- generic -------------------------------------------------------------------------------------

GENERIC = """
[import.generic.consensus]
symbol = "代码"
fiscal_year = "年度"
eps = "EPS"
actual = "已披露"
net_profit = "净利润"
units = { net_profit = "亿元" }
"""


def test_generic_mapping_from_config(tmp_path):
    root = project(tmp_path, GENERIC)
    f = csv_file(tmp_path / "g.csv", [
        ["代码", "年度", "EPS", "已披露", "净利润"],
        ["603019.SH", "2025", "1.25", "是", "18.3"],
        ["603019.SH", "2026E", "1.52", "否", "22.3"],
        ["603019.SH", "FY2", "1.98", "", ""],  # FY2 as of 2026-11-26 is 2027
        ["300308", "2026", "7.81", "false", "1,042.5"],
        ["300308", "2026年", "7.81", "maybe", ""],
    ])
    rep = run_import(root, f, "generic", "consensus")
    rows = by_key(rows_of(root / "data" / "consensus.csv"), "symbol", "fiscal_year")
    assert rows[("603019.SH", "2025")]["actual"] == "true"
    assert rows[("603019.SH", "2025")]["net_profit"] == "1830000000"
    assert rows[("603019.SH", "2026")]["actual"] == "false"
    assert rows[("603019.SH", "2027")]["eps"] == "1.98"
    assert rows[("300308.SZ", "2026")]["net_profit"] == "104250000000"
    assert [(r.row, r.column, r.value) for r in rep.rejected] == [(5, "已披露", "maybe")]


@pytest.mark.parametrize("table, code, words", [
    ('[import.generic.consensus]\nsymbol = "代码"\nfiscal_year = "年度"\nesp = "EPS"\n', "unknown-column",
     "did you mean `eps`?"),
    ('[import.generic.consensus]\nsymbol = "代码"\neps = "EPS"\n', "missing-mapping", "`fiscal_year`"),
    ('[import.generic.consensus]\nsymbol = "代码"\nfiscal_year = "年度"\neps = "EPS"\nunits = { eps = "斤" }\n',
     "bad-unit", "unknown unit"),
    ('[import.generic.consensus]\nsymbol = "代码"\nfiscal_year = "年度"\neps = "EPS"\nas_of = "日期"\n', "bad-key",
     "--as-of"),
])
def test_generic_profile_problems(tmp_path, table, code, words):
    root = project(tmp_path, table)
    f = csv_file(tmp_path / "g.csv", [["代码", "年度", "EPS"], ["603019.SH", "2026", "1.5"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "generic", "consensus")
    p = e.value.problems[0]
    assert p.code == code
    assert words in p.message + (p.hint or "")
    assert p.path.endswith("config.toml") and p.line is not None
    assert not (root / "data").exists()


def test_generic_without_a_profile(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "g.csv", [["代码", "年度", "EPS"], ["603019.SH", "2026", "1.5"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "generic", "consensus")
    assert e.value.problems[0].code == "no-profile" and "[import.generic.consensus]" in e.value.problems[0].hint


# -- duplicates ----------------------------------------------------------------------------------


def test_duplicates_identical_once_conflicting_none(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "p.csv", [
        ["证券代码", "收盘价"],
        ["603019.SH", "71.25"],
        ["300308.SZ", "120"],
        ["603019", "71.25"],      # the same security and value: imported once
        ["300308.SZ", "121"],     # the same security, another value: neither imported
        ["688256.SH", "500"],
    ])
    rep = run_import(root, f, "wind", "prices")
    assert [(r["symbol"], r["close"]) for r in rows_of(root / "data" / "prices.csv")] == [
        ("603019.SH", "71.25"), ("688256.SH", "500")]
    got = [(r.row, r.value, r.reason.split(" (")[0]) for r in rep.rejected]
    assert got == [(2, "300308.SZ", "conflicts with row 4"), (3, "603019", "repeats row 1"),
                   (4, "300308.SZ", "conflicts with row 2")]
    assert rep.rows_imported == 2


# -- merge, idempotence, atomic rejects report -------------------------------------------------------


def test_idempotent_same_bytes(tmp_path):
    root = project(tmp_path)
    f = wind_consensus(tmp_path / "w.xlsx")
    first = run_import(root, f, "wind", "consensus")
    target = root / "data" / "consensus.csv"
    before = target.read_bytes()
    rejects_before = (root / "data" / "consensus.rejected.csv").read_bytes()
    second = run_import(root, f, "wind", "consensus")
    assert target.read_bytes() == before
    assert (root / "data" / "consensus.rejected.csv").read_bytes() == rejects_before
    assert (second.rows_new, second.rows_changed, second.rows_unchanged) == (0, 0, first.rows_imported)
    assert first.written and not second.written
    assert sorted(p.name for p in (root / "data").iterdir()) == [
        ".snapshot.lock", "consensus.csv", "consensus.rejected.csv"]  # the lock every writer of the folder takes


def test_merge_keeps_other_rows_and_replaces_same_key(tmp_path):
    root = project(tmp_path)
    write(root / "data" / "consensus.csv", """
        symbol,fiscal_year,eps,actual,as_of,currency,analysts,net_profit,revenue
        603019.SH,2026,1.40,false,2026-10-31,CNY,20,,
        603019.SH,2026,1.50,false,2026-11-26,CNY,25,2230000000,
        300308.SZ,2026,7.0,false,2026-11-26,CNY,40,,
        IONQ.US,2026,-0.4,false,2026-11-26,USD,9,,
        """)
    prices = root / "data" / "prices.csv"
    write(prices, """
        symbol,close,currency,as_of
        603019.SH,70,CNY,2026-11-25
        """)
    prices_before = prices.read_bytes()
    f = xlsx(tmp_path / "w.xlsx", [
        ["证券代码", f"一致预测每股收益(FY1)\n{D}", f"一致预测净利润(FY1)\n{D}\n[单位] 亿元", f"预测机构家数\n{D}"],
        ["603019.SH", "1.5", 22.3, 25],      # same values as the 2026-11-26 row ("1.50" == 1.5): unchanged
        ["300308.SZ", 7.81, "——", 40],      # changed
        ["688256.SH", 3.1, "——", 12],       # new
    ])
    rep = run_import(root, f, "wind", "consensus")
    assert (rep.rows_new, rep.rows_changed, rep.rows_unchanged) == (1, 1, 1)
    rows = rows_of(root / "data" / "consensus.csv")
    assert [(r["symbol"], r["fiscal_year"], r["as_of"], r["eps"]) for r in rows] == [
        ("300308.SZ", "2026", "2026-11-26", "7.81"),
        ("603019.SH", "2026", "2026-10-31", "1.40"),   # another as_of: untouched, text as it was
        ("603019.SH", "2026", "2026-11-26", "1.50"),   # unchanged: its text is kept
        ("688256.SH", "2026", "2026-11-26", "3.1"),
        ("IONQ.US", "2026", "2026-11-26", "-0.4"),
    ]
    assert prices.read_bytes() == prices_before  # other snapshot files are never touched


def test_rejects_report_content_and_removal(tmp_path):
    root = project(tmp_path)
    f = wind_consensus(tmp_path / "w.xlsx")
    rep = run_import(root, f, "wind", "consensus")
    report = root / "data" / "consensus.rejected.csv"
    raw = report.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    assert rows[0] == ["row", "column", "value", "reason"]
    assert rows[1][:3] == ["5", "证券代码", "BADCODE"] and rows[1][3].startswith("not a symbol")
    assert rows[2][:3] == ["6", f"一致预测每股收益(FY1) {D}", "n/a"]
    assert "no EPS for 2026" in rows[2][3]
    assert len(rows) == 1 + len(rep.rejected)
    # a clean import removes the old report
    clean = xlsx(tmp_path / "clean.xlsx", [WIND_HEADER[:3], ["603019.SH", "中科曙光", 1.6]])
    rep2 = run_import(root, clean, "wind", "consensus")
    assert rep2.rejected == () and rep2.rejected_report is None and not report.exists()


def test_formula_text_is_neutralised_in_the_rejects_report(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "p.csv", [["证券代码", "收盘价"], ["=HYPERLINK(\"x\")", "1"], ["603019.SH", "7"]])
    run_import(root, f, "wind", "prices")
    text = (root / "data" / "prices.rejected.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text


def test_existing_broken_snapshot_is_not_touched(tmp_path):
    root = project(tmp_path)
    target = write(root / "data" / "prices.csv", """
        symbol,close,currency,as_of
        603019.SH,abc,CNY,2026-11-25
        """)
    before = target.read_bytes()
    f = csv_file(tmp_path / "p.csv", [["证券代码", "收盘价"], ["603019.SH", "7"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "wind", "prices")
    assert any("not a number" in p.message for p in e.value.problems)
    assert target.read_bytes() == before
    assert not (root / "data" / "prices.rejected.csv").exists()


# -- nothing usable --------------------------------------------------------------------------------


def test_no_symbol_column_is_nothing_usable(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "x.csv", [["公司", "收盘价"], ["中科曙光", "71.25"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "ifind", "prices")
    (p,) = e.value.problems
    assert p.code == "nothing-usable" and p.path.endswith("x.csv")
    assert "`公司`, `收盘价`" in p.message  # the headers found
    assert "证券代码" in p.hint and "收盘价" in p.hint  # the headers expected
    assert not (root / "data").exists()


def test_zero_good_rows_is_nothing_usable_and_writes_nothing(tmp_path):
    root = project(tmp_path)
    existing = write(root / "data" / "prices.csv", """
        symbol,close,currency,as_of
        603019.SH,70,CNY,2026-11-25
        """)
    before = existing.read_bytes()
    f = csv_file(tmp_path / "bad.csv", [["证券代码", "收盘价"], ["BADCODE", "1"], ["603019.SH", "abc"],
                                        ["数据来源：Wind", ""]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "wind", "prices")
    codes = [p.code for p in e.value.problems]
    assert codes == ["nothing-usable", "rejected", "rejected"]
    assert "2 data rows read, none usable" in e.value.problems[0].message
    assert "row 2, column `收盘价`: 'abc' is not a number" in e.value.problems[2].message
    assert existing.read_bytes() == before
    assert sorted(p.name for p in (root / "data").iterdir()) == ["prices.csv"]


def test_header_only_and_empty_files(tmp_path):
    root = project(tmp_path)
    for name, rows in (("h.csv", [["证券代码", "收盘价"]]), ("e.csv", [])):
        with pytest.raises(InputError) as e:
            run_import(root, csv_file(tmp_path / name, rows), "wind", "prices")
        assert e.value.problems[0].code == "nothing-usable"
    assert not (root / "data").exists()


def test_forecast_column_without_a_year_is_refused(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "c.csv", [["证券代码", "一致预测每股收益"], ["603019.SH", "1.5"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "wind", "consensus")
    assert e.value.problems[0].code == "no-year" and "(FY1)" in e.value.problems[0].hint


def test_two_columns_for_the_same_field_are_refused(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "p.csv", [["证券代码", "总市值1", "总市值2", "收盘价"], ["603019.SH", "1", "2", "3"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "wind", "prices")
    assert e.value.problems[0].code == "ambiguous-column"


def test_bad_source_kind_and_xls(tmp_path):
    root = project(tmp_path)
    f = csv_file(tmp_path / "p.csv", [["证券代码", "收盘价"], ["603019.SH", "3"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "wnid", "prices")
    assert "did you mean `wind`?" in e.value.problems[0].hint
    with pytest.raises(InputError) as e:
        run_import(root, f, "wind", "price")
    assert "did you mean `prices`?" in e.value.problems[0].hint
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError) as e:
        run_import(root, xls, "wind", "prices")
    assert ".xlsx" in e.value.problems[0].hint


# -- end to end: import, then screen ----------------------------------------------------------------


def test_imported_data_feeds_a_screen(tmp_path):
    from screener import api
    from screener.data.snapshot import load_snapshot

    root = project(tmp_path)
    write(root / "universes" / "compute.csv", """
        symbol,name,exposure,listed
        603019.SH,中科曙光,core,true
        300308.SZ,中际旭创,pure,true
        RGTI.US,Rigetti,pure,true
        """)
    write(root / "rules" / "r.toml", """
        name = "Imported"
        universe = ["compute"]
        [filters]
        profitable = "eps_fy1 > 0"
        [scores]
        growth = { expr = "eps_growth_fy1", weight = 1 }
        """)
    run_import(root, wind_consensus(tmp_path / "w.xlsx"), "wind", "consensus")
    run_import(root, ifind_prices(tmp_path / "p.csv"), "ifind", "prices")
    config = cfg(root)
    snap = load_snapshot(config.data_dir, config.display)
    (result,) = api.run(config, api.load_screens(config, ["r"]), AS_OF, snap)
    rows = {r["symbol"]: r for r in result.frame.iter_rows(named=True)}
    a = rows["603019.SH"]
    assert a["eps_fy0"] == 1.25 and a["eps_fy1"] == 1.52 and a["eps_fy2"] == 1.98
    assert a["eps_growth_fy1"] == pytest.approx(1.52 / 1.25 - 1)
    assert a["pe_fy1"] == pytest.approx(71.25 / 1.52)
    assert a["market_cap"] == pytest.approx(1.0425e11)
    assert a["analysts"] == 25
    assert rows["300308.SZ"]["eps_fy1"] == 7.81
    # growth 7.81/4.5 - 1 = 0.74 beats 1.52/1.25 - 1 = 0.22; RGTI.US (losses) fails eps_fy1 > 0
    assert result.included["symbol"].to_list() == ["300308.SZ", "603019.SH"]


def test_title_rows_above_the_header_and_reporting_currency(tmp_path):
    """Rows above the header are skipped (row numbers count from the header); `[币种] 人民币`
    makes a Hong Kong listing's consensus CNY."""
    root = project(tmp_path)
    f = xlsx(tmp_path / "hk.xlsx", [
        ["港股一致预测"],
        [],
        ["证券代码", "证券简称", "一致预测每股收益(FY1)\n[交易日期]20261126\n[币种] 人民币"],
        ["0020.HK", "商汤-W", -0.05],
        ["9999.HK", "网易-S", "x"],
    ])
    rep = run_import(root, f, "wind", "consensus")
    (row,) = rows_of(root / "data" / "consensus.csv")
    assert (row["symbol"], row["fiscal_year"], row["currency"]) == ("0020.HK", "2026", "CNY")
    assert [(r.row, r.value) for r in rep.rejected] == [(2, "x")]
    assert rep.notes == ()  # 20261126 is the import date


def test_unchanged_import_leaves_a_differently_formatted_file_alone(tmp_path):
    root = project(tmp_path)
    target = root / "data" / "prices.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"symbol,close,currency,as_of\r\nIONQ.US,45.10,USD,2026-11-26\r\n603019.SH,71.25,CNY,2026-11-26\r\n")
    before = target.read_bytes()
    f = csv_file(tmp_path / "p.csv", [["证券代码", "收盘价"], ["603019.SH", "71.250"]])
    rep = run_import(root, f, "wind", "prices")
    assert (rep.rows_new, rep.rows_changed, rep.rows_unchanged, rep.written) == (0, 0, 1, False)
    assert target.read_bytes() == before


def test_utf16_tab_text_and_a_corrupt_workbook(tmp_path):
    """Wind's "Unicode text" export is UTF-16 with tabs; a damaged .xlsx is a clean InputError."""
    root = project(tmp_path)
    f = tmp_path / "p.txt"
    f.write_bytes("证券代码\t收盘价\n603019.SH\t71.25\n".encode("utf-16"))
    rep = run_import(root, f, "wind", "prices")
    assert rep.encoding == "utf-16" and rows_of(root / "data" / "prices.csv")[0]["close"] == "71.25"
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError) as e:
        run_import(root, bad, "wind", "prices")
    assert e.value.problems[0].code == "unreadable"


def test_generic_header_named_in_config_but_absent(tmp_path):
    root = project(tmp_path, GENERIC)
    f = csv_file(tmp_path / "g.csv", [["代码", "年度", "EPS", "已披露", "净利"], ["603019.SH", "2026", "1.5", "否", "2"]])
    with pytest.raises(InputError) as e:
        run_import(root, f, "generic", "consensus")
    (p,) = e.value.problems
    assert p.code == "missing-header" and "`净利润`" in p.message and "did you mean `净利`?" in p.hint
    assert not (root / "data").exists()


def test_an_import_leaves_the_cache_warm_for_the_next_screen(tmp_path, cli, monkeypatch):
    """The first screen after `data import` reads checked tables from the cache: no parsing, no
    pandera (whose import alone is half a second)."""
    import screener.data.snapshot as data

    monkeypatch.setenv("SCREENER_CACHE_DIR", str(tmp_path / "cache"))
    root = project(tmp_path)
    result = cli(root, "data", "import", str(ifind_prices(tmp_path / "p.csv")), "--source", "ifind", "--kind", "prices",
                 "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(data, "_fast_typed", lambda *a: pytest.fail("parsed again: the import did not warm the cache"))
    config = cfg(root)
    prices = data.load_snapshot(config.data_dir, config.display).get("prices").collect()
    assert prices.height > 0
