"""Vendor exports (Wind, iFinD, Choice, or any CSV/Excel described in `config.toml`) -> snapshot files.

`import_file(path, source=, kind=, as_of=, into=, config=)` turns one export of consensus
forecasts, prices or ESG ratings into rows of `<into>/<kind>.csv` (the snapshot format of
`screener.data.schemas.SPECS[kind]`), merges them with what the file already holds, checks the result
with the pandera schemas and writes it atomically. Rows it cannot use go to
`<into>/<kind>.rejected.csv`. Nothing else is touched.

Steps:

1. **Read.** `.xlsx` / `.xlsm`: the first worksheet, cached formula values (openpyxl). `.csv`,
   `.txt`, `.tsv`: the encoding is detected from the bytes: a UTF-8 byte-order mark, a UTF-16
   byte-order mark (Wind's "Unicode text"), valid UTF-8, else GB18030 (a superset of GBK and
   GB2312, which is what Chinese Excel saves). The delimiter (comma, tab or semicolon) is the one
   the header line holds most of. `.xls` (Excel 97) is refused with a hint to save as `.xlsx`.
2. **Header row.** The first of the first 30 rows that holds a symbol header (`证券代码`, `代码`,
   ...; for `generic` the configured one). Data rows are numbered from 1 after it (header
   excluded); that number is the `row` of every rejection.
3. **Headers.** Each header is normalised: NFKC (full-width brackets and digits become ASCII),
   line breaks unified; the bracketed parameters vendors add are read (`[单位] 亿元`,
   `[年度] 2026`, `[报告期] 2025年报`, `[交易日期] 2026-11-26`, `[币种] 人民币`) and the name is
   cut at the first line break or `[`; spaces are removed and case folded; a trailing unit in
   parentheses is removed and kept as the unit (`总市值(亿元)`); `(FY1)`..`(FY3)` (or a trailing
   `FY1`) is read as the forecast year index; a year at either end of the name (`2026E`,
   `2025A`, `2026年`, `2026预测每股收益`) is read as the fiscal year. A header is matched by
   this normalised name, exactly, against the aliases of the source's profile (`PROFILES`); a
   header that matches nothing is ignored and listed in the report's notes. Two headers that give
   the same field for the same year (or rater) are an error, as is a forecast column with no
   year at all.
4. **Units.** `[单位]` or a trailing `(单位)` becomes a multiplier: 元 1, 千元 1e3, 万元 1e4,
   百万元 1e6, 亿元 1e8, 股/万股/亿股 likewise, % 0.01, 分/港仙/美分 0.01; 人民币/港元/美元 also
   name the currency. A cell with its own unit (`829.14亿`, `12.5%`, `3.2万`) uses that unit
   instead of the header's. Thousands separators (`1,234.5`), full-width digits and accounting
   negatives (`(1.2)`) are read. Arithmetic is decimal, so `829.14亿` is exactly 82914000000.
   For `generic`, `units = { net_profit = "亿元" }` in the config overrides header units.
5. **Fiscal years (consensus).** `[年度] 2026` (or a year in the name) gives the year directly.
   `FYn` is `FY1 + n - 1`, where FY1 is the first fiscal year not yet reported: the year after
   the newest reported-EPS column in the file (`每股收益EPS(基本) [报告期] 2025年报` -> FY1 =
   2026); with no reported column, `as_of.year` when `--as-of` is after April 30 (A-share annual
   reports are due by April 30) and `as_of.year - 1` on or before it. The rule is the A-share
   one for every market; a file whose FY1 means something else should carry `[年度]` headers.
   A reported column gives rows with `actual = true` for its year; forecast columns give
   `actual = false`. The output `as_of` is `--as-of` on every row.
6. **Rows.** Wide layouts become long rows: a consensus row gives one snapshot row per fiscal
   year (eps, net_profit, revenue of that year; an analysts column without a year applies to
   every forecast year of the row); an ESG row gives one row per rating column (a rater named in
   the header such as `华证ESG评级`, else the `评级机构` column, else `--rater`). Blank rows and
   footer rows (`数据来源：Wind`, `来源`, `注：`, `Source` ...) are skipped. Missing markers
   (`——`, `--`, `-`, `N/A`, `#N/A`, empty) are nulls: a fiscal year (or price, or rating) whose
   every value is missing gives no row and is no error; a row that gives no row at all is counted
   in `rows_skipped`. A missing required value next to present ones (net profit without EPS, a
   market cap without a close) is a rejection. Symbols become canonical with
   `screener.data.symbols.parse_symbol`; a bad one rejects the whole row. A bad cell (not a number,
   unknown unit, not a whole number of analysts, not a grade, a close <= 0) rejects the snapshot
   row it feeds, never a neighbouring year. Currency: a `币种` column, else the header's currency
   (`[币种] 人民币`, `(港元)`), else the market's (CNY for A-shares, HKD for Hong Kong, USD for
   the US); a Hong Kong listing that reports in CNY needs the column or the parameter.
7. **Duplicates in the file** (two rows giving the same snapshot key, e.g. `603019` and
   `603019.SH`): identical values are imported once and the repeats are reported ("repeats row
   N"); different values are all rejected ("conflicts with row N"), none is imported and the
   snapshot keeps what it had for that key. Guessing which of two conflicting numbers is right
   would hide a vendor or copy-paste error.
8. **Merge.** The snapshot file `<into>/<kind>.csv` (read with `data.read_text_table`; created
   with the folder when absent) keeps every row whose key (`SPECS[kind][1]`) the import does not
   give; a row with the same key is replaced, unless it holds the same values (compared as
   typed values), in which case its text is kept as it was. Rows are sorted by the key (fiscal
   year numerically). Columns are the schema's, in its order (extra columns an existing file
   has are kept after them). The merged table is checked with `schemas.validate`; any error
   raises `InputError` and nothing is written. The file is written with `atomic.write_bytes`,
   and only when its bytes change: importing the same file twice leaves it byte for byte
   identical (`rows_new = rows_changed = 0`). A snapshot that holds only `<kind>.parquet` is
   refused (a new CSV would hide it).
9. **Rejects report.** `<into>/<kind>.rejected.csv`, UTF-8 with BOM (Excel), columns
   `row,column,value,reason`, written atomically on every import that rejects something and
   removed on every import that rejects nothing.
10. **Nothing usable** (no symbol column, no value column, or no good row): `InputError` naming
   the file, the headers found and the headers the source's profile expects (plus the first
   rejections); nothing is written, not even the rejects report.

The `generic` source reads a long layout described in `config.toml`:

```toml
[import.generic.consensus]          # snapshot column = header in the file
symbol = "代码"
fiscal_year = "年度"                # 2026, 2026E, 2025A, FY1 (mapped as above)
eps = "EPS"
actual = "已披露"                   # true/false, 是/否, 实际/预测, A/E; absent: forecasts
net_profit = "净利润"
units = { net_profit = "亿元" }
```

Required mappings: consensus `symbol, fiscal_year, eps`; prices `symbol, close`; esg `symbol,
rating`. `as_of` cannot be mapped (it is `--as-of`). Every header named must be in the file.
A fiscal-year cell `FYn` follows the April 30 rule above (a long file has no reported column to
go by); `2025A` / `2025年报` mean reported and `2026E` forecast unless an `actual` column says.
Config units override the header's own.

One import at a time per snapshot folder: the read-merge-write is not locked against a second
writer of the same file.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from screener.problems import InputError, Problem, suggestion

SOURCES = ("wind", "ifind", "choice", "generic")
KINDS = ("consensus", "prices", "esg")

__all__ = ["SOURCES", "KINDS", "Rejection", "ImportReport", "import_file", "normalise_header", "parse_number",
           "parse_unit"]


@dataclass(frozen=True)
class Rejection:
    """One vendor cell (or row) that did not make it into the snapshot, and why."""

    row: int  # 1-based data row in the vendor file, header excluded
    column: str  # the header as the file writes it (line breaks shown as spaces)
    value: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    source: str
    kind: str
    file: str
    target: str  # the snapshot file written (as shown to the user)
    rows_read: int  # data rows of the vendor file (blank and footer rows not counted)
    rows_imported: int  # snapshot rows the file gave (= new + changed + unchanged)
    rows_new: int
    rows_changed: int
    rows_unchanged: int
    rejected: tuple[Rejection, ...]
    rejected_report: str | None  # the rejects CSV beside the snapshot, or None
    rows_skipped: int = 0  # data rows with nothing to import (every value missing)
    encoding: str | None = None  # detected text encoding (None for Excel files)
    notes: tuple[str, ...] = ()  # ignored headers, dates in headers that differ from --as-of, ...
    written: bool = False  # whether the snapshot file's bytes changed

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected"] = [asdict(r) for r in self.rejected]
        d["notes"] = list(self.notes)
        return d


# -- profiles --------------------------------------------------------------------------------

_SYMBOL = ("证券代码", "股票代码", "代码", "交易代码", "证券代码(带后缀)", "code", "symbol", "ticker", "windcode",
           "thscode")
_NAME = ("证券简称", "证券名称", "股票简称", "股票名称", "名称", "简称", "name")
_CURRENCY = ("币种", "货币", "货币代码", "币种代码", "报告币种", "报表币种", "财报币种", "交易币种", "currency")
_YEAR = ("预测年度", "年度", "会计年度", "财年", "fiscal_year")

# field names: eps, net_profit, revenue (forecasts), eps!, net_profit!, revenue! (reported),
# analysts, currency, fiscal_year; close, market_cap; rating, rating?, rater; symbol, name
_CONSENSUS_COMMON = {
    "eps!": ("每股收益eps(基本)", "每股收益eps-基本", "基本每股收益", "每股收益(基本)", "每股收益eps", "eps(基本)",
             "基本每股收益eps"),
    "net_profit!": ("归属母公司股东的净利润", "归属于母公司股东的净利润", "归母净利润", "净利润"),
    "revenue!": ("营业收入", "营业总收入"),
    "currency": _CURRENCY,
    "fiscal_year": _YEAR,
}
PROFILES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "wind": {
        "consensus": {
            "eps": ("一致预测每股收益", "一致预测eps", "一致预期每股收益", "一致预测每股收益(平均值)"),
            "net_profit": ("一致预测净利润", "一致预测归母净利润", "一致预测归属母公司净利润", "一致预期净利润"),
            "revenue": ("一致预测营业收入", "一致预测营业总收入", "一致预期营业收入"),
            "analysts": ("预测机构家数", "一致预测机构家数", "机构数", "预测机构数"),
            **_CONSENSUS_COMMON,
        },
    },
    "ifind": {
        "consensus": {
            "eps": ("预测每股收益(平均值)", "预测eps(平均值)", "每股收益预测平均值", "预测每股收益平均值",
                    "一致预期每股收益", "一致预测每股收益"),
            "net_profit": ("预测净利润(平均值)", "预测归母净利润(平均值)", "预测净利润平均值", "一致预期净利润",
                           "一致预测净利润"),
            "revenue": ("预测营业收入(平均值)", "预测营业总收入(平均值)", "预测营业收入平均值", "一致预期营业收入"),
            "analysts": ("预测机构数", "机构数", "预测机构家数", "研究机构数"),
            **_CONSENSUS_COMMON,
        },
    },
    "choice": {
        "consensus": {
            "eps": ("预测每股收益平均值", "预测eps平均值", "一致预期每股收益", "每股收益预测平均值"),
            "net_profit": ("预测净利润平均值", "预测归属于母公司股东的净利润平均值", "预测归母净利润平均值",
                           "一致预期净利润"),
            "revenue": ("预测营业收入平均值", "预测营业总收入平均值", "一致预期营业收入"),
            "analysts": ("预测机构家数", "机构家数", "预测机构数", "机构数"),
            **_CONSENSUS_COMMON,
        },
    },
}
_PRICES = {
    "close": ("收盘价", "最新价", "最新收盘价", "现价", "收盘", "close"),
    "market_cap": ("总市值", "总市值1", "总市值2", "市值", "market_cap"),
    "currency": _CURRENCY,
}
_ESG = {
    "rating": ("esg评级", "esg等级", "esg综合评级", "最新esg评级", "评级", "综合评级", "rating"),
    "rating?": ("esg评分",),  # used only when no rating column: MSCI tables hold the letter here,
    # others "85.98(AAA)"; a plain score is rejected
    "rater": ("评级机构", "esg评级机构", "机构", "评级公司", "评级来源", "rater"),
}
for _src in ("wind", "ifind", "choice"):
    PROFILES[_src]["prices"] = dict(_PRICES)
    PROFILES[_src]["esg"] = dict(_ESG)
    for _kind in KINDS:
        PROFILES[_src][_kind] = {"symbol": _SYMBOL, "name": _NAME, **PROFILES[_src][_kind]}

# a header such as 华证ESG评级 / MSCI ESG评级 / WindESG评级 names its rater
_RATER_HEADER = re.compile(r"^(?P<rater>.+?)esg(?:评级|等级|综合评级)$")
_RATER_AFTER = re.compile(r"^esg(?:评级|等级|综合评级)\((?P<rater>[^()]+)\)$")  # ESG评级(华证)
_RATER_NAMES = {"万得": "Wind", "wind": "Wind", "msci": "MSCI", "明晟": "MSCI", "sustainalytics": "Sustainalytics"}
_NOT_RATERS = ("最新", "综合")

_GENERIC_COLUMNS = {
    "consensus": ("symbol", "fiscal_year", "eps", "actual", "currency", "analysts", "net_profit", "revenue"),
    "prices": ("symbol", "close", "currency", "market_cap"),
    "esg": ("symbol", "rater", "rating"),
}
_GENERIC_REQUIRED = {"consensus": ("symbol", "fiscal_year", "eps"), "prices": ("symbol", "close"),
                     "esg": ("symbol", "rating")}
_NUMERIC = ("eps", "net_profit", "revenue", "close", "market_cap")

_FOOTER = re.compile(r"^(数据来源|资料来源|来源[:：]|注[:：]|注释[:：]|备注[:：]|说明[:：]|source|note[:：]|"
                     r"免责声明|数据提供)", re.IGNORECASE)
_MISSING = {"", "-", "--", "---", "—", "——", "———", "–", "n/a", "na", "#n/a", "nan", "none", "null", "#value!",
            "#div/0!", "#ref!", "不适用", "暂无", "无", "..."}
_CURRENCY_WORDS = {"人民币": "CNY", "人民币元": "CNY", "rmb": "CNY", "cny": "CNY", "港元": "HKD", "港币": "HKD",
                   "hkd": "HKD", "美元": "USD", "usd": "USD"}
_MARKET_CURRENCY = {"SH": "CNY", "SZ": "CNY", "BJ": "CNY", "HK": "HKD", "US": "USD"}


# -- headers, units, numbers --------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """One column header, normalised (see step 3 of the module docstring)."""

    index: int
    raw: str
    shown: str  # one line, as the user would recognise it
    name: str  # NFKC, cut at the first line break or `[`, no spaces, unit and FY removed
    key: str  # `name` case folded: what aliases are matched against
    fy: int | None = None
    year: int | None = None
    unit: str | None = None
    currency: str | None = None
    date: str | None = None


_PARAM = re.compile(r"\[([^\[\]]+)\]\s*([^\[\]\n]*)")
_FY = re.compile(r"\(?FY([1-9])\)?$", re.IGNORECASE)
_YEAR_START = re.compile(r"^((?:19|20)\d\d)(?:年度|年报|年|E|A|e|a)?(?=\D)")
_YEAR_END = re.compile(r"(?<=\D)((?:19|20)\d\d)(?:年度|年报|年|E|A|e|a)?$")


def _nfkc(text) -> str:
    return unicodedata.normalize("NFKC", str(text if text is not None else ""))


def _year_of(text: str) -> int | None:
    """`2026`, `2025年报`, `2025年年报`, `2025-12-31`, `2026E` -> the fiscal year."""
    m = re.match(r"^\s*((?:19|20)\d\d)", _nfkc(text))
    return int(m.group(1)) if m else None


def normalise_header(raw, index: int = 0) -> Header:
    """A vendor header -> `Header` (name for matching plus its parameters)."""
    text = _nfkc(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
    params = {m.group(1).strip(): m.group(2).strip() for m in _PARAM.finditer(text)}
    name = re.sub(r"\s+", "", re.split(r"[\n\[]", text, maxsplit=1)[0])
    shown = re.sub(r"\s+", " ", text)
    unit = params.get("单位")
    fy = year = None
    # the order matters: `一致预测净利润(亿元)(FY1)` and `一致预测净利润(FY1)(亿元)` both occur
    for _ in range(2):
        m = _FY.search(name)
        if m and fy is None and len(name) > m.end() - m.start():
            fy, name = int(m.group(1)), name[: m.start()]
            continue
        m = re.search(r"\(([^()]*)\)$", name)
        if m and parse_unit(m.group(1)) is not None and m.start() > 0:
            unit, name = unit or m.group(1), name[: m.start()]
            continue
        break
    for p in ("年度", "预测年度", "会计年度", "报告期", "报告年度"):
        if params.get(p):
            year = _year_of(params[p])
            if year is not None:
                break
    if year is None and fy is None:
        m = _YEAR_START.match(name) or _YEAR_END.search(name)
        if m:
            year = int(m.group(1))
            name = (name[: m.start()] + name[m.end():]).strip("-_ ")
    currency = None
    for p in ("币种", "货币", "货币单位"):
        if params.get(p):
            currency = _currency_code(params[p])
    if currency is None and unit:
        parsed = parse_unit(unit)
        currency = parsed[1] if parsed else None
    return Header(index, str(raw if raw is not None else ""), shown, name, name.casefold(), fy, year, unit, currency,
                  _iso_date(params.get("交易日期") or params.get("日期")))


def _iso_date(text: str | None) -> str | None:
    """`2026-11-26`, `20261126`, `2026/11/26` -> `2026-11-26`; other text as it is."""
    if not text:
        return None
    m = re.match(r"^((?:19|20)\d\d)[-/.]?(\d\d?)[-/.]?(\d\d?)", text.strip())
    return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else text.strip()


_SCALE_WORDS = {"": 1, "千": 10**3, "万": 10**4, "十万": 10**5, "百万": 10**6, "千万": 10**7, "亿": 10**8,
                "十亿": 10**9, "万亿": 10**12}
_UNIT_RE = re.compile(r"^(千|万|十万|百万|千万|亿|十亿|万亿)?(元|人民币元|人民币|港元|港币|美元|股|)$")


def parse_unit(text) -> tuple[Decimal, str | None] | None:
    """A unit -> (multiplier, currency or None); None when it is not a unit.

    `元` 1, `万元` 1e4, `亿元` 1e8, `百万美元` 1e6 USD, `万股` 1e4, `%` 0.01, `分`/`港仙` 0.01,
    `元/股` 1. Bare scale words (`亿`, `万`) are units too: cells such as `829.14亿` use them.
    """
    t = re.sub(r"\s+", "", _nfkc(text))
    if t in ("%", "百分比", "百分点"):
        return Decimal("0.01"), None
    if t == "‰":
        return Decimal("0.001"), None
    if t in ("元/股", "元每股", "倍", "家", "个", "人"):
        return Decimal(1), None
    if t in ("分", "港仙", "美分"):
        return Decimal("0.01"), {"港仙": "HKD", "美分": "USD"}.get(t)
    m = _UNIT_RE.match(t)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    return Decimal(_SCALE_WORDS[m.group(1) or ""]), _currency_code(m.group(2)) if m.group(2) else None


def _currency_code(text) -> str | None:
    t = re.sub(r"\s+", "", _nfkc(text))
    if t.casefold() in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[t.casefold()]
    if re.fullmatch(r"[A-Za-z]{3}", t):
        return t.upper()
    return None


def _is_missing(text) -> bool:
    if text is None:
        return True
    t = re.sub(r"\s+", "", _nfkc(text))
    return t.casefold() in _MISSING or (t != "" and set(t) <= set("-—–_"))


_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(.*)$")


def parse_number(text, scale: Decimal = Decimal(1)) -> Decimal | None:
    """A cell -> a Decimal in plain units, None when missing; ValueError(reason) when not a number.

    `1,234.5` (thousands separators), `829.14亿` (the cell's own unit wins over `scale`), `12.5%`,
    `(1.2)` (an accounting negative), full-width digits.
    """
    if _is_missing(text):
        return None
    t = re.sub(r"[\s,']", "", _nfkc(text))
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    m = _NUMBER.match(t)
    if not m:
        raise ValueError("is not a number")
    if m.group(2):
        own = parse_unit(m.group(2))
        if own is None:
            raise ValueError(f"is not a number (unknown unit {m.group(2)!r})")
        scale = own[0]
    try:
        value = Decimal(m.group(1)) * scale
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not value.is_finite():
        raise ValueError("is not a number")
    return -value if negative else value


def _fmt(value: Decimal) -> str:
    """Plain decimal text: no exponent, no trailing zeros (`82914000000`, `1.5`, `0`)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


# -- reading files -------------------------------------------------------------------------


@dataclass
class _Table:
    rows: list[list[str]]
    encoding: str | None


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return raw.decode("gb18030"), "gb18030"


def _read_csv(path: Path, raw: bytes, shown: str) -> _Table:
    try:
        text, encoding = _decode(raw)
    except UnicodeDecodeError as e:
        raise InputError([Problem("encoding", f"cannot tell the text encoding (byte {e.start} is neither UTF-8 "
                                  "nor GBK/GB18030)", shown, hint="save it as UTF-8 CSV or as .xlsx")]) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=lambda d: (first.count(d), d == ","))
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        rows = [[c.strip().lstrip("\ufeff") for c in r] for r in reader]
    except csv.Error as e:
        raise InputError([Problem("unreadable", f"cannot read the CSV: {e}", shown)]) from None
    return _Table(rows, encoding)


