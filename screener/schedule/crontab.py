"""Standard 5-field cron for `[[jobs]]`, turned into an APScheduler 3.x trigger that runs only on an
exchange's trading days.

The crontab: `minute hour day-of-month month day-of-week`, each field `*`, a number, a range
`a-b`, a step `*/n` or `a-b/n`, or a comma list of those. Month names `jan`..`dec` and weekday
names `sun`..`sat` (any case) may stand for numbers. Weekdays are cron's: 0 and 7 are Sunday,
1-5 Monday to Friday (APScheduler's own `from_crontab` counts 0 = Monday and would run `1-5` from
Tuesday to Saturday: we never hand it a numeric weekday). A range ending in `sun` (`fri-sun`)
runs to Sunday. Not accepted, each with a message saying what to write: `@daily`-style shortcuts,
a sixth field, Quartz's `?`, `L`, `W`, `#`, a bare `5/15` (write `5-59/15`), backwards ranges,
values out of range, and a day of month that never occurs in the months given (`30 2`).

Day of month AND day of week: standard cron runs a job when EITHER matches when both are
restricted, APScheduler only when BOTH match. Rather than pick one silently, a crontab that
restricts both (neither is a plain `*`) is rejected: restrict only one of them.

Daylight-saving time (the job's timezone; the daemon's `--list` shows the same times), DESIGN.md's
rule: a slot that does not exist that day runs at the first instant after it; a slot that occurs
twice runs once, at its first occurrence. Fire times are computed per local date: each date the
cron (and the calendar) allows, each allowed hour:minute, mapped to one instant:

- spring forward (America/New_York 2026-03-08, 02:00 -> 03:00): a time inside the skipped hour
  runs at the change itself, 03:00-04:00: a `30 2 * * *` job runs at 03:00 that day. Several
  skipped times, and a cron time at 03:00, run once. Every other date keeps all its runs (the day
  after the change included: APScheduler's own `CronTrigger` skips a 00:xx job on 2026-03-09).
- fall back (2026-11-01, 02:00 -> 01:00): a wall-clock time that occurs twice runs once, at its
  first occurrence (daylight time): `30 1 * * *` runs at 01:30-04:00 only, and a job every 30
  minutes has no run in the repeated hour's second pass.
- a start or previous fire time inside the repeated hour is compared as an instant (its `fold`
  counts): the next run is never at or before it.

Trading days: with a calendar, a cron time runs only when its local date (in the job's timezone)
is an open day. If no open cron date exists within `MAX_YEARS` years (or `MAX_CANDIDATES`
calendar look-ups: a calendar that is never open, a yearly job always on a holiday), the trigger
returns None: APScheduler then drops the job, and `next_runs` returns fewer times than asked.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbers 0..6 (7 = sun too)
_APS_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's order, 0 = mon
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February counts leap years
_SHORTCUTS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
              "@weekly": "0 0 * * sun", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_EXAMPLE = "`30 16 * * mon-fri` (16:30 Monday to Friday)"

MAX_CANDIDATES = 4000
MAX_YEARS = 10


class CronError(ValueError):
    """A crontab that cannot be used. `field` is 0..4 (minute .. day-of-week) or None for the whole
    expression; `message` says what is wrong ("day-of-week 8 is out of range 0-7"); `hint` what to
    write instead (or None)."""

    def __init__(self, field: int | None, message: str, hint: str | None = None):
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(message)

    @property
    def field_name(self) -> str | None:
        return FIELD_NAMES[self.field] if self.field is not None else None


@dataclass(frozen=True)
class Cron:
    """A checked crontab: the values each field allows (weekdays as cron numbers 0..6, Sunday 0)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @property
    def text(self) -> str:
        """The normalised crontab: lower case, one space between fields, `*` for a field that allows
        everything, numbers compressed into ranges and steps, weekdays as names Monday first."""
        parts = [_numbers_text(vals, i) for i, vals in enumerate((self.minutes, self.hours, self.days, self.months))]
        parts.append(_weekdays_text(self.weekdays))
        return " ".join(parts)

    def aps_fields(self) -> dict[str, str]:
        """Keyword arguments for APScheduler's `CronTrigger` (weekdays as names, never numbers)."""
        n = self.text.split(" ")
        dow = "*" if len(self.weekdays) == 7 else ",".join(
            name for i, name in enumerate(_APS_WEEKDAYS) if (i + 1) % 7 in self.weekdays)
        return {"minute": n[0], "hour": n[1], "day": n[2], "month": n[3], "day_of_week": dow}


