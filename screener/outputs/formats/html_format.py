"""HTML: one self-contained page that opens offline, for people to read and to print.

Nothing is fetched: no CDN, no web fonts, no images, no JavaScript at all. The CSS is inline and
the two charts are inline SVG computed here in Python:

- score components: one horizontal stacked bar per security, one segment per component of
  length weight x normalised value (z-score components may be negative and are drawn to the left
  of zero);
- valuation against growth: P/E FY1 against EPS growth FY1 (%), one labelled dot per security,
  with the PEG = 1 line; securities missing either value are listed below the chart.

The page is a Jinja2 template (`screener/outputs/templates/watchlist.html`) rendered with autoescape on,
and this module hands it only plain values (text, numbers, lists, dicts): every piece of text
from the data or the rule (names, universes, filter names and expressions, reasons, the notice,
the rule file itself) is escaped by Jinja2, never marked safe.

Order of the page: title, sample-data notice, rule and universes, the ranked table, the two
charts, the filters and how many members each removed, what changed since the previous run, and
where the numbers come from.

A pinned row is marked (class `pinned`, "📌" and the pin's reason in the `reason` column); a row
kept by the buffer says so in the same column; a pinned row without a score shows "—" for its
rank and score and has no bar in the components chart. A buffered rule's provenance names the
previous watchlist it compared against.

With `lang = "zh"` the shown values of closed sets (market, listed ...), the reasons and the
changes are in Chinese (`labels.translate_value`, `labels.translate_reason`; the English words of
the engine and the history stay the single source), money columns are in 亿 or 万 with the unit in
the header (`labels.amount_unit`), and colours follow the A-share reading: a rise (a better rank,
a positive return) is red and a fall green; in English a rise stays green and a fall red. Cells
and moved ranks carry `up`/`down` (the direction) and `red`/`green` (the colour).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from functools import lru_cache

from screener.outputs.labels import (
    AMOUNT_COLUMNS,
    amount_unit,
    below_top,
    in_unit,
    label,
    phrase,
    translate_reason,
    translate_value,
    unit_header,
)
from screener.outputs.labels import translate_note
from screener.outputs.report import (
    below_top_key,
    data_dates_text,
    exclusion_counts,
    format_number,
    previous_note,
    reason_shown,
    watchlist_table,
)
from screener.times import shown
from screener.outputs.safe import template_text

NULL = "—"
TEMPLATE = "watchlist.html"

# Colours of the score components: Tableau 10, readable on screen, distinct in print.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")

# Columns of the watchlist table not shown in the page's table (shown elsewhere or redundant:
# a pin and the buffer show in `reason`, P in the provenance).
_OMITTED = ("name_en", "exposure", "currency", "as_of", "data_notice", "pinned", "pin_reason", "kept",
            "previous_watchlist")



text = phrase  # fixed phrases of the export in its language (screener.outputs.labels)


@lru_cache(maxsize=1)
def _environment():
    """The Jinja2 environment (created once): templates from the package, autoescape always on,
    undefined names are errors rather than silently empty text."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("screener.outputs", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=template_text,  # control characters shown escaped (`safe.printable`)
    )


def render(ctx) -> bytes:
    """The page as UTF-8 bytes. An empty watchlist still gives a complete page that says so."""
    template = _environment().get_template(TEMPLATE)
    return template.render(**page(ctx)).encode("utf-8")


def page(ctx) -> dict:
    """Everything the template shows, as plain values (text is escaped by the template)."""
    result = ctx.result
    lang = "zh" if ctx.lang == "zh" else "en"
    screen = result.screen
    included = result.included
    return {
        "lang": lang,
        "t": lambda words: text(words, lang),
        "label_symbol": label("symbol", lang),
        "label_name": label("name", lang),
        "title": screen.name,
        "description": screen.description,
        "universes": list(screen.universes),
        "as_of": result.as_of.isoformat(),
        "generated_at": iso(ctx.generated_local),
        "notice": result.snapshot.notice,
        "notice_label": not (result.snapshot.notice or "").lower().startswith("sample data"),
        "warnings": list(result.warnings),
        "counts": {"members": result.frame.height, "passed": int(result.frame["_passed"].sum()),
                   "shown": included.height, "pinned": int(included["pinned"].sum()),
                   "has_pins": bool(getattr(screen, "pins", ()))},
        "table": watchlist_view(result, lang),
        "components": components_chart(result),
        "valuation": valuation_chart(result, lang),
        "filters": filters_view(result, lang),
        "changes": changes_view(ctx.changes, lang, ctx.tz),
        "provenance": provenance_view(ctx),
    }


