"""The one convention of every period parameter (`from`, `to`) of every API.

- `from` and `to` each take an ISO date (`2026-01-31`) or an RFC 3339 time with its
  offset (`2026-01-31T09:00:00+01:00`, `…Z`); a time without an offset is refused.
- A date `from` is the start of that day, a date `to` the end of that day (the day is
  included). Days are UTC days: the project has no agency time zone.
- The period is half-open, [start, end); it must end after it starts.
- Neither given: the last 90 days, ending now. Only `to`: from = to - 90 days.
  Only `from`: to = now.
- Every answer echoes the period it used, as RFC 3339 times.

`resolve_period` is pure (tested in tests/unit/test_periods.py); `period` is the FastAPI
dependency the endpoints take, turning a `PeriodError` into a 422 naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query

from shared.errors import InvalidInput
from shared.schemas import MAX_YEAR, MIN_YEAR

DEFAULT_DAYS = 90
# Days are UTC days (there is no agency time-zone setting).
ZONE = UTC

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<clock>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)

DESCRIPTION = (
    "An ISO date (`2026-01-31`) or an RFC 3339 time with its offset "
    "(`2026-01-31T09:00:00+01:00`); a time without an offset is refused (422). "
    "A date `from` means the start of that day, a date `to` the end of that day (the day "
    "is included); days are UTC days. The period is half-open, [from, to). "
    f"Neither given: the last {DEFAULT_DAYS} days ending now; only `to`: from = to - "
    f"{DEFAULT_DAYS} days; only `from`: to = now."
)
FROM_DESCRIPTION = "Start of the period. " + DESCRIPTION
TO_DESCRIPTION = "End of the period (excluded; a date: that day included). " + DESCRIPTION


class PeriodError(ValueError):
    """A period parameter that cannot be used; `field` is `from` or `to`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Period:
    """[start, end): aware datetimes, start before end."""

    start: datetime
    end: datetime

    def days(self) -> tuple[date, date]:
        """The UTC days whose start lies in the period: [first, after_last).

        For figures kept as days (an outcome's date): a period given as dates counts
        exactly those days."""
        return _first_day_at_or_after(self.start), _first_day_at_or_after(self.end)

    def split(self) -> tuple[date, date, list[tuple[datetime, datetime]]]:
        """The period as the UTC days wholly inside it, [first, after_last) (empty when
        none is: first == after_last), and the parts of days left at either end, as
        non-empty [start, end) ranges: for figures counted per day, read per day for the
        whole days and exactly (by time) for the rest. Together they are the period."""
        first = _first_day_at_or_after(self.start)
        after_last = self.end.astimezone(ZONE).date()
        if first >= after_last:
            return first, first, [(self.start, self.end)]
        edges = [
            (self.start, _start_of(first)),
            (_start_of(after_last), self.end),
        ]
        return first, after_last, [(a, b) for a, b in edges if a < b]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZONE)


def _first_day_at_or_after(moment: datetime) -> date:
    utc = moment.astimezone(ZONE)
    day = utc.date()
    return day if utc.timetz().replace(tzinfo=None) == time(0) else day + timedelta(days=1)


def parse_bound(field: str, text: str, *, end: bool) -> datetime:
    """One bound: a date (start of day; for the end, the end of that day) or an aware time."""
    text = text.strip()
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise PeriodError(field, "not a calendar date (YYYY-MM-DD)") from None
        _check_year(field, day.year)
        start_of_day = datetime.combine(day, time(0), tzinfo=ZONE)
        return start_of_day + timedelta(days=1) if end else start_of_day
    match = _TIME.fullmatch(text)
    if match is None:
        raise PeriodError(
            field,
            "give a date (2026-01-31) or a time with its offset (2026-01-31T09:00:00+01:00)",
        )
    if match["offset"] is None:
        raise PeriodError(field, "a time needs its offset (e.g. 2026-01-31T09:00:00+01:00 or …Z)")
    normalised = f"{match['date']}T{match['clock']}{match['offset'].upper()}"
    try:
        moment = datetime.fromisoformat(normalised)
    except ValueError:
        raise PeriodError(field, "not a valid time") from None
    _check_year(field, moment.year)
    return moment


def _check_year(field: str, year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(field, f"the year must lie between {MIN_YEAR} and {MAX_YEAR}")


def resolve_period(
    from_text: str | None, to_text: str | None, *, now: datetime, default_days: int = DEFAULT_DAYS
) -> Period:
    """The period the parameters mean (see the module's docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    start = parse_bound("from", from_text, end=False) if from_text is not None else None
    end = parse_bound("to", to_text, end=True) if to_text is not None else None
    if end is None:
        end = now
    if start is None:
        start = end - timedelta(days=default_days)
    if start >= end:
        raise PeriodError("from", "the period must start before it ends (`to`)")
    return Period(start, end)


def now_utc() -> datetime:
    return datetime.now(ZONE)


def period(
    from_: Annotated[
        str | None, Query(alias="from", max_length=40, description=FROM_DESCRIPTION)
    ] = None,
    to: Annotated[str | None, Query(max_length=40, description=TO_DESCRIPTION)] = None,
) -> Period:
    """The FastAPI dependency of every period parameter."""
    try:
        return resolve_period(from_, to, now=now_utc())
    except PeriodError as error:
        raise InvalidInput(
            f"The period is not valid: {error.message}.",
            errors=[{"field": error.field, "message": error.message}],
        ) from None
