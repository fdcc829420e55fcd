"""Intake's response models: what each route answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.schemas import Answer


# -- clients and cases -------------------------------------------------------------------------
class Created(Answer):
    version: int
    """The object's version now (its `ETag`; send it as `If-Match`)."""


class ClientCreated(Created):
    client_id: uuid.UUID
    """The new client's id."""


class ConsentCreated(Created):
    consent_id: uuid.UUID
    """The consent's id (a grant and its withdrawal share it)."""


class CaseCreated(Created):
    case_id: uuid.UUID
    """The new case's id."""


class AssessmentCreated(Created):
    assessment_id: uuid.UUID
    """The new assessment's id."""


class SessionCreated(Created):
    session_id: uuid.UUID
    """The new session's id."""


class RightsInformationOut(Answer):
    version: str
    """The version of the information on rights and duties."""
    language: str
    """`nl`, `fr` or `en`."""
    at: datetime
    """When the client was informed (recorded)."""
    actor: str
    """Who informed them (token subject)."""


class ClientOut(Answer):
    client_id: uuid.UUID
    """The client's id."""
    organisation: str
    """The organisation that registered the client."""
    given_name: str
    """Given name; `ERASED` once the client is erased."""
    family_name: str
    """Family name; `ERASED` once erased."""
    birth_date: date | str
    """Date of birth (ISO date); `ERASED` once erased."""
    email: str
    """E-mail address; `ERASED` once erased."""
    phone: str | None
    """Phone number, if given."""
    preferred_language: str | None
    """Preferred language (`nl`, `nl-NL`), if given."""
    registered_at: datetime
    """When the client was registered."""
    version: int
    """The client's version (its `ETag`)."""
    informed_of_rights: RightsInformationOut | None = None
    """The latest information on rights and duties given; null: the client was not
    informed yet (nothing waits on it; the worklist flags it)."""
    rights_information: list[RightsInformationOut] = Field(default_factory=list)
    """Each time the client was informed of their rights and duties, oldest first."""


class ConsentOut(Answer):
    consent_id: uuid.UUID
    """The consent's id."""
    purpose: str
    """`guidance`, `referral` or `statistics`."""
    partner_id: uuid.UUID | None
    """The partner of a `referral` consent; null otherwise."""
    data_categories: list[str]
    """The data a `referral` consent covers; empty otherwise."""
    granted: bool
    """Whether it stands now (false: withdrawn or refused)."""
    granted_at: datetime | None
    """When it was last granted; null if never."""
    withdrawn_at: datetime | None
    """When it was last withdrawn; null if not."""


class ConsentChangeOut(Answer):
    consent_id: uuid.UUID
    """The consent's id."""
    purpose: str
    """`guidance`, `referral` or `statistics`."""
    partner_id: uuid.UUID | None
    """The partner of a `referral` consent."""
    data_categories: list[str]
    """The data categories covered."""
    granted: bool
    """`true`: a grant, `false`: a withdrawal."""
    at: datetime
    """When it was recorded."""
    actor: str
    """Who recorded it (`sub`)."""


class AssessmentOut(Answer):
    assessment_id: uuid.UUID
    """The assessment's id."""
    assessor: str
    """`client` or `counsellor`."""
    scores: dict[str, int]
    """Per competence, 1-4."""
    recorded_at: datetime
    """When it was recorded."""
    actor: str
    """Who recorded it (`sub`)."""


class SessionOut(Answer):
    session_id: uuid.UUID
    """The session's id."""
    kind: str
    """`intake`, `deepening`, `synthesis`, `aftercare`, or `group` (a group session)."""
    held_at: datetime
    """When it began."""
    minutes: int
    """How long it lasted."""
    actor: str
    """Who recorded it (`sub`)."""
    has_notes: bool = False
    """Whether the session has notes (`GET .../notes` reads them)."""


class ReassignmentOut(Answer):
    counsellor: str
    """Who carries the case from then on (`sub`)."""
    previous: str
    """Who carried it before (`sub`)."""
    reason: str
    """Why it was handed over; `ERASED` once the client is erased."""
    reassigned_at: datetime
    """When."""
    actor: str
    """The team lead who handed it over (`sub`)."""