def iso(moment: datetime | date | None) -> str:
    """ISO 8601 text of a date or datetime (seconds precision); "—" for None."""
    if moment is None:
        return NULL
    if isinstance(moment, datetime):
        return moment.replace(microsecond=0).isoformat()
    return moment.isoformat()


# ---------------------------------------------------------------- the ranked table


def component_colour(i: int) -> str:
    """The colour of score component `i` (the palette repeats after ten components)."""
    return PALETTE[i % len(PALETTE)]


def watchlist_view(result, lang: str) -> dict:
    """Headers and formatted cells of the ranked table, one row per included security.

    No included security gives the headers and no rows. Component headers carry their chart
    colour; `num` marks right-aligned numeric columns; the English name (when known and not the
    same as the name) is shown under the name. A pinned row has `pinned` set (the template
    marks it) and its reason cell starts with "📌"."""
    frame = watchlist_table(result)
    columns = [c for c in frame.columns if c not in _OMITTED]
    colours = {f"score_{s.name}": component_colour(i) for i, s in enumerate(result.screen.scores)}
    units = {c: amount_unit(frame[c].to_list(), lang) for c in columns if c in AMOUNT_COLUMNS}
    headers = []
    for c in columns:
        words = unit_header(label(c, lang), units.get(c))
        # a header breaks at `breakable` points; a short piece ("排名", "综合得分", "(FY1)") is one
        # word and never breaks between its characters, a long one may (CJK text has no spaces)
        parts = [{"text": p, "nowrap": len(p) <= 5} for p in breakable(words)]
        headers.append({"column": c, "label": words, "parts": parts, "num": frame.schema[c].is_numeric(),
                        "colour": colours.get(c), "unit": units.get(c)})
    rows = []
    for r in frame.iter_rows(named=True):
        english = r.get("name_en")
        english = english if english and english != r["name"] else None  # "IonQ" once, not twice
        cells = []
        for h in headers:
            c = h["column"]
            trend = None
            if c == "reason":
                value = reason_shown(translate_reason(r[c], lang), r["pinned"])
            elif h["unit"] and _finite(r[c]) is not None:
                value = in_unit(r[c], h["unit"])
            else:
                value = format_value(r[c], c, r.get("currency"), lang)
                if c.startswith(_TRENDS) and _finite(r[c]):
                    trend = trend_classes(r[c] > 0, lang)
            cells.append({"column": c, "text": value, "num": h["num"], "sub": english if c == "name" else None,
                          "trend": trend})
        rows.append({"symbol": r["symbol"], "pinned": bool(r["pinned"]), "cells": cells})
    return {"headers": headers, "rows": rows}


#: columns whose sign is a rise or a fall, coloured as such (returns)
_TRENDS = ("return_",)


def trend_classes(up: bool, lang: str) -> str:
    """The CSS classes of a rise or a fall: "up red" / "down green" in Chinese (A-share readers
    read red as up), "up green" / "down red" in English."""
    if lang == "zh":
        return "up red" if up else "down green"
    return "up green" if up else "down red"


_BREAK = re.compile(r"(?<=[_,·])|(?=\()|(?<=[\u4e00-\u9fff])(?=\d)")


def breakable(header: str) -> list[str]:
    """A header cut where the template may offer a line break (`<wbr>`): after "_", "," and
    "·", before "(" and between a Chinese character and a digit: "eps_growth_fy1" ->
    ["eps_", "growth_", "fy1"], "EPS(FY1,一致预期)" -> ["EPS", "(FY1,", "一致预期)"],
    "一致预期3月调整" -> ["一致预期", "3月调整"]. Empty text gives [""]."""
    return [p for p in _BREAK.split(header) if p] or [""]


