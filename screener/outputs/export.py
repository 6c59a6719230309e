"""Watchlist exports: one registry of small format modules behind one atomic `export()`.

Layout under the output folder:

    <out>/<rule stem>/<as_of>/<rule stem>.<ext>   one folder per screening date
    <out>/<rule stem>/latest.<ext>                 the newest as_of written in that format (a
                                                   backfill of an older date never replaces it)

Every file is written to a temporary file beside it and renamed into place (`screener.atomic`),
so a reader sees the old file or the new one. Each format is a module in `screener.outputs.formats`
with `render(ctx) -> bytes`, imported only when asked for.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from screener.atomic import write_bytes
from screener.engine.screen import ScreenResult
from screener.outputs.safe import inside, safe_component

FORMATS = ("csv", "xlsx", "html", "json", "parquet", "md")
LANGS = ("en", "zh")
_LATEST_META = ".latest.json"


@dataclass(frozen=True)
class ExportContext:
    """Everything a format needs: the result, when it was made, in which language, and what
    changed since the previous run (`None` for a first run or when history is off)."""

    result: ScreenResult
    generated_at: datetime
    lang: str = "en"
    changes: object | None = None  # screener.outputs.history.Changes
    csv_bom: bool = True


def render(fmt: str, ctx: ExportContext) -> bytes:
    module = importlib.import_module(f"screener.outputs.formats.{fmt}_format")
    return module.render(ctx)


def rule_folder(out_dir: Path, stem: str) -> Path:
    return inside(out_dir, Path(out_dir) / safe_component(stem))


def export(ctx: ExportContext, out_dir: Path, formats: list[str]) -> list[Path]:
    """Write each format for the run's date, then refresh `latest.*` when this date is the newest.

    Returns the paths written. Rendering happens before anything is written, so a format that
    fails to render leaves every file as it was."""
    result = ctx.result
    stem = safe_component(result.screen.stem)
    base = rule_folder(out_dir, stem)
    dated = inside(out_dir, base / result.as_of.isoformat())
    payloads = {fmt: render(fmt, ctx) for fmt in formats}
    for folder in (base, dated):
        _remove_leftovers(folder)
    written = []
    for fmt, data in payloads.items():
        target = dated / f"{stem}.{fmt}"
        write_bytes(target, data)
        written.append(target)
    meta = _latest_meta(base)
    as_of = result.as_of.isoformat()
    refreshed = False
    for fmt, data in payloads.items():
        if as_of >= meta.get(fmt, ""):
            target = base / f"latest.{fmt}"
            write_bytes(target, data)
            written.append(target)
            meta[fmt] = as_of
            refreshed = True
    if refreshed:
        write_bytes(base / _LATEST_META, json.dumps(meta, sort_keys=True).encode())
    return written


def _latest_meta(base: Path) -> dict[str, str]:
    """{format: as_of of its latest.* file}; unreadable or old-style metadata counts as empty."""
    try:
        meta = json.loads((base / _LATEST_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in meta.items() if k in FORMATS and isinstance(v, str)} if isinstance(meta, dict) else {}


def _remove_leftovers(folder: Path) -> None:
    """Temporary files a killed run left behind (`.<name>.<random>.tmp`). Safe: the caller holds
    this screen's lock, so no other writer is using them."""
    if not folder.is_dir():
        return
    for p in folder.glob(".*.tmp"):
        try:
            p.unlink()
        except OSError:
            pass
