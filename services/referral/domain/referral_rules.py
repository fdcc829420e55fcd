"""A referral's statuses, which of them share the client's data, its reasons, and the
working days the partner has to answer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from services.referral.domain.rules import ReferralError, _text
from shared.text import guard_field
from shared.vocabulary import REFERRAL_OUTCOMES

STATUSES = (
    "proposed",
    "sent",
    "acknowledged",
    "accepted",
    "declined",
    "outcome_reported",
    "closed",
    "withdrawn",
)
OUTCOMES = REFERRAL_OUTCOMES
# Waiting for the partner's answer (accept or decline): the overdue clock runs.
AWAITING_ANSWER = ("sent", "acknowledged")
# The partner may read the client's data (the packet) in these statuses only.
SHARED = ("sent", "acknowledged", "accepted", "outcome_reported")
# The counsellor may print a letter for a partner outside the platform in these.
LETTER = ("proposed", *SHARED)
WITHDRAWABLE = ("proposed", "sent", "acknowledged", "accepted")
CLOSABLE = ("declined", "outcome_reported")


def check_reason(reason: str, field: str = "reason") -> str:
    guard_field(ReferralError, field, reason, multiline=True)
    text = _text(reason)
    if text is None:
        raise ReferralError("invalid", "Give a reason.", field)
    return text


def add_working_days(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The day `days` working days (Monday to Friday, not a holiday) after `start`."""
    off = set(holidays)
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    return day