def format_value(value, column: str, currency: str | None = None, lang: str = "en") -> str:
    """A cell's text: None, NaN and infinities give "—"; booleans yes/no; lists joined with ", ";
    dates as ISO; numbers as `format_number` says."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NULL
    if isinstance(value, bool):
        return text("yes" if value else "no", lang)
    if isinstance(value, (int, float)):
        return format_number(value, column, currency)
    if isinstance(value, str):
        return translate_value(column, value, lang)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(NULL if v is None else str(v) for v in value) or NULL
    return str(value)




# ---------------------------------------------------------------- chart helpers


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values whose first and last enclose [lo, hi], about `count` steps apart.

    lo == hi (one value, or all zero) widens to a unit span around it; non-finite bounds give
    [0, 1]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        lo, hi = (lo - 0.5, hi + 0.5) if lo != 0 else (0.0, 1.0)
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    n = int(round((end - start) / step))
    return [round(start + i * step, 10) + 0.0 for i in range(n + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick's text with as many decimals as the tick step needs (at most 4); never "-0"."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = next((d for d in range(5) if abs(round(step, d) - step) < 1e-9), 4)
    out = f"{value:.{decimals}f}"
    return "0" if out.strip("-0.") == "" else out


def scale(lo: float, hi: float, a: float, b: float):
    """A linear map from [lo, hi] onto [a, b] (a zero-width domain maps to the middle)."""
    if hi == lo:
        return lambda v: (a + b) / 2
    k = (b - a) / (hi - lo)
    return lambda v: a + (v - lo) * k


def shorten(value: str | None, limit: int) -> str:
    """`value` cut to `limit` characters with "…"; None gives ""."""
    if not value:
        return ""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _finite(v) -> float | None:
    """`v` as a float when it is a finite number, else None (None, NaN, inf, text)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _percent(w: float) -> str:
    """0.4166 -> "41.7%", 0.5 -> "50%"."""
    out = f"{w * 100:.1f}"
    return (out[:-2] if out.endswith(".0") else out) + "%"


# ---------------------------------------------------------------- components chart

_BAR = {"width": 1180, "label": 250, "right": 64, "top": 8, "row": 24, "bar": 15, "axis": 30}


def components_chart(result) -> dict | None:
    """Geometry of the stacked component bars; None when no included row has a score (nothing
    included, a rule without score components, or only pinned rows that failed a filter).
    A pinned row without a score has no composite to split, so no bar.

    Contribution of component i for a security = scaled weight i x normalised value i; a null
    normalised value contributes 0 (as in the composite) and is drawn with zero width. Positive
    contributions stack rightwards from zero, negative ones (z-scores) leftwards."""
    screen = result.screen
    included = result.included
    included = included.filter(included["score"].is_not_null())
    if not screen.scores or included.height == 0:
        return None
    weights = screen.weights
    rows = []
    for r in included.iter_rows(named=True):
        parts = []
        for i, s in enumerate(screen.scores):
            norm = _finite(r[result.norm_col(i)])
            parts.append({"name": s.name, "norm": norm, "value": weights[i] * norm if norm is not None else 0.0})
        rows.append({"rank": r["rank"], "symbol": r["symbol"], "name": r["name"], "score": _finite(r["score"]),
                     "parts": parts})
    lo = min(0.0, min(sum(p["value"] for p in row["parts"] if p["value"] < 0) for row in rows))
    hi = max(0.0, max(sum(p["value"] for p in row["parts"] if p["value"] > 0) for row in rows))
    ticks = nice_ticks(lo, hi, 5)
    g = _BAR
    x = scale(ticks[0], ticks[-1], g["label"], g["width"] - g["right"])
    height = g["top"] + g["row"] * len(rows) + g["axis"]
    bars = []
    for n, row in enumerate(rows):
        y = g["top"] + n * g["row"] + (g["row"] - g["bar"]) / 2
        pos = neg = 0.0
        segments = []
        for i, p in enumerate(row["parts"]):
            v = p["value"]
            if v >= 0:
                x0, x1 = x(pos), x(pos + v)
                pos += v
            else:
                x0, x1 = x(neg + v), x(neg)
                neg += v
            norm = NULL if p["norm"] is None else f"{p['norm']:.3f}"
            segments.append({"x": round(x0, 2), "width": round(max(x1 - x0, 0.0), 2), "colour": component_colour(i),
                             "component": p["name"],
                             "tip": f"{row['symbol']} · {p['name']}: {_percent(weights[i])} × {norm} = {v:.3f}"})
        bars.append({"symbol": row["symbol"], "rank": row["rank"], "name": shorten(row["name"], 14),
                     "y": round(y, 2), "text_y": round(y + g["bar"] - 3, 2), "segments": segments,
                     "score": NULL if row["score"] is None else f"{row['score']:.3f}",
                     "score_x": round(x(pos) + 6, 2)})
    axis_y = g["top"] + g["row"] * len(rows)
    return {
        "width": g["width"], "height": height, "bars": bars, "bar_height": g["bar"],
        "zero": round(x(0.0), 2), "plot_top": g["top"], "axis_y": axis_y,
        "ticks": [{"x": round(x(t), 2), "text": tick_label(t, ticks)} for t in ticks],
        "legend": [{"name": s.name, "colour": component_colour(i), "weight": _percent(weights[i]),
                    "normalize": s.normalize, "lower_is_better": not s.higher_is_better}
                   for i, s in enumerate(screen.scores)],
    }


