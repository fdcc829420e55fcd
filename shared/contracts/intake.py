"""Integration events published by intake (`guidance.intake.<EventType>`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts import IntegrationEvent, Personal
from shared.vocabulary import Competence, DataCategory, Purpose


class _Intake(IntegrationEvent):
    service: ClassVar[str] = "intake"


class ClientRegisteredV1(_Intake):
    """A client was registered; every personal field is sealed with the client's key."""

    event_type: ClassVar[str] = "ClientRegistered"
    subject_field: ClassVar[str] = "client_id"

    client_id: uuid.UUID
    organisation: str
    given_name: Personal
    family_name: Personal
    birth_date: Personal
    email: Personal
    phone: Personal | None = None
    preferred_language: str | None = None


class _ConsentChange(_Intake):
    subject_field: ClassVar[str] = "client_id"

    client_id: uuid.UUID
    organisation: str
    consent_id: uuid.UUID
    purpose: Purpose
    partner_id: uuid.UUID | None = None
    data_categories: list[DataCategory] = Field(default_factory=list)


class ConsentGrantedV1(_ConsentChange):
    """The client granted a consent (for a referral: to one partner, for some categories)."""

    event_type: ClassVar[str] = "ConsentGranted"


class ConsentWithdrawnV1(_ConsentChange):
    """The client withdrew a consent (or refused one never given)."""

    event_type: ClassVar[str] = "ConsentWithdrawn"


class _CaseEvent(_Intake):
    subject_field: ClassVar[str] = "case_id"

    case_id: uuid.UUID
    client_id: uuid.UUID


class CaseOpenedV1(_CaseEvent):
    """A case was opened with the client's career question (sealed)."""

    event_type: ClassVar[str] = "CaseOpened"

    organisation: str
    career_question: Personal
    hours_budget: float


class EntryCheckedV1(_CaseEvent):
    """The entry conditions were checked; notes are sealed."""

    event_type: ClassVar[str] = "EntryChecked"

    eligible: bool
    notes: Personal | None = None


class AssessmentRecordedV1(_CaseEvent):
    """The five career competences were scored (1-4) by the client or the counsellor."""

    event_type: ClassVar[str] = "AssessmentRecorded"

    assessment_id: uuid.UUID
    assessor: Literal["client", "counsellor"]
    scores: dict[Competence, int]


class SessionHeldV1(_CaseEvent):
    """A session was held and counted against the hours budget."""

    event_type: ClassVar[str] = "SessionHeld"

    session_id: uuid.UUID
    kind: Literal["intake", "deepening", "synthesis", "aftercare", "group"] = Field(
        description="The session's kind; `group`: the client took part in a group session "
        "(the same group's participants each have their own session, with its own id)."
    )
    held_at: datetime
    minutes: int


class CaseAcceptedV1(_CaseEvent):
    """The case was accepted for guidance, with the gaps and the latest scores per assessor."""

    event_type: ClassVar[str] = "CaseAccepted"

    organisation: str
    gaps: list[Competence]
    reason: Personal | None = None
    scores: dict[Literal["client", "counsellor"], dict[Competence, int]]
    counsellor: str | None = Field(
        default=None,
        description="The case's counsellor: the `sub` of who opened it (absent on "
        "acceptances published before it was carried).",
    )
    programme: str | None = Field(
        default=None,
        description="The programme or funder whose hours budget the acceptance set; null: "
        "the agency's default (why another budget stays in intake, sealed).",
    )
    hours_budget: float | None = Field(
        default=None,
        description="The hours budget the acceptance set (absent on acceptances published "
        "before it was set at acceptance).",
    )


class CaseReferredOutV1(_CaseEvent):
    """The question does not fit career guidance; the client was referred out."""

    event_type: ClassVar[str] = "CaseReferredOut"

    reason: Personal | None = None


class CaseDeclinedV1(_CaseEvent):
    """The case was declined."""

    event_type: ClassVar[str] = "CaseDeclined"

    reason: Personal | None = None


class CaseReassignedV1(_CaseEvent):
    """A team lead handed the case to another counsellor (why stays in intake, sealed).

    The services whose lists show the case's counsellor follow it."""

    event_type: ClassVar[str] = "CaseReassigned"

    counsellor: str = Field(description="Who carries the case from now on (a token's `sub`).")
    previous: str = Field(description="Who carried it before (a token's `sub`).")