def parse_cron(expr: str) -> str:
    """Check a standard 5-field crontab and return its normalised form (`Cron.text`):
    `parse_cron("30 16 * * 1-5") == parse_cron("30 16 * * MON-FRI") == "30 16 * * mon-fri"`.
    Raises `CronError` naming the field and what is wrong."""
    return compile_cron(expr).text


def compile_cron(expr: str) -> Cron:
    """`parse_cron`, returning the checked `Cron` (the allowed values of every field)."""
    if not isinstance(expr, str):
        raise CronError(None, f"a crontab must be text, got {type(expr).__name__}", f"write it in quotes: {_EXAMPLE}")
    raw = expr.strip()
    if not raw:
        raise CronError(None, "the crontab is empty", f"five fields: minute hour day-of-month month day-of-week, "
                        f"e.g. {_EXAMPLE}")
    if raw.startswith("@"):
        word = raw.split()[0].lower()
        if word in _SHORTCUTS:
            raise CronError(None, f"`{word}` shortcuts are not supported", f"write `{_SHORTCUTS[word]}`")
        raise CronError(None, f"`{raw.split()[0]}` is not a crontab", f"five fields, e.g. {_EXAMPLE}")
    fields = raw.split()
    if len(fields) != 5:
        hint = "five fields: minute hour day-of-month month day-of-week, e.g. " + _EXAMPLE
        if len(fields) == 6:
            hint = "seconds and years are not supported: remove the extra field; " + hint
        raise CronError(None, f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}",
                        hint)
    sets = [_parse_field(i, text) for i, text in enumerate(fields)]
    weekdays = frozenset(v % 7 for v in sets[4])
    if fields[2] != "*" and fields[4] != "*":
        options = [f"`{alt}`" for alt in (f"{' '.join(fields[:4])} *", f"{' '.join(fields[:2])} * {fields[3]} {fields[4]}")
                   if _parses(alt)]  # `30 2 mon` -> only the day-of-week one: 30 February never occurs
        raise CronError(4, f"day-of-month `{fields[2]}` and day-of-week `{fields[4]}` are both restricted: standard cron "
                        "runs the job when EITHER matches, APScheduler only when BOTH match",
                        f"restrict only one of them: {' or '.join(options)}")
    days, months = sets[2], sets[3]
    if not any(d <= _DAYS_IN_MONTH[m - 1] for d in days for m in months):
        names = ", ".join(MONTHS[m - 1] for m in sorted(months))
        raise CronError(2, f"day-of-month `{fields[2]}` never occurs in {names}",
                        "check the day and the month: February has at most 29 days; April, June, September and "
                        "November 30")
    return Cron(frozenset(sets[0]), frozenset(sets[1]), frozenset(days), frozenset(months), weekdays)


def _parses(expr: str) -> bool:
    try:
        compile_cron(expr)
    except CronError:
        return False
    return True


def _field_parses(i: int, text: str) -> bool:
    try:
        _parse_field(i, text)
    except CronError:
        return False
    return True


# a list, a step: examples that are valid in each field
_LIST_EXAMPLE = ("0,30", "9,15", "1,15", "1,7", "mon,fri")
_STEP_EXAMPLE = ("*/15", "*/2", "*/2", "*/3", "*/2")

_TERM = re.compile(r"^(?P<base>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>[^/]*))?$")


