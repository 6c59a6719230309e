"""A sweep as files: `sweep.json` (the `--json` shape), `sweep.csv` (one row per variant: the
swept values, the summary figures, overlap and rank; the base rule first) and `sweep.html` (the
tear sheet, `sheet.py`). Every file is rendered before the first is written, each written
atomically."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

FORMATS = ("html", "csv", "json")
SUMMARY_KEYS = ("periods", "null_periods", "watchlist_cumulative", "benchmark_cumulative", "ic_mean", "ic_ir",
                "turnover_mean", "hit_rate", "max_drawdown", "watchlist_net_cumulative")


def json_bytes(result) -> bytes:
    from screener.outputs.safe import json_safe

    return (json_safe(json.dumps(result.to_dict(), ensure_ascii=False, indent=2)) + "\n").encode("utf-8")


def sweep_csv(result, bom: bool = True) -> bytes:
    from screener.outputs.safe import printable
    from screener.sweep.spec import shown

    payload = result.to_dict()
    keys = list(result.keys)
    figures = [k for k in SUMMARY_KEYS if k in payload["base"]["summary"]]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["variant", *keys, "rank", "overlap_mean", *figures])

    def cell(c):
        if c is None:
            return ""
        if isinstance(c, float):
            return repr(c)
        return printable(c) if isinstance(c, str) else c

    writer.writerow(["base", *[""] * len(keys), "", cell(payload["base"]["overlap_mean"]),
                     *[cell(payload["base"]["summary"].get(f)) for f in figures]])
    for (v, _), row in zip(result.variants, payload["variants"]):
        writer.writerow([v.index + 1, *[cell(shown(v.values[k])) for k in keys], row["rank"],
                         cell(row["overlap_mean"]), *[cell(row["summary"].get(f)) for f in figures]])
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


def sweep_folder(config, result, out_dir: Path | None = None) -> Path:
    if out_dir is not None:
        return Path(out_dir)
    from screener.outputs.export import rule_folder

    first, last = result.dates[0], result.dates[-1]
    return rule_folder(config.out_dir / "sweeps", f"{Path(result.rule).stem}_{first.isoformat()}_{last.isoformat()}")


def write_sweep(config, result, formats, out_dir: Path | None = None) -> list[Path]:
    from screener.atomic import write_bytes
    from screener.times import local

    folder = sweep_folder(config, result, out_dir)
    files: list[tuple[Path, bytes]] = []
    if "html" in formats:
        from screener.sweep.sheet import render_sheet

        generated = local(datetime.now(timezone.utc), config.timezone).replace(microsecond=0)
        files.append((folder / "sweep.html", render_sheet(result, generated)))
    if "json" in formats:
        files.append((folder / "sweep.json", json_bytes(result)))
    if "csv" in formats:
        files.append((folder / "sweep.csv", sweep_csv(result, config.csv_bom)))
    folder.mkdir(parents=True, exist_ok=True)
    for path, data in files:
        write_bytes(path, data)
    return [p for p, _ in files]
