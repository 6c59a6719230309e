"""One vendor cell or unit word -> a value: missing markers, units, numbers, currency words.

Units (`[单位]`, a trailing `(单位)` in a header, or a cell's own suffix) become a multiplier:
元 1, 千元 1e3, 万元 1e4, 百万元 1e6, 亿元 1e8, 股/万股/亿股 likewise, % 0.01, 分/港仙/美分 0.01;
人民币/港元/美元 also name the currency. A cell with its own unit (`829.14亿`, `12.5%`, `3.2万`)
uses that unit instead of the header's. Thousands separators (`1,234.5`), full-width digits and
accounting negatives (`(1.2)`) are read. Arithmetic is decimal, so `829.14亿` is exactly
82914000000.

Nulls and empty input: a missing marker (`——`, `--`, `-`, `N/A`, `#N/A`, ...), an empty cell and
`None` are missing: `is_missing` is true and `parse_number` returns None. Text that is not a unit
gives `parse_unit(...) is None`, text that names no currency `currency_code(...) is None`; a cell
that is present but not a number raises `ValueError` carrying the reason shown to the user.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

__all__ = ["nfkc", "is_missing", "parse_unit", "parse_number", "currency_code", "decimal_text"]

_MISSING = {"", "-", "--", "---", "—", "——", "———", "–", "n/a", "na", "#n/a", "nan", "none", "null", "#value!",
            "#div/0!", "#ref!", "不适用", "暂无", "无", "..."}
_CURRENCY_WORDS = {"人民币": "CNY", "人民币元": "CNY", "rmb": "CNY", "cny": "CNY", "港元": "HKD", "港币": "HKD",
                   "hkd": "HKD", "美元": "USD", "usd": "USD"}
_SCALE_WORDS = {"": 1, "千": 10**3, "万": 10**4, "十万": 10**5, "百万": 10**6, "千万": 10**7, "亿": 10**8,
                "十亿": 10**9, "万亿": 10**12}
_UNIT_RE = re.compile(r"^(千|万|十万|百万|千万|亿|十亿|万亿)?(元|人民币元|人民币|港元|港币|美元|股|)$")
_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(.*)$")


def nfkc(text) -> str:
    """NFKC text (full-width brackets and digits become ASCII); None -> ``""``."""
    return unicodedata.normalize("NFKC", str(text if text is not None else ""))


def parse_unit(text) -> tuple[Decimal, str | None] | None:
    """A unit -> (multiplier, currency or None); None when it is not a unit.

    `元` 1, `万元` 1e4, `亿元` 1e8, `百万美元` 1e6 USD, `万股` 1e4, `%` 0.01, `分`/`港仙` 0.01,
    `元/股` 1. Bare scale words (`亿`, `万`) are units too: cells such as `829.14亿` use them.
    """
    t = re.sub(r"\s+", "", nfkc(text))
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
    return Decimal(_SCALE_WORDS[m.group(1) or ""]), currency_code(m.group(2)) if m.group(2) else None


def currency_code(text) -> str | None:
    """`人民币`, `港元`, `美元`, `rmb` or any three letters -> an ISO code (upper case); else None."""
    t = re.sub(r"\s+", "", nfkc(text))
    if t.casefold() in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[t.casefold()]
    if re.fullmatch(r"[A-Za-z]{3}", t):
        return t.upper()
    return None


def is_missing(text) -> bool:
    """True for None, an empty cell, a missing marker or a run of dashes."""
    if text is None:
        return True
    t = re.sub(r"\s+", "", nfkc(text))
    return t.casefold() in _MISSING or (t != "" and set(t) <= set("-—–_"))


def parse_number(text, scale: Decimal = Decimal(1)) -> Decimal | None:
    """A cell -> a Decimal in plain units, None when missing; ValueError(reason) when not a number.

    `1,234.5` (thousands separators), `829.14亿` (the cell's own unit wins over `scale`), `12.5%`,
    `(1.2)` (an accounting negative), full-width digits.
    """
    if is_missing(text):
        return None
    t = re.sub(r"[\s,']", "", nfkc(text))
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


def decimal_text(value: Decimal) -> str:
    """Plain decimal text: no exponent, no trailing zeros (`82914000000`, `1.5`, `0`)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