class BudgetExtensionOut(Answer):
    extra_hours: float
    """The hours approved on top of the budget."""
    reason: str
    """Why; `ERASED` once the client is erased."""
    approved_at: datetime
    """When."""
    actor: str
    """The team lead who approved them (`sub`)."""


class BudgetOut(Answer):
    hours: float
    """The budget in hours: set at acceptance (the programme's, the default, or other hours
    with a reason) plus the hours a team lead approved."""
    used: float
    """Hours used: the sessions' minutes and the aftercare check-ins done."""
    left: float
    """Hours left, not below 0."""
    state: Literal["ok", "warning", "exhausted", "over"]
    """`warning` from the agency's share used (`GUIDANCE_BUDGET_WARNING_SHARE`, 80 %),
    `exhausted` when all is used, `over` past it."""
    programme: str | None
    """The programme or funder the budget comes from; null: the agency's default."""


class BudgetDetail(BudgetOut):
    reason: str | None
    """Why the budget set differs from the programme's (`ERASED` once the client is
    erased); null when it does not."""
    aftercare_hours: float
    """Of `used`: the aftercare check-ins' hours."""
    extensions: list[BudgetExtensionOut]
    """The team lead's approvals of extra hours, oldest first."""


class CaseloadReassigned(Answer):
    case_ids: list[uuid.UUID]
    """The cases handed over (open or accepted ones of `from_counsellor`)."""
    counsellor: str
    """Who carries them now (`sub`)."""


class CaseOut(Answer):
    case_id: uuid.UUID
    """The case's id."""
    client_id: uuid.UUID
    """The client."""
    organisation: str
    """The organisation it belongs to."""
    phase: str
    """Where guidance is: `intake`, `deepening`, `synthesis`, `aftercare` or `closed`."""
    status: str
    """The decision's state: `open`, `accepted`, `referred_out`, `declined` or `closed`."""
    career_question: str
    """The client's career question; `ERASED` once the client is erased."""
    entry_check: dict[str, Any] | None
    """{eligible, notes, checked_at, actor}; null until checked."""
    assessments: list[AssessmentOut]
    """Every assessment, oldest first."""
    scores: dict[str, dict[str, int]]
    """The latest scores per assessor: {"client": {competence: 1-4}, "counsellor": {...}}."""
    gaps: list[str]
    """Competences scored 1 or 2 in either latest assessment."""
    sessions: list[SessionOut]
    """The sessions held, oldest first."""
    hours_budget: float
    """Hours of guidance the case may use."""
    hours_used: float
    """Hours used by its sessions."""
    hours_remaining: float
    """Budget minus used, not below 0."""
    over_budget: bool
    """Whether more hours were used than budgeted."""
    budget: BudgetDetail
    """The hours budget: {hours, used, left, state, programme, reason, aftercare_hours,
    extensions}."""
    decision: dict[str, Any] | None
    """{decision (`accept` | `refer_out` | `decline`), reason, decided_at, actor}; null until
    decided.
    """
    resumed: bool
    """Whether guidance resumes (or resumed) after a referral."""
    resumption: dict[str, Any] | None
    """The latest on resuming after a referral: {referral_id, resumes, resume_on, noted_at}; null if
    none.
    """
    closed_at: datetime | None = Field(
        description="When the case closed (status `closed`): follow-up closed its aftercare, "
        "or its counsellor closed the file."
    )
    closure: dict[str, Any] | None = Field(
        description="While closed: {followup_id, reason, rule, closed_by, closed_at, summary, "
        "actor}. Closed by follow-up: `followup_id`, reason `completed` | `client_withdrew` | "
        "`unreachable` | `other`, follow-up's `rule` and `closed_by`, no summary. Its file "
        "closed by the counsellor: `followup_id` null, reason `referred_out` | `declined` | "
        "`client_withdrew`, rule `file`, closed_by `counsellor`, the closing `summary` "
        "(`ERASED` once the client is erased) and who closed it (`actor`)."
    )
    opened_at: datetime
    """When the case was opened."""
    opened_by: str
    """Who opened it (`sub`)."""
    counsellor: str
    """The counsellor who carries the case now (`sub`): who opened it, until a team lead
    hands it to another."""
    reassignments: list[ReassignmentOut]
    """Every handover, oldest first."""
    version: int
    """The case's version (its `ETag`; send it as `If-Match`)."""
    report_status: str | None = None
    """The reflection-and-action report: `draft`, `agreed`, `revised` (to be agreed again),
    or null without one (`GET .../report` reads it)."""
    group_sessions: list[GroupParticipationOut] = Field(default_factory=list)
    """The group sessions the client took part in or missed, oldest first: topic, when and
    minutes (never who else took part; the client's own notes: `GET .../notes`)."""


