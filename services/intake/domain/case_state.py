"""A case's state as the modules of its commands see it (`case_intake.py`,
`case_news.py`): the attributes its events set, its event classes and the helpers of
`Case` they call."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from services.intake.domain.case_values import (
        Appointment,
        Assessment,
        BudgetExtension,
        Closure,
        Decision,
        EntryCheck,
        Reassignment,
        ReflectionReport,
        ReportAgreement,
        Resumption,
        Session,
        SessionNotes,
    )


class CaseState:
    """Declarations only (for the type checker): `Case` defines them all."""

    if TYPE_CHECKING:
        client_id: uuid.UUID
        organisation: str
        opened_by: str
        counsellor: str
        reassignments: list[Reassignment]
        status: str
        phase: str
        entry_check: EntryCheck | None
        assessments: list[Assessment]
        sessions: list[Session]
        minutes_used: int
        aftercare_minutes: int
        hours_budget: float
        programme: str | None
        budget_reason: str | None
        budget_extensions: list[BudgetExtension]
        aftercare_contacts: set[uuid.UUID]
        decision: Decision | None
        plan_position: int
        resumption: Resumption | None
        resumption_position: int
        closure: Closure | None
        closure_position: int
        career_question: str
        session_notes: dict[uuid.UUID, list[SessionNotes]]
        report: ReflectionReport | None
        report_agreements: list[ReportAgreement]
        appointments: dict[uuid.UUID, Appointment]

        EntryChecked: type[Aggregate.Event]
        AssessmentRecorded: type[Aggregate.Event]
        SessionHeld: type[Aggregate.Event]
        Accepted: type[Aggregate.Event]
        ReferredOut: type[Aggregate.Event]
        Declined: type[Aggregate.Event]
        PhaseChanged: type[Aggregate.Event]
        PlanPositionNoted: type[Aggregate.Event]
        ResumptionNoted: type[Aggregate.Event]
        Closed: type[Aggregate.Event]
        Reopened: type[Aggregate.Event]
        SessionNotesRecorded: type[Aggregate.Event]
        ReportDrafted: type[Aggregate.Event]
        ReportRevised: type[Aggregate.Event]
        ReportAgreed: type[Aggregate.Event]
        FileClosed: type[Aggregate.Event]
        Reassigned: type[Aggregate.Event]
        AppointmentPlanned: type[Aggregate.Event]
        AppointmentRescheduled: type[Aggregate.Event]
        AppointmentCancelled: type[Aggregate.Event]
        AppointmentMissed: type[Aggregate.Event]
        AppointmentHeld: type[Aggregate.Event]

        def _require_open(self) -> None: ...

        def hold_session(
            self,
            *,
            session_id: uuid.UUID,
            kind: str,
            held_at: datetime,
            minutes: int,
            actor: str,
            at: datetime,
        ) -> None: ...

        BudgetExtended: type[Aggregate.Event]
        AftercareContactCounted: type[Aggregate.Event]

        def _check_budget(self, minutes: int) -> None: ...

        def cancel_planned(self, *, reason: str, actor: str, at: datetime) -> None: ...

        def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None: ...