def _parse_field(i: int, text: str) -> set[int]:
    lo, hi = _RANGES[i]
    name = FIELD_NAMES[i]
    low = text.lower()
    if any(c in low for c in "?#") or re.search(r"(^|[,\-/])(l|w|\d+w|lw)($|[,\-/#])", low):
        raise CronError(i, f"{name} `{text}`: `?`, `L`, `W` and `#` are Quartz extensions, not standard cron",
                        f"use numbers, ranges, lists and steps, e.g. {_EXAMPLE}")
    values: set[int] = set()
    for term in low.split(","):
        if not term:
            items = ",".join(t for t in low.split(",") if t)
            example = items if items and _field_parses(i, items) else _LIST_EXAMPLE[i]
            raise CronError(i, f"{name} `{text}` has an empty item in its list",
                            f"separate items with single commas: `{example}`")
        m = _TERM.match(term)
        if not m:
            raise CronError(i, f"{name} `{text}`: cannot read `{term}`",
                            f"expected `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list; "
                            f"e.g. {_EXAMPLE}")
        base, step_text = m.group("base"), m.group("step")
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, b = base.split("-")
            first, last = _value(i, a), _value(i, b)
            if i == 4 and b == "sun" and first > 0:  # `fri-sun`: Sunday as 7 ends the range
                last = 7
            if first > last:
                raise CronError(i, f"{name} range `{term}` runs backwards", _wrap_hint(i, a, b, first, last))
        else:
            first = last = _value(i, base)
            if step_text is not None:
                fixed = f"{base}-{_edge(i, base, True)}/{step_text}"
                if i == 4 and first == 7:  # Sunday as 7 starts no range: Sunday is the week's last day
                    fixed = base
                hint = (f"write `{fixed}` (every {step_text} from {base})" if fixed != base
                        else f"write `{base}` (Sunday, the last day of the week: nothing to step over)") \
                    if _field_parses(i, fixed) else f"a step follows `*` or a range, e.g. `{_STEP_EXAMPLE[i]}`"
                raise CronError(i, f"{name} `{term}`: a step needs `*` or a range before it", hint)
        step = 1
        if step_text is not None:
            if not (step_text.isascii() and step_text.isdigit()):
                raise CronError(i, f"{name} step `/{step_text}` is not a whole number", f"e.g. `{_STEP_EXAMPLE[i]}`")
            step = int(step_text)
            if step < 1:
                raise CronError(i, f"{name} step `/{step_text}` must be 1 or more", f"e.g. `{_STEP_EXAMPLE[i]}`")
        values.update(range(first, last + 1, step))
    return values


def _value(i: int, token: str) -> int:
    lo, hi = _RANGES[i]
    name = FIELD_NAMES[i]
    if token.isdigit():
        v = int(token)
        if not lo <= v <= hi:
            hint = "0 and 7 are Sunday, 1-5 Monday to Friday" if i == 4 else None
            if i == 1 and v == 24:
                hint = "midnight is hour 0"
            raise CronError(i, f"{name} {v} is out of range {lo}-{hi}", hint)
        return v
    names = MONTHS if i == 3 else WEEKDAYS if i == 4 else None
    if names is None:
        raise CronError(i, f"{name} `{token}` is not a number", f"{name} takes numbers {lo}-{hi}")
    if token in names:
        return names.index(token) + (1 if i == 3 else 0)
    from screener.problems import suggestion

    other = WEEKDAYS if i == 3 else MONTHS
    if token[:3] in other:
        where = "day-of-week" if i == 3 else "month"
        raise CronError(i, f"{name} `{token}` is a {where} name", f"{name} takes {', '.join(names)} or numbers {lo}-{hi}")
    near = suggestion(token, names, "name")
    if token[:3] in names:
        near = f"did you mean `{token[:3]}`? (three-letter names only)"
    extra = "; 0 and 7 are Sunday" if i == 4 else ""
    raise CronError(i, f"{name} `{token}` is not a {'month' if i == 3 else 'weekday'} name",
                    f"{near}; or numbers {lo}-{hi}{extra}")