class CaseSummary(Answer):
    case_id: uuid.UUID
    """The case's id."""
    client_id: uuid.UUID
    """The client."""
    client_name: str | None = Field(
        description="The client's given and family name; `ERASED` once the client is erased."
    )
    career_question: str | None = Field(
        description="`ERASED` once the client is erased; null for a case listed before the "
        "list kept it."
    )
    counsellor: str = Field(
        description="The counsellor who carries the case now (`sub`): who opened it, until a "
        "team lead hands it to another."
    )
    organisation: str
    """The organisation it belongs to."""
    status: str
    """`open`, `accepted`, `referred_out`, `declined` or `closed`."""
    phase: str
    """`intake`, `deepening`, `synthesis`, `aftercare` or `closed`."""
    gaps: list[str]
    """Competences scored 1 or 2 in either latest assessment."""
    hours_budget: float
    """Hours of guidance the case may use."""
    hours_used: float
    """Hours used by its sessions and aftercare check-ins."""
    budget: BudgetOut | None = None
    """The hours budget: {hours, used, left, state, programme} (the worklist's flag)."""
    opened_at: datetime
    """When it was opened."""
    updated_at: datetime
    """When it last changed."""
    version: int
    """The case's version."""
    client_informed_of_rights: bool | None = None
    """Whether the client was informed of their rights and duties (null once erased)."""


class ClientFound(Answer):
    client_id: uuid.UUID
    """The client's id."""
    given_name: str
    """Given name."""
    family_name: str
    """Family name."""
    birth_date: date
    """Date of birth."""
    email: str | None
    """E-mail address."""
    registered_at: datetime
    """When the client was registered."""
    rights_informed_at: datetime | None = None
    """When the client was last informed of their rights and duties; null: not yet."""


# -- erasure and legal holds --------------------------------------------------------------------
class ErasureAccepted(Answer):
    erasure_id: uuid.UUID
    """The erasure's id (one per client; asking again answers the same)."""
    status: str
    """`pending` until all four services confirmed, then `completed`."""


class Receipt(Answer):
    erasure_id: uuid.UUID
    """The erasure's id."""
    client_id: uuid.UUID
    """The erased client."""
    status: str
    """`pending` until all four services confirmed, then `completed`."""
    services: dict[str, bool]
    """Per service (`intake`, `planning`, `followup`, `referral`): whether it confirmed."""
    confirmed_at: dict[str, datetime | None]
    """Per service: when it confirmed; null until then."""
    requested_at: datetime | None
    """When the erasure was requested."""
    requested_by: str | None
    """Who requested it (`sub`)."""
    reason: str | None
    """Why, as given with the request."""
    key_id: uuid.UUID | None
    """The client's data key that was destroyed."""
    key_destroyed_at: datetime | None
    """When the key was destroyed."""
    key_destroyed_by: str | None
    """Who destroyed it (`sub`)."""
    completed_at: datetime | None
    """When the last service confirmed; null while pending."""
    refusals: list[dict[str, Any]]
    """Refused attempts (a legal hold stood in the way): [{refused_at, by, reason, held_cases}]."""
    legal_holds: list[dict[str, Any]]
    """The holds on the client's cases now: [{case_id, reason, placed_at, placed_by}]."""


