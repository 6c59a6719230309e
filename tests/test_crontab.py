"""Standard cron on APScheduler 3.x: cron's weekday numbers, field errors, trading-day skipping,
daylight-saving days, the end of the XSHG list, and the loop guard.

Deterministic: triggers are pure functions of (previous fire time, now); the one wiring test
freezes the clock with time-machine."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from screener.schedule import crontab
from screener.schedule.calendars import Closures, get_calendar
from screener.schedule.crontab import CronError, build_trigger, compile_cron, is_provisional, next_runs, parse_cron

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def iso(runs):
    return [r.isoformat() for r in runs]


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("expr, normal", [
    ("30 16 * * mon-fri", "30 16 * * mon-fri"),
    ("30 16 * * 1-5", "30 16 * * mon-fri"),
    ("  30  16 * *   MON-FRI ", "30 16 * * mon-fri"),
    ("30 16 * * Mon,Tue,Wed,Thu,Fri", "30 16 * * mon-fri"),
    ("0 9 * * 0", "0 9 * * sun"),
    ("0 9 * * 7", "0 9 * * sun"),
    ("0 9 * * 0,7", "0 9 * * sun"),
    ("0 9 * * 6,0", "0 9 * * sat,sun"),
    ("0 9 * * 5-7", "0 9 * * fri-sun"),
    ("0 9 * * fri-sun", "0 9 * * fri-sun"),
    ("0 9 * * 0-7", "0 9 * * *"),
    ("0 9 * * */2", "0 9 * * tue,thu,sat,sun"),
    ("*/15 9-15 * * *", "*/15 9-15 * * *"),
    ("0-59/15 * * * *", "*/15 * * * *"),
    ("0,5,10 * * * *", "0,5,10 * * * *"),
    ("1-50/7 * * * *", "1-50/7 * * * *"),
    ("0 0 1 jan-mar,DEC *", "0 0 1 1-3,12 *"),
    ("0 0 1-31 * *", "0 0 * * *"),
    ("0 0 29 2 *", "0 0 29 2 *"),
])
def test_parse_cron_normalises(expr, normal):
    assert parse_cron(expr) == normal
    assert parse_cron(normal) == normal  # the normal form reads back as itself


def test_numeric_weekdays_are_crons_not_apschedulers():
    cron = compile_cron("30 16 * * 1-5")
    assert cron.weekdays == {1, 2, 3, 4, 5}  # cron numbering: Sunday 0
    assert cron.aps_fields()["day_of_week"] == "mon,tue,wed,thu,fri"  # names, never numbers


@pytest.mark.parametrize("expr, field, message", [
    ("60 * * * *", 0, "minute 60 is out of range 0-59"),
    ("0 24 * * *", 1, "hour 24 is out of range 0-23"),
    ("0 9 0 * *", 2, "day-of-month 0 is out of range 1-31"),
    ("0 9 * 13 *", 3, "month 13 is out of range 1-12"),
    ("0 9 * * 8", 4, "day-of-week 8 is out of range 0-7"),
    ("0 9 * * thur", 4, "day-of-week `thur` is not a weekday name"),
    ("0 9 * juni *", 3, "month `juni` is not a month name"),
    ("0 9 * mon *", 3, "month `mon` is a day-of-week name"),
    ("0 mon * * *", 1, "hour `mon` is not a number"),
    ("0 17-9 * * *", 1, "hour range `17-9` runs backwards"),
    ("0 9 * * fri-mon", 4, "day-of-week range `fri-mon` runs backwards"),
    ("5/15 * * * *", 0, "minute `5/15`: a step needs `*` or a range before it"),
    ("*/0 * * * *", 0, "minute step `/0` must be 1 or more"),
    ("1,,2 * * * *", 0, "minute `1,,2` has an empty item in its list"),
    ("1--2 * * * *", 0, "minute `1--2`: cannot read `1--2`"),
    ("0 9 L * *", 2, "day-of-month `L`: `?`, `L`, `W` and `#` are Quartz extensions, not standard cron"),
    ("0 9 * * 5#3", 4, "day-of-week `5#3`: `?`, `L`, `W` and `#` are Quartz extensions, not standard cron"),
    ("0 9 30 2 *", 2, "day-of-month `30` never occurs in feb"),
    ("0 9 31 4,6 *", 2, "day-of-month `31` never occurs in apr, jun"),
    ("0 9 * *", None, "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("0 0 9 * * *", None, "expected 5 fields (minute hour day-of-month month day-of-week), got 6"),
    ("", None, "the crontab is empty"),
    ("@daily", None, "`@daily` shortcuts are not supported"),
])
def test_cron_errors_name_the_field(expr, field, message):
    with pytest.raises(CronError) as e:
        parse_cron(expr)
    assert (e.value.field, e.value.message) == (field, message)
    assert str(e.value) == message
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("expr, hint", [
    ("0 9 * * 8", "0 and 7 are Sunday, 1-5 Monday to Friday"),
    ("0 9 * * thur", "did you mean `thu`?"),
    ("0 24 * * *", "midnight is hour 0"),
    ("0 17-9 * * *", "`17-23,0-9`"),
    ("0 9 * * fri-mon", "`fri-sat,sun-mon`"),
    ("5/15 * * * *", "write `5-59/15`"),
    ("@daily", "write `0 0 * * *`"),
    ("0 0 9 * * *", "seconds and years are not supported"),
])
def test_cron_errors_say_what_to_write(expr, hint):
    with pytest.raises(CronError) as e:
        parse_cron(expr)
    assert hint in e.value.hint


@pytest.mark.parametrize("expr", ["0 9 15 * mon", "0 9 1-7 * 1", "0 9 */2 * mon-fri", "0 9 1-31 * 0-7"])
def test_both_day_fields_restricted_is_rejected(expr):
    with pytest.raises(CronError) as e:
        build_trigger(expr, "Asia/Shanghai")
    assert e.value.field == 4
    assert "EITHER matches" in e.value.message and "BOTH match" in e.value.message
    assert e.value.hint.startswith("restrict only one of them: ")


def test_unknown_timezone():
    with pytest.raises(CronError) as e:
        build_trigger("30 16 * * mon-fri", "Asia/Shangai")
    assert e.value.field is None and e.value.message == "unknown timezone 'Asia/Shangai'"
    assert e.value.hint == "did you mean `Asia/Shanghai`?"


# -- the trigger without a calendar ------------------------------------------------------------


def test_numeric_mon_fri_runs_monday_to_friday():
    runs = next_runs(build_trigger("30 16 * * 1-5", "Asia/Shanghai"), datetime(2026, 11, 26, 17, tzinfo=SH), 10)
    assert {r.strftime("%a") for r in runs} == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert runs[1] == datetime(2026, 11, 30, 16, 30, tzinfo=SH)  # a Monday
    assert iso(runs) == iso(next_runs(build_trigger("30 16 * * mon-fri", "Asia/Shanghai"),
                                      datetime(2026, 11, 26, 17, tzinfo=SH), 10))


@pytest.mark.parametrize("expr", ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun"])
def test_zero_and_seven_are_sunday(expr):
    runs = next_runs(build_trigger(expr, "Asia/Shanghai"), datetime(2026, 11, 26, tzinfo=SH), 3)
    assert iso(runs) == ["2026-11-29T09:00:00+08:00", "2026-12-06T09:00:00+08:00", "2026-12-13T09:00:00+08:00"]


def _matches(cron, t: datetime) -> bool:
    dow = (t.weekday() + 1) % 7  # cron numbering
    return (t.minute in cron.minutes and t.hour in cron.hours and t.day in cron.days
            and t.month in cron.months and dow in cron.weekdays)


@pytest.mark.parametrize("expr", [
    "*/15 9-11 * * 1-5", "0 0 * * 0", "5 4 * * sun", "30 16 * * 6,7", "0 12 */10 * *", "59 23 31 * *",
    "0,30 8 * 1-3,12 fri-sun", "7 */5 * * *", "0 9 29 2 *",
])
def test_fire_times_are_exactly_the_matching_minutes(expr):
    """Every fire time matches the crontab, and no matching minute is skipped (UTC: no DST)."""
    cron = compile_cron(expr)
    start = datetime(2027, 12, 20, tzinfo=UTC)
    end = start + timedelta(days=75)
    expected, t = [], start + timedelta(minutes=1)
    while t < end:
        if _matches(cron, t):
            expected.append(t)
        t += timedelta(minutes=1)
    runs = next_runs(build_trigger(expr, "UTC"), start, len(expected) + 1)
    assert [r for r in runs if r < end] == expected
    if expr == "0 9 29 2 *":  # next leap day
        assert runs == [datetime(2028, 2, 29, 9, tzinfo=UTC), datetime(2032, 2, 29, 9, tzinfo=UTC)]


def test_next_runs_start_strictly_before_the_first_result():
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG"))
    at_a_run = datetime(2026, 10, 8, 16, 30, tzinfo=SH)
    assert next_runs(trigger, at_a_run, 1) == [datetime(2026, 10, 9, 16, 30, tzinfo=SH)]
    # results are in the trigger's timezone whatever the start's
    runs = next_runs(trigger, at_a_run.astimezone(UTC), 1)
    assert runs[0].tzinfo == SH and runs[0].utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError, match="aware"):
        next_runs(trigger, datetime(2026, 10, 8), 1)
    assert next_runs(trigger, at_a_run, 0) == []


def test_previous_fire_time_wins_as_in_apscheduler():
    """Like CronTrigger: with a previous fire time, the next time after it, even if `now` is later
    (APScheduler then counts misfires itself)."""
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG"))
    prev = datetime(2026, 9, 30, 16, 30, tzinfo=SH)
    assert trigger.get_next_fire_time(prev, datetime(2026, 10, 20, tzinfo=SH)) == datetime(2026, 10, 8, 16, 30, tzinfo=SH)
    assert trigger.get_next_fire_time(None, datetime(2026, 10, 8, 16, 30, tzinfo=SH)) == prev.replace(month=10, day=8)


# -- trading days ------------------------------------------------------------------------------


def test_national_day_from_the_issue():
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG"))
    runs = next_runs(trigger, datetime(2026, 9, 30, 17, 0, tzinfo=SH), 3)
    assert iso(runs) == ["2026-10-08T16:30:00+08:00", "2026-10-09T16:30:00+08:00", "2026-10-12T16:30:00+08:00"]
    assert not any(is_provisional(trigger, r) for r in runs)


def test_numeric_weekdays_with_a_calendar_match_names():
    start = datetime(2026, 9, 30, 17, 0, tzinfo=SH)
    numeric = next_runs(build_trigger("30 16 * * 1-5", "Asia/Shanghai", get_calendar("XSHG")), start, 5)
    named = next_runs(build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG")), start, 5)
    assert numeric == named and numeric[0] == datetime(2026, 10, 8, 16, 30, tzinfo=SH)


def test_thanksgiving_on_xnys():
    trigger = build_trigger("0 17 * * mon-fri", "America/New_York", get_calendar("XNYS"))
    runs = next_runs(trigger, datetime(2026, 11, 25, 18, 0, tzinfo=NY), 2)
    assert iso(runs) == ["2026-11-27T17:00:00-05:00", "2026-11-30T17:00:00-05:00"]


def test_calendar_day_is_the_local_date_in_the_jobs_timezone():
    # 08:00 Shanghai on Thu 2026-10-08 is Wed 2026-10-07 in New York: an XSHG job in New York time
    # follows New York dates, so 20:00 New York on 10-07 (closed in Shanghai) does not run.
    trigger = build_trigger("0 20 * * *", "America/New_York", get_calendar("XSHG"))
    runs = next_runs(trigger, datetime(2026, 10, 6, 21, tzinfo=NY), 1)
    assert iso(runs) == ["2026-10-08T20:00:00-04:00"]


# -- the end of the XSHG list ------------------------------------------------------------------


def test_xshg_into_2027_uses_the_provisional_fallback():
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG"))
    runs = next_runs(trigger, datetime(2026, 12, 30, 17, 0, tzinfo=SH), 3)
    assert iso(runs) == ["2026-12-31T16:30:00+08:00", "2027-01-04T16:30:00+08:00", "2027-01-05T16:30:00+08:00"]
    assert [is_provisional(trigger, r) for r in runs] == [False, True, True]
    # Spring Festival 2027 by rule: the eve (Fri 5 Feb) and Mon 8 .. Wed 10 Feb closed
    runs = next_runs(trigger, datetime(2027, 2, 4, 17, 0, tzinfo=SH), 2)
    assert iso(runs) == ["2027-02-11T16:30:00+08:00", "2027-02-12T16:30:00+08:00"]
    assert all(is_provisional(trigger, r) for r in runs)


def test_overrides_beat_the_fallback_in_the_trigger():
    closed = Closures(closed=frozenset({date(2027, 1, 4)}))
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG", closed))
    runs = next_runs(trigger, datetime(2026, 12, 31, 17, 0, tzinfo=SH), 1)
    assert iso(runs) == ["2027-01-05T16:30:00+08:00"] and is_provisional(trigger, runs[0])

    official = Closures(closed=frozenset({date(2027, 1, 1), *(date(2027, 2, d) for d in range(8, 13))}),
                        complete_years=frozenset({2027}))
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG", official))
    runs = next_runs(trigger, datetime(2027, 2, 4, 17, 0, tzinfo=SH), 2)
    assert iso(runs) == ["2027-02-05T16:30:00+08:00", "2027-02-15T16:30:00+08:00"]
    assert not any(is_provisional(trigger, r) for r in runs)


def test_provisional_is_false_without_calendar():
    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai")
    assert not is_provisional(trigger, datetime(2027, 2, 11, 16, 30, tzinfo=SH))


# -- daylight-saving time ----------------------------------------------------------------------


def test_spring_forward_runs_a_skipped_time_at_the_first_instant_after_the_gap():
    # America/New_York 2026-03-08: 02:00 EST -> 03:00 EDT; 02:30 does not exist that day.
    # DESIGN.md: a slot that does not exist runs at the first instant after it, 03:00 EDT (the
    # change itself), not APScheduler's 03:30 (02:30 read with the old offset).
    trigger = build_trigger("30 2 * * *", "America/New_York")
    runs = next_runs(trigger, datetime(2026, 3, 7, 12, tzinfo=NY), 3)
    assert iso(runs) == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
    assert runs[0] == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # the instant of the change


def test_spring_forward_skipped_times_landing_on_existing_ones_run_once():
    trigger = build_trigger("0,30 2,3 * * *", "America/New_York")
    runs = next_runs(trigger, datetime(2026, 3, 8, 0, tzinfo=NY), 3)
    assert iso(runs) == ["2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:00:00-04:00"]


def test_fall_back_runs_a_repeated_time_once_at_its_first_occurrence():
    # America/New_York 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 happens twice
    trigger = build_trigger("30 1 * * *", "America/New_York")
    runs = next_runs(trigger, datetime(2026, 10, 31, 12, tzinfo=NY), 3)
    assert iso(runs) == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]
    # as the daemon calls it: after the 01:30 EDT run, the next is the next day
    assert trigger.get_next_fire_time(runs[0], runs[0]) == runs[1]


def test_fall_back_every_half_hour_skips_the_repeated_hour():
    trigger = build_trigger("*/30 0-2 * * *", "America/New_York")
    runs = next_runs(trigger, datetime(2026, 11, 1, 0, 0, tzinfo=NY), 5)
    assert iso(runs) == ["2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
                         "2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00"]


def test_dst_with_a_trading_calendar():
    # 2026-03-09 is a Monday: the first weekday run after the change is in daylight time
    trigger = build_trigger("0 17 * * mon-fri", "America/New_York", get_calendar("XNYS"))
    runs = next_runs(trigger, datetime(2026, 3, 6, 18, tzinfo=NY), 2)
    assert iso(runs) == ["2026-03-09T17:00:00-04:00", "2026-03-10T17:00:00-04:00"]


# -- the loop guard ----------------------------------------------------------------------------


class NeverOpen:
    name = "NEVER"

    def __init__(self):
        self.calls = 0

    def is_open(self, day):
        self.calls += 1
        return False

    def is_provisional(self, day):
        return False


@pytest.mark.parametrize("expr", ["* * * * *", "0 9 1 1 *"])
def test_a_calendar_that_is_never_open_gives_none(expr):
    cal = NeverOpen()
    trigger = build_trigger(expr, "UTC", cal)
    assert trigger.get_next_fire_time(None, datetime(2026, 11, 26, tzinfo=UTC)) is None
    assert 0 < cal.calls <= crontab.MAX_CANDIDATES
    assert next_runs(trigger, datetime(2026, 11, 26, tzinfo=UTC), 3) == []


def test_a_sunday_job_on_a_weekday_exchange_never_runs():
    trigger = build_trigger("0 9 * * sun", "Asia/Shanghai", get_calendar("XSHG"))
    assert next_runs(trigger, datetime(2026, 11, 26, tzinfo=SH), 1) == []


# -- APScheduler ---------------------------------------------------------------------------------


def test_is_an_apscheduler_trigger_with_a_useful_str():
    from apscheduler.triggers.base import BaseTrigger

    trigger = build_trigger("30 16 * * 1-5", "Asia/Shanghai", get_calendar("XSHG"))
    assert isinstance(trigger, BaseTrigger)
    assert str(trigger) == "cron[30 16 * * mon-fri] Asia/Shanghai, XSHG trading days"
    assert str(build_trigger("0 9 * * *", "UTC")) == "cron[0 9 * * *] UTC, every day"


def test_scheduler_wiring_with_a_frozen_clock():
    time_machine = pytest.importorskip("time_machine")
    from apscheduler.schedulers.background import BackgroundScheduler

    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG"))
    with time_machine.travel(datetime(2026, 9, 30, 17, 0, tzinfo=SH), tick=False):
        scheduler = BackgroundScheduler(timezone=SH)
        scheduler.start(paused=True)
        try:
            job = scheduler.add_job(lambda: None, trigger, id="esg-compute-daily")
            assert job.next_run_time == datetime(2026, 10, 8, 16, 30, tzinfo=SH)
        finally:
            scheduler.shutdown(wait=False)


def test_trigger_pickles_as_its_crontab_timezone_and_shared_calendar():
    import pickle

    trigger = build_trigger("30 16 * * mon-fri", "Asia/Shanghai", get_calendar("XSHG"))
    copy = pickle.loads(pickle.dumps(trigger))
    assert copy.calendar is trigger.calendar and str(copy) == str(trigger)
    start = datetime(2026, 9, 30, 17, 0, tzinfo=SH)
    assert next_runs(copy, start, 2) == next_runs(trigger, start, 2)


def test_checking_a_crontab_imports_no_scheduler_or_calendar_library():
    import subprocess
    import sys

    code = ("import sys, screener.schedule.crontab as c, screener.schedule.calendars; c.parse_cron('30 16 * * 1-5'); "
            "print(sorted(m for m in ('apscheduler', 'exchange_calendars', 'holidays', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- hints are themselves valid ------------------------------------------------------------------

_BAD_TOKENS = ["60", "24", "0", "32", "13", "8", "-1", "a", "mon", "jan", "thur", "juni", "thurs", "1-", "1--2", "5/15",
               "7/2", "0/2", "sun/2", "mon/2", "jan/3", "5/x", "5/0", "*/0", "*/x", "1,,2", ",1", "1,", ",,", "L", "W",
               "15W", "5#3", "?", "17-9", "fri-mon", "7-mon", "7-1", "7-0", "7-fri", "sat-fri", "sat-0", "6-mon",
               "nov-feb", "12-1", "dec-jan", "59-0", "31-1", "23-0", "5-3/2", "fri-thur", "mon-juni", "x-y", "1-50/7/2"]
_BASE = ["0", "9", "*", "*", "*"]


def _hint_cases():
    cases = [5, "", "   ", "@daily", "@weekly", "@reboot", "0 9 * *", "0 0 9 * * *", "0 9 30 2 mon", "0 9 31 4,6 1-5",
             "0 9 15 * mon", "0 9 1-7 * 1", "0 9 */2 * mon-fri", "0 9 30 2 *", "0 9 31 4,6 *"]
    for i in range(5):
        for token in _BAD_TOKENS:
            fields = list(_BASE)
            fields[i] = token
            cases.append(" ".join(fields))
    return cases


def _errors():
    for expr in _hint_cases():
        try:
            parse_cron(expr)
        except CronError as e:
            yield expr, e


def test_every_hint_suggests_something_that_parses():
    """Each `quoted` suggestion in a hint is a whole crontab that parses, or (for an error in one
    field) something that parses in that field."""
    import re

    checked = 0
    for expr, e in _errors():
        for fragment in re.findall(r"`([^`]+)`", e.hint or ""):
            if fragment in ("a-b", "*/n", "a-b/n"):  # the syntax's forms, not suggestions
                continue
            if len(fragment.split()) == 5:
                parse_cron(fragment)  # raises if the suggestion is itself rejected
            else:
                assert e.field is not None and " " not in fragment, (expr, e.hint)
                fields = list(_BASE)
                fields[e.field] = fragment
                try:
                    parse_cron(" ".join(fields))
                except CronError as again:
                    pytest.fail(f"{expr!r}: hint {e.hint!r} suggests `{fragment}`, rejected: {again.message}")
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("expr, hint", [
    ("0 9 * * 7-mon", "write `sun-mon`"),  # was `7-sat,sun-mon`, itself backwards
    ("0 9 * * 7-1", "write `0-1`"),
    ("0 9 * nov-feb *", "`nov-dec,jan-feb`"),
    ("0 9 * 12-1 *", "`12,1`"),
    ("0 9 * * sat-fri", "`sat,sun-fri`"),
    ("0 9 * * 7/2", "write `7`"),
    ("0 9 * * 5/x", "e.g. `*/2`"),
    ("0 9 * 1,,2 *", "`1,2`"),
    ("0 9 30 2 mon", "restrict only one of them: `0 9 * 2 mon`"),
])
def test_hints_for_the_cases_that_used_to_suggest_invalid_crontabs(expr, hint):
    with pytest.raises(CronError) as e:
        parse_cron(expr)
    assert hint in e.value.hint
    if expr == "0 9 30 2 mon":
        assert e.value.hint.count("`") == 2  # `0 9 30 2 *` is not offered: 30 February never occurs
