"""Exchange trading days for scheduled jobs: XSHG (Shanghai, Shenzhen and Beijing), XHKG, XNYS.

Where an answer comes from, for one calendar and one day, first match wins:

1. **override** (`source` "override", never provisional): the day is in the closures file's
   `closed` list (closed), or its year is in `complete_years` (then the file is the whole truth
   for that year: closed when listed or on a weekend, open on every other weekday).
2. **exchange_calendars** (never provisional): the day lies inside the range exchange_calendars
   can build for that calendar, clamped to 1990-01-01 .. 2100-12-31. XSHG there is a hard-coded
   list of official closures that ends on 2026-12-31 (the bound is read from the library, so a
   newer release that extends the list moves it); XHKG's lunar tables end on 2049-12-31; XNYS
   is rule-based without an end. Built once per calendar, with explicit dates, so the answer
   never depends on today's date.
3. **holidays (provisional)**: the `holidays` package's `financial_holidays(name)`, rule-based
   for future years (Spring Festival, National Day ... extrapolated by rule, not announced):
   open on a weekday that is not one of its holidays. XSHG from 2001, XHKG from 2014, XNYS from
   1863, each up to 2100.
4. **weekdays (provisional)**: nothing else knows the year (or a library failed): Monday to
   Friday are open.

Weekends are never trading days on these exchanges: a Chinese make-up working day (调休, a
Saturday or Sunday worked in exchange for a holiday) is not a trading day, so the closures file
has no `open` list. To correct a rule-based year that closes a day the exchange keeps open,
list the year's official closures and add the year to `complete_years`.

`is_open` never raises for any `date` (1990..2100 and beyond): a library that fails is logged
once and the next source answers. Results are cached per calendar and year: after the first
look-up of a year, a look-up is two dictionary reads. exchange_calendars (~0.4 s to import) and
holidays are imported on first use, never at CLI start-up.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from screener.problems import InputError, Problem, line_col, suggestion
from screener.rules.tomlpos import TomlText, toml_error_position

log = logging.getLogger(__name__)

CALENDARS = ("XSHG", "XHKG", "XNYS")

SOURCE_OVERRIDE = "override"
SOURCE_EXCHANGE = "exchange_calendars"
SOURCE_HOLIDAYS = "holidays (provisional)"
SOURCE_WEEKDAYS = "weekdays (provisional)"
PROVISIONAL_SOURCES = (SOURCE_HOLIDAYS, SOURCE_WEEKDAYS)

# exchange_calendars is asked for this range at most (its own bounds may narrow it).
_XC_FIRST = date(1990, 1, 1)
_XC_LAST = date(2100, 12, 31)
# `holidays.financial_holidays` market codes.
_HOLIDAYS_MARKET = {"XSHG": "XSHG", "XHKG": "XHKG", "XNYS": "XNYS"}
# Names people write for these markets, for hints only (never accepted silently).
_ALIASES = {
    "XSHE": "XSHG", "SZSE": "XSHG", "SSE": "XSHG", "SHSE": "XSHG", "XBSE": "XSHG", "BSE": "XSHG",
    "BJSE": "XSHG", "XBEI": "XSHG", "SH": "XSHG", "SZ": "XSHG", "BJ": "XSHG", "CN": "XSHG",
    "HKEX": "XHKG", "SEHK": "XHKG", "HK": "XHKG",
    "NYSE": "XNYS", "XNAS": "XNYS", "NASDAQ": "XNYS", "US": "XNYS",
}
_MARKETS = {"XSHG": "Shanghai, Shenzhen and Beijing", "XHKG": "Hong Kong", "XNYS": "New York (NYSE and Nasdaq)"}
_MAX_SEARCH_DAYS = 3660  # next_open gives up after ten years of closed days


class CalendarError(ValueError):
    """An unknown calendar name. `message` lists the known calendars, `hint` says what to write."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)


