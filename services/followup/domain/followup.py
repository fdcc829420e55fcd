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
plan; its commands are in `checks.py` and `closing.py` (mixed in), its events in
`events.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.followup.domain import events
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
    """The aftercare of one case. Its events are named here too (`FollowUp.Opened`, …)."""

    Event = events.FollowUpEvent
    Opened = events.Opened
    PlanReagreed = events.PlanReagreed
    PlanRevised = events.PlanRevised
    PlanActionAdded = events.PlanActionAdded
    PlanActionCompleted = events.PlanActionCompleted
    PlanActionCancelled = events.PlanActionCancelled
    CheckInDone = events.CheckInDone
    ContactRecorded = events.ContactRecorded
    ActionChecked = events.ActionChecked
    BottleneckDetected = events.BottleneckDetected
    ToDoAgreed = events.ToDoAgreed
    OutcomeRecorded = events.OutcomeRecorded
    FeedbackGiven = events.FeedbackGiven
    FollowUpClosed = events.FollowUpClosed
    AftercareRequested = events.AftercareRequested

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
