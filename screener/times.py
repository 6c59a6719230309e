"""Times shown to people: a stored UTC instant in the user's zone (DESIGN: "the history stores UTC;
every time shown to a user is in the job's timezone for scheduled runs, else `[schedule]
timezone`, ISO 8601 with the offset").

The history, the pipeline and the clock keep instants in UTC; only what reaches a person (exports,
terminal, `--json`, logs, the status file) goes through `shown`/`local`. Stored text from any
version parses: ISO 8601 with an offset, `Z`, or without a zone (read as UTC, as every history
before zones were shown wrote UTC). Standard library only: the CLI imports it at start.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["instant", "local", "shown"]


@lru_cache(maxsize=64)
def zone(tz: str | None) -> ZoneInfo | timezone:
    """The IANA zone named `tz` (None or "UTC": UTC)."""
    return timezone.utc if tz in (None, "", "UTC") else ZoneInfo(tz)


def instant(value: datetime | str) -> datetime:
    """`value` as an aware UTC datetime: an aware datetime is converted, a naive one (or text
    without an offset, as old history rows hold) is taken to be UTC already; `Z` is accepted."""
    if isinstance(value, str):
        text = value.strip()
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def local(value: datetime | str, tz: str | None) -> datetime:
    """The instant `value` (see `instant`) as an aware datetime in zone `tz`."""
    return instant(value).astimezone(zone(tz))


def shown(value: datetime | str | None, tz: str | None, timespec: str = "seconds") -> str | None:
    """ISO 8601 with the offset of `tz` at that instant: `shown("2026-11-20T08:30:05+00:00",
    "Asia/Shanghai")` is "2026-11-20T16:30:05+08:00". None stays None; text that is not a time is
    returned as it is (a person can still read it)."""
    if value is None:
        return None
    try:
        moment = local(value, tz)
    except ValueError:
        return str(value)
    return moment.isoformat(timespec=timespec)
