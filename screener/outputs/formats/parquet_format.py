"""Parquet for notebooks: the watchlist table with its real dtypes (lists stay lists)."""

from __future__ import annotations

import io

from screener.outputs.report import watchlist_table


def render(ctx) -> bytes:
    buf = io.BytesIO()
    watchlist_table(ctx.result).write_parquet(buf)
    return buf.getvalue()
