"""Rebalance dates: the calendar ends of each period within [start, end], both inclusive.

`month`: the last day of each month; `quarter`: 03-31, 06-30, 09-30, 12-31; `week`: Sundays.
Explicit dates are sorted with duplicates dropped. Calendar days, not trading days: a backtest
as of a Sunday sees what was known that Sunday.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

EVERY = ("month", "quarter", "week")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def rebalance_dates(start: date, end: date, every: str) -> list[date]:
    """Every period end of `every` in [start, end]; [] when there is none."""
    if every not in EVERY:
        raise ValueError(every)
    out: list[date] = []
    if every == "week":
        d = start + timedelta(days=(6 - start.weekday()) % 7)  # the first Sunday on or after start
        while d <= end:
            out.append(d)
            d += timedelta(days=7)
        return out
    step = 3 if every == "quarter" else 1
    year, month = start.year, start.month
    if every == "quarter":
        month = ((month - 1) // 3 + 1) * 3  # the quarter's last month
    while True:
        d = _month_end(year, month)
        if d > end:
            return out
        if d >= start:
            out.append(d)
        month += step
        if month > 12:
            year, month = year + 1, month - 12


def explicit_dates(dates) -> list[date]:
    """`--dates`: sorted, duplicates dropped."""
    return sorted(set(dates))
