"""The backtest tear sheet: one self-contained HTML page answering "does the rule work?" for one
or several rules side by side (DESIGN.md "Backtests").

Like the watchlist report (`formats/html_format.py`), nothing is fetched: no CDN, no fonts, no
images, no JavaScript. The page is the Jinja2 template `templates/tearsheet.html`, rendered with
autoescape on; this module hands it plain values only, so every text from the rule or the data
(rule names and text, notices, symbols) is escaped. The charts are inline SVG whose geometry is
computed here.

Order of the page:
1. the title, the rules and dates;
2. every notice of every result (undated membership, missing returns, pins, consensus, the
   sample-data notice) and every warning, before any number; a notice that only some rules carry
   names them;
3. one summary table, a column per rule: membership dating, missing returns and DESIGN's
   `summary` figures;
4. one section per rule (two columns when there are several, so "before" and "after" an edit
   sit side by side): the cumulative curves, the bucket bars, the IC series, the turnover, the
   per-component IC, the per-period table, the data and the rule text.

Charts, and what they do with nulls:
- cumulative: watchlist, benchmark and (with costs) net curves, compounded, W_0 at the first
  date then one point per period end (n periods, n + 1 points). A null period counts as 0, as
  DESIGN defines the cumulative figures, and is shaded so a flat stretch is never mistaken for
  a flat market;
- buckets: for each bucket, the mean of its non-null returns over the periods; best bucket
  first (a working rule slopes down from bucket 1); a bucket null in every period has no bar;
- IC: one bar per period with an IC, the mean as a dashed line; a null IC is a gap (a shaded
  slot), never a bar of height 0;
- turnover: one bar per period with a turnover (the first period has none).
Periods sit on a time axis (a bar spans its period), so uneven `--dates` stay honest. With
several rules every chart of a kind shares its axes, so the sections compare by eye.

In zh, rising is red and falling green (the colours of up and down swap); the notices, written
by the backtest, stay as written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

from screener.outputs.formats.html_format import NULL, iso, nice_ticks, scale
from screener.outputs.labels import phrase
from screener.outputs.safe import template_text

TEMPLATE = "tearsheet.html"

#: colours of rules where several are drawn together, and of the series of one rule
WATCHLIST_COLOUR = "#2f5d8a"
BENCHMARK_COLOUR = "#8a93a0"
UP_DOWN = {"en": ("#2e7d32", "#c62828"), "zh": ("#c62828", "#2e7d32")}  # (rising, falling)

#: the summary figures shown, in order: (key in `BacktestResult.summary`, words, kind)
SUMMARY_ROWS = (
    ("periods", "periods", "count"),
    ("null_periods", "periods without a watchlist return", "count"),
    ("watchlist_cumulative", "watchlist cumulative", "return"),
    ("benchmark_cumulative", "benchmark cumulative", "return"),
    ("watchlist_net_cumulative", "watchlist cumulative, net of costs", "return"),
    ("ic_mean", "IC mean", "ic"),
    ("ic_ir", "IC IR", "ratio"),
    ("turnover_mean", "turnover mean", "share"),
    ("hit_rate", "hit rate", "share"),
    ("max_drawdown", "max drawdown", "return"),
)


# ---------------------------------------------------------------- numbers for people


def percent(value: float | None, signed: bool = False, decimals: int = 1) -> str:
    """A ratio as a percentage: 0.2489 -> "24.9%" ("+24.9%" when `signed`); None, NaN and
    infinities -> "—". Never "-0.0%": a value that rounds to zero shows without a sign."""
    if value is None or not math.isfinite(value):
        return NULL
    out = f"{value * 100:{'+' if signed else ''}.{decimals}f}"
    if float(out) == 0:
        out = f"{0:.{decimals}f}"
    return out + "%"


def figure(value, kind: str) -> str:
    """A summary figure as shown: `return` signed percent, `share` percent, `ic` 3 decimals,
    `ratio` 2 decimals, `count` an integer; None -> "—"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NULL
    if kind == "return":
        return percent(value, signed=True)
    if kind == "share":
        return percent(value)
    if kind == "count":
        return f"{value:d}"
    out = f"{value:.3f}" if kind == "ic" else f"{value:.2f}"
    return out.lstrip("-") if float(out) == 0 else out