class LegalHolds(Answer):
    case_id: uuid.UUID
    """The case."""
    client_id: uuid.UUID
    """The case's client."""
    legal_hold: bool
    """Whether this case is under a hold now."""
    legal_holds: list[dict[str, Any]]
    """Every hold on the client's cases now: [{case_id, reason, placed_at, placed_by}]."""
    version: int
    """The version of the client's erasure record (0: nothing recorded yet)."""


# -- the team lead's caseload report -------------------------------------------------------------
class CounsellorCaseload(Answer):
    counsellor: str
    """The counsellor (a token's `sub`): who opened the cases, who held the sessions."""
    open_cases: int
    """Their cases open now (neither declined, referred out nor closed)."""
    cases_by_phase: dict[str, int]
    """Those open cases per phase, e.g. {"intake": 2, "deepening": 1}."""
    cases_opened: int
    """Their cases opened in the period."""
    cases_closed: int
    """Their cases declined, referred out or closed in the period."""
    hours_budget: float
    """The hours budget of their open cases, summed."""
    hours_used: float
    """Hours of the sessions they held in the period."""
    sessions: int
    """Sessions they held in the period."""


class CaseloadReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    """The period's start (inclusive)."""
    to: datetime
    """The period's end (exclusive)."""
    counsellors: list[CounsellorCaseload]
    """One entry per counsellor with an open case or a figure in the period, by `counsellor`."""


# -- the report to the funder ---------------------------------------------------------------------
class FunderFigures(Answer):
    clients_started: int
    """Clients whose case was accepted in the period (each once)."""
    cases_started: int
    """Cases accepted in the period."""
    hours_used: float
    """Hours used by those cases so far: sessions and aftercare check-ins."""
    plans_agreed: int
    """Those cases whose plan has been agreed."""
    plans_agreed_within_budget: int
    """Of those, the plans agreed while the hours used were within the case's budget
    (with any extra hours a team lead approved)."""
    share_plans_within_budget: float | None
    """plans_agreed_within_budget / plans_agreed (0 to 1; null: no plan agreed)."""
    outcomes: dict[str, int]
    """Those cases per outcome code follow-up recorded (the latest per case), e.g.
    {"employed": 3, "education": 1}."""
    median_days_to_outcome: float | None
    """Median days from acceptance to the outcome (null: no outcome yet)."""
    feedback_given: int
    """Those cases whose client gave feedback at the end."""
    satisfaction_average: float | None
    """The average satisfaction score of that feedback (1 to 5; null: none)."""


class ProgrammeFigures(FunderFigures):
    programme: str
    """The programme's key (`GUIDANCE_BUDGET_PROGRAMMES`); `other` for other hours."""


class ObjectiveOut(Answer):
    objective_id: uuid.UUID
    """The objective's id."""
    metric: str
    """The metric's code (see `POST /objectives`)."""
    unit: Literal["percent", "score", "days", "clients"]
    """What the target and the value count: a percentage, a score 1 to 5, days, clients."""
    target: float
    """The value aimed for."""
    at_least: bool
    """True: met at or above the target; false: at or below it (days)."""
    starts_on: date
    """The first day of the period it holds for."""
    ends_on: date
    """Its last day (included)."""
    programme: str | None
    """The programme it is about (null: all)."""
    set_by: str
    """The team lead who set it (a token's `sub`)."""


class ObjectivesOut(Answer):
    objectives: list[ObjectiveOut]
    """The organisation's objectives, by the start of their period then metric."""
    version: int
    """The version of the organisation's objectives (0: none set yet)."""


class ObjectiveCreated(Created):
    objective_id: uuid.UUID
    """The new objective's id."""


class ObjectiveProgress(ObjectiveOut):
    value: float | None
    """The metric over the cases it is about, accepted in the report's period and in the
    objective's (null: nothing to measure yet)."""
    met: bool | None
    """Whether the value meets the target (null: nothing measured)."""
    progress: float
    """How far the value is on the way to the target, 0 to 1 (1: met)."""


class FunderReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    """The period's start (inclusive)."""
    to: datetime
    """The period's end (exclusive)."""
    programme: str | None
    """The programme asked for (null: every programme)."""
    total: FunderFigures
    """The figures of every case accepted in the period (of the programme asked for)."""
    programmes: list[ProgrammeFigures]
    """The same figures per programme, by key (only programmes with a case accepted)."""
    objectives: list[ObjectiveProgress]
    """The objectives whose period meets the report's (of the programme asked for, when
    one is), each with its progress."""


# -- complaints --------------------------------------------------------------------------------
class ComplaintCreated(Created):
    complaint_id: uuid.UUID
    """The new complaint's id."""
    deadline: date
    """The day by which it is to be answered."""


class ComplaintSummary(Answer):
    complaint_id: uuid.UUID
    """The complaint's id."""
    client_id: uuid.UUID
    """The client who complained."""
    case_id: uuid.UUID | None
    """The case it is about, if any."""
    status: str
    """`received`, `in_handling`, `answered` or `withdrawn`."""
    deadline: date
    """The day by which it is to be answered."""
    overdue: bool
    """Open (received or in handling) after its deadline's day."""
    assigned_to: str | None
    """The team lead handling it, if assigned."""
    answered_on: date | None
    """The day it was answered."""
    registered_at: datetime
    """When it was registered."""
    registered_by: str
    """Who registered it."""
    version: int
    """The complaint's version (send it as `If-Match`)."""


class ComplaintOut(ComplaintSummary):
    subject: str
    """What it is about; `ERASED` once the client is erased."""
    answer: str | None
    """The answer given; `ERASED` once the client is erased."""
    answered_by: str | None
    """Who recorded the answer."""
    withdrawn_at: datetime | None
    """When it was withdrawn."""


class ComplaintFigures(Answer):
    registered: int
    """Complaints registered in the period."""
    received: int
    """Of those, received and not yet in handling."""
    in_handling: int
    """In handling."""
    answered: int
    """Answered."""
    withdrawn: int
    """Withdrawn."""
    overdue: int
    """Open after their deadline."""
    answered_in_time: int
    """Answered on or before their deadline."""


class ComplaintReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    """The period's start (inclusive)."""
    to: datetime
    """The period's end (exclusive)."""
    figures: ComplaintFigures
    """The complaints registered in the period, per status now."""


# -- session notes and the reflection-and-action report ------------------------------------
class SessionNotesOut(Answer):
    session_id: uuid.UUID
    """The session."""
    discussed: str | None
    """What was discussed; `ERASED` once the client is erased."""
    insights: str | None
    """The client's insights."""
    agreements: str | None
    """What was agreed."""
    homework: str | None
    """What the client does before the next session."""
    amendment: int
    """0 for the first record, 1 for the first amendment, …"""
    recorded_at: datetime
    """When this record was made."""
    actor: str
    """Who made it (`sub`)."""


class SessionWithNotes(Answer):
    session_id: uuid.UUID
    """The session."""
    kind: str
    """`intake`, `deepening`, `synthesis` or `aftercare`."""
    held_at: datetime
    """When it began."""
    notes: SessionNotesOut | None
    """The notes as they stand (the latest record); null without notes."""
    history: list[SessionNotesOut]
    """Every record of the notes, the first first (the last is `notes`)."""


class ReportAgreementOut(Answer):
    revision: int
    """The revision the client agreed to."""
    agreed_at: datetime
    """When the agreement was recorded."""
    recorded_by: str
    """Who recorded it (`sub`)."""


class ReportOut(Answer):
    case_id: uuid.UUID
    """The case."""
    client_id: uuid.UUID
    """The client."""
    status: str
    """`draft`, `agreed` (the current revision) or `revised` (changed after an agreement: to
    be agreed again)."""
    revision: int
    """The revision of its texts (1 = the draft); the client agrees to one."""
    starting_question: str
    """The starting question; `ERASED` once the client is erased."""
    insights: list[str]
    """The insights of the sessions."""
    conclusions: str
    """The conclusions."""
    actions: list[str]
    """The agreed actions and next steps."""
    drafted_at: datetime
    """When it was drafted."""
    drafted_by: str
    """Who drafted it (`sub`)."""
    revised_at: datetime
    """When its current revision was written."""
    revised_by: str
    """Who wrote it (`sub`)."""
    agreements: list[ReportAgreementOut]
    """The client's agreements, the first first."""
    version: int
    """The case's version (its `ETag`)."""