def _wrap_hint(i: int, a: str, b: str, first: int, last: int) -> str:
    """What to write for the backwards range `a-b` (values `first` > `last`): the same days or
    times, wrapping around the field's end, in the tokens' own style (names or numbers); always a
    field that parses."""
    if i == 4 and first == 7:  # `7-mon`: Sunday as 7 starts the week again, written like `b`
        first, a = 0, b
    if first <= last:  # no longer backwards (`7-mon` is `sun-mon`)
        text = _token(i, first, a) if first == last else f"{_token(i, first, a)}-{_token(i, last, b)}"
        return f"ranges go from low to high: write `{text}`"
    top, bottom = (6, 0) if i == 4 else (_RANGES[i][1], _RANGES[i][0])
    head = _token(i, first, a) if first == top else f"{_token(i, first, a)}-{_token(i, top, a)}"
    tail = _token(i, last, b) if last == bottom else f"{_token(i, bottom, b)}-{_token(i, last, b)}"
    wrapped = f"{head},{tail}"
    if not _field_parses(i, wrapped):  # mixed names and numbers that do not read back: numbers
        wrapped = f"{first}-{top},{bottom}-{last}"
    return f"ranges go from low to high; for one that wraps around, list two: `{wrapped}`"


def _token(i: int, value: int, like: str) -> str:
    """`value` of field `i` written as a name when `like` is one (months and weekdays), else a number."""
    if like.isalpha() and i == 3:
        return MONTHS[value - 1]
    if like.isalpha() and i == 4:
        return WEEKDAYS[value % 7]
    return str(value)


def _edge(i: int, like: str, high: bool) -> str:
    """The field's highest (`high`) or lowest value, as a name when `like` is a name."""
    if like.isalpha() and i in (3, 4):
        return {3: ("dec", "jan"), 4: ("sat", "sun")}[i][0 if high else 1]
    lo, hi = _RANGES[i]
    return str(min(hi, 6) if (high and i == 4) else hi if high else lo)


def _numbers_text(vals: frozenset[int], i: int) -> str:
    lo, hi = _RANGES[i]
    if vals == frozenset(range(lo, hi + 1)):
        return "*"
    ordered = sorted(vals)
    if len(ordered) >= 3:  # `*/15` stays `*/15`; `0,5,10` stays a list; `1-50/7` a stepped range
        step = ordered[1] - ordered[0]
        if step > 1 and all(b - a == step for a, b in zip(ordered, ordered[1:])):
            if ordered[0] == lo and ordered[-1] + step > hi:
                return f"*/{step}"
            if len(ordered) >= 4:
                return f"{ordered[0]}-{ordered[-1]}/{step}"
    return _runs(ordered, str)


def _weekdays_text(vals: frozenset[int]) -> str:
    if len(vals) == 7:
        return "*"
    monday_first = sorted(7 if v == 0 else v for v in vals)  # 1 = mon .. 7 = sun
    return _runs(monday_first, lambda v: WEEKDAYS[v % 7])


def _runs(ordered: list[int], show) -> str:
    """`1,2,3,5,6,9` -> `1-3,5,6,9`: a range for three or more consecutive values."""
    out, start = [], 0
    for k in range(1, len(ordered) + 1):
        if k == len(ordered) or ordered[k] != ordered[k - 1] + 1:
            run = ordered[start:k]
            out.append(f"{show(run[0])}-{show(run[-1])}" if len(run) >= 3 else ",".join(show(v) for v in run))
            start = k
    return ",".join(out)


# -- the trigger -------------------------------------------------------------------------------


class OpenDays(Protocol):
    """What the trigger needs of a calendar (`screener.schedule.calendars.TradingCalendar` has it)."""

    name: str

    def is_open(self, day: date) -> bool: ...

    def is_provisional(self, day: date) -> bool: ...


