"""Schedules across daylight saving, checked three ways against DESIGN.md's rule ("a slot that does
not exist that day runs at the first instant after it; a slot that occurs twice runs once, at its
first occurrence"):

1. croniter's own published test cases (its test suite), leaving out the ones where croniter's
   documented behaviour differs from DESIGN.md: a repeated slot firing twice, a nonexistent slot of
   an hourly job being dropped, `Sun-Sun` firing daily, and the syntax we reject (bare steps, both
   day fields restricted, `get_prev`). Where croniter fires a repeated slot twice we check its list
   minus the second occurrences.
2. An oracle that shares nothing with the implementation: it walks UTC (hour by hour, minute by
   minute where the offset changes), converts UTC to local (the one direction with no ambiguity),
   reads the crontab with croniter's parser, and picks each slot's instant by DESIGN's rule: the
   first UTC minute whose local time is that slot, or, when none is, the first UTC minute whose
   local time is past it. Over the year 2026 in New York, London, Sydney and Santiago, with and
   without a trading calendar.
3. A few expressions around every daylight-saving change of 2026 in every IANA zone.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest

from screener.schedule.calendars import get_calendar
from screener.schedule.crontab import build_trigger, next_runs

croniter_module = pytest.importorskip("croniter")
croniter = croniter_module.croniter

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
YEAR = 2026
ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "America/Santiago"]


def iso(runs):
    return [r.isoformat() for r in runs]


def runs_from(expr, zone, start, count, calendar=None):
    return iso(next_runs(build_trigger(expr, zone, calendar), start, count))


# -- 1. croniter's published cases ---------------------------------------------------------------


def tz(name):
    return ZoneInfo(name)


def U(*args):
    return datetime(*args, tzinfo=UTC)


# (croniter test, expression, start, croniter's expected next times): times without DST
PLAIN_CASES = [
    ("test_minute", "*/5 * * * *", U(2010, 1, 23, 12, 18),
     ["2010-01-23T12:20:00+00:00", "2010-01-23T12:25:00+00:00"]),
    ("test_minute", "*/1 * * * *", U(2010, 1, 23, 12, 58), ["2010-01-23T12:59:00+00:00", "2010-01-23T13:00:00+00:00"]),
    ("test_hour", "0 */3 * * *", U(2010, 1, 24, 12, 2),
     ["2010-01-24T15:00:00+00:00", "2010-01-24T18:00:00+00:00", "2010-01-24T21:00:00+00:00",
      "2010-01-25T00:00:00+00:00"]),
    ("test_day", "0 0 */3 * *", U(2010, 2, 24, 12, 9),
     ["2010-02-25T00:00:00+00:00", "2010-02-28T00:00:00+00:00", "2010-03-01T00:00:00+00:00"]),
    ("test_day (leap year)", "0 0 * * *", U(1996, 2, 27), ["1996-02-28T00:00:00+00:00", "1996-02-29T00:00:00+00:00"]),
    ("test_day (leap year 2000)", "0 0 * * *", U(2000, 2, 27),
     ["2000-02-28T00:00:00+00:00", "2000-02-29T00:00:00+00:00"]),
    ("test_weekday", "0 0 * * sat", U(2010, 2, 25), ["2010-02-27T00:00:00+00:00", "2010-03-06T00:00:00+00:00"]),
    ("test_iso_weekday", "0 0 * * 6", U(2010, 2, 25), ["2010-02-27T00:00:00+00:00", "2010-03-06T00:00:00+00:00"]),
    ("test_month", "0 0 1 * *", U(2010, 1, 25), ["2010-02-01T00:00:00+00:00", "2010-03-01T00:00:00+00:00"]),
    ("test_bug2", "0 * * 3 *", U(2012, 1, 1),
     ["2012-03-01T00:00:00+00:00", "2012-03-01T01:00:00+00:00", "2012-03-01T02:00:00+00:00"]),
    ("test_bug3", "00 03 16,30 * *", datetime(2013, 3, 1, 12, 17, 34, 257877, tzinfo=UTC),
     ["2013-03-16T03:00:00+00:00", "2013-03-30T03:00:00+00:00", "2013-04-16T03:00:00+00:00"]),
    ("test_multiple_months", "0 0 1 3,6,9,12 *", U(2016, 3, 1), ["2016-06-01T00:00:00+00:00"]),
    ("test_multiple_months", "0 0 1 3,6,9,12 *", U(2016, 2, 15), ["2016-03-01T00:00:00+00:00"]),
    ("test_multiple_months", "0 0 1 3,6,9,12 *", U(2016, 12, 3, 10), ["2017-03-01T00:00:00+00:00"]),
    ("test_range_generator", "1-9/2 0 1 * *", U(2013, 3, 4),
     ["2013-04-01T00:01:00+00:00", "2013-04-01T00:03:00+00:00", "2013-04-01T00:05:00+00:00",
      "2013-04-01T00:07:00+00:00", "2013-04-01T00:09:00+00:00"]),
    ("test_first_of_march", "0 0 */10 * *", U(2025, 2, 22), ["2025-03-01T00:00:00+00:00"]),
    ("test_issue_2038y", "* * * * *", U(2040, 1, 1), ["2040-01-01T00:01:00+00:00"]),
    ("test_sunday_ranges_to (Mon-Sun)", "0 0 * * Mon-Sun", U(2024, 9, 1),
     ["2024-09-02T00:00:00+00:00", "2024-09-03T00:00:00+00:00", "2024-09-04T00:00:00+00:00"]),
]


@pytest.mark.parametrize("name, expr, start, expected", PLAIN_CASES, ids=[c[0] for c in PLAIN_CASES])
def test_croniter_published_cases_without_dst(name, expr, start, expected):
    assert runs_from(expr, "UTC", start, len(expected)) == expected


# (croniter test, expression, zone, start, croniter's expected next times, the times croniter lists
# that DESIGN.md leaves out: second occurrences of a repeated slot)
DST_CASES = [
    ("test_timezone_summer_time", "*/30 * * * *", "Europe/Athens", datetime(2013, 3, 31, 1, 0),
     ["2013-03-31T01:30:00+02:00", "2013-03-31T02:00:00+02:00", "2013-03-31T02:30:00+02:00",
      "2013-03-31T04:00:00+03:00", "2013-03-31T04:30:00+03:00"], []),
    ("test_timezone_winter_time", "*/30 * * * *", "Europe/Athens", datetime(2013, 10, 27, 2, 0),
     ["2013-10-27T02:30:00+03:00", "2013-10-27T03:00:00+03:00", "2013-10-27T03:30:00+03:00",
      "2013-10-27T03:00:00+02:00", "2013-10-27T03:30:00+02:00", "2013-10-27T04:00:00+02:00",
      "2013-10-27T04:30:00+02:00"], ["2013-10-27T03:00:00+02:00", "2013-10-27T03:30:00+02:00"]),
    ("test_std_dst (spring, daily)", "0 0 * * *", "Europe/Warsaw", datetime(2017, 3, 26),
     ["2017-03-27T00:00:00+02:00"], []),
    ("test_std_dst (spring, hourly)", "0 * * * *", "Europe/Warsaw", datetime(2017, 3, 26, 1),
     ["2017-03-26T03:00:00+02:00"], []),
    ("test_std_dst (autumn, daily)", "0 0 * * *", "Europe/Warsaw", datetime(2017, 10, 29),
     ["2017-10-30T00:00:00+01:00"], []),
    ("test_std_dst (autumn, hourly)", "0 * * * *", "Europe/Warsaw", datetime(2017, 10, 29, 1, 59),
     ["2017-10-29T02:00:00+02:00", "2017-10-29T02:00:00+01:00", "2017-10-29T03:00:00+01:00",
      "2017-10-29T04:00:00+01:00"], ["2017-10-29T02:00:00+01:00"]),
    *[("test_std_dst2", "0 0 * * *", "America/Sao_Paulo", start, [expected], []) for start, expected in [
        (datetime(2018, 2, 17, 21, 0), "2018-02-18T00:00:00-03:00"),
        (datetime(2018, 2, 17, 22, 0), "2018-02-18T00:00:00-03:00"),
        (datetime(2018, 2, 17, 23, 0), "2018-02-18T00:00:00-03:00"),
        (datetime(2018, 2, 18, 0, 0), "2018-02-19T00:00:00-03:00"),
        (datetime(2018, 2, 17, 21, 5), "2018-02-18T00:00:00-03:00"),
        (datetime(2018, 2, 17, 22, 5), "2018-02-18T00:00:00-03:00"),
        (datetime(2018, 2, 17, 23, 5), "2018-02-18T00:00:00-03:00"),
        (datetime(2018, 2, 18, 0, 5), "2018-02-19T00:00:00-03:00"),
    ]],
    ("test_std_dst3 (get_next)", "0 0 24 * *", "Australia/Adelaide", datetime(2020, 4, 15),
     ["2020-04-24T00:00:00+09:30"], []),
    ("test_dst_daily", "7 0 * * *", "Europe/London", datetime(2025, 3, 30),
     ["2025-03-30T00:07:00+00:00", "2025-03-31T00:07:00+01:00", "2025-04-01T00:07:00+01:00"], []),
    ("test_dst_issue90_st31ny", "1 2 * * *", "Europe/Paris", datetime(2020, 3, 29, 1, 59, 55),
     ["2020-03-29T03:00:00+02:00", "2020-03-30T02:01:00+02:00", "2020-03-31T02:01:00+02:00"], []),
    ("test_dst_iter", "0 0 * * *", "Asia/Hebron", datetime(2022, 3, 25),
     ["2022-03-26T00:00:00+02:00", "2022-03-27T01:00:00+03:00", "2022-03-28T00:00:00+03:00"], []),
    ("test_dst_negative_dst_zone_ambiguous_pytz", "0 1 * * *", "Europe/Dublin", datetime(2019, 10, 26, 12),
     ["2019-10-27T01:00:00+01:00", "2019-10-27T01:00:00+00:00", "2019-10-28T01:00:00+00:00"],
     ["2019-10-27T01:00:00+00:00"]),
]


@pytest.mark.parametrize("name, expr, zone, start, published, repeats", DST_CASES, ids=[c[0] for c in DST_CASES])
def test_croniter_published_dst_cases(name, expr, zone, start, published, repeats):
    expected = [t for t in published if t not in repeats]
    assert runs_from(expr, zone, start.replace(tzinfo=tz(zone)), len(expected)) == expected


@pytest.mark.parametrize("expr, zone, start, croniter_says, design_says", [
    # test_dst_hourly: London 2025-03-30 01:00 -> 02:00; croniter drops 01:07, DESIGN runs it at 02:00
    ("7 * * * *", "Europe/London", datetime(2025, 3, 30),
     ["2025-03-30T00:07:00+00:00", "2025-03-30T02:07:00+01:00", "2025-03-30T03:07:00+01:00"],
     ["2025-03-30T00:07:00+00:00", "2025-03-30T02:00:00+01:00", "2025-03-30T02:07:00+01:00"]),
    # test_dst_gap_shift_is_not_a_fire_time: Lord Howe 02:00 -> 02:30 (+30 min); croniter drops 02:00
    ("0 * * * *", "Australia/Lord_Howe", datetime(2019, 10, 6, 1, 3),
     ["2019-10-06T03:00:00+11:00"], ["2019-10-06T02:30:00+11:00", "2019-10-06T03:00:00+11:00"]),
    # test_sunday_ranges_to: croniter fires `Sun-Sun` every day; it is Sunday only (2024-09-01 a Sunday)
    ("0 0 * * Sun-Sun", "UTC", datetime(2024, 9, 1), None,
     ["2024-09-08T00:00:00+00:00", "2024-09-15T00:00:00+00:00"]),
])
def test_croniter_quirks_left_out_follow_design(expr, zone, start, croniter_says, design_says):
    """The published cases left out, and what DESIGN.md gives instead."""
    start = start.replace(tzinfo=tz(zone))
    assert runs_from(expr, zone, start, len(design_says)) == design_says
    if croniter_says is not None:
        it = croniter(expr, start)
        assert [it.get_next(datetime).isoformat() for _ in croniter_says] == croniter_says  # still its behaviour


# -- 2. an independent oracle ---------------------------------------------------------------------


def offset_minutes(ts: int, zone: ZoneInfo) -> int:
    return int(datetime.fromtimestamp(ts, zone).utcoffset().total_seconds()) // 60


@lru_cache(maxsize=None)
def segments(zone: ZoneInfo, first: int, last: int) -> tuple[tuple[int, int, int], ...]:
    """Walk UTC minutes `first`..`last` (minutes since the epoch): the runs (start, end, offset) of
    equal UTC offset. Hour by hour, minute by minute inside an hour where the offset changes."""
    out: list[list[int]] = []
    prev = offset_minutes(first * 60, zone)
    out.append([first, None, prev])
    for h in range(first, last, 60):
        nxt = offset_minutes(min(h + 60, last) * 60, zone)
        if nxt != prev:
            for m in range(h + 1, min(h + 60, last) + 1):
                off = offset_minutes(m * 60, zone)
                if off != prev:
                    out[-1][1] = m
                    out.append([m, None, off])
                    prev = off
    out[-1][1] = last + 1
    return tuple(tuple(s) for s in out)


def oracle(expr: str, zone_name: str, first_day: date, last_day: date, calendar=None) -> list[datetime]:
    """Every run of `expr` on the local dates `first_day`..`last_day`, by DESIGN.md's rule, from a UTC
    walk: for each slot (local date, hour, minute) allowed by croniter's reading of the crontab, the
    first UTC minute whose local time is the slot, else the first UTC minute whose local time is
    past it. Distinct instants, ascending, as UTC datetimes."""
    zone = ZoneInfo(zone_name)
    fields = croniter.expand(expr)[0]

    def allowed(k, lo, hi):
        return set(range(lo, hi + 1)) if fields[k] == ["*"] else {int(v) for v in fields[k]}

    minutes, hours, days, months = allowed(0, 0, 59), allowed(1, 0, 23), allowed(2, 1, 31), allowed(3, 1, 12)
    weekdays = {v % 7 for v in allowed(4, 0, 6)}
    base = datetime(1970, 1, 1)
    lo = int((datetime.combine(first_day, datetime.min.time()) - base).total_seconds()) // 60 - 2 * 1440
    hi = int((datetime.combine(last_day, datetime.min.time()) - base).total_seconds()) // 60 + 3 * 1440
    segs = segments(zone, lo, hi)
    found: set[int] = set()
    day = first_day
    while day <= last_day:
        if (day.month in months and day.day in days and day.isoweekday() % 7 in weekdays
                and (calendar is None or calendar.is_open(day))):
            midnight = int((datetime.combine(day, datetime.min.time()) - base).total_seconds()) // 60
            # the UTC runs whose local times reach this date; one covering it all is the usual case
            near = [(s, e, off) for s, e, off in segs if s + off < midnight + 1440 and e + off > midnight]
            if len(near) == 1 and near[0][0] + near[0][2] <= midnight and near[0][1] + near[0][2] >= midnight + 1440:
                off = near[0][2]
                found.update(midnight + 60 * h + m - off for h in hours for m in minutes)
                day += timedelta(days=1)
                continue
            for h in hours:
                for m in minutes:
                    wall = midnight + 60 * h + m  # local wall time, minutes since the epoch
                    hit = next((wall - off for s, e, off in segs if s <= wall - off < e), None)
                    if hit is None:  # no UTC minute shows this local time: the first one past it
                        hit = min(max(s, wall - off + 1) for s, e, off in segs if max(s, wall - off + 1) < e)
                    found.add(hit)
        day += timedelta(days=1)
    return [EPOCH + timedelta(minutes=u) for u in sorted(found)]


def check_against_oracle(expr, zone_name, first_day, last_day, calendar=None):
    expected = oracle(expr, zone_name, first_day, last_day, calendar)
    assert expected, "the oracle found no run: pick another window"
    start = expected[0] - timedelta(seconds=1)
    got = next_runs(build_trigger(expr, zone_name, calendar), start, len(expected))
    # as instants: `==` between zones is always False for a time inside a repeated hour (PEP 495)
    assert [r.timestamp() for r in got] == [e.timestamp() for e in expected], _first_difference(got, expected, zone_name)
    assert all(r.tzinfo == ZoneInfo(zone_name) for r in got)
    return got


def _first_difference(got, expected, zone_name):
    zone = ZoneInfo(zone_name)
    for k, (g, e) in enumerate(zip(got, expected)):
        if g.timestamp() != e.timestamp():
            return f"run {k}: got {g.isoformat()}, oracle {e.astimezone(zone).isoformat()}"
    return f"got {len(got)} runs, oracle {len(expected)}"


YEAR_EXPRESSIONS = ["30 0 * * *", "30 2 * * *", "30 1 * * *", "0 0 * * *", "59 23 * * *", "*/30 * * * *",
                    "15 0-3 * * mon-fri", "0,30 23 * * sat", "0 3 * * sun"]


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("expr", YEAR_EXPRESSIONS)
def test_a_year_against_the_oracle(zone_name, expr):
    check_against_oracle(expr, zone_name, date(YEAR, 1, 1), date(YEAR, 12, 31))


@pytest.mark.parametrize("zone_name, cal", [("America/New_York", "XNYS"), ("Europe/London", "XNYS"),
                                            ("Australia/Sydney", "XHKG"), ("America/Santiago", "XNYS")])
@pytest.mark.parametrize("expr", ["30 0 * * mon-fri", "30 2 * * *", "0 1 * * *"])
def test_a_year_with_a_trading_calendar_against_the_oracle(zone_name, cal, expr):
    calendar = get_calendar(cal)
    got = check_against_oracle(expr, zone_name, date(YEAR, 1, 1), date(YEAR, 12, 31), calendar)
    assert all(calendar.is_open(r.date()) for r in got)


def test_the_trading_day_after_spring_forward_runs():
    """The issue's case: a 00:00-00:59 job in New York kept no run on Monday 2026-03-09."""
    runs = runs_from("30 0 * * mon-fri", "America/New_York", datetime(2026, 3, 6, 1, tzinfo=tz("America/New_York")), 3,
                     get_calendar("XNYS"))
    assert runs == ["2026-03-09T00:30:00-04:00", "2026-03-10T00:30:00-04:00", "2026-03-11T00:30:00-04:00"]


