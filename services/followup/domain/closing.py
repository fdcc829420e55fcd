"""A follow-up's ends: to-dos agreed in aftercare, the outcome and the client's feedback
(which together close it), the counsellor's explicit close, and the client's request
for aftercare (which reopens it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.followup.domain.rules import (
    CLOSURE_REASONS,
    CONTRACTS,
    OUTCOMES,
    OWNERS,
    FollowUpError,
    action_id_for_todo,
    check_day_in_case_history,
    checkin_id_for,
)
from services.followup.domain.state import FollowUpState
from shared.text import guard_text


class Closing(FollowUpState):
    """The commands that close and reopen a follow-up (mixed into `FollowUp`)."""

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
        contract: str | None = None,
    ) -> None:
        """Record (or correct) the outcome; with feedback given, the follow-up closes.

        A job (`employed`) may name its contract (`CONTRACTS`); no other outcome does.
        `on` lies neither in the future nor before the case was accepted (`accepted_on`,
        intake's acceptance date as follow-up learned it; None while it has not: then only
        the future is refused)."""
        self._require_open()
        if outcome not in OUTCOMES:
            raise FollowUpError("invalid", f"Unknown outcome {outcome!r}.", "outcome")
        if contract is not None and contract not in CONTRACTS:
            raise FollowUpError("invalid", f"Unknown contract {contract!r}.", "contract")
        if contract is not None and outcome != "employed":
            raise FollowUpError("invalid", "Only a job (employed) has a contract.", "contract")
        check_day_in_case_history("on", on, accepted_on=accepted_on, today=at.date())
        self._trigger(
            self.OutcomeRecorded, at, outcome=outcome, on=on, actor=actor, contract=contract
        )
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