def calendar_hint(name: str) -> str:
    """What to write instead of an unknown calendar `name` (alias, did-you-mean, or the list)."""
    target = _ALIASES.get(str(name).strip().upper())
    if target is not None:
        return f"use `{target}` for {_MARKETS[target]} (one trading calendar for all of them)"
    return suggestion(str(name), CALENDARS, "calendar")


def check_name(name: Any) -> str:
    """`name` if it is a known calendar, else `CalendarError` (case matters: `XSHG`, not `xshg`)."""
    if isinstance(name, str) and name in CALENDARS:
        return name
    known = ", ".join(CALENDARS)
    raise CalendarError(f"unknown calendar {name!r} (known calendars: {known})", calendar_hint(str(name)))


# -- overrides ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closures:
    """Official closures for one calendar, from the closures file; they win over both libraries.

    `closed`: days the exchange announced closed (weekends may be listed; they are closed anyway).
    `complete_years`: years whose every weekday closure is in `closed`: in those years a weekday
    not listed is open, and nothing is provisional.
    """

    closed: frozenset[date] = frozenset()
    complete_years: frozenset[int] = frozenset()


_CLOSURE_KEYS = ("closed", "complete_years")
_RANGE_SEP = ".."
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_RANGE_DAYS = 366


def load_closures(path: str | Path) -> dict[str, Closures]:
    """Read a closures file: one table per calendar, e.g.

        [XSHG]
        closed = ["2027-02-08", "2027-02-09", "2027-02-10..2027-02-12"]  # quoted or bare TOML dates
        complete_years = [2027]   # optional: `closed` holds every closure of 2027

    An item `"A..B"` closes every day from A to B inclusive (at most a year), as the exchanges'
    notices are written ("closed from 6 to 14 February"). Returns the calendars present (an empty
    table gives an empty `Closures`). Raises `InputError` with every problem, each at its
    file:line:col: TOML errors, unknown calendars or keys, bad dates, reversed ranges, a year in
    `complete_years` with no closed day in it, and `open` (not supported, the message says why).
    """
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem("no-file", f"no closures file at {shown}", shown, hint=(
            "create it ([XSHG] closed = [\"2027-02-08\"]) or remove `closures` from [schedule]"))]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError([Problem("unreadable", f"cannot read the closures file: {e}", shown)]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg, line, col = toml_error_position(str(e))
        toml = TomlText(text)
        if line is None:  # "(at end of document)": an unclosed bracket or quote; show the last line
            msg = msg.replace("(at end of document)", "").strip() + " at the end of the file"
            line = max((i + 1 for i, ln in enumerate(toml.lines) if ln.strip()), default=1)
        raise InputError([Problem("toml", f"not valid TOML: {msg}", shown, line, col,
                                  "check quotes and brackets", toml.source_line(line))]) from None

    toml = TomlText(text)
    problems: list[Problem] = []

    def problem(code: str, message: str, line: int, col: int | None, hint: str | None = None, width: int = 1):
        problems.append(Problem(code, message, shown, line, col, hint, toml.source_line(line), width))

    out: dict[str, Closures] = {}
    for name, table in data.items():
        if name not in CALENDARS:
            pos = toml.key("", name) if not isinstance(table, dict) else None
            line = pos.line if pos else toml.table_line(name)
            problem("unknown-calendar", f"unknown calendar `{name}` (known calendars: {', '.join(CALENDARS)})",
                    line, pos.col if pos else 1, calendar_hint(name))
            continue
        if not isinstance(table, dict):
            pos = toml.key("", name)
            problem("bad-value", f"`{name}` must be a table of closures", pos.line, pos.col,
                    f'write [{name}] on its own line, then closed = ["2027-02-08"]')
            continue
        for key in table:
            if key in _CLOSURE_KEYS:
                continue
            pos = toml.key(name, key)
            if key == "open":
                problem("unsupported-key", f"`open` is not supported in [{name}]: no exchange here trades on a "
                        "weekend, and a Chinese make-up working day (调休) on a Saturday or Sunday is not a trading day",
                        pos.line, pos.col, "to correct a rule-based year that closes a day the exchange keeps open, list "
                        "that year's official closures in `closed` and add the year to `complete_years = [2027]`", 4)
            else:
                problem("unknown-key", f"unknown key `{key}` in [{name}]", pos.line, pos.col,
                        suggestion(key, _CLOSURE_KEYS, "key"), len(key))
        closed = _read_closed(name, table.get("closed", []), toml, problem)
        years = _read_years(name, table.get("complete_years", []), closed, toml, problem)
        out[name] = Closures(frozenset(closed), frozenset(years))
    if problems:
        raise InputError(problems)
    return out


def _read_closed(name: str, raw: Any, toml: TomlText, problem) -> set[date]:
    at = toml.value(name, "closed")
    if not isinstance(raw, list):
        problem("bad-value", f"[{name}] closed must be a list of dates", at.line, at.col,
                'closed = ["2027-02-08", "2027-02-09"]')
        return set()
    items = _array_items(toml, at.line, at.col)
    days: set[date] = set()
    for i, item in enumerate(raw):
        line, col, width = items[i] if i < len(items) else (at.line, at.col, 1)
        if isinstance(item, datetime):
            problem("bad-date", f"`{item.isoformat()}` has a time: closures are whole days", line, col,
                    f'write the date only: "{item.date().isoformat()}"', width)
        elif isinstance(item, date):
            days.add(item)
        elif isinstance(item, str):
            got = _parse_day_or_range(item.strip())
            if isinstance(got, str):
                problem("bad-date", got, line, col, 'write "YYYY-MM-DD" or a range "2027-02-06..2027-02-14"', width)
            else:
                days.update(got)
        else:
            problem("bad-date", f"{item!r} is not a date", line, col,
                    'write "YYYY-MM-DD" or a range "2027-02-06..2027-02-14"', width)
    return days


def _parse_day_or_range(text: str) -> list[date] | str:
    """The days of `"YYYY-MM-DD"` or `"A..B"`, or the message saying what is wrong."""
    if _RANGE_SEP in text:
        left, _, right = text.partition(_RANGE_SEP)
        first, last = _parse_day(left.strip()), _parse_day(right.strip())
        for got in (first, last):
            if isinstance(got, str):
                return got
        if last < first:
            return f"range `{text}` runs backwards: its end is before its start"
        if (last - first).days >= _MAX_RANGE_DAYS:
            return f"range `{text}` is longer than a year"
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    got = _parse_day(text)
    return got if isinstance(got, str) else [got]


def _parse_day(text: str) -> date | str:
    if not _DATE_TEXT.match(text):
        return f"`{text}` is not a date in the form YYYY-MM-DD"
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        return f"`{text}` is not a date: {e}"


def _read_years(name: str, raw: Any, closed: set[date], toml: TomlText, problem) -> set[int]:
    at = toml.value(name, "complete_years")
    if not isinstance(raw, list):
        problem("bad-value", f"[{name}] complete_years must be a list of years", at.line, at.col,
                "complete_years = [2027]")
        return set()
    items = _array_items(toml, at.line, at.col)
    closed_years = {d.year for d in closed}
    years: set[int] = set()
    for i, item in enumerate(raw):
        line, col, width = items[i] if i < len(items) else (at.line, at.col, 1)
        if isinstance(item, bool) or not isinstance(item, int) or not 1990 <= item <= 2100:
            problem("bad-value", f"{item!r} is not a year from 1990 to 2100", line, col,
                    "write the full year as a number: complete_years = [2027]", width)
        elif item not in closed_years:
            problem("bad-value", f"complete_years lists {item} but `closed` has no day in {item}", line, col,
                    f"list {item}'s official closures in `closed` (every year has some), or remove {item}", width)
        else:
            years.add(item)
    return years


def _array_items(toml: TomlText, line: int, col: int) -> list[tuple[int, int, int]]:
    """(line, col, width) of each top-level item of the TOML array whose `[` is at line:col.

    Skips strings (with escapes), comments and nested arrays; used only for error positions, so a
    layout it does not understand gives fewer items and the caller points at the array instead.
    """
    text = toml.text
    if not 0 < line <= len(toml.lines):
        return []
    offset = sum(len(ln) + 1 for ln in text.split("\n")[: line - 1]) + col - 1
    if offset >= len(text) or text[offset] != "[":
        return []
    items: list[tuple[int, int, int]] = []
    i, depth, start = offset + 1, 1, None
    n = len(text)

    def close_item(end: int):
        nonlocal start
        if start is not None:
            ln, c = line_col(text, start)
            items.append((ln, c, max(1, len(text[start:end].rstrip()))))
            start = None

    while i < n and depth > 0:
        ch = text[i]
        if ch == "#":
            close_item(i)
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch in "\"'":
            if start is None and depth == 1:
                start = i
            quote = ch
            i += 1
            while i < n and text[i] != quote and text[i] != "\n":
                i += 2 if (quote == '"' and text[i] == "\\") else 1
            i += 1
            continue
        if ch == "[":
            if start is None and depth == 1:
                start = i
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                close_item(i)
                break
        elif ch == "," and depth == 1:
            close_item(i)
        elif not ch.isspace() and start is None and depth == 1:
            start = i
        i += 1
    return items


# -- the calendar ------------------------------------------------------------------------------


class TradingCalendar:
    """One exchange's trading days, with optional official closures (see the module docstring).

    Methods take a `date` (a `datetime` counts as its date). None of them raises for any date,
    except `next_open` when no day is open for ten years (only possible with closures that close
    whole years).
    """

    def __init__(self, name: str, closures: Closures | None = None):
        self.name = check_name(name)
        self.closures = closures or Closures()
        self._years: dict[int, dict[date, tuple[bool, str]]] = {}
        self._lock = threading.Lock()

    def __reduce__(self):
        # pickles as "the shared calendar with these closures" (its lock and cache stay behind)
        return get_calendar, (self.name, self.closures)

    def __repr__(self) -> str:
        extra = f", {len(self.closures.closed)} override closures" if self.closures.closed else ""
        return f"TradingCalendar({self.name!r}{extra})"

    def is_open(self, day: date) -> bool:
        """Whether the exchange trades on `day` (see the module docstring for which source decides)."""
        return self._lookup(day)[0]

    def source(self, day: date) -> str:
        """Which source decided `day`: `SOURCE_OVERRIDE` ("override"), `SOURCE_EXCHANGE`
        ("exchange_calendars"), `SOURCE_HOLIDAYS` ("holidays (provisional)") or `SOURCE_WEEKDAYS`
        ("weekdays (provisional)")."""
        return self._lookup(day)[1]

    def is_provisional(self, day: date) -> bool:
        """True when the answer for `day` is rule-based (holidays package or plain weekdays): past the
        exchange_calendars bound and not decided by the closures file."""
        return self._lookup(day)[1] in PROVISIONAL_SOURCES

    def next_open(self, day: date) -> date:
        """The first open day on or after `day`. Raises `CalendarError` if none within ten years."""
        day = _as_date(day)
        for n in range(_MAX_SEARCH_DAYS):
            try:
                candidate = day + timedelta(days=n)
            except OverflowError:
                break
            if self.is_open(candidate):
                return candidate
        raise CalendarError(f"calendar {self.name} has no open day within ten years from {day.isoformat()}",
                            "check the closures file: `closed` or `complete_years` closes every day")

    def _lookup(self, day: date) -> tuple[bool, str]:
        day = _as_date(day)
        table = self._years.get(day.year)
        if table is None:
            with self._lock:
                table = self._years.get(day.year)
                if table is None:
                    table = self._build_year(day.year)
                    self._years[day.year] = table
        return table[day]

    def _build_year(self, year: int) -> dict[date, tuple[bool, str]]:
        xc = _exchange_sessions(self.name)
        fallback: frozenset[date] | None | bool = False  # False: not asked yet (holidays is imported only if needed)
        table: dict[date, tuple[bool, str]] = {}
        day = date(year, 1, 1)
        while day.year == year:
            weekday = day.weekday() < 5
            if day in self.closures.closed:
                table[day] = (False, SOURCE_OVERRIDE)
            elif year in self.closures.complete_years:
                table[day] = (weekday, SOURCE_OVERRIDE)
            elif xc is not None and xc[0] <= day <= xc[1]:
                table[day] = (day in xc[2], SOURCE_EXCHANGE)
            else:
                if fallback is False:
                    fallback = _fallback_closed(self.name, year)
                if fallback is not None:
                    table[day] = (weekday and day not in fallback, SOURCE_HOLIDAYS)
                else:
                    table[day] = (weekday, SOURCE_WEEKDAYS)
            if day == date.max:
                break
            day += timedelta(days=1)
        return table


def _as_date(day: date) -> date:
    if isinstance(day, datetime):
        return day.date()
    if not isinstance(day, date):
        raise TypeError(f"expected a date, got {type(day).__name__}")
    return day


def get_calendar(name: str, closures: Closures | None = None) -> TradingCalendar:
    """The calendar `name` with `closures` applied; one shared instance per (name, closures), so
    its per-year cache is shared too (empty closures count as none). Raises `CalendarError` for an
    unknown name."""
    if closures is not None and not (closures.closed or closures.complete_years):
        closures = None
    return _shared_calendar(check_name(name), closures)


@lru_cache(maxsize=None)
def _shared_calendar(name: str, closures: Closures | None) -> TradingCalendar:
    return TradingCalendar(name, closures)


# -- the libraries -----------------------------------------------------------------------------

_library_lock = threading.Lock()


@lru_cache(maxsize=None)
def _exchange_sessions(name: str) -> tuple[date, date, frozenset[date]] | None:
    """(first day covered, last day covered, sessions) from exchange_calendars, or None if it fails.

    The covered range is what we asked for (whole years, clamped to the library's bounds), not the
    first and last sessions, so a holiday on the last day of the range is still a known closure.
    """
    with _library_lock, warnings.catch_warnings():
        # its pandas deprecation warnings are not the user's to act on
        warnings.simplefilter("ignore")
        try:
            import exchange_calendars as xcals
            import pandas as pd

            dispatcher = xcals.calendar_utils.global_calendar_dispatcher
            cls = getattr(dispatcher, "_calendar_factories", {}).get(name)
            if cls is None:  # a release that reorganised its registry: an instance tells the class
                cls = type(xcals.get_calendar(name, start="2020-01-02", end="2020-12-31"))
            first, last = _XC_FIRST, _XC_LAST
            lo, hi = cls.bound_min(), cls.bound_max()
            if lo is not None:
                first = max(first, pd.Timestamp(lo).date())
            if hi is not None:
                last = min(last, pd.Timestamp(hi).date())
            if last < first:
                return None
            cal = xcals.get_calendar(name, start=first.isoformat(), end=last.isoformat())
            sessions = frozenset(ts.date() for ts in cal.sessions)
            return first, last, sessions
        except Exception as e:  # noqa: BLE001 - a library failure must never stop a job
            log.warning("exchange_calendars could not build %s (%s: %s); using the holidays package's rules",
                        name, type(e).__name__, e)
            return None


@lru_cache(maxsize=None)
def _fallback_closed(name: str, year: int) -> frozenset[date] | None:
    """The rule-based holidays of `year` from `holidays.financial_holidays`, or None when the
    package has no data for that market and year (then weekdays are open, provisionally)."""
    market = _HOLIDAYS_MARKET.get(name)
    if market is None:
        return None
    with _library_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import holidays

            probe = holidays.financial_holidays(market)
            start, end = getattr(probe, "start_year", None), getattr(probe, "end_year", None)
            if (start is not None and year < start) or (end is not None and year > end):
                return None
            return frozenset(holidays.financial_holidays(market, years=year))
        except Exception as e:  # noqa: BLE001 - unknown market in an old release, or a rule failing
            log.warning("holidays has no %s rules for %s (%s: %s); treating weekdays as open (provisional)",
                        market, year, type(e).__name__, e)
            return None
