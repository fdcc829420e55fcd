"""Intake's request models: what each command and query takes (JSON types taken as they
are: `true` is no score and "yes" no boolean)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr

from shared.schemas import AwareMoment, Day, Id, MultiLine, SingleLine, Strict
from shared.vocabulary import DataCategory, Purpose

Score = Annotated[StrictInt, Field(ge=1, le=4)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=100), SingleLine]
Note = Annotated[StrictStr, Field(max_length=4000), MultiLine]


# -- clients and cases -------------------------------------------------------------------------
class RegisterClient(Strict):
    # An example for the API docs (Swagger's "Try it out" starts from it).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "given_name": "Sanne",
                    "family_name": "de Vries",
                    "birth_date": "1990-04-12",
                    "email": "sanne@example.org",
                    "phone": "+31 6 12345678",
                    "preferred_language": "nl",
                }
            ]
        }
    )

    given_name: Name
    """The client's given name (1-100 characters); personal, sealed."""
    family_name: Name
    """The client's family name (1-100 characters); personal, sealed."""
    birth_date: Day
    """The client's date of birth (ISO date); personal, sealed."""
    email: Annotated[
        StrictStr, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254), SingleLine
    ]
    """The client's e-mail address; personal, sealed."""
    phone: Annotated[StrictStr, Field(pattern=r"^\+?[0-9 ()./-]{6,20}$")] | None = None
    """The client's phone number (digits, spaces, `+()./-`; 6-20 characters); personal, sealed."""
    preferred_language: Annotated[StrictStr, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] | None = None
    """The language the client prefers for documents, as `nl` or `nl-NL` (ISO 639-1, optional
    region).
    """


class ConsentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"purpose": "guidance", "granted": True},
                {
                    "purpose": "referral",
                    "granted": True,
                    "partner_id": "7d9e2f4a-1b3c-4d5e-8f6a-2b3c4d5e6f7a",
                    "data_categories": ["identity", "contact", "career_question"],
                },
            ]
        }
    )

    purpose: Purpose
    """What the client consents to: `guidance` (needed to open a case), `referral` (sharing data
    with one partner) or `statistics` (being counted in reports).
    """
    granted: StrictBool
    """`true` grants the consent, `false` withdraws it (or records a refusal)."""
    partner_id: Id | None = None
    """The partner a `referral` consent is for (required there, refused for the other purposes)."""
    data_categories: list[DataCategory] | None = Field(default=None, max_length=5)
    """The data a `referral` consent lets the partner read: one or more of `identity`, `contact`,
    `career_question`, `assessments`, `plan` (only for `referral`).
    """


class RightsInformed(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": "2026-01", "language": "nl"}]}
    )

    version: Annotated[StrictStr, Field(min_length=1, max_length=40), SingleLine]
    """The version of the agency's information on rights and duties the client was given
    (one of the agency's versions, `GUIDANCE_RIGHTS_INFORMATION_VERSIONS`, e.g. `2026-01`)."""
    language: Literal["nl", "fr", "en"]
    """The language it was given in."""


class OpenCase(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "0b8f7c1e-3d2a-4f5b-9c6d-7e8f9a0b1c2d",
                    "career_question": "Which work suits me after ten years in retail?",
                }
            ]
        }
    )

    client_id: Id
    """The client (registered in the caller's organisation, with a granted `guidance` consent)."""
    career_question: Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]
    """The client's career question, in their words (1-4000 characters); personal, sealed."""


class EntryCheck(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"eligible": True, "notes": "Lives in the region; no current guidance elsewhere."}
            ]
        }
    )

    eligible: StrictBool
    """Whether the client meets the entry conditions."""
    notes: Note | None = None
    """The counsellor's notes on the check (at most 4000 characters)."""


class Scores(Strict):
    quality_reflection: Score
    """Reflecting on one's qualities, 1 (weak) to 4 (strong)."""
    motive_reflection: Score
    """Reflecting on one's motives, 1 to 4."""
    work_exploration: Score
    """Exploring work and occupations, 1 to 4."""
    career_steering: Score
    """Steering one's career, 1 to 4."""
    networking: Score
    """Building and using a network, 1 to 4."""


class AssessmentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assessor": "client",
                    "scores": {
                        "quality_reflection": 3,
                        "motive_reflection": 2,
                        "work_exploration": 2,
                        "career_steering": 3,
                        "networking": 1,
                    },
                }
            ]
        }
    )

    assessor: Literal["client", "counsellor"]
    """Whose view the scores are: `client` (self-assessment) or `counsellor`."""
    scores: Scores
    """The five career competences, each 1-4 (1 or 2 marks a gap)."""


class SessionNotesIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "discussed": "Her values and what she wants from work.",
                    "insights": "Autonomy matters more to her than pay.",
                    "agreements": "She explores two sectors before the next session.",
                    "homework": "Interview one person working in logistics.",
                }
            ]
        }
    )

    discussed: Note | None = None
    """What was discussed (at most 4000 characters); personal, sealed."""
    insights: Note | None = None
    """The client's insights of the session; the report's draft takes them over."""
    agreements: Note | None = None
    """What was agreed."""
    homework: Note | None = None
    """What the client does before the next session."""


class SessionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "intake", "held_at": "2026-03-02T10:00:00+01:00", "minutes": 60}]
        }
    )

    kind: Literal["intake", "deepening", "synthesis", "aftercare"]
    """`intake`, `deepening`, `synthesis` or `aftercare`."""
    held_at: AwareMoment
    """When the session began (RFC 3339 with its offset)."""
    minutes: StrictInt = Field(ge=1, le=600)
    """How long it lasted, 1-600 minutes; counts against the hours budget."""
    notes: SessionNotesIn | None = None
    """The session's notes, recorded with it (or later: `POST .../sessions/{id}/notes`)."""


class DecisionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "accept", "reason": "Eligible; the gaps suit a guidance plan."}
            ]
        }
    )

    decision: Literal["accept", "refer_out", "decline"]
    """`accept` (needs a passed entry check and an assessment; starts the plan), `refer_out` or
    `decline`.
    """
    reason: Note | None = None
    """Why (at most 4000 characters)."""
    programme: Annotated[StrictStr, Field(min_length=1, max_length=100), SingleLine] | None = None
    """Accepting: the programme or funder whose hours budget the case gets (one the agency
    configured in `GUIDANCE_BUDGET_PROGRAMMES`); none: the default budget."""
    hours_budget: Annotated[float, Field(gt=0, le=500)] | None = None
    """Accepting: another budget than the programme's (needs `budget_reason`)."""
    budget_reason: Note | None = None
    """Why the budget differs from the programme's (sealed)."""


class ExtraHoursIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"extra_hours": 3, "reason": "The plan needs two more sessions."}]
        }
    )

    extra_hours: Annotated[float, Field(gt=0, le=100)]
    """The hours approved on top of the budget (at most 100)."""
    reason: Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]
    """Why the case needs them (sealed)."""


Sub = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Summary = Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]


class CloseCase(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "client_withdrew",
                    "summary": "Found work herself; the plan's first goals were met.",
                }
            ]
        }
    )

    reason: Literal["referred_out", "declined", "client_withdrew"]
    """Why the file closes: `referred_out` (a case decided to be referred out, or an accepted
    one handed to another provider for good), `declined` (a declined case) or
    `client_withdrew` (a case in intake or accepted).
    """
    summary: Summary
    """The counsellor's closing summary (1-4000 characters); personal, sealed."""


class ReassignCase(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"counsellor": "counsellor-2", "reason": "Long-term sick leave."}]
        }
    )

    counsellor: Sub
    """The counsellor who carries the case from now on (a token's `sub`)."""
    reason: Summary
    """Why it is handed over (1-4000 characters); sealed with the client's key."""


class ReassignCaseload(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_counsellor": "counsellor-1",
                    "to_counsellor": "counsellor-2",
                    "reason": "Leaves the team.",
                }
            ]
        }
    )

    from_counsellor: Sub
    """Whose open and accepted cases are handed over (a token's `sub`)."""
    to_counsellor: Sub
    """Who carries them from now on (a token's `sub`)."""
    reason: Summary
    """Why (1-4000 characters); sealed on each case with its client's key."""


ClientQuery = Annotated[
    Annotated[StrictStr, Field(max_length=200), SingleLine] | None,
    Query(
        description="Words that each occur in the client's name or e-mail address (any "
        "case; `jan jansen`), or a date of birth (`1985-03-15`). Absent: every client.",
        examples=["jansen"],
    ),
]


# -- erasure and legal holds --------------------------------------------------------------------
Reason = Annotated[StrictStr, Field(min_length=1, max_length=1000), MultiLine]


