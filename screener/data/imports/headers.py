"""One vendor column header -> a `Header`: the name aliases are matched on, plus its parameters.

Each header is normalised: NFKC (full-width brackets and digits become ASCII), line breaks
unified; the bracketed parameters vendors add are read (`[单位] 亿元`, `[年度] 2026`,
`[报告期] 2025年报`, `[交易日期] 2026-11-26`, `[币种] 人民币`) and the name is cut at the first
line break or `[`; spaces are removed and case folded; a trailing unit in parentheses is removed
and kept as the unit (`总市值(亿元)`); `(FY1)`..`(FY3)` (or a trailing `FY1`) is read as the
forecast year index; a year at either end of the name (`2026E`, `2025A`, `2026年`,
`2026预测每股收益`) is read as the fiscal year.

Nulls and empty input: a None or empty header gives a `Header` whose `key` is ``""`` (matching no
alias); a parameter that is absent or unreadable leaves its field None. Ties: a year parameter
and `(FYn)` are both kept (the layout uses the year); a year in the name is read only when there
is neither; of several year parameters, the first readable one in the order 年度, 预测年度,
会计年度, 报告期, 报告年度; of a `[单位]` and a trailing `(单位)`, the bracketed one; of several
currency parameters, the last one present (币种, 货币, 货币单位), and the unit's currency only
when that gives none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from screener.data.imports.units import currency_code, nfkc, parse_unit

__all__ = ["Header", "normalise_header"]


@dataclass(frozen=True)
class Header:
    """One column header, normalised (see the module docstring)."""

    index: int
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


def _year_of(text: str) -> int | None:
    """`2026`, `2025年报`, `2025年年报`, `2025-12-31`, `2026E` -> the fiscal year."""
    m = re.match(r"^\s*((?:19|20)\d\d)", nfkc(text))
    return int(m.group(1)) if m else None


def normalise_header(raw, index: int = 0) -> Header:
    """A vendor header -> `Header` (name for matching plus its parameters)."""
    text = nfkc(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
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
            currency = currency_code(params[p])
    if currency is None and unit:
        parsed = parse_unit(unit)
        currency = parsed[1] if parsed else None
    return Header(index, shown, name, name.casefold(), fy, year, unit, currency,
                  _iso_date(params.get("交易日期") or params.get("日期")))


def _iso_date(text: str | None) -> str | None:
    """`2026-11-26`, `20261126`, `2026/11/26` -> `2026-11-26`; other text as it is."""
    if not text:
        return None
    m = re.match(r"^((?:19|20)\d\d)[-/.]?(\d\d?)[-/.]?(\d\d?)", text.strip())
    return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else text.strip()
