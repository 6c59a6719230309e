"""Data rows + a `Layout` -> snapshot records (wide to long), rejections, and duplicates settled.

`read_records` walks the rows under the header. Wide layouts become long rows: a consensus row
gives one record per fiscal year (eps, net_profit, revenue of that year; an analysts column
without a year applies to every forecast year of the row); an ESG row gives one record per
rating column (a rater named in the header such as `华证ESG评级`, else the `评级机构` column, else
`--rater`); a prices row gives one record. Data rows are numbered from 1 after the header; that
number is the `row` of every rejection. Symbols become canonical with
`screener.data.symbols.parse_symbol`; a bad one rejects the whole row. A bad cell (not a number,
unknown unit, not a whole number of analysts, not a grade, a close <= 0) rejects the record it
feeds, never a neighbouring year. Currency: a `币种` column, else the header's currency
(`[币种] 人民币`, `(港元)`), else the market's (CNY for A-shares, HKD for Hong Kong, USD for the
US); a Hong Kong listing that reports in CNY needs the column or the parameter. Every record's
`as_of` is `--as-of`. A generic fiscal-year cell `FYn` follows the April 30 rule of `layout` (a
long file has no reported column to go by); `2025A` / `2025年报` mean reported and `2026E`
forecast unless an `actual` column says.

Nulls and empty input: blank rows and footer rows (`数据来源：Wind`, `来源`, `注：`, `Source` ...)
are skipped and not counted as read. Missing markers are nulls: a fiscal year (or price, or
rating) whose every value is missing gives no record and is no error; a row that gives no record
and no rejection is counted in `rows_skipped`. A missing required value next to present ones (net
profit without EPS, a market cap without a close) is a rejection. No data rows: no records.

Ties (`dedupe`): two records with the same snapshot key (e.g. `603019` and `603019.SH`) with
identical values are imported once and the repeats reported ("repeats row N"); with different
values all are rejected ("conflicts with row N"), none is imported and the snapshot keeps what it
had for that key. Guessing which of two conflicting numbers is right would hide a vendor or
copy-paste error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from screener.data.imports.files import Table
from screener.data.imports.headers import Header
from screener.data.imports.layout import Col, Layout, fy1
from screener.data.imports.report import Rejection
from screener.data.imports.units import currency_code, decimal_text, is_missing, nfkc, parse_number

__all__ = ["Record", "read_records", "parse_year", "dedupe"]


@dataclass
class Record:
    """One snapshot row from a vendor row: its key, its values as snapshot text, and where from."""

    row: int
    key: tuple
    values: dict[str, str | None]
    symbol_cell: str


_FOOTER = re.compile(r"^(数据来源|资料来源|来源[:：]|注[:：]|注释[:：]|备注[:：]|说明[:：]|source|note[:：]|"
                     r"免责声明|数据提供)", re.IGNORECASE)
_MARKET_CURRENCY = {"SH": "CNY", "SZ": "CNY", "BJ": "CNY", "HK": "HKD", "US": "USD"}
_TRUE_WORDS = {"true", "1", "yes", "y", "是", "实际", "已披露", "已公布", "a", "reported", "actual"}
_FALSE_WORDS = {"false", "0", "no", "n", "否", "预测", "未披露", "未公布", "e", "forecast", "estimate"}
_GRADE_IN_PARENS = re.compile(r"^[+-]?\d+(?:\.\d+)?\s*\((.+)\)$")


def _is_footer(row: list[str], symbol_index: int) -> bool:
    """A note under the table (`数据来源：Wind`): its first non-empty cell starts like one and
    the symbol cell holds nothing else."""
    first = next((c for c in row if c and c.strip()), "")
    symbol = row[symbol_index].strip() if symbol_index < len(row) and row[symbol_index] else ""
    return symbol in ("", first.strip()) and bool(_FOOTER.match(re.sub(r"\s+", "", nfkc(first))))


def _market_currency(canonical: str) -> str | None:
    return _MARKET_CURRENCY.get(canonical.rsplit(".", 1)[-1]) if "." in canonical else None


def read_records(table: Table, start: int, layout: Layout, kind: str, as_of: date, rater: str | None):
    """Walk the data rows under the header row `start`: (records, rejections, rows_read, rows_skipped)."""
    from screener.rules.grades import GRADE_REGEX
    from screener.data.symbols import SymbolError, parse_symbol

    grade_re = re.compile(GRADE_REGEX)
    records: list[Record] = []
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
        present = [c for c in value_cols if not is_missing(cell(c))]
        if not raw_symbol or is_missing(raw_symbol):
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
        if cur_col is not None and not is_missing(cell(cur_col)):
            currency = currency_code(cell(cur_col))
            if currency is None:
                rejections.append(Rejection(offset, cur_col.header.shown, cell(cur_col),
                                            "is not a currency (人民币/CNY, 港元/HKD, 美元/USD ...)"))
                continue
        made = 0
        if kind == "consensus":
            row_year = row_actual = None
            if year_col is not None:
                text = cell(year_col)
                row_year, implied = parse_year(text, as_of)
                if row_year is None:
                    if present:
                        rejections.append(Rejection(offset, year_col.header.shown, text,
                                                    "is not a fiscal year (2026, 2026E, FY1)"))
                    else:
                        skipped += 1
                    continue
                row_actual = implied
            if actual_col is not None and not is_missing(cell(actual_col)):
                word = re.sub(r"\s+", "", nfkc(cell(actual_col))).casefold()
                if word in _TRUE_WORDS:
                    row_actual = True
                elif word in _FALSE_WORDS:
                    row_actual = False
                else:
                    rejections.append(Rejection(offset, actual_col.header.shown, cell(actual_col),
                                                "is not true or false (是/否, 实际/预测, A/E)"))
                    continue
            groups: dict[tuple[int, bool], list[Col]] = {}
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
                if all(is_missing(cell(c)) for c in cols if c.field != "analysts"):
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
                    values[fld] = decimal_text(v) if v is not None else None
                if not bad and values["eps"] is None:
                    c = cells.get("eps")
                    row_rejects.append(Rejection(offset, c.header.shown if c else sym_shown, cell(c) if c else "",
                                                 f"no EPS for {year} while other values for it are given; "
                                                 "the snapshot needs eps"))
                    bad = True
                ac = cells.get("analysts") or (general_analysts if not actual else None)
                values["analysts"] = None
                if ac is not None and not is_missing(cell(ac)):
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
                records.append(Record(offset, (canonical, year), values, raw_symbol))
                made += 1
        elif kind == "prices":
            cells = {c.field: c for c in value_cols}
            if all(is_missing(cell(c)) for c in cells.values()):
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
                values[fld] = decimal_text(v) if v is not None else None
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
                records.append(Record(offset, (canonical,), values, raw_symbol))
                made += 1
        else:  # esg
            row_rater = None
            if rater_col is not None and not is_missing(cell(rater_col)):
                row_rater = re.sub(r"\s+", " ", nfkc(cell(rater_col))).strip()
            any_value = False
            for c in value_cols:
                text = cell(c)
                if is_missing(text):
                    continue
                any_value = True
                grade = re.sub(r"\s+", "", nfkc(text))
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
                records.append(Record(offset, (canonical, who), {"symbol": canonical, "rater": who, "rating": grade,
                                                                 "as_of": iso}, raw_symbol))
                made += 1
            if not any_value:
                skipped += 1
                continue
        rejections.extend(row_rejects)
        if kind == "consensus" and not made and not row_rejects:
            skipped += 1
    return records, rejections, read, skipped


def parse_year(text: str, as_of: date) -> tuple[int | None, bool | None]:
    """A fiscal-year cell -> (year, actual implied by an A/E suffix or None); (None, None) when
    the cell is not a fiscal year."""
    t = re.sub(r"\s+", "", nfkc(text))
    m = re.fullmatch(r"FY([1-9])", t, re.IGNORECASE)
    if m:
        return fy1(as_of, []) + int(m.group(1)) - 1, False
    m = re.fullmatch(r"((?:19|20)\d\d)(?:\.0+)?(年度|年报|年|A|E|a|e)?", t)
    if not m:
        return None, None
    suffix = (m.group(2) or "").upper()
    return int(m.group(1)), True if suffix in ("A", "年报") else False if suffix == "E" else None


def dedupe(records: list[Record], sym_shown: str) -> tuple[list[Record], list[Rejection]]:
    """(kept records, rejections): identical repeats imported once, conflicts rejected entirely."""
    by_key: dict[tuple, list[Record]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(r)
    kept: list[Record] = []
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
