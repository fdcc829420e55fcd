"""What follow-up publishes: which of its domain events become which contracts."""

from __future__ import annotations

from typing import Any

from services.followup.domain import FollowUp, StatisticsPurge
from shared.contracts import followup as contracts
from shared.contracts import privacy as privacy_contracts
from shared.messaging.relay import Publication
from shared.privacy.erasure import ErasureConfirmation, confirmed_state


def _fu(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {
        "occurred_at": state["timestamp"],
        "actor": state["actor"],
        "followup_id": state["originator_id"],
        "case_id": state["case_id"],
        "client_id": state["client_id"],
        **{n: state[n] for n in names if n in state},
    }


PUBLICATIONS: dict[type, Publication] = {
    FollowUp.Opened: Publication(
        contracts.FollowUpOpenedV1,
        lambda s: _fu(s, "organisation", "plan_version", "agreed_on", "checkins"),
    ),
    FollowUp.CheckInDone: Publication(
        contracts.CheckInDoneV1, lambda s: _fu(s, "checkin_id", "due_on")
    ),
    FollowUp.ContactRecorded: Publication(
        contracts.ContactRecordedV1, lambda s: _fu(s, "contact_id", "channel", "reached", "notes")
    ),
    FollowUp.ActionChecked: Publication(
        contracts.ActionCheckedV1, lambda s: _fu(s, "check_id", "action_id", "status", "bottleneck")
    ),
    FollowUp.BottleneckDetected: Publication(
        contracts.BottleneckDetectedV1,
        lambda s: _fu(s, "bottleneck_id", "key", "kind", "action_id", "checkin_id", "description"),
    ),
    FollowUp.ToDoAgreed: Publication(
        contracts.ToDoAgreedV1,
        lambda s: _fu(
            s,
            "organisation",
            "todo_id",
            "action_id",
            "goal_id",
            "description",
            "owner",
            "due_date",
        ),
    ),
    FollowUp.OutcomeRecorded: Publication(
        contracts.OutcomeRecordedV1, lambda s: _fu(s, "outcome", "on", "contract")
    ),
    FollowUp.FeedbackGiven: Publication(
        contracts.FeedbackGivenV1,
        lambda s: _fu(
            s, "satisfaction", "self_knowledge_improved", "confidence_improved", "comments"
        ),
    ),
    FollowUp.FollowUpClosed: Publication(
        contracts.FollowUpClosedV1, lambda s: _fu(s, "rule", "reason", "notes", "closed_by")
    ),
    FollowUp.AftercareRequested: Publication(
        contracts.AftercareRequestedV1, lambda s: _fu(s, "checkin_id", "due_on", "reopened")
    ),
}
PUBLICATIONS[StatisticsPurge.Purged] = Publication(
    contracts.StatisticsPurgedV1,
    lambda s: {
        "occurred_at": s["timestamp"],
        "actor": s["actor"],
        "purge_id": s["originator_id"],
        **{n: s[n] for n in ("organisation", "rule", "cutoff", "figures", "bottlenecks")},
    },
)
# Each service confirms an erasure with an event of its own.
PUBLICATIONS[ErasureConfirmation.Confirmed] = Publication(
    privacy_contracts.CONFIRMED["followup"], confirmed_state
)
