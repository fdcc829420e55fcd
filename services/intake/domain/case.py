"""A case: one guidance process of a client, intake until the decision, then its phases
as planning, referral and follow-up report them.

This module holds the aggregate, its events, its opening and its guard; its commands are
in `case_intake.py` (entry check, assessments, sessions, decision) and `case_news.py`
(what the other services report), mixed in; the words its fields take in `case_rules.py`.
The events stay nested in the class: their stored topics are
`services.intake.domain.case:Case.<Event>`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.intake.domain.case_agenda import Agenda
from services.intake.domain.case_budget import BudgetCare
from services.intake.domain.case_file import FileCare
from services.intake.domain.case_intake import Intake
from services.intake.domain.case_news import News
from services.intake.domain.case_notes import Notes, texts
from services.intake.domain.case_rules import ENDED
from services.intake.domain.case_values import (
    Appointment,
    Assessment,
    BudgetExtension,
    Closure,
    Decision,
    EntryCheck,
    GroupParticipation,
    Reassignment,
    ReflectionReport,
    ReportAgreement,
    Resumption,
    Session,
    SessionNotes,
)
from services.intake.domain.client import Client
from services.intake.domain.errors import IntakeError
from services.intake.domain.group import check_minutes, session_id_for
from shared.text import guard_text


class Case(Intake, News, Notes, FileCare, Agenda, BudgetCare, Aggregate):
    """One guidance process of a client: intake until the decision, then its phases."""

    class Opened(Aggregate.Created):
        client_id: uuid.UUID
        organisation: str
        career_question: str
        hours_budget: float
        actor: str

    class EntryChecked(Aggregate.Event):
        client_id: uuid.UUID
        eligible: bool
        notes: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.entry_check = EntryCheck(
                eligible=self.eligible,
                notes=self.notes,
                checked_at=self.timestamp,
                actor=self.actor,
            )

    class AssessmentRecorded(Aggregate.Event):
        assessment_id: uuid.UUID
        client_id: uuid.UUID
        assessor: str
        scores: dict[str, int]
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.assessments.append(
                Assessment(
                    assessment_id=self.assessment_id,
                    assessor=self.assessor,
                    scores=dict(self.scores),
                    recorded_at=self.timestamp,
                    actor=self.actor,
                )
            )

    class SessionHeld(Aggregate.Event):
        session_id: uuid.UUID
        client_id: uuid.UUID
        kind: str
        held_at: datetime
        minutes: int
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.sessions.append(
                Session(
                    session_id=self.session_id,
                    kind=self.kind,
                    held_at=self.held_at,
                    minutes=self.minutes,
                    actor=self.actor,
                )
            )
            aggregate.minutes_used += self.minutes

    class Accepted(Aggregate.Event):
        # v2 added `counsellor` (the case's: who opened it), for the other services'
        # lists; acceptances recorded before it name none. v3 added the hours budget it
        # sets (`programme`, `hours_budget`, `budget_reason`, sealed); acceptances
        # recorded before it keep the budget the case was opened with.
        class_version = 3
        client_id: uuid.UUID
        organisation: str
        gaps: list[str]
        scores: dict[str, dict[str, int]]
        reason: str | None
        actor: str
        counsellor: str | None
        programme: str | None
        hours_budget: float | None
        budget_reason: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["counsellor"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["programme"] = None
            state["hours_budget"] = None
            state["budget_reason"] = None

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "accepted"
            aggregate.phase = "deepening"
            aggregate.decision = _decision(self, "accept")
            if self.hours_budget is not None:
                aggregate.hours_budget = self.hours_budget
                aggregate.programme = self.programme
                aggregate.budget_reason = self.budget_reason

    class ReferredOut(Aggregate.Event):
        client_id: uuid.UUID
        reason: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "referred_out"
            aggregate.phase = "closed"
            aggregate.decision = _decision(self, "refer_out")

    class Declined(Aggregate.Event):
        client_id: uuid.UUID
        reason: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "declined"
            aggregate.phase = "closed"
            aggregate.decision = _decision(self, "decline")

    class PhaseChanged(Aggregate.Event):
        """The case moved to the phase its plan is in (from planning's events)."""

        client_id: uuid.UUID
        phase: str
        cause: str
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.phase = self.phase
            aggregate.plan_position = self.source_position

    class PlanPositionNoted(Aggregate.Event):
        """Planning's news that left the phase as it was; older news must not undo it."""

        client_id: uuid.UUID
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.plan_position = self.source_position

    class ResumptionNoted(Aggregate.Event):
        """Whether and when guidance resumes after a referral (from referral's events);
        the latest news wins, older news (a lower position) changes nothing."""

        client_id: uuid.UUID
        referral_id: uuid.UUID
        resumes: bool
        resume_on: date | None
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.resumption = Resumption(
                referral_id=self.referral_id,
                resumes=self.resumes,
                resume_on=self.resume_on,
                noted_at=self.timestamp,
            )
            aggregate.resumption_position = self.source_position

    class Closed(Aggregate.Event):
        """Follow-up closed the case's aftercare (from follow-up's `FollowUpClosed`):
        the case is closed; `closed_at` is when follow-up closed it."""

        client_id: uuid.UUID
        followup_id: uuid.UUID
        reason: str
        rule: str
        closed_by: str | None
        closed_at: datetime
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "closed"
            aggregate.phase = "closed"
            aggregate.closure = Closure(
                followup_id=self.followup_id,
                reason=self.reason,
                rule=self.rule,
                closed_by=self.closed_by,
                closed_at=self.closed_at,
            )
            aggregate.closure_position = self.source_position

    class Reopened(Aggregate.Event):
        """The client asked for aftercare on a closed follow-up (from follow-up's
        `AftercareRequested`): the case is accepted again, in aftercare."""

        client_id: uuid.UUID
        followup_id: uuid.UUID
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "accepted"
            aggregate.phase = "aftercare"
            aggregate.closure = None
            aggregate.closure_position = self.source_position

    class SessionNotesRecorded(Aggregate.Event):
        """A session's notes, recorded or amended (the earlier record stays)."""

        session_id: uuid.UUID
        client_id: uuid.UUID
        discussed: str | None
        insights: str | None
        agreements: str | None
        homework: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            history = aggregate.session_notes.setdefault(self.session_id, [])
            history.append(
                SessionNotes(
                    session_id=self.session_id,
                    discussed=self.discussed,
                    insights=self.insights,
                    agreements=self.agreements,
                    homework=self.homework,
                    amendment=len(history),
                    recorded_at=self.timestamp,
                    actor=self.actor,
                )
            )

    class ReportDrafted(Aggregate.Event):
        """The reflection-and-action report was drafted (revision 1)."""

        client_id: uuid.UUID
        starting_question: str
        insights: list[str]
        conclusions: str
        actions: list[str]
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.report = ReflectionReport(
                starting_question=self.starting_question,
                insights=texts(self.insights),
                conclusions=self.conclusions,
                actions=texts(self.actions),
                revision=1,
                drafted_at=self.timestamp,
                drafted_by=self.actor,
                revised_at=self.timestamp,
                revised_by=self.actor,
            )

    class ReportRevised(Aggregate.Event):
        """The report's texts were replaced (a new revision, to be agreed again)."""

        client_id: uuid.UUID
        starting_question: str
        insights: list[str]
        conclusions: str
        actions: list[str]
        actor: str

        def apply(self, aggregate: Case) -> None:
            before = aggregate.report
            assert before is not None
            aggregate.report = ReflectionReport(
                starting_question=self.starting_question,
                insights=texts(self.insights),
                conclusions=self.conclusions,
                actions=texts(self.actions),
                revision=before.revision + 1,
                drafted_at=before.drafted_at,
                drafted_by=before.drafted_by,
                revised_at=self.timestamp,
                revised_by=self.actor,
            )

    class ReportAgreed(Aggregate.Event):
        """The client read and agreed to a revision of the report (recorded by `actor`)."""

        client_id: uuid.UUID
        revision: int
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.report_agreements.append(
                ReportAgreement(
                    revision=self.revision, agreed_at=self.timestamp, recorded_by=self.actor
                )
            )

    class FileClosed(Aggregate.Event):
        """The counsellor closed the case's file: the client was referred out, declined,
        or withdrew (`reason`), with a closing summary (sealed)."""

        client_id: uuid.UUID
        reason: str
        summary: str
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "closed"
            aggregate.phase = "closed"
            aggregate.closure = Closure(
                followup_id=None,
                reason=self.reason,
                rule="file",
                closed_by="counsellor",
                closed_at=self.timestamp,
                summary=self.summary,
                actor=self.actor,
            )

    class Reassigned(Aggregate.Event):
        """A team lead handed the case to another counsellor (`reason`: why, sealed), with
        the appointments still planned."""

        client_id: uuid.UUID
        counsellor: str
        previous: str
        reason: str
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.counsellor = self.counsellor
            for key, appointment in aggregate.appointments.items():
                if appointment.status == "planned":
                    aggregate.appointments[key] = replace(appointment, counsellor=self.counsellor)
            aggregate.reassignments.append(
                Reassignment(
                    counsellor=self.counsellor,
                    previous=self.previous,
                    reason=self.reason,
                    reassigned_at=self.timestamp,
                    actor=self.actor,
                )
            )

    class AppointmentPlanned(Aggregate.Event):
        """An appointment was planned ahead (`counsellor`: whose calendar it is in)."""

        appointment_id: uuid.UUID
        client_id: uuid.UUID
        counsellor: str
        kind: str
        starts_at: datetime
        minutes: int
        channel: str
        place: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.appointments[self.appointment_id] = Appointment(
                appointment_id=self.appointment_id,
                counsellor=self.counsellor,
                kind=self.kind,
                starts_at=self.starts_at,
                minutes=self.minutes,
                channel=self.channel,
                place=self.place,
                status="planned",
                planned_at=self.timestamp,
                planned_by=self.actor,
            )

    class AppointmentRescheduled(Aggregate.Event):
        """A planned appointment moved (its time, length, channel or place)."""

        appointment_id: uuid.UUID
        client_id: uuid.UUID
        starts_at: datetime
        minutes: int
        channel: str
        place: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            before = aggregate.appointments[self.appointment_id]
            aggregate.appointments[self.appointment_id] = replace(
                before,
                starts_at=self.starts_at,
                minutes=self.minutes,
                channel=self.channel,
                place=self.place,
                reschedules=before.reschedules + 1,
                changed_at=self.timestamp,
                changed_by=self.actor,
            )

    class AppointmentCancelled(Aggregate.Event):
        """A planned appointment was cancelled by the client or the agency (why: sealed)."""

        appointment_id: uuid.UUID
        client_id: uuid.UUID
        by: str
        reason: str
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.appointments[self.appointment_id] = replace(
                aggregate.appointments[self.appointment_id],
                status="cancelled",
                cancelled_by=self.by,
                cancel_reason=self.reason,
                changed_at=self.timestamp,
                changed_by=self.actor,
            )

    class AppointmentMissed(Aggregate.Event):
        """The client did not come (a no-show)."""

        appointment_id: uuid.UUID
        client_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.appointments[self.appointment_id] = replace(
                aggregate.appointments[self.appointment_id],
                status="missed",
                changed_at=self.timestamp,
                changed_by=self.actor,
            )

    class AppointmentHeld(Aggregate.Event):
        """The appointment took place: it became the session `session_id` (recorded by the
        `SessionHeld` just before it)."""

        appointment_id: uuid.UUID
        client_id: uuid.UUID
        session_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.appointments[self.appointment_id] = replace(
                aggregate.appointments[self.appointment_id],
                status="held",
                session_id=self.session_id,
                changed_at=self.timestamp,
                changed_by=self.actor,
            )

    class BudgetExtended(Aggregate.Event):
        """A team lead approved going over the budget by `extra_hours` (reason sealed)."""

        client_id: uuid.UUID
        extra_hours: float
        reason: str
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.budget_extensions.append(
                BudgetExtension(
                    extra_hours=self.extra_hours,
                    reason=self.reason,
                    approved_at=self.timestamp,
                    actor=self.actor,
                )
            )

    class AftercareContactCounted(Aggregate.Event):
        """An aftercare contact (follow-up's, the client reached) counts `minutes`."""

        client_id: uuid.UUID
        contact_id: uuid.UUID
        minutes: int
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.aftercare_contacts.add(self.contact_id)
            aggregate.minutes_used += self.minutes
            aggregate.aftercare_minutes += self.minutes

    class GroupSessionNoted(Aggregate.Event):
        """The client took part in a group session, or was absent from it: the group's
        topic and when, never who else took part. A present client's session follows
        (`SessionHeld`, kind `group`), and their own notes if any."""

        client_id: uuid.UUID
        group_id: uuid.UUID
        session_id: uuid.UUID
        topic: str
        held_at: datetime
        minutes: int
        present: bool
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.group_sessions.append(
                GroupParticipation(
                    group_id=self.group_id,
                    session_id=self.session_id,
                    topic=self.topic,
                    held_at=self.held_at,
                    minutes=self.minutes,
                    present=self.present,
                    actor=self.actor,
                )
            )

    def __init__(
        self,
        client_id: uuid.UUID,
        organisation: str,
        career_question: str,
        hours_budget: float,
        actor: str,
    ) -> None:
        self.client_id = client_id
        self.organisation = organisation
        self.career_question = career_question
        self.hours_budget = hours_budget
        self.opened_by = actor
        self.counsellor = actor
        self.reassignments: list[Reassignment] = []
        self.status = "open"
        self.phase = "intake"
        self.entry_check: EntryCheck | None = None
        self.assessments: list[Assessment] = []
        self.sessions: list[Session] = []
        self.minutes_used = 0
        self.aftercare_minutes = 0
        self.programme: str | None = None
        self.budget_reason: str | None = None
        self.budget_extensions: list[BudgetExtension] = []
        self.aftercare_contacts: set[uuid.UUID] = set()
        self.decision: Decision | None = None
        self.plan_position = 0
        self.resumption: Resumption | None = None
        self.resumption_position = 0
        self.closure: Closure | None = None
        self.closure_position = 0
        self.session_notes: dict[uuid.UUID, list[SessionNotes]] = {}
        self.report: ReflectionReport | None = None
        self.report_agreements: list[ReportAgreement] = []
        self.appointments: dict[uuid.UUID, Appointment] = {}
        self.group_sessions: list[GroupParticipation] = []

    @classmethod
    def open(
        cls,
        *,
        case_id: uuid.UUID,
        client: Client,
        organisation: str,
        career_question: str,
        hours_budget: float,
        actor: str,
        at: datetime,
    ) -> Case:
        if client.organisation != organisation:
            raise IntakeError("not-found", "No such client.", "client_id")
        if not client.has_consent("guidance"):
            raise IntakeError(
                "consent-required",
                "The client has not given a guidance consent; record it first.",
                "client_id",
            )
        guard_text(IntakeError, multiline=True, career_question=career_question)
        if not career_question.strip():
            raise IntakeError(
                "invalid", "The career question must not be blank.", "career_question"
            )
        if hours_budget <= 0:
            raise IntakeError("invalid", "The hours budget must be positive.", "hours_budget")
        return cls._create(
            cls.Opened,
            id=case_id,
            timestamp=at,
            client_id=client.id,
            organisation=organisation,
            career_question=career_question.strip(),
            hours_budget=hours_budget,
            actor=actor,
        )

    def note_group_session(
        self,
        *,
        group_id: uuid.UUID,
        topic: str,
        held_at: datetime,
        minutes: int,
        present: bool,
        notes: dict[str, str | None] | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Record the client's part in a held group session: present, a session of kind
        `group` counted in the hours used, with the client's own notes (sealed here, as
        session notes are); or absent (no session, no notes)."""
        if self.status in ENDED:
            self._require_open()
        check_minutes(minutes)
        if any(p.group_id == group_id for p in self.group_sessions):
            raise IntakeError(
                "group-noted", "The case's part in this group session is recorded already.", None
            )
        written = {k: v for k, v in (notes or {}).items() if v and v.strip()}
        if written and not present:
            raise IntakeError("invalid", "An absent participant has no notes.", "attendance")
        session_id = session_id_for(group_id, self.id)
        self.trigger_event(
            self.GroupSessionNoted,
            timestamp=at,
            client_id=self.client_id,
            group_id=group_id,
            session_id=session_id,
            topic=topic,
            held_at=held_at,
            minutes=minutes,
            present=present,
            actor=actor,
        )
        if not present:
            return
        self.trigger_event(
            self.SessionHeld,
            timestamp=at,
            session_id=session_id,
            client_id=self.client_id,
            kind="group",
            held_at=held_at,
            minutes=minutes,
            actor=actor,
        )
        if written:
            self.record_session_notes(
                session_id=session_id,
                discussed=written.get("discussed"),
                insights=written.get("insights"),
                agreements=written.get("agreements"),
                homework=written.get("homework"),
                actor=actor,
                at=at,
            )

    # -- guards --------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.status == "closed":
            closed_by = "follow-up closed its aftercare"
            if self.closure is not None and self.closure.followup_id is None:
                closed_by = "its file was closed"
            raise IntakeError("case-decided", f"The case is closed ({closed_by}).", None)
        if self.status != "open":
            raise IntakeError("case-decided", f"The case is already decided ({self.status}).", None)


def _decision(event: Case.Accepted | Case.ReferredOut | Case.Declined, decision: str) -> Decision:
    return Decision(
        decision=decision, reason=event.reason, decided_at=event.timestamp, actor=event.actor
    )


# Events stored before the case moved here (from `services/intake/domain.py`) keep loading.
register_topic("services.intake.domain:Case", Case)
for _name in (
    "Opened",
    "EntryChecked",
    "AssessmentRecorded",
    "SessionHeld",
    "Accepted",
    "ReferredOut",
    "Declined",
    "PhaseChanged",
    "PlanPositionNoted",
    "ResumptionNoted",
    "Closed",
    "Reopened",
    "FileClosed",
    "Reassigned",
):
    register_topic(f"services.intake.domain:Case.{_name}", getattr(Case, _name))
