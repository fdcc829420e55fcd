"""Follow-up: the aftercare of a case after its plan was agreed.

Pure domain: the standard library and eventsourcing.domain only. A follow-up is opened
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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from shared.text import guard_text
from shared.vocabulary import GUIDANCE_OUTCOMES

DEFAULT_CHECKIN_OFFSETS_DAYS = (14, 91, 182)  # two weeks, three and six months
CHANNELS = ("phone", "email", "meeting", "video")
CHECK_STATUSES = ("realised", "partly", "not_realised")
OUTCOMES = GUIDANCE_OUTCOMES
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


def _action_view(action: dict[str, Any]) -> dict[str, Any]:
    return {
        "action_id": action["action_id"],
        "goal_id": action["goal_id"],
        "owner": action["owner"],
        "due_date": action["due_date"],
        "status": action["status"],
        "check": None,
    }


class FollowUp(Aggregate):
    """The aftercare of one case."""

    class Opened(Aggregate.Created):
        case_id: uuid.UUID
        client_id: uuid.UUID
        organisation: str
        agreed_on: date
        plan_version: int
        actions: list[dict[str, Any]]
        checkins: list[dict[str, Any]]
        actor: str

    class PlanReagreed(Aggregate.Event):
        """Planning's plan was agreed again, at a newer version."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        plan_version: int
        actions: list[dict[str, Any]]
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.plan_version = self.plan_version
            aggregate.plan_status = "agreed"
            for action in self.actions:
                known = aggregate.actions.get(action["action_id"])
                if known is None:
                    aggregate.actions[action["action_id"]] = _action_view(action)
                else:
                    known["status"] = action["status"]

    class PlanRevised(Aggregate.Event):
        """Planning's agreed plan was changed; it needs both agreements again."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        from_version: int
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.plan_version = max(aggregate.plan_version, self.from_version)
            aggregate.plan_status = "revised"

    class PlanActionAdded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        goal_id: uuid.UUID
        owner: str
        due_date: date
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.actions[self.action_id] = _action_view(
                {
                    "action_id": self.action_id,
                    "goal_id": self.goal_id,
                    "owner": self.owner,
                    "due_date": self.due_date,
                    "status": "open",
                }
            )

    class PlanActionCompleted(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.actions[self.action_id]["status"] = "completed"

    class PlanActionCancelled(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.actions[self.action_id]["status"] = "cancelled"

    class CheckInDone(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        checkin_id: uuid.UUID
        due_on: date
        actor: str

        def apply(self, aggregate: Any) -> None:
            checkin = aggregate._checkin(self.checkin_id)
            checkin["done"], checkin["done_at"], checkin["done_by"] = (
                True,
                self.timestamp,
                self.actor,
            )

    class ContactRecorded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        contact_id: uuid.UUID
        channel: str
        reached: bool
        notes: str | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.contacts.append(
                {
                    "contact_id": self.contact_id,
                    "channel": self.channel,
                    "reached": self.reached,
                    "notes": self.notes,
                    "at": self.timestamp,
                    "actor": self.actor,
                }
            )
            aggregate.failed_contacts = 0 if self.reached else aggregate.failed_contacts + 1

    class ActionChecked(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        check_id: uuid.UUID
        action_id: uuid.UUID
        status: str
        bottleneck: str | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            check = {
                "check_id": self.check_id,
                "action_id": self.action_id,
                "status": self.status,
                "bottleneck": self.bottleneck,
                "at": self.timestamp,
                "actor": self.actor,
            }
            aggregate.action_checks[self.check_id] = check
            aggregate.actions[self.action_id]["check"] = dict(check)

    class BottleneckDetected(Aggregate.Event):
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

        def apply(self, aggregate: Any) -> None:
            aggregate.bottlenecks[self.key] = {
                "bottleneck_id": self.bottleneck_id,
                "key": self.key,
                "kind": self.kind,
                "action_id": self.action_id,
                "checkin_id": self.checkin_id,
                "description": self.description,
                "detected_at": self.timestamp,
                "actor": self.actor,
            }

    class ToDoAgreed(Aggregate.Event):
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

        def apply(self, aggregate: Any) -> None:
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

    class OutcomeRecorded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        outcome: str
        on: date
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.outcome = {
                "outcome": self.outcome,
                "on": self.on,
                "recorded_at": self.timestamp,
                "actor": self.actor,
            }

    class FeedbackGiven(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        satisfaction: int
        self_knowledge_improved: bool
        confidence_improved: bool
        comments: str | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.feedback = {
                "satisfaction": self.satisfaction,
                "self_knowledge_improved": self.self_knowledge_improved,
                "confidence_improved": self.confidence_improved,
                "comments": self.comments,
                "given_at": self.timestamp,
                "actor": self.actor,
            }

    class FollowUpClosed(Aggregate.Event):
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

        def apply(self, aggregate: Any) -> None:
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

    class AftercareRequested(Aggregate.Event):
        """The client asked for aftercare: a new check-in, and a closed follow-up reopens."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        checkin_id: uuid.UUID
        due_on: date
        reopened: bool
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "open"
            aggregate.closed = None
            aggregate.checkins.append(
                {
                    "checkin_id": self.checkin_id,
                    "number": len(aggregate.checkins) + 1,
                    "due_on": self.due_on,
                    "requested": True,
                    "done": False,
                    "done_at": None,
                    "done_by": None,
                }
            )

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
            a["action_id"]: _action_view(a) for a in actions
        }
        self.checkins: list[dict[str, Any]] = [
            {**c, "requested": False, "done": False, "done_at": None, "done_by": None}
            for c in checkins
        ]
        self.contacts: list[dict[str, Any]] = []
        self.failed_contacts = 0
        self.action_checks: dict[uuid.UUID, dict[str, Any]] = {}
        self.bottlenecks: dict[str, dict[str, Any]] = {}
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
            actions=[_action_view(a) for a in actions],
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

    def _checkin(self, checkin_id: uuid.UUID) -> dict[str, Any]:
        for checkin in self.checkins:
            if checkin["checkin_id"] == checkin_id:
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

    def _bottleneck(
        self,
        key: str,
        kind: str,
        at: datetime,
        *,
        actor: str,
        action_id: uuid.UUID | None = None,
        checkin_id: uuid.UUID | None = None,
        description: str | None = None,
    ) -> bool:
        """Raise the bottleneck `key` unless it was raised before."""
        if key in self.bottlenecks:
            return False
        self._trigger(
            self.BottleneckDetected,
            at,
            bottleneck_id=bottleneck_id_for(self.id, key),
            key=key,
            kind=kind,
            action_id=action_id,
            checkin_id=checkin_id,
            description=description,
            actor=actor,
        )
        return True

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
            actions=[_action_view(a) for a in actions],
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
    def complete_checkin(self, *, checkin_id: uuid.UUID, actor: str, at: datetime) -> None:
        """Mark a check-in done; when it is the last one (the latest due of those not done
        before it) the follow-up closes; so does a reopened follow-up's aftercare check-in
        once every other check-in is done."""
        self._require_open()
        checkin = self._checkin(checkin_id)
        if checkin["done"]:
            raise FollowUpError("checkin-done", "The check-in is already done.", "checkin_id")
        latest = max(c["due_on"] for c in self.checkins if not c["done"])
        self._trigger(
            self.CheckInDone, at, checkin_id=checkin_id, due_on=checkin["due_on"], actor=actor
        )
        if checkin["due_on"] >= latest:
            self._close_completed("last_checkin", "checkin", actor, at)

    def record_contact(
        self,
        *,
        contact_id: uuid.UUID,
        channel: str,
        reached: bool,
        notes: str | None,
        actor: str,
        at: datetime,
    ) -> bool:
        """Record a contact attempt; the third failed one in a row raises a bottleneck."""
        self._require_open()
        guard_text(FollowUpError, multiline=True, notes=notes)
        if any(c["contact_id"] == contact_id for c in self.contacts):
            return False
        if channel not in CHANNELS:
            raise FollowUpError("invalid", f"Unknown channel {channel!r}.", "channel")
        if not isinstance(reached, bool):
            raise FollowUpError("invalid", "Say whether the client was reached.", "reached")
        self._trigger(
            self.ContactRecorded,
            at,
            contact_id=contact_id,
            channel=channel,
            reached=reached,
            notes=(notes or "").strip() or None,
            actor=actor,
        )
        if self.failed_contacts == FAILED_CONTACTS_LIMIT:
            self._bottleneck(
                f"unreachable:{contact_id}",
                "unreachable",
                at,
                actor=actor,
                description=f"{FAILED_CONTACTS_LIMIT} failed contact attempts in a row.",
            )
        return True

    def check_action(
        self,
        *,
        check_id: uuid.UUID,
        action_id: uuid.UUID,
        status: str,
        bottleneck: str | None,
        actor: str,
        at: datetime,
    ) -> bool:
        """Check whether a plan action was realised; a bottleneck text raises a bottleneck."""
        self._require_open()
        guard_text(FollowUpError, multiline=True, bottleneck=bottleneck)
        if check_id in self.action_checks:
            return False
        action = self._action(action_id)
        if action["status"] == "cancelled":
            raise FollowUpError(
                "action-cancelled", "A cancelled action is not checked.", "action_id"
            )
        if status not in CHECK_STATUSES:
            raise FollowUpError("invalid", f"Unknown check status {status!r}.", "status")
        text = (bottleneck or "").strip() or None
        self._trigger(
            self.ActionChecked,
            at,
            check_id=check_id,
            action_id=action_id,
            status=status,
            bottleneck=text,
            actor=actor,
        )
        if text is not None:
            self._bottleneck(
                f"action-check:{check_id}",
                "action",
                at,
                actor=actor,
                action_id=action_id,
                description=text,
            )
        return True

    def detect_overdue(
        self,
        *,
        today: date,
        checkin_grace_days: int,
        action_grace_days: int = 0,
        actor: str,
        at: datetime,
    ) -> list[str]:
        """Raise, once each, the bottlenecks of time; returns the keys raised by this run.

        A check-in is overdue more than `checkin_grace_days` after its due date and not
        done; a plan action more than `action_grace_days` after its due date while it is
        neither completed, cancelled nor checked as realised. A closed follow-up raises
        nothing.
        """
        if checkin_grace_days < 0:
            raise FollowUpError("invalid", "The grace days are not negative.", "checkin_grace_days")
        if action_grace_days < 0:
            raise FollowUpError("invalid", "The grace days are not negative.", "action_grace_days")
        if self.status == "closed":
            return []
        raised: list[str] = []
        for checkin in self.checkins:
            if not checkin["done"] and (today - checkin["due_on"]).days > checkin_grace_days:
                key = f"checkin-overdue:{checkin['checkin_id']}"
                if self._bottleneck(
                    key, "checkin_overdue", at, actor=actor, checkin_id=checkin["checkin_id"]
                ):
                    raised.append(key)
        for action in self.actions.values():
            check = action["check"]
            if (
                action["status"] == "open"
                and not (check and check["status"] == "realised")
                and (today - action["due_date"]).days > action_grace_days
            ):
                key = f"action-overdue:{action['action_id']}"
                if self._bottleneck(
                    key, "action_overdue", at, actor=actor, action_id=action["action_id"]
                ):
                    raised.append(key)
        return raised

    def agree_todo(
        self,
        *,
        todo_id: uuid.UUID,
        goal_id: uuid.UUID,
        description: str,
        owner: str,
        due_date: date,
        actor: str,
        at: datetime,
    ) -> bool:
        """Agree a new to-do; planning adds it as action `action_id_for_todo(todo_id)`."""
        self._require_open()
        if todo_id in self.todos:
            return False
        guard_text(FollowUpError, multiline=True, description=description)
        if not description.strip():
            raise FollowUpError("invalid", "A to-do has a description.", "description")
        if owner not in OWNERS:
            raise FollowUpError("invalid", f"Unknown owner {owner!r}.", "owner")
        if due_date < at.date():
            raise FollowUpError("invalid", "The due date lies in the past.", "due_date")
        self._trigger(
            self.ToDoAgreed,
            at,
            organisation=self.organisation,
            todo_id=todo_id,
            action_id=action_id_for_todo(todo_id),
            goal_id=goal_id,
            description=description.strip(),
            owner=owner,
            due_date=due_date,
            actor=actor,
        )
        return True

    def record_outcome(
        self,
        *,
        outcome: str,
        on: date,
        actor: str,
        at: datetime,
        accepted_on: date | None = None,
    ) -> None:
        """Record (or correct) the outcome; with feedback given, the follow-up closes.

        `on` lies neither in the future nor before the case was accepted (`accepted_on`,
        intake's acceptance date as follow-up learned it; None while it has not: then only
        the future is refused)."""
        self._require_open()
        if outcome not in OUTCOMES:
            raise FollowUpError("invalid", f"Unknown outcome {outcome!r}.", "outcome")
        check_day_in_case_history("on", on, accepted_on=accepted_on, today=at.date())
        self._trigger(self.OutcomeRecorded, at, outcome=outcome, on=on, actor=actor)
        if self.feedback is not None:
            self._close_completed("outcome_and_feedback", "outcome", actor, at)

    def give_feedback(
        self,
        *,
        satisfaction: int,
        self_knowledge_improved: bool,
        confidence_improved: bool,
        comments: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Record the client's end-of-process feedback; with an outcome, the follow-up closes."""
        self._require_open()
        guard_text(FollowUpError, multiline=True, comments=comments)
        if isinstance(satisfaction, bool) or not isinstance(satisfaction, int):
            raise FollowUpError("invalid", "Satisfaction is a whole number 1-5.", "satisfaction")
        if not 1 <= satisfaction <= 5:
            raise FollowUpError("invalid", "Satisfaction lies between 1 and 5.", "satisfaction")
        for name, value in (
            ("self_knowledge_improved", self_knowledge_improved),
            ("confidence_improved", confidence_improved),
        ):
            if not isinstance(value, bool):
                raise FollowUpError("invalid", "Answer yes or no.", name)
        self._trigger(
            self.FeedbackGiven,
            at,
            satisfaction=satisfaction,
            self_knowledge_improved=self_knowledge_improved,
            confidence_improved=confidence_improved,
            comments=(comments or "").strip() or None,
            actor=actor,
        )
        if self.outcome is not None:
            self._close_completed("outcome_and_feedback", "feedback", actor, at)

    def close(self, *, reason: str, notes: str | None = None, actor: str, at: datetime) -> None:
        """Close explicitly (before a closing rule is met), with a reason from
        `CLOSURE_REASONS` and optional notes; a closed follow-up refuses it."""
        self._require_open()
        if reason not in CLOSURE_REASONS:
            raise FollowUpError(
                "invalid",
                f"Unknown reason {reason!r}: one of {', '.join(CLOSURE_REASONS)}.",
                "reason",
            )
        guard_text(FollowUpError, multiline=True, notes=notes)
        self._trigger(
            self.FollowUpClosed,
            at,
            reason=reason,
            rule="early",
            actor=actor,
            notes=(notes or "").strip() or None,
            closed_by="close",
        )

    def request_aftercare(self, *, due_on: date, actor: str, at: datetime) -> uuid.UUID:
        """The client asks for aftercare: a new check-in on `due_on`; a closed follow-up reopens.

        Returns the new check-in's id.
        """
        if due_on < at.date():
            raise FollowUpError("invalid", "The check-in's date lies in the past.", "due_on")
        checkin_id = checkin_id_for(self.id, len(self.checkins) + 1)
        self._trigger(
            self.AftercareRequested,
            at,
            checkin_id=checkin_id,
            due_on=due_on,
            reopened=self.status == "closed",
            actor=actor,
        )
        return checkin_id

    # -- views ---------------------------------------------------------------------------
    def open_checkins(self) -> list[dict[str, Any]]:
        """The check-ins not done yet, earliest due first."""
        return sorted((dict(c) for c in self.checkins if not c["done"]), key=lambda c: c["due_on"])
