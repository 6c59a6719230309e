"""The sweep tear sheet: one self-contained HTML page (template `outputs/templates/sweep.html`,
Jinja2 with autoescape, the tear sheet's environment and style; no script, nothing fetched).

Order: the title and dates; the notices; the base rule's summary; the variants ranked by the
`--by` figure, the rows equal to the base rule marked; with two or more swept keys, a heat map of
the `--by` figure over the first two (with more keys, each cell shows the best variant at that
pair of values, said under the map), the base rule's cell outlined."""

from __future__ import annotations

import tomllib
from datetime import datetime

from screener.outputs.tearsheet import _environment
from screener.sweep.result import LOWER_IS_BETTER
from screener.sweep.spec import shown

TEMPLATE = "sweep.html"
PERCENT = ("watchlist_cumulative", "benchmark_cumulative", "watchlist_net_cumulative", "hit_rate", "max_drawdown",
           "turnover_mean")
COLUMNS = ("ic_mean", "ic_ir", "watchlist_cumulative", "hit_rate", "max_drawdown", "turnover_mean")
CELL_W, CELL_H, LEFT, TOP = 86, 34, 120, 56


def _fmt(value, key: str) -> str:
    if value is None:
        return "–"
    if key in PERCENT:
        return f"{value * 100:+.1f}%" if key != "hit_rate" and key != "turnover_mean" else f"{value * 100:.0f}%"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def base_values(result) -> dict:
    """The base rule's value at each swept key (None where the rule does not write it)."""
    doc = tomllib.loads(result.base.get("rule_text") or "") if result.base.get("rule_text") else {}
    out = {}
    for s in result.settings:
        node = doc
        for part in s.path:
            node = node.get(part) if isinstance(node, dict) else None
        out[s.key] = node
    return out


def _colour(t: float | None) -> str:
    if t is None:
        return "#eef0f3"
    # from a pale to a deep blue: better is deeper
    lo, hi = (236, 242, 248), (47, 93, 138)
    r, g, b = (round(a + (c - a) * t) for a, c in zip(lo, hi))
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(result, payload, base: dict) -> dict | None:
    if len(result.keys) < 2:
        return None
    kx, ky = result.keys[0], result.keys[1]
    xs = list(result.settings[0].values)
    ys = list(result.settings[1].values)
    better_low = result.by in LOWER_IS_BETTER
    best: dict = {}
    for (v, _), row in zip(result.variants, payload["variants"]):
        cell = (shown(v.values[kx]), shown(v.values[ky]))
        if cell not in best or row["rank"] < best[cell]["rank"]:
            best[cell] = row
    values = [r["summary"].get(result.by) for r in best.values() if r["summary"].get(result.by) is not None]
    lo, hi = (min(values), max(values)) if values else (0, 0)
    cells = []
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            row = best.get((shown(x), shown(y)))
            value = row["summary"].get(result.by) if row else None
            t = None if value is None else (0.5 if hi == lo else (value - lo) / (hi - lo))
            if t is not None and better_low:
                t = 1 - t
            is_base = shown(x) == shown(base.get(kx)) and shown(y) == shown(base.get(ky)) \
                if base.get(kx) is not None and base.get(ky) is not None else False
            cells.append({"x": LEFT + i * CELL_W, "y": TOP + j * CELL_H, "fill": _colour(t),
                          "text": _fmt(value, result.by), "dark": t is not None and t > 0.55, "base": is_base,
                          "title": f"{kx}={shown(x)}, {ky}={shown(y)}: {result.by} {_fmt(value, result.by)}"})
    return {"kx": kx, "ky": ky, "w": CELL_W, "h": CELL_H,
            "width": LEFT + CELL_W * len(xs) + 20, "height": TOP + CELL_H * len(ys) + 20,
            "x_labels": [{"x": LEFT + i * CELL_W + CELL_W / 2, "text": shown(x)} for i, x in enumerate(xs)],
            "y_labels": [{"y": TOP + j * CELL_H + CELL_H / 2 + 4, "text": shown(y)} for j, y in enumerate(ys)],
            "left": LEFT, "top": TOP, "cells": cells, "more_keys": list(result.keys[2:])}


def page(result, generated_at: datetime) -> dict:
    payload = result.to_dict()
    base = base_values(result)
    by = result.by
    base_summary = payload["base"]["summary"]
    rows = []
    for (v, _), row in sorted(zip(result.variants, payload["variants"]), key=lambda x: x[1]["rank"]):
        same = all(shown(v.values[k]) == shown(base.get(k)) for k in result.keys)
        rows.append({"rank": row["rank"], "index": v.index + 1, "values": [shown(v.values[k]) for k in result.keys],
                     "by": _fmt(row["summary"].get(by), by),
                     "figures": [_fmt(row["summary"].get(k), k) for k in COLUMNS],
                     "overlap": _fmt(row["overlap_mean"], "ic_mean"), "base": same})
    when = (f"{result.start} … {result.end}, every {result.every}" if result.every
            else ", ".join(d.isoformat() for d in result.dates))
    return {
        "title": result.rule_name, "rule": result.rule, "when": when, "by": by, "keys": list(result.keys),
        "count": len(result.variants), "generated": generated_at.isoformat(),
        "notices": payload["notices"],
        "base": {"values": [shown(base.get(k)) if base.get(k) is not None else "(not set)" for k in result.keys],
                 "by": _fmt(base_summary.get(by), by), "figures": [_fmt(base_summary.get(k), k) for k in COLUMNS]},
        "columns": list(COLUMNS), "rows": rows, "heat": heat_map(result, payload, base),
        "rule_text": result.base.get("rule_text", ""),
    }


def render_sheet(result, generated_at: datetime) -> bytes:
    return _environment().get_template(TEMPLATE).render(**page(result, generated_at)).encode("utf-8")