# ---------------------------------------------------------------- valuation chart

_SCATTER = {"width": 1180, "height": 460, "left": 64, "right": 24, "top": 16, "bottom": 48}
_CHAR_W = 6.6  # approximate width of a label character at 11 px
_LABEL_H = 12


def valuation_chart(result, lang: str) -> dict | None:
    """Geometry of the P/E FY1 against EPS growth FY1 scatter; None when nothing is included.

    Securities missing (or with non-finite) growth or P/E are not plotted: they are listed in
    `not_plotted` with the fields they miss. With no plottable point the chart has axes only."""
    included = result.included
    if included.height == 0:
        return None
    points, skipped = [], []
    for r in included.iter_rows(named=True):
        growth, pe = _finite(r["eps_growth_fy1"]), _finite(r["pe_fy1"])
        if growth is None or pe is None:
            missing = [f for f, v in (("eps_growth_fy1", growth), ("pe_fy1", pe)) if v is None]
            skipped.append({"symbol": r["symbol"], "name": r["name"], "missing": [label(f, lang) for f in missing]})
            continue
        points.append({"symbol": r["symbol"], "name": r["name"], "rank": r["rank"], "x": growth * 100, "y": pe})
    g = _SCATTER
    xs = [p["x"] for p in points] or [0.0, 100.0]
    ys = [p["y"] for p in points] or [0.0, 50.0]
    xt = nice_ticks(*_padded(min(xs), max(xs)), 6)
    y_lo, y_hi = _padded(min(ys), max(ys))
    yt = nice_ticks(0.0 if min(ys) >= 0 else y_lo, y_hi, 5)  # P/E axis from 0 unless a P/E is negative
    left, right = g["left"], g["width"] - g["right"]
    top, bottom = g["top"], g["height"] - g["bottom"]
    sx = scale(xt[0], xt[-1], left, right)
    sy = scale(yt[0], yt[-1], bottom, top)
    dots = [{"symbol": p["symbol"], "cx": round(sx(p["x"]), 2), "cy": round(sy(p["y"]), 2),
             "tip": f"#{NULL if p['rank'] is None else p['rank']} {p['symbol']} {p['name']}: {p['x']:.1f}%, "
                    f"P/E {p['y']:.1f}"} for p in points]
    peg = _peg_line(xt, yt, sx, sy)
    obstacles = _line_boxes(peg) if peg else []
    placed = _place_labels(dots, (left, top, right, bottom), obstacles)
    if peg is not None:
        _place_peg_label(peg, placed, (left, top, right, bottom))
    return {
        "width": g["width"], "height": g["height"], "left": left, "right": right, "top": top, "bottom": bottom,
        "dots": dots,
        "x_ticks": [{"x": round(sx(t), 2), "text": tick_label(t, xt)} for t in xt],
        "y_ticks": [{"y": round(sy(t), 2), "text": tick_label(t, yt)} for t in yt],
        "x_title": f"{label('eps_growth_fy1', lang)} (%)", "y_title": label("pe_fy1", lang),
        "peg": peg,
        "zero_x": round(sx(0.0), 2) if xt[0] < 0 < xt[-1] else None,
        "not_plotted": skipped,
    }


