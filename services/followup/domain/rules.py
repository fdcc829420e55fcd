"""Follow-up's rules and vocabulary: its error, its codes, the ids it derives, the
schedule of check-ins and the dates a caller may give."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from shared.vocabulary import CONTRACT_TYPES, GUIDANCE_OUTCOMES

DEFAULT_CHECKIN_OFFSETS_DAYS = (14, 91, 182)  # two weeks, three and six months
CHANNELS = ("phone", "email", "meeting", "video")
CHECK_STATUSES = ("realised", "partly", "not_realised")
OUTCOMES = GUIDANCE_OUTCOMES
CONTRACTS = CONTRACT_TYPES  # an `employed` outcome's contract, if known
OWNERS = ("client", "counsellor", "partner")
ACTION_STATUSES = ("open", "completed", "cancelled")
BOTTLENECK_KINDS = ("unreachable", "action", "checkin_overdue", "action_overdue")
FAILED_CONTACTS_LIMIT = 3
COMPLETED = "completed"
# Why a follow-up closed: a rule met closes it "completed"; the counsellor picks any.
CLOSURE_REASONS = (COMPLETED, "client_withdrew", "unreachable", "other")
# Which command closed it.
CLOSED_BY = ("feedback", "outcome", "checkin", "close")
FOLLOWUP_NAMESPACE = uuid.UUID("5f1c2a7e-3b4d-4e6f-8a9b-0c1d2e3f4a02")
AGREED_TASK_NAMESPACE = uuid.UUID("7a2d3b8f-4c5e-4f70-9bac-1d2e3f4a5b03")


class FollowUpError(Exception):
    """A rule of the follow-up was broken; `code` is stable, `field` names the input at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def followup_id_for(case_id: uuid.UUID) -> uuid.UUID:
    """One follow-up per case: a redelivered `PlanAgreed` opens nothing twice."""
    return uuid.uuid5(FOLLOWUP_NAMESPACE, str(case_id))


def action_id_for_todo(todo_id: uuid.UUID) -> uuid.UUID:
    """The id planning gives the action it adds for a to-do: a redelivery adds nothing."""
    return uuid.uuid5(AGREED_TASK_NAMESPACE, str(todo_id))


def checkin_id_for(followup_id: uuid.UUID, number: int) -> uuid.UUID:
    """The id of a follow-up's n-th check-in (1-based, in the order they were scheduled)."""
    return uuid.uuid5(FOLLOWUP_NAMESPACE, f"{followup_id}:checkin:{number}")


def bottleneck_id_for(followup_id: uuid.UUID, key: str) -> uuid.UUID:
    return uuid.uuid5(FOLLOWUP_NAMESPACE, f"{followup_id}:bottleneck:{key}")


def schedule_checkins(
    agreed_on: date, offsets_days: Iterable[int] = DEFAULT_CHECKIN_OFFSETS_DAYS
) -> list[date]:
    """The due dates of the check-ins after an agreement: once per offset, earliest first."""
    offsets = list(offsets_days)
    if not offsets:
        raise FollowUpError("invalid", "Schedule at least one check-in.", "offsets_days")
    for offset in offsets:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
            raise FollowUpError(
                "invalid",
                "A check-in lies a whole number of days (at least 1) after the agreement.",
                "offsets_days",
            )
    return [agreed_on + timedelta(days=d) for d in sorted(set(offsets))]


def check_day_in_case_history(
    field: str, day: date, *, accepted_on: date | None, today: date
) -> None:
    """A date the caller gives of something that happened in the case: not before the case
    was accepted (when that is known) and not after today. Raises `invalid` naming `field`."""
    if accepted_on is not None and day < accepted_on:
        raise FollowUpError(
            "invalid",
            f"The date {day.isoformat()} lies before the case was accepted on "
            f"{accepted_on.isoformat()}.",
            field,
        )
    if day > today:
        raise FollowUpError(
            "invalid", f"The date {day.isoformat()} lies in the future (today is {today}).", field
        )


def action_view(action: dict[str, Any]) -> dict[str, Any]:
    return {
        "action_id": action["action_id"],
        "goal_id": action["goal_id"],
        "owner": action["owner"],
        "due_date": action["due_date"],
        "status": action["status"],
        "check": None,
    }
