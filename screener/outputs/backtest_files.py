"""A backtest as files programs read: JSON (DESIGN.md's `backtest --json` shape) and the periods
as CSV. Values never change with the language; floats are written at full precision."""

from __future__ import annotations

import csv
import io
import json

from screener.outputs.safe import printable


def payload(results) -> dict | list:
    """One result's `to_dict()`, or a list of them for several rules."""
    out = [r.to_dict() for r in results]
    return out[0] if len(out) == 1 else out


def json_bytes(results) -> bytes:
    from screener.outputs.safe import json_safe

    return (json_safe(json.dumps(payload(results), ensure_ascii=False, indent=2)) + "\n").encode("utf-8")


def periods_csv(result, bom: bool = True) -> bytes:
    """One row per period: date, end, members (count and symbols, space-separated), the returns,
    ic, turnover, missing_returns and one column per bucket (bucket_1 is the best). Empty cells
    are nulls."""
    buckets = result.buckets
    header = ["date", "end", "member_count", "members", "watchlist_return", "benchmark_return"]
    if result.cost_bps is not None:
        header.append("watchlist_net_return")
    header += ["ic", "turnover", "missing_returns", "passers", "passers_with_return"]
    header += [f"bucket_{i + 1}" for i in range(buckets)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in result.periods.iter_rows(named=True):
        cells = [row["date"].isoformat(), row["end"].isoformat(), len(row["members"]), " ".join(row["members"]),
                 row["watchlist_return"], row["benchmark_return"]]
        if result.cost_bps is not None:
            cells.append(row["watchlist_net_return"])
        cells += [row["ic"], row["turnover"], row["missing_returns"], row["passers"], row["passers_with_return"]]
        cells += list(row["buckets"])
        writer.writerow(["" if c is None else (repr(c) if isinstance(c, float) else printable(c) if isinstance(c, str)
                         else c) for c in cells])
    text = buf.getvalue()
    return (("\ufeff" if bom else "") + text).encode("utf-8")