def _padded(lo: float, hi: float, share: float = 0.06) -> tuple[float, float]:
    """[lo, hi] widened by `share` of its span on each side (so dots never sit on the frame)."""
    pad = (hi - lo) * share or (abs(hi) * share or 1.0)
    return lo - pad, hi + pad


def _peg_line(xt: list[float], yt: list[float], sx, sy) -> dict | None:
    """The PEG = 1 line (P/E = growth in %) clipped to the plot; None when it misses the plot."""
    t0 = max(xt[0], yt[0], 0.0)
    t1 = min(xt[-1], yt[-1])
    if t1 <= t0:
        return None
    return {"x1": round(sx(t0), 2), "y1": round(sy(t0), 2), "x2": round(sx(t1), 2), "y2": round(sy(t1), 2)}


def _place_peg_label(peg: dict, placed: list[tuple], box: tuple[float, float, float, float]) -> None:
    """Put the "PEG = 1" label just below the line where it overlaps the fewest dot labels and
    dots (`placed`), trying points from 90% down to 10% of the way along the line. Sets
    `label_x` and `label_y` on `peg`."""
    left, top, right, bottom = box
    w = _CHAR_W * 8
    best = None
    for share in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1):
        x = peg["x1"] + share * (peg["x2"] - peg["x1"]) + 8
        y = peg["y1"] + share * (peg["y2"] - peg["y1"]) + 14
        rect = (x, y - _LABEL_H + 2, x + w, y + 2)
        cost = sum(_overlap(rect, b) for b in placed)
        if rect[2] > right or rect[3] > bottom or rect[1] < top or rect[0] < left:
            cost += 1e6
        if best is None or cost < best[0]:
            best = (cost, x, y)
        if cost == 0:
            break
    peg["label_x"], peg["label_y"] = round(best[1], 2), round(best[2], 2)


def _line_boxes(line: dict, step: float = 6.0) -> list[tuple]:
    """Small boxes every `step` px along a line segment, so labels can avoid crossing it."""
    length = math.hypot(line["x2"] - line["x1"], line["y2"] - line["y1"])
    n = max(1, int(length / step))
    out = []
    for i in range(n + 1):
        x = line["x1"] + (line["x2"] - line["x1"]) * i / n
        y = line["y1"] + (line["y2"] - line["y1"]) * i / n
        out.append((x - 1.5, y - 1.5, x + 1.5, y + 1.5))
    return out


def _place_labels(dots: list[dict], box: tuple[float, float, float, float], obstacles: list[tuple] = ()) -> list[tuple]:
    """Give each dot a label position (right, left, above or below the dot): the first that
    overlaps no placed label, no other dot, no obstacle box and stays inside `box`; else the
    least overlapping. Sets `lx`, `ly` and `anchor` on each dot and returns the boxes of the
    labels and dots (empty for no dots)."""
    left, top, right, bottom = box
    placed: list[tuple[float, float, float, float]] = []
    dot_boxes = [(d["cx"] - 5, d["cy"] - 5, d["cx"] + 5, d["cy"] + 5) for d in dots]
    for n, d in enumerate(dots):
        w = _CHAR_W * len(d["symbol"])
        best = None
        for dx, dy, anchor in ((8, 4, "start"), (-8, 4, "end"), (0, -9, "middle"), (0, 17, "middle"),
                               (8, -8, "start"), (8, 14, "start"), (-8, -8, "end"), (-8, 14, "end")):
            lx, ly = d["cx"] + dx, d["cy"] + dy
            x0 = lx if anchor == "start" else lx - w if anchor == "end" else lx - w / 2
            rect = (x0, ly - _LABEL_H + 2, x0 + w, ly + 2)
            cost = sum(_overlap(rect, b) for b in placed)
            cost += sum(_overlap(rect, b) for i, b in enumerate(dot_boxes) if i != n)
            cost += sum(_overlap(rect, b) for b in obstacles)
            if rect[0] < left or rect[2] > right or rect[1] < top or rect[3] > bottom:
                cost += 1e6
            if best is None or cost < best[0]:
                best = (cost, lx, ly, anchor, rect)
            if cost == 0:
                break
        _, d["lx"], d["ly"], d["anchor"], rect = best
        d["lx"], d["ly"] = round(d["lx"], 2), round(d["ly"], 2)
        placed.append(rect)
    return placed + dot_boxes


