"""A client's complaint: registered, assigned to a team lead, handled, answered (or
withdrawn), with the deadline for its answer fixed when it was registered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from eventsourcing.domain import Aggregate

from services.intake.domain.errors import IntakeError
from shared.text import guard_text

# A complaint's way: received → in_handling → answered, or withdrawn before its answer.
COMPLAINT_STATUSES = ("received", "in_handling", "answered", "withdrawn")
OPEN_STATUSES = ("received", "in_handling")


@dataclass(frozen=True)
class ComplaintAnswer:
    """The answer given to the client: its text (personal, sealed), when and by whom."""

    text: str
    answered_on: date
    at: datetime
    actor: str


class Complaint(Aggregate):
    """One complaint of a client (optionally about one of their cases)."""

    class Registered(Aggregate.Created):
        organisation: str
        client_id: uuid.UUID
        case_id: uuid.UUID | None
        subject: str
        deadline: date
        actor: str

    class Assigned(Aggregate.Event):
        client_id: uuid.UUID
        team_lead: str
        actor: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.assigned_to = self.team_lead

    class HandlingStarted(Aggregate.Event):
        client_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = "in_handling"

    class Answered(Aggregate.Event):
        client_id: uuid.UUID
        answer: str
        answered_on: date
        actor: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = "answered"
            aggregate.answer = ComplaintAnswer(
                text=self.answer, answered_on=self.answered_on, at=self.timestamp, actor=self.actor
            )

    class Withdrawn(Aggregate.Event):
        client_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = "withdrawn"
            aggregate.withdrawn_at = self.timestamp

    def __init__(
        self,
        organisation: str,
        client_id: uuid.UUID,
        case_id: uuid.UUID | None,
        subject: str,
        deadline: date,
        actor: str,
    ) -> None:
        self.organisation = organisation
        self.client_id = client_id
        self.case_id = case_id
        self.subject = subject
        self.deadline = deadline
        self.registered_by = actor
        self.status = "received"
        self.assigned_to: str | None = None
        self.answer: ComplaintAnswer | None = None
        self.withdrawn_at: datetime | None = None

    @classmethod
    def register(
        cls,
        *,
        complaint_id: uuid.UUID,
        organisation: str,
        client_id: uuid.UUID,
        case_id: uuid.UUID | None,
        subject: str,
        answer_within_days: int,
        actor: str,
        at: datetime,
    ) -> Complaint:
        """A complaint received now: its answer is due `answer_within_days` days later."""
        guard_text(IntakeError, multiline=True, subject=subject)
        if not subject.strip():
            raise IntakeError("invalid", "Say what the complaint is about.", "subject")
        return cls._create(
            cls.Registered,
            id=complaint_id,
            timestamp=at,
            organisation=organisation,
            client_id=client_id,
            case_id=case_id,
            subject=subject.strip(),
            deadline=at.date() + timedelta(days=answer_within_days),
            actor=actor,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue(self, today: date) -> bool:
        """Unanswered (and not withdrawn) after its deadline's day."""
        return self.is_open and today > self.deadline

    def _still_open(self) -> None:
        if not self.is_open:
            raise IntakeError(
                "complaint-closed", f"The complaint is {self.status} already.", "status"
            )

    def assign(self, *, team_lead: str, actor: str, at: datetime) -> None:
        """Give the complaint to a team lead to handle (again: to another)."""
        guard_text(IntakeError, team_lead=team_lead)
        if not team_lead.strip():
            raise IntakeError("invalid", "Name the team lead.", "team_lead")
        self._still_open()
        self.trigger_event(
            self.Assigned,
            timestamp=at,
            client_id=self.client_id,
            team_lead=team_lead.strip(),
            actor=actor,
        )

    def start_handling(self, *, actor: str, at: datetime) -> None:
        self._still_open()
        if self.status == "in_handling":
            raise IntakeError("complaint-in-handling", "The complaint is in handling already.")
        self.trigger_event(
            self.HandlingStarted, timestamp=at, client_id=self.client_id, actor=actor
        )

    def give_answer(self, *, answer: str, answered_on: date, actor: str, at: datetime) -> None:
        """Answer the client (the answer's text as sent, and the day it was sent)."""
        guard_text(IntakeError, multiline=True, answer=answer)
        if not answer.strip():
            raise IntakeError("invalid", "The answer must not be blank.", "answer")
        if answered_on > at.date():
            raise IntakeError("invalid", "The answer's date must not lie ahead.", "answered_on")
        if answered_on < self.created_on.date():
            raise IntakeError(
                "invalid", "The answer's date lies before the complaint.", "answered_on"
            )
        self._still_open()
        self.trigger_event(
            self.Answered,
            timestamp=at,
            client_id=self.client_id,
            answer=answer.strip(),
            answered_on=answered_on,
            actor=actor,
        )

    def withdraw(self, *, actor: str, at: datetime) -> None:
        """The client withdrew the complaint."""
        self._still_open()
        self.trigger_event(self.Withdrawn, timestamp=at, client_id=self.client_id, actor=actor)
