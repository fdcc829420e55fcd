"""The one period convention (shared/periods.py): pure parsing and defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.periods import DEFAULT_DAYS, Period, PeriodError, parse_bound, resolve_period

NOW = datetime(2026, 5, 10, 14, 30, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def test_a_date_from_is_the_start_of_that_day_and_a_date_to_the_end_of_it() -> None:
    p = resolve_period("2026-01-01", "2026-01-31", now=NOW)
    assert p == Period(utc(2026, 1, 1), utc(2026, 2, 1))
    # One day: from and to the same date is that whole day.
    assert resolve_period("2026-01-31", "2026-01-31", now=NOW) == Period(
        utc(2026, 1, 31), utc(2026, 2, 1)
    )


def test_times_keep_their_offset() -> None:
    p = resolve_period("2026-01-31T09:00:00+01:00", "2026-02-01T10:15:30.5Z", now=NOW)
    assert p.start == datetime(2026, 1, 31, 9, tzinfo=CET)
    assert p.start == utc(2026, 1, 31, 8)
    assert p.end == datetime(2026, 2, 1, 10, 15, 30, 500000, tzinfo=UTC)
    assert p.start.tzinfo is not None and p.end.tzinfo is not None
    # Minutes without seconds, a lower-case z and a space instead of T: RFC 3339 allows them.
    assert parse_bound("to", "2026-01-31 09:00z", end=True) == utc(2026, 1, 31, 9)


@pytest.mark.parametrize("field", ["from", "to"])
def test_a_time_without_offset_is_refused_naming_the_field(field: str) -> None:
    with pytest.raises(PeriodError) as error:
        resolve_period(
            "2026-01-01T00:00:00" if field == "from" else None,
            "2026-02-01T00:00:00" if field == "to" else None,
            now=NOW,
        )
    assert error.value.field == field and "offset" in error.value.message


@pytest.mark.parametrize(
    "text",
    [
        "x",
        "",
        "2026-02-30",
        "2026-13-01T00:00:00Z",
        "2026-01-01T25:00:00Z",
        "1700000000",
        "2026-01-01T00:00:00+0100",
        "26-01-01",
        "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661",  # Arabic-Indic digits
        "1899-12-31",
        "2201-01-01T00:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31",
    ],
)
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    for field in ("from", "to"):
        with pytest.raises(PeriodError) as error:
            parse_bound(field, text, end=field == "to")
        assert error.value.field == field


def test_the_period_ends_after_it_starts_else_from_is_at_fault() -> None:
    for start, end in (("2026-02-01", "2026-01-31"), ("2026-01-01T10:00Z", "2026-01-01T10:00Z")):
        with pytest.raises(PeriodError) as error:
            resolve_period(start, end, now=NOW)
        assert error.value.field == "from"
    # A from in the future, without a to (to = now): reversed as well.
    with pytest.raises(PeriodError) as error:
        resolve_period("2026-06-01", None, now=NOW)
    assert error.value.field == "from"


def test_defaults_the_last_90_days_ending_now_and_derive_a_missing_bound() -> None:
    assert DEFAULT_DAYS == 90
    assert resolve_period(None, None, now=NOW) == Period(NOW - timedelta(days=90), NOW)
    assert resolve_period(None, "2026-03-31", now=NOW) == Period(
        utc(2026, 4, 1) - timedelta(days=90), utc(2026, 4, 1)
    )
    assert resolve_period("2026-03-01", None, now=NOW) == Period(utc(2026, 3, 1), NOW)


def test_the_days_of_a_period_are_those_whose_start_lies_in_it() -> None:
    assert resolve_period("2026-01-01", "2026-01-31", now=NOW).days() == (
        date(2026, 1, 1),
        date(2026, 2, 1),
    )
    # Times in between: a day counts when its start (UTC midnight) lies in [start, end).
    p = Period(utc(2026, 1, 1, 9), utc(2026, 1, 3, 0, 0, 1))
    assert p.days() == (date(2026, 1, 2), date(2026, 1, 4))
    p = Period(datetime(2026, 1, 2, 0, 30, tzinfo=CET), utc(2026, 1, 3))
    assert p.days() == (date(2026, 1, 2), date(2026, 1, 3))


def test_a_period_splits_into_whole_days_and_the_part_days_at_its_ends() -> None:
    # Dates: whole days only.
    p = resolve_period("2026-01-01", "2026-01-31", now=NOW)
    assert p.split() == (date(2026, 1, 1), date(2026, 2, 1), [])
    # The default period ends now: the days before, and the part-days at both ends.
    p = resolve_period(None, None, now=NOW)
    assert p.split() == (
        date(2026, 2, 10),
        date(2026, 5, 10),
        [(utc(2026, 2, 9, 14, 30), utc(2026, 2, 10)), (utc(2026, 5, 10), NOW)],
    )
    # Within one day, or across one midnight without a whole day: no day, the time range.
    for p in (
        Period(utc(2026, 1, 1, 9), utc(2026, 1, 1, 17)),
        Period(utc(2026, 1, 1, 9), utc(2026, 1, 2, 8)),
    ):
        first, after_last, edges = p.split()
        assert first == after_last and edges == [(p.start, p.end)]
    # Another offset: the days are UTC days (00:30 at +01:00 is 23:30 UTC the day before).
    start = datetime(2026, 1, 2, 0, 30, tzinfo=CET)
    p = Period(start, utc(2026, 1, 4, 6))
    assert p.split() == (
        date(2026, 1, 2),
        date(2026, 1, 4),
        [(start, utc(2026, 1, 2)), (utc(2026, 1, 4), utc(2026, 1, 4, 6))],
    )


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(moments, moments)
def test_the_whole_days_and_the_part_days_are_the_period_exactly(a: datetime, b: datetime) -> None:
    """Every moment of the period lies in exactly one of its parts, and none outside it."""
    assume(a != b)
    p = Period(min(a, b), max(a, b))
    first, after_last, edges = p.split()
    assert first <= after_last
    whole = (datetime.combine(first, time(0), UTC), datetime.combine(after_last, time(0), UTC))
    parts = sorted([*edges, whole] if first < after_last else edges)
    assert all(start < end for start, end in parts)
    assert parts[0][0] == p.start and parts[-1][1] == p.end
    for (_, end), (start, _) in itertools.pairwise(parts):
        assert end == start  # contiguous, not overlapping
    for start, end in edges if first < after_last else []:  # part-days: within a day
        last_moment = end - timedelta(microseconds=1)
        assert start.astimezone(UTC).date() == last_moment.astimezone(UTC).date()