# -- appointments ------------------------------------------------------------------------------
class AppointmentCreated(Created):
    appointment_id: uuid.UUID
    """The new appointment's id."""


class AppointmentOut(Answer):
    appointment_id: uuid.UUID
    """The appointment."""
    counsellor: str
    """Whose calendar it is in (`sub` of who planned it)."""
    kind: str
    """The session it is to become."""
    starts_at: datetime
    """When it begins."""
    minutes: int
    """How long it is planned for."""
    channel: str
    """`in_person`, `phone` or `video`."""
    place: str | None
    """Where: the office and room, or the call's number or link."""
    status: str
    """`planned`, `held`, `cancelled` or `missed`."""
    planned_at: datetime
    """When it was planned."""
    planned_by: str
    """Who planned it (`sub`)."""
    reschedules: int
    """How often it was moved."""
    cancelled_by: str | None
    """`client` or `agency` once cancelled."""
    cancel_reason: str | None
    """Why it was cancelled (personal; `ERASED` once the client is erased)."""
    session_id: uuid.UUID | None
    """Once held: the session it became."""
    changed_at: datetime | None
    """When it last changed (moved, cancelled, missed, held)."""
    changed_by: str | None
    """Who changed it last."""


class CaseAgenda(Answer):
    case_id: uuid.UUID
    """The case."""
    appointments: list[AppointmentOut]
    """Every appointment of the case, by its start."""
    no_shows: int
    """How many the client missed."""
    proposed: list[datetime]
    """The next dates the agency's rhythm proposes (after the sessions held and the
    appointments planned; weekends skipped)."""
    rhythm_days: list[int]
    """The rhythm: days from one meeting to the next, the last repeating."""
    version: int
    """The case's version (its `ETag`)."""


class DayAppointment(Answer):
    appointment_id: uuid.UUID
    """The appointment."""
    case_id: uuid.UUID
    """Its case (no name: the case page shows whose)."""
    client_id: uuid.UUID
    """The case's client (an id only)."""
    counsellor: str
    """Whose calendar it is in."""
    kind: str
    """The session it is to become."""
    starts_at: datetime
    """When it begins."""
    minutes: int
    """How long."""
    channel: str
    """`in_person`, `phone` or `video`."""
    place: str | None
    """Where."""
    status: str
    """`planned`, `held`, `cancelled` or `missed`."""


# -- group sessions ----------------------------------------------------------------------------
class GroupCreated(Created):
    group_id: uuid.UUID
    """The new group session's id."""


class ParticipantOut(Answer):
    case_id: uuid.UUID
    """A participant's case (no name: the group holds none)."""
    attendance: str
    """`expected` (not held yet), `present` or `absent`."""


class GroupSummary(Answer):
    group_id: uuid.UUID
    """The group session's id."""
    topic: str
    """What it is about."""
    starts_at: datetime
    """When it begins (as planned)."""
    minutes: int
    """How long it lasts (as held, once held)."""
    place: str
    """Where."""
    counsellor: str
    """Who planned it (`sub`)."""
    status: str
    """`planned`, `held` or `cancelled`."""
    participants: int
    """How many cases take part."""
    held_at: datetime | None = None
    """When it was held; null until then."""


class GroupOut(GroupSummary):
    organisation: str
    """The organisation it belongs to."""
    cases: list[ParticipantOut]
    """Its participants' cases with their attendance."""
    held_by: str | None = None
    """Who recorded it held (`sub`)."""
    version: int
    """The group session's version (its `ETag`; send it as `If-Match`)."""


class GroupParticipationOut(Answer):
    group_id: uuid.UUID
    """The group session."""
    session_id: uuid.UUID
    """The case's session of kind `group` (present) with the client's own notes."""
    topic: str
    """What it was about."""
    held_at: datetime
    """When it was held."""
    minutes: int
    """How long it lasted (counted in the hours used when present)."""
    present: bool
    """Whether the client came."""
    actor: str
    """Who recorded it (`sub`)."""
