"""A file's header row -> a `Layout`: which column gives which field, for which fiscal year, in
which unit and currency.

The header row is the first of the first 30 rows that holds a symbol header (`证券代码`, `代码`,
...; for `generic` the configured one). A header is matched by its normalised name, exactly,
against the aliases of the source's profile; a header that matches nothing is ignored and listed
in the notes. Two headers that give the same field for the same year (or rater) are an error, as
is a forecast column with no year at all. For `generic`, every header the config names must be
in the file.

Fiscal years (consensus). `[年度] 2026` (or a year in the name) gives the year directly. `FYn` is
`FY1 + n - 1`, where FY1 is the first fiscal year not yet reported: the year after the newest
reported-EPS column in the file (`每股收益EPS(基本) [报告期] 2025年报` -> FY1 = 2026); with no
reported column, `as_of.year` when `--as-of` is after April 30 (A-share annual reports are due by
April 30) and `as_of.year - 1` on or before it. The rule is the A-share one for every market; a
file whose FY1 means something else should carry `[年度]` headers. A reported column gives
`actual = true` for its year; forecast columns give `actual = false`.

Units: the config's unit for a generic column, else the header's, becomes the column's scale
(see `units`); a unit that is not one is an error. Net profit or revenue columns with no EPS
column for the same year are ignored with a note (the snapshot row needs EPS).

Nulls and empty input: a header with an empty name is skipped. No value column at all (no EPS,
no close, no rating) is a `nothing-usable` problem naming the headers found and expected.
Ties: a header whose key is an alias of two fields gives the first field the profile lists; a
rating column beside `ESG评分` demotes `ESG评分` to ignored. Problems are collected in
`Layout.problems`, never raised here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from screener.data.imports.headers import Header, normalise_header
from screener.data.imports.profiles import (NUMERIC, expected_headers, generic_headers, generic_profile, header_rater,
                                            other_source_hint, profile)
from screener.data.imports.units import parse_unit
from screener.problems import Problem, suggestion

__all__ = ["Col", "Layout", "find_header_row", "fy1", "build_layout"]


@dataclass(frozen=True)
class Col:
    """A data column and what it gives."""

    header: Header
    field: str  # eps, net_profit, revenue, analysts, currency, fiscal_year, actual, close, market_cap, rating, rater, name
    actual: bool | None = None  # consensus value columns: reported (True) / forecast (False) / from the row (None)
    year: int | None = None  # resolved fiscal year, None: from the row's fiscal_year column
    rater: str | None = None  # ESG rating columns that name their rater
    scale: Decimal = Decimal(1)
    currency: str | None = None


@dataclass
class Layout:
    """The symbol column, the columns used, and the problems and notes found."""

    symbol: Header
    cols: list[Col]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _match(header: Header, fields: dict[str, tuple[str, ...]]) -> str | None:
    for fld, aliases in fields.items():
        if header.key in aliases:
            return fld
    return None


def fy1(as_of: date, reported: list[int]) -> int:
    """The first fiscal year not yet reported: after the newest reported year in the file; else
    this year once A-share annual reports are due (after April 30), last year before that."""
    if reported:
        return max(reported) + 1
    return as_of.year if (as_of.month, as_of.day) > (4, 30) else as_of.year - 1


def find_header_row(rows: list[list[str]], fields: dict[str, tuple[str, ...]]) -> int | None:
    """The index of the first of the first 30 rows holding a symbol header; None when none does."""
    symbol_keys = fields["symbol"]
    for i, row in enumerate(rows[:30]):
        if any(normalise_header(c).key in symbol_keys for c in row if c):
            return i
    return None


def build_layout(headers: list[Header], source: str, kind: str, config, as_of: date, rater: str | None,
                 shown: str) -> Layout:
    """Map headers to fields, resolve fiscal years and units; structural problems are collected."""
    fields = profile(source, kind, config)
    units = generic_profile(kind, config)[1] if source == "generic" else {}
    symbol = next(h for h in headers if h.key in fields["symbol"])
    cols: list[Col] = []
    ignored: list[Header] = []
    problems: list[Problem] = []
    notes: list[str] = []
    matched: list[tuple[Header, str]] = []
    for h in headers:
        if h is symbol or not h.key:
            continue
        fld = _match(h, fields)
        if fld is None and kind == "esg" and source != "generic":
            named = header_rater(h)
            if named is not None:
                cols.append(Col(h, "rating", rater=named))
                continue
        if fld is None or fld == "symbol":  # a second code column is ignored
            ignored.append(h)
            continue
        matched.append((h, fld))

    if source == "generic":  # every header the config names must be in the file
        found = {f for _, f in matched} | {"symbol"}
        for col in fields:
            if col not in found:
                want = next((h for h in generic_headers(config, kind) if normalise_header(h).key == fields[col][0]),
                            fields[col][0])
                problems.append(Problem("missing-header", f"the config maps `{col}` to the header `{want}`, which the "
                                        "file does not have", shown,
                                        hint=suggestion(want, [h.shown for h in headers if h.shown], "header")))

    if kind == "esg" and (any(f == "rating" for _, f in matched) or any(c.field == "rating" for c in cols)):
        demoted = [h for h, f in matched if f == "rating?"]
        ignored.extend(demoted)
        matched = [(h, f) for h, f in matched if f != "rating?"]

    reported_years = [h.year for h, f in matched if f == "eps!" and h.year is not None]
    first_forecast = fy1(as_of, reported_years)
    has_year_col = any(f == "fiscal_year" for _, f in matched)
    for h, fld in matched:
        if fld == "name":
            continue
        actual: bool | None = None
        base = fld
        if kind == "consensus" and fld in ("eps", "net_profit", "revenue", "eps!", "net_profit!", "revenue!"):
            base = fld.rstrip("!")
            actual = fld.endswith("!") if source != "generic" else None
        if fld == "rating?":
            base = "rating"
        year = h.year
        if kind == "consensus" and source != "generic" and base in ("eps", "net_profit", "revenue", "analysts"):
            if year is None and h.fy is not None:
                if actual:
                    problems.append(Problem("no-year", f"column `{h.shown}`: a reported value needs its year, "
                                            "not FY" + str(h.fy), shown, hint="export it with [报告期] 2025年报"))
                    continue
                year = first_forecast + h.fy - 1
            if year is None and base != "analysts" and not has_year_col:
                problems.append(Problem("no-year", f"column `{h.shown}` says no fiscal year", shown,
                                        hint="export it with a year parameter: (FY1), [年度] 2026 or [报告期] 2025年报"))
                continue
        scale, cur = Decimal(1), h.currency
        unit = units.get(base) or h.unit
        if unit and base in NUMERIC:
            parsed = parse_unit(unit)
            if parsed is None:
                problems.append(Problem("bad-unit", f"column `{h.shown}`: unknown unit {unit!r}", shown,
                                        hint="units read: 元, 千元, 万元, 百万元, 亿元, %, 股, 万股, 分"))
                continue
            scale, cur = parsed[0], parsed[1] or cur
        cols.append(Col(h, base, actual, year, None, scale, cur))
        if h.date and h.date != as_of.isoformat():
            notes.append(f"column `{h.shown}` is as of {h.date}; imported as of {as_of.isoformat()}")

    # two headers giving the same thing
    seen: dict[tuple, Header] = {}
    for c in cols:
        k = (c.field, c.year, c.actual, c.rater)
        if k in seen:
            what = c.field + (f" for {c.year}" if c.year else "") + (f" ({c.rater})" if c.rater else "")
            problems.append(Problem("ambiguous-column", f"columns `{seen[k].shown}` and `{c.header.shown}` both give "
                                    f"{what}", shown, hint="delete one of them from the file"))
        else:
            seen[k] = c.header

    values = [c for c in cols if c.field in ("eps", "close", "rating", "net_profit", "revenue", "market_cap")]
    if kind == "consensus":
        eps_keys = {(c.year, c.actual) for c in cols if c.field == "eps"}
        kept = []
        for c in cols:
            if c.field in ("net_profit", "revenue") and (c.year, c.actual) not in eps_keys:
                notes.append(f"column `{c.header.shown}` ignored: no EPS column for the same year")
                continue
            kept.append(c)
        cols = kept
        if not any(c.field == "eps" for c in cols):
            values = []
    elif kind == "prices" and not any(c.field == "close" for c in cols):
        values = []
    elif kind == "esg":
        if not any(c.field == "rating" for c in cols):
            values = []
        elif any(c.field == "rating" and c.rater is None for c in cols) and not any(c.field == "rater" for c in cols) \
                and not rater:
            problems.append(Problem("no-rater", "the ESG file names no rater (no 评级机构 column, no rater in the "
                                    "rating header)", shown, hint="say who rated: --rater 华证 (or --rater MSCI ...)"))
    if not values and not problems:
        expected = expected_headers(source, kind, config)
        problems.append(Problem("nothing-usable", f"no {kind} value column found; headers found: "
                                + ", ".join(f"`{h.shown}`" for h in headers if h.shown), shown,
                                hint=f"{source} {kind} headers read: {expected}"
                                + other_source_hint(headers, source, kind)))
    ignored_shown = [h.shown for h in ignored if h.key not in fields.get("name", ())]
    if ignored_shown:
        notes.append("columns ignored: " + ", ".join(f"`{s}`" for s in ignored_shown)
                     + other_source_hint(ignored, source, kind))
    return Layout(symbol, cols, problems, notes)
