"""CSV that Excel opens with Chinese names intact (UTF-8 with BOM unless turned off); text a
spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import io

import polars as pl

from screener.outputs.labels import label
from screener.outputs.report import watchlist_table
from screener.outputs.safe import neutralise_formula


def render(ctx) -> bytes:
    table = watchlist_table(ctx.result)
    table = table.with_columns(
        pl.col(c).list.join(";") for c, t in table.schema.items() if isinstance(t, pl.List)
    ).with_columns(
        pl.col(c).map_elements(neutralise_formula, return_dtype=pl.String)
        for c, t in table.schema.items() if t == pl.String or isinstance(t, pl.List)
    )
    table = table.rename({c: label(c, ctx.lang) for c in table.columns})
    buf = io.BytesIO()
    table.write_csv(buf)
    return (b"\xef\xbb\xbf" if ctx.csv_bom else b"") + buf.getvalue()
