"""Trading calendars: exchange_calendars inside its bounds, the holidays package's rules past them
(provisional), official closures from the closures file winning over both, and never a crash.

No network, no clock: every answer depends on the date asked only."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta

import pytest

from screener.schedule import calendars
from screener.schedule.calendars import (
    CALENDARS,
    SOURCE_EXCHANGE,
    SOURCE_HOLIDAYS,
    SOURCE_OVERRIDE,
    SOURCE_WEEKDAYS,
    CalendarError,
    Closures,
    TradingCalendar,
    get_calendar,
    load_closures,
)
from screener.problems import InputError
from tests.conftest import write

D = date.fromisoformat


def days(first: str, last: str) -> list[date]:
    a, b = D(first), D(last)
    return [a + timedelta(days=n) for n in range((b - a).days + 1)]


# -- names -------------------------------------------------------------------------------------


def test_known_calendars():
    assert CALENDARS == ("XSHG", "XHKG", "XNYS")
    for name in CALENDARS:
        assert get_calendar(name).name == name


@pytest.mark.parametrize("name, hint", [
    ("XSHE", "use `XSHG` for Shanghai, Shenzhen and Beijing"),
    ("XBSE", "use `XSHG` for Shanghai, Shenzhen and Beijing"),
    ("NYSE", "use `XNYS`"),
    ("HKEX", "use `XHKG`"),
    ("xnys", "did you mean `XNYS`?"),
    ("XHKH", "did you mean `XHKG`?"),
    ("LSE", "valid calendar choices: `XHKG`, `XNYS`, `XSHG`"),
])
def test_unknown_calendar_names_the_known_ones_and_suggests(name, hint):
    with pytest.raises(CalendarError) as e:
        get_calendar(name)
    assert e.value.message == f"unknown calendar {name!r} (known calendars: XSHG, XHKG, XNYS)"
    assert hint in e.value.hint
    assert isinstance(e.value, ValueError)
    assert hint in str(e.value)


# -- exchange_calendars inside its bounds ----------------------------------------------------------


def test_xshg_national_day_2026_from_exchange_calendars():
    cal = get_calendar("XSHG")
    for day in days("2026-10-01", "2026-10-07"):
        assert not cal.is_open(day), day
        assert cal.source(day) == SOURCE_EXCHANGE
    assert cal.is_open(D("2026-09-30")) and cal.is_open(D("2026-10-08"))
    assert not cal.is_provisional(D("2026-10-08"))
    assert cal.next_open(D("2026-10-01")) == D("2026-10-08")
    assert cal.next_open(D("2026-10-08")) == D("2026-10-08")  # on or after
    assert not cal.is_open(D("2026-10-10"))  # a Saturday make-up working day is not a trading day


def test_datetime_counts_as_its_date():
    cal = get_calendar("XSHG")
    assert cal.is_open(datetime(2026, 10, 8, 16, 30)) is True
    assert cal.is_open(datetime(2026, 10, 7, 16, 30)) is False


def test_xnys_thanksgiving_2026():
    cal = get_calendar("XNYS")
    assert not cal.is_open(D("2026-11-26"))
    assert cal.is_open(D("2026-11-25")) and cal.is_open(D("2026-11-27"))  # the 27th is a half day: open
    assert cal.source(D("2026-11-26")) == SOURCE_EXCHANGE


def test_xhkg_lunar_new_year_2026_and_half_days():
    cal = get_calendar("XHKG")
    assert [cal.is_open(d) for d in days("2026-02-16", "2026-02-20")] == [True, False, False, False, True]
    assert cal.is_open(D("2026-12-24")) and cal.is_open(D("2026-12-31"))  # half days trade
    assert not cal.is_open(D("2026-12-25"))


def test_exchange_calendars_answers_do_not_depend_on_today():
    # exchange_calendars' default end is "a year from today": we ask for explicit dates instead, so
    # XNYS in 2030 is known (not provisional) whatever the clock says.
    cal = get_calendar("XNYS")
    assert cal.source(D("2030-07-04")) == SOURCE_EXCHANGE and not cal.is_open(D("2030-07-04"))
    assert get_calendar("XHKG").source(D("2049-12-31")) == SOURCE_EXCHANGE


# -- past the bound: the holidays package, provisional --------------------------------------------


def test_xshg_bound_is_the_end_of_2026():
    cal = get_calendar("XSHG")
    assert cal.source(D("2026-12-31")) == SOURCE_EXCHANGE and not cal.is_provisional(D("2026-12-31"))
    assert cal.source(D("2027-01-01")) == SOURCE_HOLIDAYS and cal.is_provisional(D("2027-01-01"))


def test_xshg_january_and_spring_festival_2027_from_holidays_rules():
    cal = get_calendar("XSHG")
    assert not cal.is_open(D("2027-01-01"))  # New Year's Day
    assert cal.is_open(D("2027-01-04"))
    assert cal.next_open(D("2026-12-31")) == D("2026-12-31")
    assert cal.next_open(D("2027-01-01")) == D("2027-01-04")
    # Spring Festival 2027 (rule-based): the eve (Fri 5 Feb) and Mon 8 .. Wed 10 Feb closed
    opened = {d: cal.is_open(d) for d in days("2027-02-04", "2027-02-12")}
    assert [d for d, ok in opened.items() if ok] == [D("2027-02-04"), D("2027-02-11"), D("2027-02-12")]
    assert all(cal.is_provisional(d) for d in opened)
    assert cal.next_open(D("2027-02-05")) == D("2027-02-11")


def test_other_calendars_past_their_bounds():
    hk, ny = get_calendar("XHKG"), get_calendar("XNYS")
    assert hk.source(D("2050-01-03")) == SOURCE_HOLIDAYS and hk.is_open(D("2050-01-03"))
    assert not hk.is_open(D("2050-01-01"))
    # past 2100 nothing knows the holidays: weekdays open, provisional
    assert ny.source(D("2101-01-03")) == SOURCE_WEEKDAYS and ny.is_open(D("2101-01-03"))
    assert not ny.is_open(D("2101-01-01") + timedelta(days=1))  # a Sunday
    assert ny.is_provisional(D("2101-01-03"))


def test_never_raises_from_1990_to_2100():
    known = {SOURCE_EXCHANGE, SOURCE_HOLIDAYS, SOURCE_WEEKDAYS}
    sample = [date(y, m, d) for y in range(1990, 2101) for m, d in ((1, 1), (6, 15), (12, 31))]
    sample += days("2026-12-20", "2027-01-10") + days("2049-12-20", "2050-01-10") + days("2100-12-20", "2101-01-10")
    sample += [date(1, 1, 1), date(9999, 12, 31)]
    for name in CALENDARS:
        cal = get_calendar(name)
        for day in sample:
            assert isinstance(cal.is_open(day), bool)
            assert cal.source(day) in known
            assert isinstance(cal.is_provisional(day), bool)


def test_a_failing_exchange_calendars_falls_back_to_holidays(monkeypatch, caplog):
    calendars._exchange_sessions.cache_clear()
    monkeypatch.setitem(sys.modules, "exchange_calendars", None)  # import fails
    try:
        cal = TradingCalendar("XSHG")
        assert cal.is_open(D("2026-10-08")) and not cal.is_open(D("2026-10-01"))
        assert cal.source(D("2026-10-08")) == SOURCE_HOLIDAYS
        assert "exchange_calendars could not build XSHG" in caplog.text
    finally:
        calendars._exchange_sessions.cache_clear()


def test_without_any_library_weekdays_are_open_provisionally(monkeypatch, caplog):
    calendars._exchange_sessions.cache_clear()
    calendars._fallback_closed.cache_clear()
    monkeypatch.setitem(sys.modules, "exchange_calendars", None)
    monkeypatch.setitem(sys.modules, "holidays", None)
    try:
        cal = TradingCalendar("XSHG")
        assert cal.is_open(D("2027-02-08")) and cal.source(D("2027-02-08")) == SOURCE_WEEKDAYS
        assert not cal.is_open(D("2027-02-06"))  # Saturday
        assert cal.is_provisional(D("2027-02-08"))
    finally:
        calendars._exchange_sessions.cache_clear()
        calendars._fallback_closed.cache_clear()


# -- overrides ---------------------------------------------------------------------------------


def test_override_closure_beats_the_fallback_and_is_not_provisional():
    cal = get_calendar("XSHG", Closures(closed=frozenset({D("2027-02-11")})))
    assert not cal.is_open(D("2027-02-11"))
    assert cal.source(D("2027-02-11")) == SOURCE_OVERRIDE and not cal.is_provisional(D("2027-02-11"))
    assert cal.is_open(D("2027-02-12")) and cal.is_provisional(D("2027-02-12"))  # other days: still the rules
    assert cal.next_open(D("2027-02-05")) == D("2027-02-12")


def test_override_closure_beats_exchange_calendars():
    cal = get_calendar("XHKG", Closures(closed=frozenset({D("2026-09-16")})))  # say, a typhoon
    assert not cal.is_open(D("2026-09-16")) and cal.source(D("2026-09-16")) == SOURCE_OVERRIDE
    assert get_calendar("XHKG").is_open(D("2026-09-16"))


def test_complete_year_makes_the_file_the_whole_truth_for_that_year():
    official = frozenset({D("2027-01-01"), *days("2027-02-08", "2027-02-12")})  # a made-up "official" list
    cal = get_calendar("XSHG", Closures(closed=official, complete_years=frozenset({2027})))
    assert cal.is_open(D("2027-02-05"))  # the rules close the eve; the official list keeps it open
    assert cal.source(D("2027-02-05")) == SOURCE_OVERRIDE and not cal.is_provisional(D("2027-02-05"))
    assert [cal.is_open(d) for d in days("2027-02-08", "2027-02-15")] == [False] * 5 + [False, False, True]
    assert not cal.is_open(D("2027-02-06"))  # weekends stay closed
    assert cal.is_provisional(D("2028-01-04"))  # other years: the rules again


def test_get_calendar_is_cached_per_name_and_closures():
    a = Closures(closed=frozenset({D("2027-02-11")}))
    b = Closures(closed=frozenset({D("2027-02-11")}))
    assert get_calendar("XSHG", a) is get_calendar("XSHG", b)
    assert get_calendar("XSHG", a) is not get_calendar("XSHG")
    assert get_calendar("XSHG") is get_calendar("XSHG", None)


def test_next_open_gives_up_after_ten_years():
    class Shut(TradingCalendar):
        def is_open(self, day):
            return False

    with pytest.raises(CalendarError, match="no open day within ten years"):
        Shut("XSHG").next_open(D("2027-01-01"))


# -- the closures file -------------------------------------------------------------------------


def test_load_closures(tmp_path):
    path = write(tmp_path / "closures.toml", """
        # official closures announced by the exchanges
        [XSHG]
        closed = [
            "2027-01-01",
            2027-02-08,                    # a bare TOML date works too
            "2027-02-09..2027-02-12",      # a range, both ends included
        ]
        complete_years = [2027]

        [XHKG]
        closed = ["2026-09-16"]

        [XNYS]
        """)
    got = load_closures(path)
    assert got["XSHG"] == Closures(frozenset({D("2027-01-01"), *days("2027-02-08", "2027-02-12")}), frozenset({2027}))
    assert got["XHKG"] == Closures(frozenset({D("2026-09-16")}))
    assert got["XNYS"] == Closures()
    assert get_calendar("XSHG", got["XSHG"]).is_open(D("2027-02-05"))


def problems_of(tmp_path, text: str):
    path = write(tmp_path / "closures.toml", text)
    with pytest.raises(InputError) as e:
        load_closures(path)
    return e.value.problems


def test_bad_dates_point_at_the_item(tmp_path):
    problems = problems_of(tmp_path, """
        [XSHG]
        closed = ["2027-02-08", "2027-02-30",
                  "2027-2-9", 2027-02-10T09:30:00, "2027-02-12..2027-02-10"]
        """)
    got = [(p.code, p.line, p.col, p.message) for p in problems]
    assert got == [
        ("bad-date", 2, 25, "`2027-02-30` is not a date: day is out of range for month"),
        ("bad-date", 3, 11, "`2027-2-9` is not a date in the form YYYY-MM-DD"),
        ("bad-date", 3, 23, "`2027-02-10T09:30:00` has a time: closures are whole days"),
        ("bad-date", 3, 44, "range `2027-02-12..2027-02-10` runs backwards: its end is before its start"),
    ]
    assert problems[0].path.endswith("closures.toml")
    assert "2027-02-30" in problems[0].render() and "^" in problems[0].render()


def test_unknown_calendar_key_and_open_are_explained(tmp_path):
    problems = problems_of(tmp_path, """
        [XSHE]
        closed = ["2027-02-08"]

        [XSHG]
        closd = ["2027-02-08"]
        open = ["2027-02-14"]
        """)
    by_code = {p.code: p for p in problems}
    assert by_code["unknown-calendar"].line == 1
    assert "use `XSHG` for Shanghai, Shenzhen and Beijing" in by_code["unknown-calendar"].hint
    assert (by_code["unknown-key"].line, by_code["unknown-key"].col) == (5, 1)
    assert by_code["unknown-key"].hint == "did you mean `closed`?"
    opened = by_code["unsupported-key"]
    assert opened.line == 6
    assert "make-up working day" in opened.message and "not a trading day" in opened.message
    assert "complete_years" in opened.hint


def test_complete_year_needs_closures_in_that_year(tmp_path):
    problems = problems_of(tmp_path, """
        [XSHG]
        closed = ["2027-01-01"]
        complete_years = [2027, 2028, 27]
        """)
    assert [(p.line, p.col) for p in problems] == [(3, 25), (3, 31)]
    assert problems[0].message == "complete_years lists 2028 but `closed` has no day in 2028"
    assert problems[1].message == "27 is not a year from 1990 to 2100"


def test_wrong_shapes(tmp_path):
    problems = problems_of(tmp_path, """
        XSHG = "2027-02-08"
        [XNYS]
        closed = "2027-02-08"
        """)
    assert [(p.code, p.line) for p in problems] == [("bad-value", 1), ("bad-value", 3)]
    assert "must be a table" in problems[0].message
    assert "must be a list of dates" in problems[1].message


def test_toml_errors_and_missing_files(tmp_path):
    problems = problems_of(tmp_path, '[XSHG]\nclosed = ["2027-02-08"\n')
    assert (problems[0].code, problems[0].line) == ("toml", 2)
    assert problems[0].message == "not valid TOML: Unclosed array at the end of the file"
    with pytest.raises(InputError) as e:
        load_closures(tmp_path / "nope.toml")
    assert e.value.problems[0].code == "no-file"