def sign(value: float | None) -> str:
    """CSS class of a number's direction: "up", "down" or "" (zero, None)."""
    if value is None or not math.isfinite(value) or round(value, 6) == 0:
        return ""
    return "up" if value > 0 else "down"


# ---------------------------------------------------------------- series


def cumulative_curve(returns: list[float | None]) -> list[float]:
    """Compounded return after each period, starting at 0 before the first: n returns give n + 1
    values. A null return counts as 0 (DESIGN's cumulative figures)."""
    w, out = 1.0, [0.0]
    for r in returns:
        w *= 1 + (r or 0.0)
        out.append(w - 1)
    return out


def bucket_means(buckets: list[list[float | None] | None], count: int) -> list[tuple[float | None, int]]:
    """For each of `count` buckets, the mean of its non-null returns over the periods and how
    many periods it had one; (None, 0) for a bucket null in every period."""
    out = []
    for b in range(count):
        xs = [p[b] for p in buckets if p is not None and b < len(p) and p[b] is not None]
        out.append((sum(xs) / len(xs) if xs else None, len(xs)))
    return out


def runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Maximal runs of True as (first, last) indices: [F, T, T, F, T] -> [(1, 2), (4, 4)]."""
    out, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - 1))
            start = None
    return out


# ---------------------------------------------------------------- chart geometry


@dataclass(frozen=True)
class Box:
    """A chart's size and its plot area inside it (SVG user units)."""

    width: float
    height: float
    left: float
    right: float   # margin on the right
    top: float
    bottom: float  # margin below

    @property
    def x0(self) -> float:
        return self.left

    @property
    def x1(self) -> float:
        return self.width - self.right

    @property
    def y0(self) -> float:  # the top of the plot
        return self.top

    @property
    def y1(self) -> float:  # the bottom of the plot
        return self.height - self.bottom


def time_scale(first: date, last: date, box: Box):
    """Dates onto the plot's x range, linear in days."""
    f = scale(0.0, float((last - first).days), box.x0, box.x1)
    return lambda d: f(float((d - first).days))


def path_d(points: list[tuple[float, float | None]]) -> str:
    """An SVG path through `points` (x, y), broken at every None y: each run of present points
    starts with "M", so a null is a gap, never a point at zero. No present point gives ""."""
    parts, pen_down = [], False
    for x, y in points:
        if y is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.2f},{y:.2f}")
        pen_down = True
    return " ".join(parts)


def period_bars(values: list[float | None], starts: list[date], ends: list[date], x, y,
                share: float = 0.7) -> list[dict | None]:
    """One bar per period from zero to its value, `share` of the period's width and centred on
    it; None where the value is None (a gap: nothing drawn). A value of 0 is a bar 1.5 units
    high on the zero line, so it never looks like a gap."""
    out: list[dict | None] = []
    zero = y(0.0)
    for v, d, e in zip(values, starts, ends):
        if v is None or not math.isfinite(v):
            out.append(None)
            continue
        a, b = x(d), x(e)
        w = (b - a) * share
        top, bottom = sorted((y(v), zero))
        if bottom - top < 1.5:
            top, bottom = (zero - 1.5, zero) if v >= 0 else (zero, zero + 1.5)
        out.append({"x": round(a + (b - a - w) / 2, 2), "width": round(max(w, 1.0), 2), "y": round(top, 2),
                    "height": round(bottom - top, 2), "value": v})
    return out


def shaded_runs(flags: list[bool], starts: list[date], ends: list[date], x, words: str) -> list[dict]:
    """One shaded band per run of consecutive flagged periods, from the first one's start to the
    last one's end, with `words` in its tooltip."""
    return [{"x": round(x(starts[a]), 2), "width": round(x(ends[b]) - x(starts[a]), 2),
             "tip": f"{starts[a].isoformat()} – {ends[b].isoformat()}: {words}"} for a, b in runs(flags)]


