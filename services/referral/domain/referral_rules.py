"""A referral's statuses, which of them share the client's data, its reasons, the
working days the partner has to answer, and its value objects (the partner's outcome, the
counsellor's resumption)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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
# The referral ended: its packet's retention period runs from then.
ENDED = ("declined", "closed", "withdrawn")
# What the partner-facing texts read once retention removed the packet.
REMOVED = "REMOVED"


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


@dataclass(frozen=True)
class Outcome:
    """How the partner's service to the client ended, as the partner reported it."""

    outcome: str
    notes: str | None
    reported_at: datetime


@dataclass(frozen=True)
class Resumption:
    """Whether and from when guidance resumes after the referral."""

    resumes: bool
    resume_on: date | None
    note: str | None
    recorded_at: datetime