def _overlap(a: tuple, b: tuple) -> float:
    """Area shared by two boxes (x0, y0, x1, y1); 0 when they do not touch."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


# ---------------------------------------------------------------- filters, changes, provenance


def filters_view(result, lang: str) -> dict:
    """Each filter with its expression and how many members it removed, then "pin" (when the rule
    has an exclude pin: members it took out, like a failed filter), "unlisted" and "below top N"
    ("below top N per industry" with `per`; only when the rule keeps a top N). No filters gives
    just those rows. `share` is the bar length: the count over the number of members (0 when
    there are none)."""
    from screener.engine.verdicts import PIN_FILTER

    screen = result.screen
    counts = exclusion_counts(result)
    members = result.frame.height
    rows = [{"name": f.name, "expression": f.source, "removed": counts.get(f.name, 0), "kind": "filter"}
            for f in screen.filters]
    excludes = [p for p in getattr(screen, "pins", ()) if p.action == "exclude"]
    if excludes:
        rows.append({"name": PIN_FILTER, "expression": f"{text('excluded by an exclude pin', lang)}: "
                     + ", ".join(p.symbol for p in excludes),
                     "removed": counts.get(PIN_FILTER, 0), "kind": "other"})
    rows.append({"name": text("unlisted", lang), "expression": text("not listed: kept in the universe, never screened", lang),
                 "removed": counts.get("unlisted", 0), "kind": "other"})
    if screen.top is not None:
        per = getattr(screen, "per", None)
        keep = getattr(screen, "keep", None)
        expression = f"{text('passed every filter', lang)}; {below_top(screen.top, per, lang)}"
        if keep is not None:
            expression += f" ({text('keep', lang)} {keep})"
        rows.append({"name": below_top(screen.top, per, lang), "expression": expression,
                     "removed": counts.get(below_top_key(screen), 0), "kind": "other"})
    for r in rows:
        r["share"] = round(100 * r["removed"] / members, 1) if members else 0.0
    return {"rows": rows}


def changes_view(changes, lang: str = "en", tz: str | None = None) -> dict | None:
    """What entered, left and moved since the previous run; None for a first run (no Changes, or
    one without a previous run). Ranks that are unknown show as "—"; reasons in `lang`; a moved
    row's `trend` is its CSS classes (`trend_classes`: red up in Chinese, green up in English).
    The previous run's time is shown in zone `tz` (the history stores UTC)."""
    if changes is None or getattr(changes, "before", None) is None:
        return None
    before = changes.before
    dash = lambda v: NULL if v is None else v  # noqa: E731
    why = lambda e: translate_reason(e.get("reason"), lang) or ""  # noqa: E731
    return {
        "before": {"run_id": before.run_id, "as_of": str(before.as_of), "generated_at": shown(before.generated_at, tz)},
        "empty": changes.empty,
        "entered": [{"symbol": e["symbol"], "name": e.get("name") or "", "rank": dash(e.get("rank")),
                     "reason": why(e)} for e in changes.entered],
        "left": [{"symbol": e["symbol"], "name": e.get("name") or "", "from_rank": dash(e.get("from_rank")),
                  "rank": dash(e.get("rank")), "reason": why(e)} for e in changes.left],
        "moved": [{"symbol": e["symbol"], "name": e.get("name") or "", "from_rank": dash(e.get("from_rank")),
                   "to_rank": dash(e.get("to_rank")), "up": (e.get("change") or 0) > 0,
                   "trend": trend_classes((e.get("change") or 0) > 0, lang),
                   "reason": why(e)} for e in changes.moved],
    }


def provenance_view(ctx) -> dict:
    """Where the page's numbers come from: data folder, fingerprint, dates, the rule file."""
    result = ctx.result
    snap = result.snapshot
    return {"folder": snap.folder.name, "fingerprint": snap.fingerprint or NULL, "sample": snap.sample,
            "as_of": result.as_of.isoformat(), "generated_at": iso(ctx.generated_local),
            "rule_path": result.screen.path, "rule_sha256": result.screen.sha256, "rule_text": result.screen.text,
            "data_dates": data_dates_text(result), "previous": translate_note(previous_note(result), ctx.lang)}

