"""CSV that Excel opens with Chinese names intact (UTF-8 with BOM unless turned off); text a
spreadsheet would run as a formula is neutralised; control characters in text are shown escaped
(`safe.printable`: `\\x1b`), so a terminal that shows the file obeys none of them.

Numbers are written clean: counts (`rank`, `group_rank`, `analysts`) as integers (24, not
24.0); numbers the screen computes (ratios, growth, returns, scores, means) rounded to
`SIGNIFICANT_DIGITS` significant digits and written in their shortest form (0.3, not
0.30000000000000004); numbers copied from the snapshot (`AS_GIVEN`: prices, EPS, amounts)
exactly as read, since rounding a revenue in plain yuan to 10 digits would change it. Only the
header follows `--lang`: values are the same in every language.
"""

from __future__ import annotations

import io

import polars as pl

from screener.outputs.labels import label
from screener.outputs.report import watchlist_table
from screener.outputs.safe import CONTROL_PATTERN, neutralise_formula, printable

#: significant digits kept of a computed number (float64 carries 15 to 17; the last few are noise)
SIGNIFICANT_DIGITS = 10
#: numbers written as the snapshot holds them, never rounded
AS_GIVEN = frozenset({"close", "market_cap", "eps_fy0", "eps_fy1", "eps_fy2", "revenue_fy1", "net_profit_fy1"})


def clean_float(value: float | None, digits: int = SIGNIFICANT_DIGITS) -> float | None:
    """`value` rounded to `digits` significant digits, as the nearest float (whose shortest
    form is then what is written): 0.30000000000000004 -> 0.3, 37.59036144578313 ->
    37.59036145. None, NaN and infinities are kept as they are."""
    if value is None:
        return None
    return float(format(value, f".{digits}g"))


def clean_numbers(table: pl.DataFrame) -> pl.DataFrame:
    """Computed float columns rounded (`clean_float`); integer and `AS_GIVEN` columns untouched."""
    return table.with_columns(rounded(table.get_column(c)) for c, t in table.schema.items()
                              if t == pl.Float64 and c not in AS_GIVEN)


def rounded(column: pl.Series, digits: int = SIGNIFICANT_DIGITS) -> pl.Series:
    """`clean_float` over a column, vectorised: polars' `round_sig_figs` (a million values in
    0.1 s, where Python takes 2 s), then `clean_float` for the few values whose shortest form
    still shows more than `digits` significant digits (scaling by a power of ten that is not
    exact in binary, at extreme exponents)."""
    fast = column.round_sig_figs(digits)
    mantissa = (fast.cast(pl.String).str.replace(r"[eE].*$", "").str.replace_all(r"[-+.]", "")
                .str.strip_chars_start("0").str.strip_chars_end("0"))
    slow = ((mantissa.str.len_chars() > digits) & fast.is_finite()).fill_null(False)
    if slow.any():
        at = slow.arg_true()
        fast = fast.scatter(at, [clean_float(v) for v in column.gather(at).to_list()])
    return fast.alias(column.name)


def _cell(text: str) -> str:
    """A header as written: control characters shown escaped (newlines and tabs kept: a quoted
    CSV cell holds them), neutralised against formulas. (A cell is neutralised, then escaped: an
    escape starts with a backslash, never with a formula's first character.)"""
    return neutralise_formula(printable(text))


def render(ctx) -> bytes:
    table = clean_numbers(watchlist_table(ctx.result))
    table = table.with_columns(
        pl.col(c).list.join(";") for c, t in table.schema.items() if isinstance(t, pl.List)
    ).with_columns(
        pl.col(c).map_elements(neutralise_formula, return_dtype=pl.String)
        for c, t in table.schema.items() if t == pl.String or isinstance(t, pl.List)
    )
    # control characters shown escaped, only in the columns that have any (a cheap scan per column)
    dirty = [c for c, t in table.schema.items() if t == pl.String and table[c].str.contains(CONTROL_PATTERN).any()]
    table = table.with_columns(pl.col(c).map_elements(printable, return_dtype=pl.String) for c in dirty)
    table = table.rename({c: _cell(label(c, ctx.lang)) for c in table.columns})
    buf = io.BytesIO()
    table.write_csv(buf)
    return (b"\xef\xbb\xbf" if ctx.csv_bom else b"") + buf.getvalue()