def _cell_text(cell) -> str:
    """An Excel cell as text: integral numbers without `.0`, other numbers by their shortest
    exact repr, dates ISO, percentages as `12.5%` so the unit travels with the value."""
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (int, float)):
        fmt = getattr(cell, "number_format", "") or ""
        if isinstance(v, float) and v != v:
            return ""
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        if "%" in fmt:
            return _fmt(d * 100) + "%"
        text = _fmt(d)
        if re.fullmatch(r"0{2,}", fmt) and re.fullmatch(r"\d+", text):  # codes such as 000977 stored as numbers
            text = text.zfill(len(fmt))
        return text
    return str(v).strip()


def _read_xlsx(path: Path, shown: str) -> _Table:
    try:
        import openpyxl
    except ImportError:
        raise InputError([Problem("missing-dependency", "reading .xlsx files needs openpyxl", shown,
                                  hint="pip install openpyxl, or save the export as CSV")]) from None
    import zipfile

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError, openpyxl.utils.exceptions.InvalidFileException) as e:
        raise InputError([Problem("unreadable", f"cannot read the Excel file: {e}", shown,
                                  hint="open it in Excel and save it again as .xlsx")]) from None
    try:
        ws = wb.worksheets[0]
        rows = [[_cell_text(c) for c in r] for r in ws.iter_rows()]
    finally:
        wb.close()
    return _Table(rows, None)