class CaseFileClosedV1(_CaseEvent):
    """The counsellor closed the case's file (the closing summary stays in intake, sealed)."""

    event_type: ClassVar[str] = "CaseFileClosed"

    reason: Literal["referred_out", "declined", "client_withdrew"]


class CaseBudgetExtendedV1(_CaseEvent):
    """A team lead approved going over the case's hours budget (why stays in intake)."""

    event_type: ClassVar[str] = "CaseBudgetExtended"

    extra_hours: float = Field(description="The hours approved on top of the budget.")


class ClientInformedOfRightsV1(_Intake):
    """The client was informed of their rights and duties: which version of the agency's
    information, in which language (when and by whom: `occurred_at`, `actor`)."""

    event_type: ClassVar[str] = "ClientInformedOfRights"
    subject_field: ClassVar[str] = "client_id"

    client_id: uuid.UUID
    organisation: str
    version: str
    language: Literal["nl", "fr", "en"]


class _ComplaintEvent(_Intake):
    # A complaint's text (what about, the answer) is never published: it stays in intake.
    subject_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    client_id: uuid.UUID


class ComplaintRegisteredV1(_ComplaintEvent):
    """A client's complaint was registered (about a case, if named), to be answered by
    `deadline`."""

    event_type: ClassVar[str] = "ComplaintRegistered"

    organisation: str
    case_id: uuid.UUID | None = None
    deadline: date


class ComplaintAnsweredV1(_ComplaintEvent):
    """The complaint was answered on `answered_on` (the answer's text stays in intake)."""

    event_type: ClassVar[str] = "ComplaintAnswered"

    answered_on: date


class ComplaintWithdrawnV1(_ComplaintEvent):
    """The client withdrew the complaint."""

    event_type: ClassVar[str] = "ComplaintWithdrawn"


class SessionNotesRecordedV1(_CaseEvent):
    """A session's notes were recorded or amended; their text stays in intake."""

    event_type: ClassVar[str] = "SessionNotesRecorded"

    session_id: uuid.UUID


class ReflectionReportDraftedV1(_CaseEvent):
    """The case's reflection-and-action report was drafted (its text stays in intake)."""

    event_type: ClassVar[str] = "ReflectionReportDrafted"


class ReflectionReportRevisedV1(_CaseEvent):
    """The report's texts were revised: the client agrees to it again."""

    event_type: ClassVar[str] = "ReflectionReportRevised"


class ReflectionReportAgreedV1(_CaseEvent):
    """The client read and agreed to revision `revision` of the report."""

    event_type: ClassVar[str] = "ReflectionReportAgreed"

    revision: int


# Appointments: without the cancellation's reason (sealed, it stays in intake) and without
# the place (the counsellor's calendar feed shows it; no other service needs it).
SessionKind = Literal["intake", "deepening", "synthesis", "aftercare"]
Channel = Literal["in_person", "phone", "video"]


class AppointmentPlannedV1(_CaseEvent):
    """An appointment was planned ahead in `counsellor`'s calendar."""

    event_type: ClassVar[str] = "AppointmentPlanned"

    appointment_id: uuid.UUID
    counsellor: str
    kind: SessionKind
    starts_at: datetime
    minutes: int
    channel: Channel


class AppointmentRescheduledV1(_CaseEvent):
    """A planned appointment moved (its start, length or channel)."""

    event_type: ClassVar[str] = "AppointmentRescheduled"

    appointment_id: uuid.UUID
    starts_at: datetime
    minutes: int
    channel: Channel


class AppointmentCancelledV1(_CaseEvent):
    """A planned appointment was cancelled, by the client or the agency (the reason stays
    in intake)."""

    event_type: ClassVar[str] = "AppointmentCancelled"

    appointment_id: uuid.UUID
    by: Literal["client", "agency"]


class AppointmentMissedV1(_CaseEvent):
    """The client did not come to the appointment (a no-show)."""

    event_type: ClassVar[str] = "AppointmentMissed"

    appointment_id: uuid.UUID


class AppointmentHeldV1(_CaseEvent):
    """The appointment took place: it became the session `session_id` (its `SessionHeld`
    published just before)."""

    event_type: ClassVar[str] = "AppointmentHeld"

    appointment_id: uuid.UUID
    session_id: uuid.UUID
