"""Follow-up: the aftercare of a case after its plan was agreed.

A follow-up is opened
when planning publishes `PlanAgreed`; it schedules check-ins after the agreement, keeps
its own view of the plan's actions from planning's events, records contacts and action
checks, raises bottlenecks (by rule and by time, each once), agrees new to-dos, and
records the outcome and the client's feedback. It closes by itself when both the
outcome and the feedback are recorded or when its last check-in is done, can be closed
explicitly by the counsellor with a reason from `CLOSURE_REASONS`, and is reopened only by
the client's request for aftercare. Every closure says which command closed it
(`closed_by`: feedback, outcome, checkin or close).

Personal fields the application seals in events: `notes` (ContactRecorded), `comments`
(FeedbackGiven), `description` (ToDoAgreed, BottleneckDetected) and the closure's `reason`
and `notes` (FollowUpClosed; follow-ups closed before the reasons were codes hold the
counsellor's own words in `reason`).

This module holds the aggregate, its opening, its guards and its view of planning's
plan, and its events (nested, so stored as `…followup:FollowUp.<Name>`); its commands
are in `checks.py` and `closing.py` (mixed in).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.followup.domain.checks import Checks
from services.followup.domain.closing import Closing
from services.followup.domain.rules import (
    ACTION_STATUSES,
    COMPLETED,
    DEFAULT_CHECKIN_OFFSETS_DAYS,
    FollowUpError,
    action_view,
    checkin_id_for,
    followup_id_for,
    schedule_checkins,
)
from services.followup.domain.values import ActionCheck, Bottleneck, CheckIn, Contact


class FollowUp(Checks, Closing, Aggregate):
    """The aftercare of one case; its events are nested here (`FollowUp.Opened`, …), as
    every aggregate's are."""

    # -- events ------------------------------------------------------------------------
    class Event(Aggregate.Event):
        """The base of every event of a follow-up."""

    class Opened(Event, Aggregate.Created):
        case_id: uuid.UUID
        client_id: uuid.UUID
        organisation: str
        agreed_on: date
        plan_version: int
        actions: list[dict[str, Any]]
        checkins: list[dict[str, Any]]
        actor: str

    class PlanReagreed(Event):
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

    class PlanRevised(Event):
        """Planning's agreed plan was changed; it needs both agreements again."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        from_version: int
        actor: str

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.plan_version = max(aggregate.plan_version, self.from_version)
            aggregate.plan_status = "revised"

    class PlanActionAdded(Event):
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

    class PlanActionCompleted(Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        actor: str

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.actions[self.action_id]["status"] = "completed"

    class PlanActionCancelled(Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        actor: str

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.actions[self.action_id]["status"] = "cancelled"

    class CheckInDone(Event):
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

    class ContactRecorded(Event):
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

    class ActionChecked(Event):
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

    class BottleneckDetected(Event):
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

    class ToDoAgreed(Event):
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

    class OutcomeRecorded(Event):
        # v2 added `contract` (an `employed` outcome's contract type, if known); outcomes
        # recorded before it name none.
        class_version = 2

        client_id: uuid.UUID
        case_id: uuid.UUID
        outcome: str
        on: date
        actor: str
        contract: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["contract"] = None

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.outcome = {
                "outcome": self.outcome,
                "contract": self.contract,
                "on": self.on,
                "recorded_at": self.timestamp,
                "actor": self.actor,
            }

    class FeedbackGiven(Event):
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

    class FollowUpClosed(Event):
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

    class AftercareRequested(Event):
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

    # -- state -------------------------------------------------------------------------

    def __init__(
        self,
        case_id: uuid.UUID,
        client_id: uuid.UUID,
        organisation: str,
        agreed_on: date,
        plan_version: int,
        actions: list[dict[str, Any]],
        checkins: list[dict[str, Any]],
        actor: str,
    ) -> None:
        self.case_id = case_id
        self.client_id = client_id
        self.organisation = organisation
        self.counsellor = actor
        self.agreed_on = agreed_on
        self.plan_version = plan_version
        self.plan_status = "agreed"
        self.status = "open"
        self.actions: dict[uuid.UUID, dict[str, Any]] = {
            a["action_id"]: action_view(a) for a in actions
        }
        self.checkins: list[CheckIn] = [
            CheckIn(checkin_id=c["checkin_id"], number=c["number"], due_on=c["due_on"])
            for c in checkins
        ]
        self.contacts: list[Contact] = []
        self.failed_contacts = 0
        self.action_checks: dict[uuid.UUID, ActionCheck] = {}
        self.bottlenecks: dict[str, Bottleneck] = {}
        self.todos: dict[uuid.UUID, dict[str, Any]] = {}
        self.outcome: dict[str, Any] | None = None
        self.feedback: dict[str, Any] | None = None
        self.closed: dict[str, Any] | None = None
        self.closures: list[dict[str, Any]] = []

    @classmethod
    def open(
        cls,
        *,
        case_id: uuid.UUID,
        client_id: uuid.UUID,
        organisation: str,
        counsellor: str,
        agreed_on: date,
        plan_version: int,
        actions: list[dict[str, Any]],
        offsets_days: Iterable[int] = DEFAULT_CHECKIN_OFFSETS_DAYS,
        at: datetime,
    ) -> FollowUp:
        """Open the case's follow-up from planning's `PlanAgreed` (the counsellor is the actor).

        `actions` are the agreed plan's actions: action_id, goal_id, owner, due_date, status.
        """
        for i, action in enumerate(actions):
            if action.get("status") not in ACTION_STATUSES:
                raise FollowUpError(
                    "invalid", f"Unknown action status {action.get('status')!r}.", f"actions.{i}"
                )
        followup_id = followup_id_for(case_id)
        due_dates = schedule_checkins(agreed_on, offsets_days)
        return cls._create(
            cls.Opened,
            id=followup_id,
            timestamp=at,
            case_id=case_id,
            client_id=client_id,
            organisation=organisation,
            agreed_on=agreed_on,
            plan_version=plan_version,
            actions=[action_view(a) for a in actions],
            checkins=[
                {"checkin_id": checkin_id_for(followup_id, n), "number": n, "due_on": due_on}
                for n, due_on in enumerate(due_dates, start=1)
            ],
            actor=counsellor,
        )

    # -- guards --------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.status == "closed":
            raise FollowUpError("followup-closed", "The follow-up is closed.")

    def _checkin(self, checkin_id: uuid.UUID) -> CheckIn:
        for checkin in self.checkins:
            if checkin.checkin_id == checkin_id:
                return checkin
        raise FollowUpError(
            "not-found", f"No check-in {checkin_id} in this follow-up.", "checkin_id"
        )

    def _action(self, action_id: uuid.UUID) -> dict[str, Any]:
        action = self.actions.get(action_id)
        if action is None:
            raise FollowUpError(
                "not-found", f"No action {action_id} in this case's plan.", "action_id"
            )
        return action

    def _trigger(self, event_class: type[Aggregate.Event], at: datetime, **kwargs: Any) -> None:
        self.trigger_event(
            event_class, timestamp=at, client_id=self.client_id, case_id=self.case_id, **kwargs
        )

    def _close_completed(self, rule: str, closed_by: str, actor: str, at: datetime) -> None:
        self._trigger(
            self.FollowUpClosed,
            at,
            reason=COMPLETED,
            rule=rule,
            actor=actor,
            notes=None,
            closed_by=closed_by,
        )

    # -- planning's facts (idempotent: noting the same fact again changes nothing) -------
    def note_plan_agreed(
        self, *, plan_version: int, actions: list[dict[str, Any]], actor: str, at: datetime
    ) -> bool:
        """A later `PlanAgreed` of the same case: a newer version and its actions."""
        if plan_version <= self.plan_version:
            return False
        self._trigger(
            self.PlanReagreed,
            at,
            plan_version=plan_version,
            actions=[action_view(a) for a in actions],
            actor=actor,
        )
        return True

    def note_plan_revised(self, *, from_version: int, actor: str, at: datetime) -> bool:
        if from_version < self.plan_version or (
            from_version == self.plan_version and self.plan_status == "revised"
        ):
            return False
        self._trigger(self.PlanRevised, at, from_version=from_version, actor=actor)
        return True

    def note_action_added(
        self,
        *,
        action_id: uuid.UUID,
        goal_id: uuid.UUID,
        owner: str,
        due_date: date,
        actor: str,
        at: datetime,
    ) -> bool:
        if action_id in self.actions:
            return False
        self._trigger(
            self.PlanActionAdded,
            at,
            action_id=action_id,
            goal_id=goal_id,
            owner=owner,
            due_date=due_date,
            actor=actor,
        )
        return True

    def note_action_completed(self, *, action_id: uuid.UUID, actor: str, at: datetime) -> bool:
        """False when the action is unknown or not open (already completed or cancelled)."""
        action = self.actions.get(action_id)
        if action is None or action["status"] != "open":
            return False
        self._trigger(self.PlanActionCompleted, at, action_id=action_id, actor=actor)
        return True

    def note_action_cancelled(self, *, action_id: uuid.UUID, actor: str, at: datetime) -> bool:
        action = self.actions.get(action_id)
        if action is None or action["status"] != "open":
            return False
        self._trigger(self.PlanActionCancelled, at, action_id=action_id, actor=actor)
        return True

    # -- commands ------------------------------------------------------------------------
    # -- views ---------------------------------------------------------------------------
    def open_checkins(self) -> list[CheckIn]:
        """The check-ins not done yet, earliest due first."""
        return sorted((c for c in self.checkins if not c.done), key=lambda c: c.due_on)


# Events stored before the domain became a package keep loading: the topics they were
# stored under then (the aggregate's own topic is in each `Opened`).
OLD_MODULE = "services.followup.domain"
register_topic(f"{OLD_MODULE}:FollowUp", FollowUp)
for _name in (
    "Event",
    "Opened",
    "PlanReagreed",
    "PlanRevised",
    "PlanActionAdded",
    "PlanActionCompleted",
    "PlanActionCancelled",
    "CheckInDone",
    "ContactRecorded",
    "ActionChecked",
    "BottleneckDetected",
    "ToDoAgreed",
    "OutcomeRecorded",
    "FeedbackGiven",
    "FollowUpClosed",
    "AftercareRequested",
):
    register_topic(f"{OLD_MODULE}:FollowUp.{_name}", getattr(FollowUp, _name))