class ErasureIn(Strict):
    """Why the client is erased (the organisation's words about the request: they stay
    in the receipt after the erasure, so write no personal data here)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "The client asked for erasure by letter of 2 March."}]
        }
    )

    reason: Reason
    """Why (1-1000 characters): it stays in the receipt after the erasure, so no personal data."""


class HoldIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "A complaint about this case is being handled."}]
        }
    )

    reason: Reason
    """Why the case is held (1-1000 characters), e.g. a court case or a complaint."""


# -- complaints --------------------------------------------------------------------------------
ComplaintText = Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]


class RegisterComplaint(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"subject": "My appointment was cancelled twice without notice."}]
        }
    )

    subject: ComplaintText
    """What the complaint is about, in the client's words (1-4000 characters); personal,
    sealed."""
    case_id: Id | None = None
    """The client's case it is about, if it is about one."""


class AssignComplaint(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"team_lead": "lead-1"}]})

    team_lead: Name
    """The team lead who handles it (their `sub`)."""


class AnswerComplaint(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"answer": "We apologise; you keep one counsellor from now on."},
                {"answer": "Answered by telephone.", "answered_on": "2026-03-02"},
            ]
        }
    )

    answer: ComplaintText
    """The answer given to the client (1-4000 characters); personal, sealed."""
    answered_on: Day | None = None
    """The day the answer was given (ISO date; default today); not ahead, not before the
    complaint."""


ComplaintFilter = Annotated[
    Literal["open", "overdue", "answered", "withdrawn"] | None,
    Query(
        description="Only these: `open` (received or in handling), `overdue` (open after "
        "its deadline), `answered`, `withdrawn`; all when absent."
    ),
]


# -- the reflection-and-action report --------------------------------------------------------
ReportItem = Annotated[StrictStr, Field(min_length=1, max_length=2000), MultiLine]


class ReportDraftIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{}, {"conclusions": "Logistics planning suits her.", "actions": []}]
        }
    )

    starting_question: Note | None = None
    """The starting question; absent: the case's career question."""
    insights: list[ReportItem] | None = Field(default=None, max_length=50)
    """The insights; absent: those of the sessions' notes, oldest session first."""
    conclusions: Note | None = None
    """The conclusions (may wait for a revision)."""
    actions: list[ReportItem] = Field(default_factory=list, max_length=50)
    """The agreed actions and next steps (may wait for a revision)."""


class ReportIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "starting_question": "Which work suits me after the warehouse?",
                    "insights": ["Autonomy matters more to her than pay."],
                    "conclusions": "Logistics planning suits her; she lacks the certificate.",
                    "actions": ["Apply for the planner course by 1 May."],
                }
            ]
        }
    )

    starting_question: Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]
    """The starting question (1-4000 characters)."""
    insights: list[ReportItem] = Field(max_length=50)
    """The sessions' insights, as the report states them (each 1-2000 characters)."""
    conclusions: Note
    """The conclusions (at most 4000 characters)."""
    actions: list[ReportItem] = Field(max_length=50)
    """The agreed actions and next steps (each 1-2000 characters)."""


class ReportAgreementIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"revision": 2}]})

    revision: StrictInt = Field(ge=1, le=1_000_000)
    """The report's revision the client read and agrees to (the current one)."""


# -- appointments ------------------------------------------------------------------------------
Place = Annotated[StrictStr, Field(max_length=200), SingleLine]
Channel = Literal["in_person", "phone", "video"]


class AppointmentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "deepening",
                    "starts_at": "2026-03-09T10:00:00+01:00",
                    "minutes": 60,
                    "channel": "in_person",
                    "place": "Office Gent, room 2",
                }
            ]
        }
    )

    kind: Literal["intake", "deepening", "synthesis", "aftercare"]
    """The session it is to become: `intake`, `deepening`, `synthesis` or `aftercare`."""
    starts_at: AwareMoment
    """When it begins (RFC 3339 with its offset); ahead of now."""
    minutes: StrictInt | None = Field(default=None, ge=1, le=600)
    """How long it is planned for, 1-600 minutes (absent: the agency's default)."""
    channel: Channel
    """`in_person`, `phone` or `video`."""
    place: Place | None = None
    """Where (at most 200 characters): the agency's office and room (needed in person), or
    the call's number or video link. Not the client's address: it shows in the
    counsellor's calendar."""


class RescheduleIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"starts_at": "2026-03-10T14:00:00+01:00"}]}
    )

    starts_at: AwareMoment
    """The new start (RFC 3339 with its offset); ahead of now."""
    minutes: StrictInt | None = Field(default=None, ge=1, le=600)
    """A new length (absent: kept)."""
    channel: Channel | None = None
    """A new channel (absent: kept)."""
    place: Place | None = None
    """A new place (absent: kept, unless the channel changes)."""


class CancellationIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"by": "client", "reason": "Ill; asks for next week."}]}
    )

    by: Literal["client", "agency"]
    """Who cancelled: the `client` or the `agency`."""
    reason: Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]
    """Why (personal, sealed)."""


class NoShowIn(Strict):
    """Nothing to say: the client did not come."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class AppointmentHeldIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"minutes": 55}]})

    minutes: StrictInt | None = Field(default=None, ge=1, le=600)
    """How long the session lasted (absent: as planned); counts against the hours budget."""
    notes: SessionNotesIn | None = None
    """The session's notes, recorded with it (or later)."""


# -- group sessions ----------------------------------------------------------------------------
GroupText = Annotated[StrictStr, Field(max_length=200), SingleLine]


class PlanGroup(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic": "Writing a CV that speaks",
                    "starts_at": "2026-12-03T09:30:00+01:00",
                    "minutes": 120,
                    "place": "Room 2, Kortrijk office",
                    "case_ids": [],
                }
            ]
        }
    )

    topic: GroupText
    """What the session is about (not about any one client; at most 200 characters)."""
    starts_at: AwareMoment
    """When it begins (with its offset)."""
    minutes: Annotated[StrictInt, Field(ge=1, le=600)]
    """How long it is planned to last (1 to 600 minutes)."""
    place: GroupText = ""
    """Where it takes place."""
    case_ids: Annotated[list[Id], Field(max_length=30, default_factory=list)]
    """Its first participants: cases of the organisation still in guidance (at most 30)."""


class AddParticipant(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"case_id": "3f1c2a4e-0000-4000-8000-000000000001"}]}
    )

    case_id: Id
    """A case of the organisation still in guidance."""


class AttendanceIn(Strict):
    case_id: Id
    """A participant's case."""
    present: StrictBool
    """Whether the client came (an absent one has no notes)."""
    discussed: Note | None = None
    """What was discussed with this client; their own notes, sealed on their case."""
    insights: Note | None = None
    """This client's insights."""
    agreements: Note | None = None
    """What was agreed with this client."""
    homework: Note | None = None
    """This client's homework."""


class HoldGroup(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "attendance": [
                        {
                            "case_id": "3f1c2a4e-0000-4000-8000-000000000001",
                            "present": True,
                            "insights": "Sees her project experience as a strength now.",
                        }
                    ]
                }
            ]
        }
    )

    held_at: AwareMoment | None = None
    """When it began; absent: when it was planned to."""
    minutes: Annotated[StrictInt, Field(ge=1, le=600)] | None = None
    """How long it lasted; absent: as planned."""
    attendance: Annotated[list[AttendanceIn], Field(max_length=30)]
    """Each participant who came (`present` true, with their own notes) or did not; a
    participant not named was absent."""


# -- the organisation's objectives ---------------------------------------------------------------
MetricCode = Literal[
    "plans_agreed_within_6_weeks",
    "plans_agreed_within_budget",
    "job_or_study_outcome",
    "satisfaction_average",
    "median_days_to_outcome",
    "clients_started",
]


class SetObjective(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "metric": "plans_agreed_within_6_weeks",
                    "target": 80,
                    "starts_on": "2026-01-01",
                    "ends_on": "2026-12-31",
                    "programme": None,
                }
            ]
        }
    )

    metric: MetricCode
    """What is measured: the share (%) of cases started whose plan was agreed within 6
    weeks of acceptance, the share (%) of agreed plans agreed within the hours budget, the
    share (%) of cases started with a job or study outcome (employed, self-employed,
    education), the clients' average satisfaction (1 to 5), the median days from
    acceptance to outcome (at most the target), or the clients started."""
    target: Annotated[float, Field(ge=0, le=100_000)]
    """The target: a percentage (0 to 100), a score (1 to 5), days or a number of clients."""
    starts_on: Day
    """The first day of the period the objective holds for (cases accepted from then)."""
    ends_on: Day
    """Its last day (included)."""
    programme: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None
    """The programme it is about (`GUIDANCE_BUDGET_PROGRAMMES`, or `other`); absent: all."""
