"""Follow-up's use cases: follow-ups opened from agreed plans, and aftercare on them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from services.followup.domain import FollowUp, followup_id_for
from shared.contracts import followup as contracts
from shared.contracts import privacy as privacy_contracts
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import Publication
from shared.privacy import PersonalFields
from shared.privacy.erasure import ErasureConfirmation, confirmed_state


def _actions(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "action_id": uuid.UUID(a["action_id"]),
            "goal_id": uuid.UUID(a["goal_id"]),
            "owner": a["owner"],
            "due_date": date.fromisoformat(a["due_date"]),
            "status": a["status"],
        }
        for a in data.get("actions", [])
    ]


class FollowUpApplication(ServiceApplication):
    name = "followup"

    personal_data: ClassVar[dict[type, PersonalFields]] = {
        FollowUp.ContactRecorded: PersonalFields(("notes",), subject="client_id"),
        FollowUp.ActionChecked: PersonalFields(("bottleneck",), subject="client_id"),
        FollowUp.BottleneckDetected: PersonalFields(("description",), subject="client_id"),
        FollowUp.ToDoAgreed: PersonalFields(("description",), subject="client_id"),
        FollowUp.FeedbackGiven: PersonalFields(("comments",), subject="client_id"),
        FollowUp.FollowUpClosed: PersonalFields(("reason", "notes"), subject="client_id"),
    }

    # -- reactions to planning's events ------------------------------------------------
    def _existing(self, case_id: uuid.UUID) -> FollowUp | None:
        try:
            found: object = self.repository.get(followup_id_for(case_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, FollowUp) else None

    def on_plan_agreed(self, event: CloudEvent) -> Sequence[Aggregate]:
        """Open the case's follow-up (once), or note a newer agreed version."""
        d = event.data
        case_id = uuid.UUID(d["case_id"])
        existing = self._existing(case_id)
        at = self.clock()
        if existing is not None:
            changed = existing.note_plan_agreed(
                plan_version=d["version"], actions=_actions(d), actor=d["actor"], at=at
            )
            return [existing] if changed else []
        return [
            FollowUp.open(
                case_id=case_id,
                client_id=uuid.UUID(d["client_id"]),
                organisation=d["organisation"],
                counsellor=d["actor"],
                agreed_on=datetime.fromisoformat(d["occurred_at"]).date(),
                plan_version=d["version"],
                actions=_actions(d),
                offsets_days=self.settings.followup_checkin_offsets_days,
                at=at,
            )
        ]

    def on_plan_news(self, event: CloudEvent) -> Sequence[Aggregate]:
        """Keep the follow-up's own view of the plan's actions."""
        d = event.data
        followup = self._existing(uuid.UUID(d["case_id"]))
        if followup is None:
            return []  # no agreed plan yet: the actions arrive with PlanAgreed
        at, actor = self.clock(), d["actor"]
        kind = event.event_type
        if kind == "ActionAdded":
            changed = followup.note_action_added(
                action_id=uuid.UUID(d["action_id"]),
                goal_id=uuid.UUID(d["goal_id"]),
                owner=d["owner"],
                due_date=date.fromisoformat(d["due_date"]),
                actor=actor,
                at=at,
            )
        elif kind == "ActionCompleted":
            changed = followup.note_action_completed(
                action_id=uuid.UUID(d["action_id"]), actor=actor, at=at
            )
        elif kind == "ActionCancelled":
            changed = followup.note_action_cancelled(
                action_id=uuid.UUID(d["action_id"]), actor=actor, at=at
            )
        else:  # PlanRevised
            changed = followup.note_plan_revised(from_version=d["from_version"], actor=actor, at=at)
        return [followup] if changed else []

    # -- queries and commands ------------------------------------------------------------
    def followup(self, followup_id: uuid.UUID, organisation: str) -> FollowUp:
        """The follow-up of this organisation; another organisation's reads exactly as
        one that does not exist (same detail)."""
        absent = NotFound(f"No follow-up {followup_id}.")
        try:
            followup = self.load(FollowUp, followup_id)
        except NotFound:
            raise absent from None
        if followup.organisation != organisation:
            raise absent
        return followup

    def followup_for_case(self, case_id: uuid.UUID, organisation: str) -> FollowUp | None:
        try:
            return self.followup(followup_id_for(case_id), organisation)
        except NotFound:
            return None


# -- what follow-up publishes ----------------------------------------------------------------
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
        contracts.OutcomeRecordedV1, lambda s: _fu(s, "outcome", "on")
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
# Each service confirms an erasure with an event of its own.
PUBLICATIONS[ErasureConfirmation.Confirmed] = Publication(
    privacy_contracts.CONFIRMED["followup"], confirmed_state
)