@pytest.mark.parametrize("zone_name", ZONES)
def test_every_minute_around_both_changes(zone_name):
    """`* * * * *` over the days of both 2026 changes: 1440 runs a day, 1380 or 1440 on a change day."""
    zone = ZoneInfo(zone_name)
    change_days = [d for d in (date(YEAR, 1, 1) + timedelta(days=k) for k in range(365))
                   if offset_minutes(int(datetime.combine(d, datetime.min.time(), UTC).timestamp()), zone)
                   != offset_minutes(int(datetime.combine(d + timedelta(days=1), datetime.min.time(), UTC).timestamp()),
                                     zone)]
    assert len(change_days) == 2, change_days
    for d in change_days:
        check_against_oracle("* * * * *", zone_name, d - timedelta(days=1), d + timedelta(days=2))


@pytest.mark.parametrize("zone_name", ZONES)
def test_a_start_inside_the_repeated_hour_never_gives_an_earlier_run(zone_name):
    """Every minute (and half minute) of the fall-back hour, as either occurrence, as `next_runs`'
    start and as APScheduler's `now` and previous fire time: the next run is the oracle's first
    run after that instant."""
    zone = ZoneInfo(zone_name)
    trigger = build_trigger("*/20 * * * *", zone_name)
    year = [date(YEAR, 1, 1) + timedelta(days=k) for k in range(365)]
    runs = oracle("*/20 * * * *", zone_name, year[0], year[-1])
    # the repeated hour's second pass: instants whose local time carries fold=1
    walk = [EPOCH + timedelta(seconds=s) for s in range(int(runs[0].timestamp()), int(runs[-1].timestamp()), 1800)]
    folds = [u for u in walk if u.astimezone(zone).fold == 1]
    assert folds, "no repeated hour found"
    for u in folds:
        for extra in (timedelta(0), timedelta(seconds=30), timedelta(minutes=-5)):
            t = u + extra
            local = t.astimezone(zone)
            nxt = next(r for r in runs if r > t).timestamp()
            assert [r.timestamp() for r in next_runs(trigger, local, 1)] == [nxt], local.isoformat()
            assert trigger.get_next_fire_time(None, local).timestamp() == next(r for r in runs if r >= t).timestamp()
            got = trigger.get_next_fire_time(local, local)
            assert got > t and got.timestamp() == nxt, local.isoformat()