class _TradingDayCron:
    """A cron schedule in a timezone, restricted to a calendar's open days (see the module docstring
    for daylight-saving time and for when it returns None). Built by `build_trigger`.

    Fire times are computed here, not by APScheduler's `CronTrigger`: for each local date the cron
    and the calendar allow, each allowed hour:minute is mapped to one instant by DESIGN.md's rule
    (`_day_instants`), and every comparison is between instants (UTC), never between wall-clock
    times, so `fold` is never lost.

    `TradingDayCronTrigger` is this plus APScheduler's `BaseTrigger`, made on first use so that
    checking a crontab (`parse_cron`, every `screener` command that loads jobs) never imports
    APScheduler. No state changes after construction: safe to share between threads. Picklable
    (a `TradingCalendar` pickles as its name and closures), though a memory job store needs none.
    """

    def __init__(self, cron: Cron, timezone: str, zone: tzinfo, calendar: OpenDays | None = None):
        self.cron = cron
        self.expr = cron.text
        self.timezone_name = timezone
        self.timezone = zone
        self.calendar = calendar

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The first fire time strictly after `previous_fire_time`, or, when there is none, at or
        after `now` (as APScheduler's `CronTrigger`: with a previous fire time, `now` does not
        matter; APScheduler counts misfires itself). Aware, in the trigger's timezone, with the
        right `fold`; None when no open cron time exists within the limits (module docstring)."""
        if previous_fire_time is not None:
            return self._first_from(_micros(previous_fire_time, self.timezone) + 1)
        return self._first_from(_micros(now, self.timezone))

    def _first_from(self, micros: int) -> datetime | None:
        """The first fire time at or after `micros` (microseconds since the epoch, UTC)."""
        zone = self.timezone
        start = datetime.fromtimestamp(micros // 1_000_000, zone)
        # the day before too: a slot of one date can map into the next date (a gap across midnight)
        day = start.date() - timedelta(days=1)
        horizon = _add_years(day, MAX_YEARS)
        looked_up = 0
        cron = self.cron
        while day <= horizon:
            if day.month not in cron.months:
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
                continue
            if day.day not in cron.days or (day.isoweekday() % 7) not in cron.weekdays:
                day += timedelta(days=1)
                continue
            if self.calendar is not None:
                looked_up += 1
                if looked_up > MAX_CANDIDATES:
                    return None
                if not self.calendar.is_open(day):
                    day += timedelta(days=1)
                    continue
            instants = _day_instants(cron.hours, cron.minutes, zone, day)
            if instants[-1] * 1_000_000 >= micros:
                k = bisect_left(instants, -(-micros // 1_000_000))  # first whole second >= micros
                return datetime.fromtimestamp(instants[k], zone)
            day += timedelta(days=1)
        return None

    def __str__(self) -> str:
        days = f"{self.calendar.name} trading days" if self.calendar is not None else "every day"
        return f"cron[{self.expr}] {self.timezone_name}, {days}"

    def __repr__(self) -> str:
        cal = f", calendar={self.calendar.name!r}" if self.calendar is not None else ""
        return f"<TradingDayCronTrigger {self.expr!r} timezone={self.timezone_name!r}{cal}>"


@lru_cache(maxsize=None)
def _trigger_class() -> type:
    from apscheduler.triggers.base import BaseTrigger

    return type("TradingDayCronTrigger", (_TradingDayCron, BaseTrigger), {"__module__": __name__, "__doc__":
                                                                           _TradingDayCron.__doc__})


def __getattr__(name: str) -> Any:
    if name == "TradingDayCronTrigger":
        return _trigger_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def _micros(when: datetime, zone: tzinfo) -> int:
    """Microseconds since the epoch of an aware datetime (naive: read in `zone`), honouring `fold`."""
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=zone)
    return (when - _EPOCH) // timedelta(microseconds=1)


def wall_to_instant(day: date, hour: int, minute: int, zone: tzinfo) -> int:
    """The instant (whole seconds since the epoch) at which the wall-clock time `hour:minute` of
    `day` in `zone` runs, by DESIGN.md's rule: a time that occurs once is itself; a time that
    occurs twice (fall back) is its first occurrence; a time that does not exist (spring forward)
    is the first instant after the gap, i.e. the instant of the change."""
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    first, second = wall.utcoffset(), wall.replace(fold=1).utcoffset()
    naive = datetime(day.year, day.month, day.day, hour, minute)
    if first == second or first > second:  # once, or twice (fold=0 is the first occurrence)
        return int((naive - first - _EPOCH.replace(tzinfo=None)).total_seconds())
    # in a gap: fold=0 reads it with the offset before the change (a later instant), fold=1 with
    # the offset after it (an earlier one); the change lies between them
    lo = int((naive - second - _EPOCH.replace(tzinfo=None)).total_seconds())
    hi = int((naive - first - _EPOCH.replace(tzinfo=None)).total_seconds())
    before = datetime.fromtimestamp(lo, zone).utcoffset()
    while hi - lo > 1:  # invariant: offset at lo is the old one, at hi the new one
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


@lru_cache(maxsize=4096)
def _day_instants(hours: frozenset[int], minutes: frozenset[int], zone: tzinfo, day: date) -> tuple[int, ...]:
    """Every distinct instant (whole seconds, ascending) at which the cron's times of `day` run."""
    return tuple(sorted({wall_to_instant(day, h, m, zone) for h in hours for m in minutes}))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years, month=3, day=1) if (day.month, day.day) == (2, 29) \
            else day.replace(year=day.year + years)
    except ValueError:  # past year 9999
        return date.max - timedelta(days=2)