def _read(path: Path, shown: str) -> _Table:
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError([Problem("unsupported", "old Excel (.xls) files are not read", shown,
                                  hint="open it in Excel and save it as .xlsx, or export CSV")])
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError([Problem("unreadable", f"cannot read the file: {e.strerror or e}", shown)]) from None
    if suffix in (".xlsx", ".xlsm") or raw.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, shown)
    return _read_csv(path, raw, shown)


# -- mapping headers to fields ------------------------------------------------------------------


@dataclass(frozen=True)
class _Col:
    header: Header
    field: str  # eps, net_profit, revenue, analysts, currency, fiscal_year, actual, close, market_cap, rating, rater, name
    actual: bool | None = None  # consensus value columns: reported (True) / forecast (False) / from the row (None)
    year: int | None = None  # resolved fiscal year, None: from the row's fiscal_year column
    rater: str | None = None  # ESG rating columns that name their rater
    scale: Decimal = Decimal(1)
    currency: str | None = None


@dataclass
class _Layout:
    symbol: Header
    cols: list[_Col]
    ignored: list[Header]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _profile(source: str, kind: str, config) -> dict[str, tuple[str, ...]]:
    if source != "generic":
        return PROFILES[source][kind]
    return _generic_profile(kind, config)[0]


def _generic_profile(kind: str, config) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The `[import.generic.<kind>]` table -> ({column: (header key,)}, {column: unit}); raises
    `InputError` for an unknown column, a missing required mapping or a bad unit."""
    imports = getattr(config, "imports", None) or {}
    path = getattr(config, "path", None)
    shown = config.display(path) if path is not None else "config.toml"
    table_name = f"import.generic.{kind}"
    try:
        from screener.rules.tomlpos import TomlText

        toml = TomlText(Path(path).read_text(encoding="utf-8-sig")) if path is not None else None
    except OSError:
        toml = None

    def where(key: str | None = None, sub: str | None = None) -> dict:
        if toml is None:
            return {}
        pos = toml.key(table_name, key, sub) if key else None
        line = pos.line if pos else toml.table_line(table_name)
        return {"line": line, "col": pos.col if pos else 1, "source_line": toml.source_line(line)}

    generic = imports.get("generic", {}) if isinstance(imports, dict) else {}
    table = generic.get(kind) if isinstance(generic, dict) else None
    example = {"consensus": 'symbol = "代码"\nfiscal_year = "年度"\neps = "EPS"',
               "prices": 'symbol = "代码"\nclose = "收盘价"', "esg": 'symbol = "代码"\nrating = "评级"'}[kind]
    if not isinstance(table, dict):
        raise InputError([Problem("no-profile", f"--source generic needs a [{table_name}] table in the config "
                                  "mapping snapshot columns to the file's headers", shown,
                                  hint=f"add to {shown}:\n[{table_name}]\n{example}")])
    allowed = _GENERIC_COLUMNS[kind]
    problems: list[Problem] = []
    mapping: dict[str, tuple[str, ...]] = {}
    units: dict[str, str] = {}
    for key, value in table.items():
        if key == "units":
            if not isinstance(value, dict):
                problems.append(Problem("bad-value", f"[{table_name}] units must be a table such as "
                                        '{ net_profit = "亿元" }', shown, **where(key)))
                continue
            for col, unit in value.items():
                if col not in _NUMERIC or col not in allowed:
                    problems.append(Problem("bad-value", f"[{table_name}] units.{col}: only number columns take a unit",
                                            shown, hint=suggestion(col, [c for c in _NUMERIC if c in allowed], "column"),
                                            **where(key, col)))
                elif not isinstance(unit, str) or parse_unit(unit) is None:
                    problems.append(Problem("bad-unit", f"[{table_name}] units.{col}: unknown unit {unit!r}", shown,
                                            hint="use 元, 千元, 万元, 百万元, 亿元, %, 股, 万股 ...", **where(key, col)))
                else:
                    units[col] = unit
            continue
        if key == "as_of":
            problems.append(Problem("bad-key", f"[{table_name}] as_of cannot be mapped: every row is as of --as-of",
                                    shown, hint="remove the line; import each date's file with its own --as-of",
                                    **where(key)))
            continue
        if key not in allowed and key != "name":
            problems.append(Problem("unknown-column", f"[{table_name}] unknown snapshot column `{key}`", shown,
                                    hint=suggestion(key, allowed, "column"), **where(key)))
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem("bad-value", f"[{table_name}] {key} must be the file's header in quotes", shown,
                                    hint=f'{key} = "..."', **where(key)))
            continue
        header_key = normalise_header(value).key
        same = [k for k, v in mapping.items() if v == (header_key,)]
        if same:
            problems.append(Problem("bad-value", f"[{table_name}] {key} and {same[0]} both name the header {value!r}",
                                    shown, hint="one header feeds one snapshot column", **where(key)))
            continue
        mapping[key] = (header_key,)
    missing = [c for c in _GENERIC_REQUIRED[kind] if c not in table]
    if missing:
        problems.append(Problem("missing-mapping", f"[{table_name}] must map " + ", ".join(f"`{m}`" for m in missing),
                                shown, hint="required: " + ", ".join(_GENERIC_REQUIRED[kind]), **where()))
    if problems:
        raise InputError(problems)
    return mapping, units


def _generic_headers(config, kind: str) -> list[str]:
    """The header texts `[import.generic.<kind>]` names, as written in the config."""
    table = ((getattr(config, "imports", None) or {}).get("generic") or {}).get(kind) or {}
    return [v for k, v in table.items() if k != "units" and isinstance(v, str)]


def _match(header: Header, profile: dict[str, tuple[str, ...]]) -> str | None:
    for fld, aliases in profile.items():
        if header.key in aliases:
            return fld
    return None


def _fy1(as_of: date, reported: list[int]) -> int:
    """The first fiscal year not yet reported: after the newest reported year in the file; else
    this year once A-share annual reports are due (after April 30), last year before that."""
    if reported:
        return max(reported) + 1
    return as_of.year if (as_of.month, as_of.day) > (4, 30) else as_of.year - 1


def _find_header_row(rows: list[list[str]], profile) -> int | None:
    symbol_keys = profile["symbol"]
    for i, row in enumerate(rows[:30]):
        if any(normalise_header(c).key in symbol_keys for c in row if c):
            return i
    return None


def _layout(headers: list[Header], source: str, kind: str, config, as_of: date, rater: str | None,
            shown: str) -> _Layout:
    """Map headers to fields, resolve fiscal years and units; structural problems are collected."""
    profile = _profile(source, kind, config)
    units = _generic_profile(kind, config)[1] if source == "generic" else {}
    symbol = next(h for h in headers if h.key in profile["symbol"])
    cols: list[_Col] = []
    ignored: list[Header] = []
    problems: list[Problem] = []
    notes: list[str] = []
    matched: list[tuple[Header, str]] = []
    for h in headers:
        if h is symbol or not h.key:
            continue
        fld = _match(h, profile)
        if fld is None and kind == "esg" and source != "generic":
            m = _RATER_HEADER.match(h.key) or _RATER_AFTER.match(h.key)
            if m and m.group("rater") not in _NOT_RATERS:
                raw_rater = h.name[m.start("rater"): m.end("rater")]
                cols.append(_Col(h, "rating", rater=_RATER_NAMES.get(raw_rater.casefold(), raw_rater)))
                continue
        if fld is None or fld == "symbol":  # a second code column is ignored
            ignored.append(h)
            continue
        matched.append((h, fld))

    if source == "generic":  # every header the config names must be in the file
        found = {f for _, f in matched} | {"symbol"}
        for col in profile:
            if col not in found:
                want = next((h for h in _generic_headers(config, kind) if normalise_header(h).key == profile[col][0]),
                            profile[col][0])
                problems.append(Problem("missing-header", f"the config maps `{col}` to the header `{want}`, which the "
                                        "file does not have", shown,
                                        hint=suggestion(want, [h.shown for h in headers if h.shown], "header")))

    if kind == "esg" and (any(f == "rating" for _, f in matched) or any(c.field == "rating" for c in cols)):
        demoted = [h for h, f in matched if f == "rating?"]
        ignored.extend(demoted)
        matched = [(h, f) for h, f in matched if f != "rating?"]

    reported_years = [h.year for h, f in matched if f == "eps!" and h.year is not None]
    fy1 = _fy1(as_of, reported_years)
    has_year_col = any(f == "fiscal_year" for _, f in matched)
    for h, fld in matched:
        if fld == "name":
            continue
        actual: bool | None = None
        base = fld
        if kind == "consensus" and fld in ("eps", "net_profit", "revenue", "eps!", "net_profit!", "revenue!"):
            base = fld.rstrip("!")
            actual = fld.endswith("!") if source != "generic" else None
        if fld == "rating?":
            base = "rating"
        year = h.year
        if kind == "consensus" and source != "generic" and base in ("eps", "net_profit", "revenue", "analysts"):
            if year is None and h.fy is not None:
                if actual:
                    problems.append(Problem("no-year", f"column `{h.shown}`: a reported value needs its year, "
                                            "not FY" + str(h.fy), shown, hint="export it with [报告期] 2025年报"))
                    continue
                year = fy1 + h.fy - 1
            if year is None and base != "analysts" and not has_year_col:
                problems.append(Problem("no-year", f"column `{h.shown}` says no fiscal year", shown,
                                        hint="export it with a year parameter: (FY1), [年度] 2026 or [报告期] 2025年报"))
                continue
        scale, cur = Decimal(1), h.currency
        unit = units.get(base) or h.unit
        if unit and base in _NUMERIC:
            parsed = parse_unit(unit)
            if parsed is None:
                problems.append(Problem("bad-unit", f"column `{h.shown}`: unknown unit {unit!r}", shown,
                                        hint="units read: 元, 千元, 万元, 百万元, 亿元, %, 股, 万股, 分"))
                continue
            scale, cur = parsed[0], parsed[1] or cur
        cols.append(_Col(h, base, actual, year, None, scale, cur))
        if h.date and h.date != as_of.isoformat():
            notes.append(f"column `{h.shown}` is as of {h.date}; imported as of {as_of.isoformat()}")

    # two headers giving the same thing
    seen: dict[tuple, Header] = {}
    for c in cols:
        k = (c.field, c.year, c.actual, c.rater)
        if k in seen:
            what = c.field + (f" for {c.year}" if c.year else "") + (f" ({c.rater})" if c.rater else "")
            problems.append(Problem("ambiguous-column", f"columns `{seen[k].shown}` and `{c.header.shown}` both give "
                                    f"{what}", shown, hint="delete one of them from the file"))
        else:
            seen[k] = c.header

    values = [c for c in cols if c.field in ("eps", "close", "rating", "net_profit", "revenue", "market_cap")]
    if kind == "consensus":
        eps_keys = {(c.year, c.actual) for c in cols if c.field == "eps"}
        kept = []
        for c in cols:
            if c.field in ("net_profit", "revenue") and (c.year, c.actual) not in eps_keys:
                notes.append(f"column `{c.header.shown}` ignored: no EPS column for the same year")
                continue
            kept.append(c)
        cols = kept
        if not any(c.field == "eps" for c in cols):
            values = []
    elif kind == "prices" and not any(c.field == "close" for c in cols):
        values = []
    elif kind == "esg":
        if not any(c.field == "rating" for c in cols):
            values = []
        elif any(c.field == "rating" and c.rater is None for c in cols) and not any(c.field == "rater" for c in cols) \
                and not rater:
            problems.append(Problem("no-rater", "the ESG file names no rater (no 评级机构 column, no rater in the "
                                    "rating header)", shown, hint="say who rated: --rater 华证 (or --rater MSCI ...)"))
    if not values and not problems:
        expected = _expected(source, kind, config)
        problems.append(Problem("nothing-usable", f"no {kind} value column found; headers found: "
                                + ", ".join(f"`{h.shown}`" for h in headers if h.shown), shown,
                                hint=f"{source} {kind} headers read: {expected}" + _other_source(headers, source, kind)))
    ignored_shown = [h.shown for h in ignored if h.key not in profile.get("name", ())]
    if ignored_shown:
        notes.append("columns ignored: " + ", ".join(f"`{s}`" for s in ignored_shown)
                     + _other_source(ignored, source, kind))
    return _Layout(symbol, cols, ignored, problems, notes)


def _expected(source: str, kind: str, config) -> str:
    profile = _profile(source, kind, config)
    parts = []
    for fld, aliases in profile.items():
        label = {"eps!": "reported eps", "net_profit!": "reported net_profit", "revenue!": "reported revenue",
                 "rating?": "rating (fallback)"}.get(fld, fld)
        parts.append(f"{label}: " + " / ".join(aliases[:4]) + (" ..." if len(aliases) > 4 else ""))
    if kind == "esg" and source != "generic":
        parts.append("or <rater>ESG评级 such as 华证ESG评级")
    if kind == "consensus" and source != "generic":
        parts.append("forecast columns carry (FY1)..(FY3) or [年度] 2026")
    return "; ".join(parts)


# -- rows -> snapshot records ----------------------------------------------------------------------


@dataclass
class _Record:
    row: int
    key: tuple
    values: dict[str, str | None]
    symbol_cell: str


_TRUE_WORDS = {"true", "1", "yes", "y", "是", "实际", "已披露", "已公布", "a", "reported", "actual"}
_FALSE_WORDS = {"false", "0", "no", "n", "否", "预测", "未披露", "未公布", "e", "forecast", "estimate"}
_GRADE_IN_PARENS = re.compile(r"^[+-]?\d+(?:\.\d+)?\s*\((.+)\)$")


def _is_footer(row: list[str], symbol_index: int) -> bool:
    """A note under the table (`数据来源：Wind`): its first non-empty cell starts like one and
    the symbol cell holds nothing else."""
    first = next((c for c in row if c and c.strip()), "")
    symbol = row[symbol_index].strip() if symbol_index < len(row) and row[symbol_index] else ""
    return symbol in ("", first.strip()) and bool(_FOOTER.match(re.sub(r"\s+", "", _nfkc(first))))


def _market_currency(canonical: str) -> str | None:
    return _MARKET_CURRENCY.get(canonical.rsplit(".", 1)[-1]) if "." in canonical else None


def _records(table: _Table, start: int, layout: _Layout, kind: str, as_of: date, rater: str | None):
    """Walk the data rows: (records, rejections, rows_read, rows_skipped)."""
    from screener.rules.grades import GRADE_REGEX
    from screener.data.symbols import SymbolError, parse_symbol

    grade_re = re.compile(GRADE_REGEX)
    records: list[_Record] = []
    rejections: list[Rejection] = []
    read = skipped = 0
    sym_idx = layout.symbol.index
    sym_shown = layout.symbol.shown
    value_cols = [c for c in layout.cols if c.field not in ("currency", "fiscal_year", "actual", "rater", "name")]
    cur_col = next((c for c in layout.cols if c.field == "currency"), None)
    year_col = next((c for c in layout.cols if c.field == "fiscal_year"), None)
    actual_col = next((c for c in layout.cols if c.field == "actual"), None)
    rater_col = next((c for c in layout.cols if c.field == "rater"), None)
    iso = as_of.isoformat()

    for offset, row in enumerate(table.rows[start + 1:], start=1):
        def cell(col_or_header) -> str:
            i = col_or_header.index if isinstance(col_or_header, Header) else col_or_header.header.index
            return row[i].strip() if i < len(row) and row[i] is not None else ""

        if not any(c.strip() for c in row if c):
            continue
        if _is_footer(row, sym_idx):
            continue
        read += 1
        raw_symbol = cell(layout.symbol)
        present = [c for c in value_cols if not _is_missing(cell(c))]
        if not raw_symbol or _is_missing(raw_symbol):
            if present:
                rejections.append(Rejection(offset, sym_shown, raw_symbol, "no symbol in this row"))
            else:
                skipped += 1
            continue
        try:
            canonical = parse_symbol(raw_symbol).canonical()
        except SymbolError as e:
            reason = f"not a symbol: {e.reason}" + (f" ({e.hint})" if getattr(e, "hint", None) else "")
            rejections.append(Rejection(offset, sym_shown, raw_symbol, reason))
            continue
        row_rejects: list[Rejection] = []

        # row-level currency
        currency = None
        if cur_col is not None and not _is_missing(cell(cur_col)):
            currency = _currency_code(cell(cur_col))
            if currency is None:
                rejections.append(Rejection(offset, cur_col.header.shown, cell(cur_col),
                                            "is not a currency (人民币/CNY, 港元/HKD, 美元/USD ...)"))
                continue
        made = 0
        if kind == "consensus":
            row_year = row_actual = None
            if year_col is not None:
                text = cell(year_col)
                row_year, implied = _parse_year(text, as_of)
                if row_year is None:
                    if present:
                        rejections.append(Rejection(offset, year_col.header.shown, text,
                                                    "is not a fiscal year (2026, 2026E, FY1)"))
                    else:
                        skipped += 1
                    continue
                row_actual = implied
            if actual_col is not None and not _is_missing(cell(actual_col)):
                word = re.sub(r"\s+", "", _nfkc(cell(actual_col))).casefold()
                if word in _TRUE_WORDS:
                    row_actual = True
                elif word in _FALSE_WORDS:
                    row_actual = False
                else:
                    rejections.append(Rejection(offset, actual_col.header.shown, cell(actual_col),
                                                "is not true or false (是/否, 实际/预测, A/E)"))
                    continue
            groups: dict[tuple[int, bool], list[_Col]] = {}
            general_analysts = None
            for c in value_cols:
                if c.field == "analysts" and c.year is None and year_col is None:
                    general_analysts = c
                    continue
                y = c.year if c.year is not None else row_year
                a = c.actual if c.actual is not None else bool(row_actual)
                groups.setdefault((y, a), []).append(c)
            for (year, actual), cols in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
                cells = {c.field: c for c in cols}
                if all(_is_missing(cell(c)) for c in cols if c.field != "analysts"):
                    continue
                values: dict[str, str | None] = {"symbol": canonical, "fiscal_year": str(year),
                                                 "actual": "true" if actual else "false", "as_of": iso}
                bad = False
                for fld in ("eps", "net_profit", "revenue"):
                    c = cells.get(fld)
                    values[fld] = None
                    if c is None:
                        continue
                    try:
                        v = parse_number(cell(c), c.scale)
                    except ValueError as e:
                        row_rejects.append(Rejection(offset, c.header.shown, cell(c), str(e)))
                        bad = True
                        continue
                    values[fld] = _fmt(v) if v is not None else None
                if not bad and values["eps"] is None:
                    c = cells.get("eps")
                    row_rejects.append(Rejection(offset, c.header.shown if c else sym_shown, cell(c) if c else "",
                                                 f"no EPS for {year} while other values for it are given; "
                                                 "the snapshot needs eps"))
                    bad = True
                ac = cells.get("analysts") or (general_analysts if not actual else None)
                values["analysts"] = None
                if ac is not None and not _is_missing(cell(ac)):
                    try:
                        n = parse_number(cell(ac))
                        if n is None or n != n.to_integral_value() or n < 0:
                            raise ValueError("is not a whole number of analysts")
                        values["analysts"] = str(int(n))
                    except ValueError:
                        row_rejects.append(Rejection(offset, ac.header.shown, cell(ac),
                                                     "is not a whole number of analysts"))
                        bad = True
                eps_col = cells.get("eps")
                values["currency"] = currency or (eps_col.currency if eps_col else None) or _market_currency(canonical)
                if bad:
                    continue
                records.append(_Record(offset, (canonical, year), values, raw_symbol))
                made += 1
        elif kind == "prices":
            cells = {c.field: c for c in value_cols}
            if all(_is_missing(cell(c)) for c in cells.values()):
                skipped += 1
                continue
            values = {"symbol": canonical, "as_of": iso}
            bad = False
            for fld in ("close", "market_cap"):
                c = cells.get(fld)
                values[fld] = None
                if c is None:
                    continue
                try:
                    v = parse_number(cell(c), c.scale)
                    if v is not None and v <= 0:
                        raise ValueError("must be greater than 0")
                except ValueError as e:
                    row_rejects.append(Rejection(offset, c.header.shown, cell(c), str(e)))
                    bad = True
                    continue
                values[fld] = _fmt(v) if v is not None else None
            close_col, cap_col = cells.get("close"), cells.get("market_cap")
            row_currency = currency or close_col.currency or _market_currency(canonical)
            if not bad and values["close"] is None:
                row_rejects.append(Rejection(offset, close_col.header.shown, cell(close_col),
                                             "no close price (the snapshot needs one)"))
                bad = True
            if (not bad and cap_col is not None and cap_col.currency and values["market_cap"] is not None
                    and cap_col.currency != row_currency):
                row_rejects.append(Rejection(offset, cap_col.header.shown, cell(cap_col),
                                             f"market cap in {cap_col.currency} but the price in {row_currency}; "
                                             "export both in the trading currency"))
                bad = True
            values["currency"] = row_currency
            if row_currency is None and not bad:
                row_rejects.append(Rejection(offset, sym_shown, raw_symbol, "no currency: add a 币种 column"))
                bad = True
            if not bad:
                records.append(_Record(offset, (canonical,), values, raw_symbol))
                made += 1
        else:  # esg
            row_rater = None
            if rater_col is not None and not _is_missing(cell(rater_col)):
                row_rater = re.sub(r"\s+", " ", _nfkc(cell(rater_col))).strip()
            any_value = False
            for c in value_cols:
                text = cell(c)
                if _is_missing(text):
                    continue
                any_value = True
                grade = re.sub(r"\s+", "", _nfkc(text))
                m = _GRADE_IN_PARENS.match(grade)
                if m:
                    grade = m.group(1)
                if not grade_re.match(grade):
                    row_rejects.append(Rejection(offset, c.header.shown, text,
                                                 "is not an ESG grade (AAA, AA+, ... C; a suffix such as pi may follow)"))
                    continue
                who = c.rater or row_rater or rater
                if not who:
                    row_rejects.append(Rejection(offset, rater_col.header.shown if rater_col else c.header.shown,
                                                 cell(rater_col) if rater_col else "",
                                                 "no rater for this rating: fill the rater column or pass --rater"))
                    continue
                records.append(_Record(offset, (canonical, who), {"symbol": canonical, "rater": who, "rating": grade,
                                                                  "as_of": iso}, raw_symbol))
                made += 1
            if not any_value:
                skipped += 1
                continue
        rejections.extend(row_rejects)
        if kind == "consensus" and not made and not row_rejects:
            skipped += 1
    return records, rejections, read, skipped


def _parse_year(text: str, as_of: date) -> tuple[int | None, bool | None]:
    """A fiscal-year cell -> (year, actual implied by an A/E suffix or None)."""
    t = re.sub(r"\s+", "", _nfkc(text))
    m = re.fullmatch(r"FY([1-9])", t, re.IGNORECASE)
    if m:
        return _fy1(as_of, []) + int(m.group(1)) - 1, False
    m = re.fullmatch(r"((?:19|20)\d\d)(?:\.0+)?(年度|年报|年|A|E|a|e)?", t)
    if not m:
        return None, None
    suffix = (m.group(2) or "").upper()
    return int(m.group(1)), True if suffix in ("A", "年报") else False if suffix == "E" else None


def _dedupe(records: list[_Record], sym_shown: str):
    """(kept records, rejections): identical repeats imported once, conflicts rejected entirely."""
    by_key: dict[tuple, list[_Record]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(r)
    kept: list[_Record] = []
    rejections: list[Rejection] = []
    for key, group in by_key.items():
        if len(group) == 1:
            kept.append(group[0])
            continue
        what = " ".join(str(k) for k in key)
        first = group[0]
        if all(g.values == first.values for g in group[1:]):
            kept.append(first)
            for g in group[1:]:
                rejections.append(Rejection(g.row, sym_shown, g.symbol_cell,
                                            f"repeats row {first.row} ({what}, same values): imported once"))
            continue
        rows = ", ".join(str(g.row) for g in group)
        for g in group:
            others = ", ".join(str(o.row) for o in group if o is not g)
            rejections.append(Rejection(g.row, sym_shown, g.symbol_cell,
                                        f"conflicts with row {others} ({what}, different values): none of rows {rows} "
                                        "imported"))
    return kept, rejections


# -- merge and write --------------------------------------------------------------------------


def _typed_key(kind: str, values: dict) -> tuple:
    out = []
    for k in _key_columns(kind):
        v = (values.get(k) or "").strip()
        if k == "fiscal_year":
            try:
                out.append(int(v))
            except ValueError:
                out.append(0)
        else:
            out.append(v)
    return tuple(out)


def _key_columns(kind: str) -> tuple[str, ...]:
    from screener.data.schemas import SPECS

    return SPECS[kind][1]


def _typed_row(kind: str, values: dict) -> tuple:
    """A row's values compared as types: `1.50` equals `1.5`, `TRUE` equals `true`."""
    from screener.data.schemas import SPECS

    out = []
    for col in SPECS[kind][0]:
        v = values.get(col.name)
        v = v.strip() if isinstance(v, str) else v
        if v in (None, ""):
            out.append(None)
        elif col.type in ("number", "int"):
            try:
                out.append(Decimal(v))
            except InvalidOperation:
                out.append(v)
        elif col.type == "bool":
            out.append(v.lower() in ("true", "1", "yes"))
        else:
            out.append(v)
    return tuple(out)


