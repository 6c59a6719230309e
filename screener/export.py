"""Watchlist exports: one registry of small writers behind one atomic `export()`.

Files land in `<out>/<rule stem>/<as_of>/<rule stem>.<ext>`. Every export made from sample
data carries the snapshot's notice (a `data_notice` column in tables, a `data.notice` key in
JSON).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl

from screener.atomic import write_bytes
from screener.engine import ScreenResult
from screener.report import result_payload, watchlist_table

SUPPORTED = ("csv", "json", "parquet")
PLANNED = ("xlsx", "html", "md")


def _csv(result: ScreenResult) -> bytes:
    table = _flat(watchlist_table(result))
    buf = io.BytesIO()
    table.write_csv(buf)
    return b"\xef\xbb\xbf" + buf.getvalue()  # BOM: Excel then shows Chinese names correctly


def _json(result: ScreenResult) -> bytes:
    return (json.dumps(result_payload(result), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _parquet(result: ScreenResult) -> bytes:
    buf = io.BytesIO()
    watchlist_table(result).write_parquet(buf)
    return buf.getvalue()


WRITERS = {"csv": _csv, "json": _json, "parquet": _parquet}


def _flat(table: pl.DataFrame) -> pl.DataFrame:
    """Lists become `a;b` text so the table fits a CSV."""
    return table.with_columns(pl.col(c).list.join(";") for c, t in table.schema.items() if isinstance(t, pl.List))


def export(result: ScreenResult, out_dir: Path, formats: list[str]) -> list[Path]:
    """Write each format atomically; returns the paths written."""
    folder = out_dir / result.screen.stem / result.as_of.isoformat()
    written = []
    for fmt in formats:
        target = folder / f"{result.screen.stem}.{fmt}"
        write_bytes(target, WRITERS[fmt](result))
        written.append(target)
    return written