def build_trigger(expr: str, timezone: str, calendar: OpenDays | None = None) -> BaseTrigger:
    """The APScheduler trigger for a job: `expr` (standard cron, checked by `compile_cron`) in the IANA
    `timezone`, on `calendar`'s open days (every day when None). Raises `CronError` for a bad crontab,
    and `CronError(None, ...)` for an unknown timezone."""
    cron = compile_cron(expr)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        import zoneinfo

        from screener.problems import did_you_mean

        near = did_you_mean(str(timezone), zoneinfo.available_timezones())
        hint = f"did you mean `{near}`?" if near else 'use an IANA name such as "Asia/Shanghai" or "America/New_York"'
        raise CronError(None, f"unknown timezone {timezone!r}", hint) from None
    return _trigger_class()(cron, timezone, zone, calendar)


def next_runs(trigger: BaseTrigger, start: datetime, count: int) -> list[datetime]:
    """The trigger's next `count` fire times strictly after `start` (aware), each aware in the
    trigger's timezone. Fewer when the trigger runs out (see the module docstring)."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("next_runs needs an aware start datetime")
    zone = getattr(trigger, "timezone", None) or start.tzinfo
    runs: list[datetime] = []
    prev: datetime | None = None
    # in UTC: adding to a local time inside a repeated hour would drop its `fold` (and so go back
    # an hour); in UTC the microsecond after `start` is exactly that
    now = start.astimezone(dt_timezone.utc) + timedelta(microseconds=1)
    for _ in range(max(0, count)):
        nxt = trigger.get_next_fire_time(prev, now if prev is None else prev)
        if nxt is None:
            break
        runs.append(datetime.fromtimestamp(nxt.timestamp(), zone))
        prev = nxt
    return runs


def is_provisional(trigger: BaseTrigger, when: datetime) -> bool:
    """Whether the trading day of `when` (its local date in the trigger's timezone) comes from a
    rule-based calendar rather than the exchange's published list. False without a calendar."""
    calendar = getattr(trigger, "calendar", None)
    if calendar is None:
        return False
    zone = getattr(trigger, "timezone", None)
    local = when.astimezone(zone) if (zone is not None and when.tzinfo is not None) else when
    return bool(calendar.is_provisional(local.date()))