def _csv_bytes(columns: list[str], rows: list[dict], bom: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


def import_file(path: Path, *, source: str, kind: str, as_of: date, into: Path, config,
                rater: str | None = None) -> ImportReport:
    """Bring one vendor export into the snapshot folder `into` (see the module docstring).

    Returns an `ImportReport`. Raises `InputError` (exit 2) for an unknown source or kind, an
    unreadable file, a bad generic profile, headers it cannot place, nothing usable in the file,
    or a merged snapshot that fails its schema; in every such case nothing is written.
    Nulls: missing markers and empty cells are nulls; a null required value with others present
    rejects that snapshot row; all-null rows are skipped. Duplicates: see step 7. Empty input (no
    data rows, or none usable): `InputError`.
    """
    from screener import atomic
    from screener.data import schemas
    from screener.data.snapshot import read_text_table, snapshot_files

    path, into = Path(path), Path(into)
    display = config.display
    shown = display(path)
    if source not in SOURCES:
        raise InputError([Problem("bad-source", f"unknown source `{source}`", shown, hint=suggestion(source, SOURCES, "source"))])
    if kind not in KINDS:
        raise InputError([Problem("bad-kind", f"unknown kind `{kind}`", shown, hint=suggestion(kind, KINDS, "kind"))])
    if not path.is_file():
        raise InputError([Problem("no-file", "no such file", shown, hint="give the path of the exported .xlsx or .csv")])
    profile = _profile(source, kind, config)  # a bad generic profile fails before the file is read
    table = _read(path, shown)
    start = _find_header_row(table.rows, profile)
    if start is None:
        first = next((r for r in table.rows if any(c.strip() for c in r)), [])
        found = [normalise_header(c).shown for c in first if c.strip()]
        raise InputError([Problem("nothing-usable", "no symbol column found; headers found: "
                                  + (", ".join(f"`{h}`" for h in found) or "none (the file is empty)"), shown,
                                  hint=f"{source} {kind} headers read: {_expected(source, kind, config)}")])
    headers = [normalise_header(c, i) for i, c in enumerate(table.rows[start])]
    layout = _layout(headers, source, kind, config, as_of, rater, shown)
    if layout.problems:
        raise InputError(layout.problems)
    records, rejections, read, skipped = _records(table, start, layout, kind, as_of, rater)
    records, dup_rejections = _dedupe(records, layout.symbol.shown)
    rejections = sorted(rejections + dup_rejections, key=lambda r: (r.row, r.column, r.reason))
    if not records:
        msg = (f"nothing to import: {read} data row{'s' if read != 1 else ''} read, none usable"
               if read else "nothing to import: the file has a header row but no data rows")
        problems = [Problem("nothing-usable", msg + "; headers found: " + ", ".join(f"`{h.shown}`" for h in headers if h.shown),
                            shown, hint=f"{source} {kind} headers read: {_expected(source, kind, config)}")]
        for r in rejections[:20]:
            problems.append(Problem("rejected", f"row {r.row}, column `{r.column}`: {r.value!r} {r.reason}", shown))
        if len(rejections) > 20:
            problems.append(Problem("rejected", f"... and {len(rejections) - 20} more rejected rows", shown))
        raise InputError(problems)

    # merge with the snapshot
    existing_files = snapshot_files(into) if into.is_dir() else {}
    target = into / f"{kind}.csv"
    target_shown = display(target)
    if kind in existing_files and existing_files[kind].suffix.lower() == ".parquet":
        raise InputError([Problem("parquet-snapshot", f"the snapshot holds {display(existing_files[kind])}; "
                                  f"importing would write {kind}.csv, which hides it", display(existing_files[kind]),
                                  hint="convert it to CSV first, or import into another folder")])
    columns = [c.name for c in schemas.SPECS[kind][0]]
    old_rows: list[dict] = []
    old_bytes: bytes | None = None
    bom = False
    if target.is_file():
        old_bytes = target.read_bytes()
        bom = old_bytes.startswith(b"\xef\xbb\xbf")
        old = read_text_table(target, target_shown, old_bytes)
        errors = [p for p in schemas.validate(kind, old, target_shown) if p.severity == "error"]
        if errors:
            raise InputError(errors + [Problem("snapshot-broken", "the snapshot file has errors; nothing imported",
                                               target_shown, hint=f"fix them first (screener data check {display(into)})")])
        columns += [c for c in old.columns if c not in columns]
        old_rows = old.to_dicts()
    old_by_key = {_typed_key(kind, r): r for r in old_rows}
    new = changed = unchanged = 0
    merged: dict[tuple, dict] = dict(old_by_key)
    for rec in records:
        k = _typed_key(kind, rec.values)
        before = old_by_key.get(k)
        if before is None:
            new += 1
            merged[k] = rec.values
        elif _typed_row(kind, before) == _typed_row(kind, rec.values):
            unchanged += 1
        else:
            changed += 1
            merged[k] = {**{c: before.get(c) for c in columns}, **rec.values}
    ordered = [merged[k] for k in sorted(merged)]
    out_bytes = _csv_bytes(columns, ordered, bom)

    import polars as pl

    frame = pl.DataFrame({c: [r.get(c) for r in ordered] for c in columns}, schema={c: pl.String for c in columns})
    errors = [p for p in schemas.validate(kind, frame, target_shown) if p.severity == "error"]
    if errors:
        raise InputError(errors + [Problem("not-written", "the merged snapshot would not pass its checks; "
                                           "nothing was written", target_shown)])

    # an import that brings nothing new leaves the file alone, even one formatted differently
    written = bool(new or changed) and out_bytes != old_bytes
    if written:
        atomic.write_bytes(target, out_bytes)
    rejects_path = into / f"{kind}.rejected.csv"
    if rejections:
        from screener.outputs.safe import neutralise_formula

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["row", "column", "value", "reason"])
        for r in rejections:
            w.writerow([r.row, neutralise_formula(r.column), neutralise_formula(r.value), r.reason])
        atomic.write_bytes(rejects_path, b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    elif rejects_path.is_file():
        rejects_path.unlink()
    return ImportReport(
        source=source, kind=kind, file=shown, target=target_shown, rows_read=read, rows_imported=len(records),
        rows_new=new, rows_changed=changed, rows_unchanged=unchanged, rejected=tuple(rejections),
        rejected_report=display(rejects_path) if rejections else None, rows_skipped=skipped,
        encoding=table.encoding, notes=tuple(dict.fromkeys(layout.notes)), written=written,
    )


def _other_source(headers: list[Header], source: str, kind: str) -> str:
    """`; these headers look like a wind export: try --source wind` when another profile reads them."""
    if source == "generic" or kind != "consensus":
        return ""
    keys = {h.key for h in headers}
    for other in ("wind", "ifind", "choice"):
        if other != source and keys & set(PROFILES[other][kind]["eps"]):
            return f"; these headers look like a {other} export: try --source {other}"
    return ""
