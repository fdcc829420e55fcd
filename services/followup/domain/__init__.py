"""Follow-up's domain: one aggregate, the follow-up of a case with its events (`followup.py`),
its commands (`checks.py`, `closing.py`), its values (`values.py`) and its rules and
vocabulary (`rules.py`); the receipt of the statistics retention (`retention.py`).

Pure domain: the standard library and eventsourcing only. The public names are here, so
`from services.followup.domain import FollowUp` does not depend on the module layout.
"""

from __future__ import annotations

from services.followup.domain.followup import FollowUp
from services.followup.domain.retention import StatisticsPurge
from services.followup.domain.rules import (
    ACTION_STATUSES,
    BOTTLENECK_KINDS,
    CHANNELS,
    CHECK_STATUSES,
    CLOSED_BY,
    CLOSURE_REASONS,
    COMPLETED,
    DEFAULT_CHECKIN_OFFSETS_DAYS,
    FAILED_CONTACTS_LIMIT,
    OUTCOMES,
    OWNERS,
    FollowUpError,
    action_id_for_todo,
    bottleneck_id_for,
    check_day_in_case_history,
    checkin_id_for,
    followup_id_for,
    schedule_checkins,
)

__all__ = [
    "ACTION_STATUSES",
    "BOTTLENECK_KINDS",
    "CHANNELS",
    "CHECK_STATUSES",
    "CLOSED_BY",
    "CLOSURE_REASONS",
    "COMPLETED",
    "DEFAULT_CHECKIN_OFFSETS_DAYS",
    "FAILED_CONTACTS_LIMIT",
    "OUTCOMES",
    "OWNERS",
    "FollowUp",
    "FollowUpError",
    "StatisticsPurge",
    "action_id_for_todo",
    "bottleneck_id_for",
    "check_day_in_case_history",
    "checkin_id_for",
    "followup_id_for",
    "schedule_checkins",
]