def date_ticks(dates: list[date], x, room: float, label_width: float = 70.0) -> list[dict]:
    """Labels at every k-th rebalance date, k as small as fits `room` px with `label_width` each."""
    if not dates:
        return []
    most = max(1, int(room // label_width))
    step = max(1, math.ceil(len(dates) / most))
    return [{"x": round(x(d), 2), "text": d.isoformat()} for d in dates[::step]]


def value_ticks(ticks: list[float], y, as_percent: bool) -> list[dict]:
    """`ticks` (from `nice_ticks`) placed by `y`, labelled as percentages or plain numbers with
    the decimals the step needs; never "-0"."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    unit = step * 100 if as_percent else step
    decimals = next((d for d in range(5) if abs(round(unit, d) - unit) < 1e-9), 4)
    out = []
    for t in ticks:
        text = f"{t * 100 if as_percent else t:.{decimals}f}"
        text = ("0" if float(text) == 0 else text) + ("%" if as_percent else "")
        out.append({"y": round(y(t), 2), "value": t, "text": text})
    return out


def spread_labels(labels: list[dict], lo: float, hi: float, gap: float = 12.0) -> list[dict]:
    """Move end-of-line labels (dicts with "y") apart by at least `gap`, keeping them within
    [lo, hi] and in their order; returns them sorted by y."""
    items = sorted(labels, key=lambda d: d["y"])
    for i in range(1, len(items)):
        items[i]["y"] = max(items[i]["y"], items[i - 1]["y"] + gap)
    overflow = items[-1]["y"] - hi if items else 0
    if overflow > 0:
        for it in items:
            it["y"] -= overflow
    for i in range(len(items) - 2, -1, -1):
        items[i]["y"] = min(items[i]["y"], items[i + 1]["y"] - gap)
    for it in items:
        it["y"] = round(max(it["y"], lo), 2)
    return items


# ---------------------------------------------------------------- the page


@dataclass(frozen=True)
class Axes:
    """What every section's charts share, so the rules compare by eye."""

    first: date
    last: date
    cumulative: tuple[float, float]
    ic: tuple[float, float]
    turnover: tuple[float, float]
    buckets: tuple[float, float]
    width: float


def render_tearsheet(results: list, lang: str = "en", generated_at: datetime | None = None) -> bytes:
    """The tear sheet of one or several `BacktestResult`s as one self-contained HTML page (UTF-8).

    `lang` "zh" translates the page's own words; `generated_at` defaults to now (UTC). Raises
    ValueError for no result."""
    if not results:
        raise ValueError("render_tearsheet needs at least one BacktestResult")
    lang = "zh" if lang == "zh" else "en"
    if generated_at is None:
        generated_at = datetime.now(timezone.utc).replace(microsecond=0)
    template = _environment().get_template(TEMPLATE)
    return template.render(**page(results, lang, generated_at)).encode("utf-8")


@lru_cache(maxsize=1)
def _environment():
    """Jinja2 with the package's templates, autoescape always on, undefined names an error."""
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("screener.outputs", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              finalize=template_text)


def page(results: list, lang: str, generated_at: datetime) -> dict:
    """Everything the template shows, as plain values."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    axes = shared_axes(results)
    names = [rule_title(r) for r in results]
    first, last = axes.first, axes.last
    up, down = UP_DOWN[lang]
    return {
        "lang": lang,
        "t": t,
        "colours": {"up": up, "down": down, "watchlist": WATCHLIST_COLOUR, "benchmark": BENCHMARK_COLOUR},
        "title": " · ".join(r.rule_name for r in results),
        "dates": {"first": first.isoformat(), "last": last.isoformat(),
                  "every": ", ".join(sorted({every_words(r.every, lang) for r in results}))},
        "generated_at": iso(generated_at),
        "notices": notices_view(results, names),
        "summary": summary_view(results, names, lang),
        "columns": 1 if len(results) == 1 else 2,
        "rules": [rule_view(i + 1, r, names[i], axes, lang) for i, r in enumerate(results)],
    }


def rule_title(result) -> dict:
    """How a rule is named on the page: its name and its file (two versions of one rule may
    share a name)."""
    return {"name": result.rule_name, "file": Path(result.rule).name, "path": result.rule}


def notices_view(results: list, names: list[dict]) -> dict:
    """Every distinct notice and warning, in the order first met; `rules` names the rules that
    carry it when that is not all of them. The snapshot's sample-data notice is `sample`."""
    sample_texts = {r.data.get("notice") for r in results if r.sample and r.data.get("notice")}
    seen: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        for kind, texts in (("notice", r.notices), ("warning", r.warnings)):
            for text in texts:
                seen.setdefault((kind, text), []).append(i)
    items = []
    for (kind, text), owners in seen.items():
        if text in sample_texts:
            continue
        partial = len(results) > 1 and len(owners) < len(results)
        items.append({"kind": kind, "text": text, "rules": [names[i]["file"] for i in owners] if partial else [],
                      "alarm": kind == "warning" or _alarming(text, [results[i] for i in owners])})
    return {"sample": sorted(sample_texts), "entries": items}


def every_words(every: str | None, lang: str) -> str:
    """"every month" (每月末), ...; "--dates" for explicit dates."""
    return phrase(f"every {every}", lang) if every else "--dates"


def _alarming(text: str, results: list) -> bool:
    """Whether a notice is one that changes how far the numbers can be trusted (styled as an
    alarm): undated membership, pins applied at past dates, or returns that were missing."""
    from screener.backtesting.run import PINS_NOTICE, UNDATED_NOTICE

    if text.startswith(UNDATED_NOTICE.split("{")[0]) or text == PINS_NOTICE:
        return True
    return any(missing_counts(r)[0] for r in results) and "missing" in text


def membership_words(result) -> str:
    """How dated the universe's membership is, in words: "all rows dated", "none: today's
    constituents at every date", or the detail ("some (3 of 20 rows undated)")."""
    return {"all": "all rows dated", "none": "none: today's constituents at every date"}.get(
        result.membership_dates, result.membership_detail)


def missing_counts(result) -> tuple[int, int]:
    """(member forward returns missing, member forward returns needed) over every period."""
    missing = sum(result.periods["missing_returns"].to_list()) if result.periods.height else 0
    members = sum(len(m) for m in result.periods["members"].to_list()) if result.periods.height else 0
    return int(missing), int(members)


def summary_view(results: list, names: list[dict], lang: str) -> dict:
    """The rules side by side: data caveats first, then DESIGN's summary figures. A figure no
    rule has (net cumulative without costs) is left out; one only some have shows "—"."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    rows = []
    dating = [{"text": t(membership_words(r)), "cls": "" if r.membership_dates == "all" else "alarm"}
              for r in results]
    rows.append({"key": "membership_dates", "label": t("membership dates"), "cells": dating})
    cells = []
    for r in results:
        missing, members = missing_counts(r)
        cells.append({"text": f"{missing} / {members}", "cls": "alarm" if missing else ""})
    rows.append({"key": "missing_returns", "label": t("missing member returns"), "cells": cells})
    for key, words, kind in SUMMARY_ROWS:
        if not any(key in r.summary for r in results):
            continue
        label = t(words)
        if key == "watchlist_net_cumulative":
            costs = sorted({f"{r.cost_bps:g}" for r in results if r.cost_bps is not None})
            label += f" ({', '.join(costs)} bps)"
        cells = []
        for r in results:
            value = r.summary.get(key)
            cls = sign(value) if kind == "return" else "alarm" if key == "null_periods" and value else ""
            cells.append({"text": figure(value, kind), "value": value, "cls": cls})
        rows.append({"key": key, "label": label, "cells": cells})
    return {"rules": names, "rows": rows}


def shared_axes(results: list) -> Axes:
    """The x range (first to last date over every result) and each chart kind's y range over
    every result (always including 0)."""
    first = min(r.dates[0] for r in results)
    last = max(r.dates[-1] for r in results)
    cum, ics, turns, buckets = [0.0], [0.0], [0.0], [0.0]
    for r in results:
        p = r.periods
        cum += cumulative_curve(p["watchlist_return"].to_list()) + cumulative_curve(p["benchmark_return"].to_list())
        if "watchlist_net_return" in p.columns:
            cum += cumulative_curve(p["watchlist_net_return"].to_list())
        ics += [v for v in p["ic"].to_list() if v is not None]
        turns += [v for v in p["turnover"].to_list() if v is not None]
        buckets += [m for m, _ in bucket_means(p["buckets"].to_list(), r.buckets) if m is not None]
    width = 1180.0 if len(results) == 1 else 580.0
    return Axes(first, last, (min(cum), max(cum)), (min(ics), max(ics)), (0.0, max(turns) or 0.1),
                (min(buckets), max(buckets)), width)


def rule_view(n: int, result, name: dict, axes: Axes, lang: str) -> dict:
    """One rule's section."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    missing, members = missing_counts(result)
    ics = [v for v in result.periods["ic"].to_list() if v is not None]
    return {
        "n": n,
        "name": name,
        "facts": {"membership": t(membership_words(result)), "membership_all": result.membership_dates == "all",
                  "missing": missing, "members": members,
                  "periods": result.summary.get("periods", result.periods.height),
                  "null_periods": result.summary.get("null_periods", 0), "ic_periods": len(ics)},
        "cumulative": cumulative_chart(result, axes, lang),
        "buckets": bucket_chart(result, axes, lang),
        "ic": ic_chart(result, axes, lang),
        "turnover": turnover_chart(result, axes, lang),
        "components": components_view(result),
        "periods": periods_view(result),
        "provenance": provenance_view(result, lang),
        "rule_text": result.rule_text,
    }


def _x_axis(axes: Axes, box: Box):
    return time_scale(axes.first, axes.last, box)


def cumulative_chart(result, axes: Axes, lang: str) -> dict:
    """Watchlist, benchmark and (with costs) net curves: n + 1 points each, the first at 0 on the
    first date; null-return periods shaded; each curve's last value labelled at its end."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    box = Box(axes.width, 240, 52, 84, 12, 28)
    p = result.periods
    starts, ends = p["date"].to_list(), p["end"].to_list()
    x = _x_axis(axes, box)
    lo, hi = axes.cumulative
    ticks = nice_ticks(lo, hi, 6)
    y = scale(ticks[0], ticks[-1], box.y1, box.y0)
    xs = [x(starts[0])] + [x(e) for e in ends] if starts else []
    series = [("watchlist", t("watchlist"), p["watchlist_return"].to_list()),
              ("benchmark", t("benchmark") if result.benchmark is None else result.benchmark,
               p["benchmark_return"].to_list())]
    if "watchlist_net_return" in p.columns:
        series.append(("net", f"{t('net of costs')} ({result.cost_bps:g} bps)", p["watchlist_net_return"].to_list()))
    lines, labels = [], []
    for key, words, returns in series:
        curve = cumulative_curve(returns)
        pts = list(zip(xs, (y(v) for v in curve)))
        # markers on the watchlist curve; hollow after a period without a return (counted as 0)
        hollow = [False, *(r is None for r in returns)]
        lines.append({"key": key, "label": words, "d": path_d(pts), "count": len(pts),
                      "points": [{"x": round(a, 2), "y": round(b, 2), "hollow": h,
                                  "tip": f"{d.isoformat()}: {percent(v, signed=True)}"
                                         + (f" ({t('no member had a return (counted as 0)')})" if h else "")}
                                 for (a, b), d, v, h in zip(pts, [starts[0], *ends], curve, hollow)]
                      if key == "watchlist" else []})
        if curve:
            labels.append({"key": key, "y": y(curve[-1]) + 4, "text": percent(curve[-1], signed=True)})
    shaded = shaded_runs([r is None for r in p["watchlist_return"].to_list()], starts, ends, x,
                         t("no member had a return (counted as 0)"))
    return {"box": box, "lines": lines, "shaded": shaded, "zero": round(y(0.0), 2),
            "labels": spread_labels(labels, box.y0 + 8, box.y1),
            "y_ticks": value_ticks(ticks, y, True),
            "x_ticks": date_ticks([*starts[:1], *ends], x, box.x1 - box.x0)}


def bucket_chart(result, axes: Axes, lang: str) -> dict:
    """Mean return of each bucket over the periods, bucket 1 (best composite) first; a bucket
    with no return in any period has no bar."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    box = Box(axes.width, 200, 52, 12, 18, 40)
    means = bucket_means(result.periods["buckets"].to_list(), result.buckets)
    lo, hi = axes.buckets
    ticks = nice_ticks(lo, hi + (hi - lo) * 0.1, 5)  # room for the labels above the bars
    y = scale(ticks[0], ticks[-1], box.y1, box.y0)
    band = (box.x1 - box.x0) / result.buckets
    zero = y(0.0)
    bars = []
    for i, (m, count) in enumerate(means):
        cx = box.x0 + band * (i + 0.5)
        w = min(band * 0.62, 90.0)
        bar = {"n": i + 1, "cx": round(cx, 2), "text": percent(m, signed=True), "periods": count,
               "caption": t("best") if i == 0 else t("worst") if i == result.buckets - 1 else ""}
        if m is not None:
            top, bottom = sorted((y(m), zero))
            bar.update({"x": round(cx - w / 2, 2), "width": round(w, 2), "y": round(top, 2),
                        "height": round(bottom - top, 2), "cls": sign(m),
                        "label_y": round(top - 4 if m >= 0 else zero - 4, 2)})  # a fall's label above zero
        else:
            bar.update({"x": None, "label_y": round(zero - 4, 2)})
        bar["tip"] = (f"{t('bucket')} {i + 1}: {bar['text']} "
                      f"({t('mean over')} {count} {t('periods with a return')})")
        bars.append(bar)
    first, last = means[0][0], means[-1][0]
    return {"box": box, "bars": bars, "zero": round(zero, 2), "y_ticks": value_ticks(ticks, y, True),
            "spread": spread_words(first, last, result.buckets, lang),
            "count": result.buckets}


def spread_words(first: float | None, last: float | None, buckets: int, lang: str) -> str | None:
    """"Bucket 1 minus bucket 5: +7.2% per period." (None when either bucket has no mean)."""
    if first is None or last is None:
        return None
    value = percent(first - last, signed=True)
    if lang == "zh":
        return f"第 1 组减第 {buckets} 组：每期 {value}。"
    return f"Bucket 1 minus bucket {buckets}: {value} per period."


def ic_chart(result, axes: Axes, lang: str) -> dict:
    """One bar per period with an IC, at its period on the time axis; null ICs shaded, never
    drawn as 0; the mean IC as a dashed line."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    box = Box(axes.width, 170, 52, 84, 10, 28)
    p = result.periods
    starts, ends, ics = p["date"].to_list(), p["end"].to_list(), p["ic"].to_list()
    x = _x_axis(axes, box)
    lo, hi = axes.ic
    ticks = nice_ticks(lo, hi, 4)
    y = scale(ticks[0], ticks[-1], box.y1, box.y0)
    bars = []
    for b, d, e in zip(period_bars(ics, starts, ends, x, y), starts, ends):
        if b is not None:
            b.update({"date": d.isoformat(), "cls": "pos" if b["value"] >= 0 else "neg",
                      "tip": f"{d.isoformat()} – {e.isoformat()}: IC {figure(b['value'], 'ic')}"})
            bars.append(b)
    gaps = shaded_runs([v is None for v in ics], starts, ends, x,
                       t("no IC (fewer than 3 passers with a return, or a constant series)"))
    mean = result.summary.get("ic_mean")
    return {"box": box, "bars": bars, "gaps": gaps, "zero": round(y(0.0), 2),
            "mean": None if mean is None else {"y": round(y(mean), 2), "text": f"{t('mean')} {figure(mean, 'ic')}"},
            "y_ticks": value_ticks(ticks, y, False),
            "x_ticks": date_ticks([*starts[:1], *ends], x, box.x1 - box.x0)}


def turnover_chart(result, axes: Axes, lang: str) -> dict:
    """One bar per period with a turnover (none for the first period or an empty watchlist)."""
    box = Box(axes.width, 130, 52, 84, 10, 28)
    p = result.periods
    starts, ends, turns = p["date"].to_list(), p["end"].to_list(), p["turnover"].to_list()
    x = _x_axis(axes, box)
    ticks = nice_ticks(0.0, axes.turnover[1], 2)
    y = scale(ticks[0], ticks[-1], box.y1, box.y0)
    bars = []
    for b, d, e in zip(period_bars(turns, starts, ends, x, y), starts, ends):
        if b is not None:
            b.update({"date": d.isoformat(), "tip": f"{d.isoformat()} – {e.isoformat()}: {percent(b['value'])}"})
            bars.append(b)
    mean = result.summary.get("turnover_mean")
    return {"box": box, "bars": bars, "zero": round(y(0.0), 2),
            "mean": None if mean is None else {"y": round(y(mean), 2),
                                               "text": f"{phrase('mean', lang)} {percent(mean)}"},
            "y_ticks": value_ticks(ticks, y, True),
            "x_ticks": date_ticks([*starts[:1], *ends], x, box.x1 - box.x0)}


def components_view(result) -> list[dict]:
    """Each score component's IC mean and IR, and in how many periods it had an IC."""
    out = []
    for name, v in result.components.items():
        col = result.component_ic[name].to_list() if name in result.component_ic.columns else []
        mean = v.get("ic_mean")
        out.append({"name": name, "ic_mean": figure(mean, "ic"), "ic_ir": figure(v.get("ic_ir"), "ratio"),
                    "periods": sum(1 for c in col if c is not None),
                    "bar": None if mean is None else {"left": round(50 + min(mean, 0) * 50, 1),
                                                      "width": round(abs(mean) * 50, 1), "cls": sign(mean)}})
    return out


def periods_view(result) -> dict:
    """The per-period table: formatted cells, the raw values kept for tests and titles."""
    p = result.periods
    net = "watchlist_net_return" in p.columns
    rows = []
    for r in p.iter_rows(named=True):
        members = r["members"] or []
        cells = [
            {"key": "date", "text": r["date"].isoformat(), "cls": "d"},
            {"key": "end", "text": r["end"].isoformat(), "cls": "d"},
            {"key": "members", "text": str(len(members)), "cls": "num", "tip": ", ".join(members)},
            {"key": "watchlist_return", "text": percent(r["watchlist_return"], signed=True),
             "cls": f"num {sign(r['watchlist_return'])}"},
            {"key": "benchmark_return", "text": percent(r["benchmark_return"], signed=True),
             "cls": f"num {sign(r['benchmark_return'])}"},
        ]
        if net:
            cells.append({"key": "watchlist_net_return", "text": percent(r["watchlist_net_return"], signed=True),
                          "cls": f"num {sign(r['watchlist_net_return'])}"})
        cells += [
            {"key": "ic", "text": figure(r["ic"], "ic"), "cls": "num"},
            {"key": "turnover", "text": percent(r["turnover"]), "cls": "num"},
            {"key": "missing_returns", "text": str(r["missing_returns"]),
             "cls": "num alarm" if r["missing_returns"] else "num"},
        ]
        for c in cells:
            c.setdefault("tip", None)
        rows.append({"date": r["date"].isoformat(), "null": r["watchlist_return"] is None, "cells": cells})
    headers = ["date", "end", "members", "watchlist", "benchmark", *(["net"] if net else []), "IC", "turnover",
               "missing returns"]
    return {"headers": headers, "rows": rows}


def provenance_view(result, lang: str) -> list[dict]:
    """Where the numbers come from: the snapshot, the dates and options, the rule file."""
    t = lambda words: phrase(words, lang)  # noqa: E731
    d = result.dates
    if result.every:
        dates = f"{result.start} → {result.end}, {every_words(result.every, lang)}: {len(d)} {t('dates')}"
    else:
        dates = f"--dates: {len(d)} {t('dates')}"
    dates += f" ({d[0].isoformat()} … {d[-1].isoformat()})"
    facts = [
        ("data folder", result.data.get("folder") or NULL, True),
        ("fingerprint", result.data.get("fingerprint") or NULL, True),
        ("sample data", t("yes") if result.sample else t("no"), False),
        ("rebalance dates", dates, False),
        ("buckets", str(result.buckets), False),
        ("costs", f"{result.cost_bps:g} bps" if result.cost_bps is not None else t("none"), False),
        ("benchmark", result.benchmark or t("equal-weight listed members of the rule's universes"), False),
        ("pins", t("applied at every date") if result.pins else t("ignored"), False),
        ("membership dates", result.membership_detail, False),
        ("rule file", result.rule, True),
    ]
    return [{"label": t(k), "text": v, "mono": mono} for k, v, mono in facts]