# -- 3. every zone --------------------------------------------------------------------------------


def _change_days(zone: ZoneInfo) -> list[date]:
    """The UTC dates of YEAR on which the zone's offset changes: day by day within the months whose
    first and last instants differ in offset."""
    days = []
    for month in range(1, 13):
        first = int(datetime(YEAR, month, 1, tzinfo=UTC).timestamp())
        end = int(datetime(YEAR + month // 12, month % 12 + 1, 1, tzinfo=UTC).timestamp())
        prev = offset_minutes(first, zone)
        if offset_minutes(end, zone) == prev:
            continue
        for t in range(first + 86400, end + 1, 86400):
            off = offset_minutes(t, zone)
            if off != prev:
                days.append(datetime.fromtimestamp(t - 86400, UTC).date())
                prev = off
    return days


def test_a_few_expressions_around_every_change_in_every_zone():
    checked = 0
    for zone_name in sorted(zoneinfo.available_timezones()):
        try:
            zone = ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        for d in _change_days(zone):  # the change is on the local date d or next to it
            for expr in ("0 0 * * *", "30 2 * * *", "45 23 * * *"):
                check_against_oracle(expr, zone_name, d - timedelta(days=1), d + timedelta(days=2))
            check_against_oracle("*/30 * * * *", zone_name, d, d + timedelta(days=1))
            checked += 1
    assert checked > 100  # about 60 zones change twice in 2026


# -- through `schedule --list` ------------------------------------------------------------------


def test_schedule_list_from_inside_the_repeated_hour(sample, cli):
    """The issue's case: `--from` in the repeated autumn hour (01:30 EST, the second pass) listed a
    time before it. New York 2026-11-01; also the spring change and the day after it."""
    cfg = sample / "config.toml"
    text = cfg.read_text(encoding="utf-8").split("[[jobs]]")[0]
    cfg.write_text(text + """
[[jobs]]
name = "ny"
rules = ["rules/esg_compute_leaders.toml"]
cron = "*/20 0-3 * * *"
timezone = "America/New_York"
""", encoding="utf-8")
    import json

    def listed(start, count):
        r = cli(sample, "schedule", "--list", "--from", start, "--count", str(count), "--json")
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)[0]["next_runs"]

    assert listed("2026-11-01T01:30:00-05:00", 2) == ["2026-11-01T02:00:00-05:00", "2026-11-01T02:20:00-05:00"]
    assert listed("2026-11-01T01:30:00-04:00", 2) == ["2026-11-01T01:40:00-04:00", "2026-11-01T02:00:00-05:00"]
    # spring: 02:00, 02:20, 02:40 do not exist and run once, at 03:00 EDT; the next day has all of its runs
    runs = listed("2026-03-08T01:50:00-05:00", 16)
    assert runs[:4] == ["2026-03-08T03:00:00-04:00", "2026-03-08T03:20:00-04:00", "2026-03-08T03:40:00-04:00",
                        "2026-03-09T00:00:00-04:00"]
    assert len([r for r in runs if r.startswith("2026-03-09")]) == 12
