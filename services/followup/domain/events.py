"""Follow-up's events: what happened to a follow-up, and how each changes its state.

Stored under their own topics (`services.followup.domain.events:<Name>`); the topics
they were stored under before (`services.followup.domain:FollowUp.<Name>`) are
registered in `domain/followup.py`, so old stores keep loading. One module for all of
them (a little over 300 lines): what a follow-up's state is, is read in one place.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from services.followup.domain.rules import action_view
from services.followup.domain.values import ActionCheck, Bottleneck, CheckIn, Contact

if TYPE_CHECKING:
    from services.followup.domain.followup import FollowUp


class FollowUpEvent(Aggregate.Event):
    """The base of every event of a follow-up."""


class Opened(FollowUpEvent, Aggregate.Created):
    case_id: uuid.UUID
    client_id: uuid.UUID
    organisation: str
    agreed_on: date
    plan_version: int
    actions: list[dict[str, Any]]
    checkins: list[dict[str, Any]]
    actor: str


class PlanReagreed(FollowUpEvent):
    """Planning's plan was agreed again, at a newer version."""

    client_id: uuid.UUID
    case_id: uuid.UUID
    plan_version: int
    actions: list[dict[str, Any]]
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.plan_version = self.plan_version
        aggregate.plan_status = "agreed"
        for action in self.actions:
            known = aggregate.actions.get(action["action_id"])
            if known is None:
                aggregate.actions[action["action_id"]] = action_view(action)
            else:
                known["status"] = action["status"]


class PlanRevised(FollowUpEvent):
    """Planning's agreed plan was changed; it needs both agreements again."""

    client_id: uuid.UUID
    case_id: uuid.UUID
    from_version: int
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.plan_version = max(aggregate.plan_version, self.from_version)
        aggregate.plan_status = "revised"


class PlanActionAdded(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    action_id: uuid.UUID
    goal_id: uuid.UUID
    owner: str
    due_date: date
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.actions[self.action_id] = action_view(
            {
                "action_id": self.action_id,
                "goal_id": self.goal_id,
                "owner": self.owner,
                "due_date": self.due_date,
                "status": "open",
            }
        )


class PlanActionCompleted(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    action_id: uuid.UUID
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.actions[self.action_id]["status"] = "completed"


class PlanActionCancelled(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    action_id: uuid.UUID
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.actions[self.action_id]["status"] = "cancelled"


class CheckInDone(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    checkin_id: uuid.UUID
    due_on: date
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        i = aggregate.checkins.index(aggregate._checkin(self.checkin_id))
        aggregate.checkins[i] = replace(
            aggregate.checkins[i], done=True, done_at=self.timestamp, done_by=self.actor
        )


class ContactRecorded(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    contact_id: uuid.UUID
    channel: str
    reached: bool
    notes: str | None
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.contacts.append(
            Contact(
                contact_id=self.contact_id,
                channel=self.channel,
                reached=self.reached,
                notes=self.notes,
                at=self.timestamp,
                actor=self.actor,
            )
        )
        aggregate.failed_contacts = 0 if self.reached else aggregate.failed_contacts + 1


class ActionChecked(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    check_id: uuid.UUID
    action_id: uuid.UUID
    status: str
    bottleneck: str | None
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        check = ActionCheck(
            check_id=self.check_id,
            action_id=self.action_id,
            status=self.status,
            bottleneck=self.bottleneck,
            at=self.timestamp,
            actor=self.actor,
        )
        aggregate.action_checks[self.check_id] = check
        aggregate.actions[self.action_id]["check"] = asdict(check)


class BottleneckDetected(FollowUpEvent):
    """A bottleneck in the plan's realisation; `key` makes it raised once only."""

    client_id: uuid.UUID
    case_id: uuid.UUID
    bottleneck_id: uuid.UUID
    key: str
    kind: str
    action_id: uuid.UUID | None
    checkin_id: uuid.UUID | None
    description: str | None
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.bottlenecks[self.key] = Bottleneck(
            bottleneck_id=self.bottleneck_id,
            key=self.key,
            kind=self.kind,
            action_id=self.action_id,
            checkin_id=self.checkin_id,
            description=self.description,
            detected_at=self.timestamp,
            actor=self.actor,
        )


class ToDoAgreed(FollowUpEvent):
    """A new to-do; planning adds it to the plan as action `action_id`."""

    client_id: uuid.UUID
    case_id: uuid.UUID
    organisation: str
    todo_id: uuid.UUID
    action_id: uuid.UUID
    goal_id: uuid.UUID
    description: str
    owner: str
    due_date: date
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.todos[self.todo_id] = {
            "todo_id": self.todo_id,
            "action_id": self.action_id,
            "goal_id": self.goal_id,
            "description": self.description,
            "owner": self.owner,
            "due_date": self.due_date,
            "agreed_at": self.timestamp,
            "actor": self.actor,
        }


class OutcomeRecorded(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    outcome: str
    on: date
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.outcome = {
            "outcome": self.outcome,
            "on": self.on,
            "recorded_at": self.timestamp,
            "actor": self.actor,
        }


class FeedbackGiven(FollowUpEvent):
    client_id: uuid.UUID
    case_id: uuid.UUID
    satisfaction: int
    self_knowledge_improved: bool
    confidence_improved: bool
    comments: str | None
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.feedback = {
            "satisfaction": self.satisfaction,
            "self_knowledge_improved": self.self_knowledge_improved,
            "confidence_improved": self.confidence_improved,
            "comments": self.comments,
            "given_at": self.timestamp,
            "actor": self.actor,
        }


class FollowUpClosed(FollowUpEvent):
    """Closed: by a closing rule (`rule` names it, `reason` is "completed") or by the
    counsellor's explicit close (`rule` "early", `reason` one of `CLOSURE_REASONS`,
    optional `notes`); `closed_by` names the command that closed it."""

    # v2 added `notes` and `closed_by`; closures recorded before kept neither.
    class_version = 2

    client_id: uuid.UUID
    case_id: uuid.UUID
    reason: str
    rule: str  # outcome_and_feedback | last_checkin | early
    actor: str
    notes: str | None
    closed_by: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["notes"] = None
        state["closed_by"] = {"last_checkin": "checkin", "early": "close"}.get(state["rule"])

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.status = "closed"
        aggregate.closed = {
            "reason": self.reason,
            "rule": self.rule,
            "closed_by": self.closed_by,
            "notes": self.notes,
            "at": self.timestamp,
            "actor": self.actor,
        }
        aggregate.closures.append(dict(aggregate.closed))


class AftercareRequested(FollowUpEvent):
    """The client asked for aftercare: a new check-in, and a closed follow-up reopens."""

    client_id: uuid.UUID
    case_id: uuid.UUID
    checkin_id: uuid.UUID
    due_on: date
    reopened: bool
    actor: str

    def apply(self, aggregate: FollowUp) -> None:
        aggregate.status = "open"
        aggregate.closed = None
        aggregate.checkins.append(
            CheckIn(
                checkin_id=self.checkin_id,
                number=len(aggregate.checkins) + 1,
                due_on=self.due_on,
                requested=True,
            )
        )
