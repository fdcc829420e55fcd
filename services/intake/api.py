"""Intake's HTTP API: request/response models, auth, one use case per route."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from services.intake.application import IntakeApplication
from services.intake.domain import Case, Client
from services.intake.projections import list_cases, open_career_questions, search_clients
from shared.audit.access import record_read, record_reads
from shared.auth import Counsellor, Principal, Staff
from shared.commands import Projection, change, expected_version, run_command, set_etag
from shared.http import page_headers
from shared.idempotency import new_id
from shared.messaging.follower import LogFollower
from shared.schemas import (
    Answer,
    AwareMoment,
    CounsellorFilter,
    Day,
    Id,
    IfMatch,
    Limit,
    MultiLine,
    Offset,
    SingleLine,
    Strict,
)
from shared.vocabulary import DataCategory, Purpose

router = APIRouter(tags=["intake"])


# JSON types are taken as they are: `true` is no score and "yes" no boolean.
Score = Annotated[StrictInt, Field(ge=1, le=4)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=100), SingleLine]
Note = Annotated[StrictStr, Field(max_length=4000), MultiLine]


# -- request models ---------------------------------------------------------------------------
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


# -- response models --------------------------------------------------------------------------
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
    """`intake`, `deepening`, `synthesis` or `aftercare`."""
    held_at: datetime
    """When it began."""
    minutes: int
    """How long it lasted."""
    actor: str
    """Who recorded it (`sub`)."""


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
        description="When follow-up closed the case's aftercare (status `closed`)."
    )
    closure: dict[str, Any] | None = Field(
        description="While closed: {followup_id, reason (`completed` | `client_withdrew` | "
        "`unreachable` | `other`), rule, closed_by, closed_at}."
    )
    opened_at: datetime
    """When the case was opened."""
    opened_by: str
    """Who opened it: the case's counsellor (`sub`)."""
    version: int
    """The case's version (its `ETag`; send it as `If-Match`)."""


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
    counsellor: str = Field(description="The counsellor of the case: who opened it (`sub`).")
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
    """Hours used by its sessions."""
    opened_at: datetime
    """When it was opened."""
    updated_at: datetime
    """When it last changed."""
    version: int
    """The case's version."""


# -- plumbing ---------------------------------------------------------------------------------
async def intake(request: Request) -> IntakeApplication:
    app: IntakeApplication = request.app.state.intake
    return app


App = Annotated[IntakeApplication, Depends(intake)]


def client_out(c: Client) -> ClientOut:
    return ClientOut(
        client_id=c.id,
        organisation=c.organisation,
        given_name=c.given_name,
        family_name=c.family_name,
        birth_date=c.birth_date,
        email=c.email,
        phone=c.phone,
        preferred_language=c.preferred_language,
        registered_at=c.created_on,
        version=c.version,
    )


def case_out(c: Case) -> CaseOut:
    return CaseOut(
        case_id=c.id,
        client_id=c.client_id,
        organisation=c.organisation,
        phase=c.phase,
        status=c.status,
        career_question=c.career_question,
        entry_check=c.entry_check,
        assessments=[AssessmentOut(**a) for a in c.assessments],
        scores=c.latest_scores,
        gaps=c.gaps,
        sessions=[SessionOut(**s) for s in c.sessions],
        hours_budget=c.hours_budget,
        hours_used=c.hours_used,
        hours_remaining=round(max(c.hours_budget - c.hours_used, 0), 2),
        over_budget=c.hours_used > c.hours_budget,
        decision=c.decision,
        resumed=c.resumed,
        resumption=c.resumption,
        closed_at=c.closure["closed_at"] if c.closure else None,
        closure=c.closure,
        opened_at=c.created_on,
        opened_by=c.opened_by,
        version=c.version,
    )


# -- clients ----------------------------------------------------------------------------------
@router.post("/clients", status_code=status.HTTP_201_CREATED, response_model=ClientCreated)
async def register_client(
    body: RegisterClient, who: Counsellor, app: App, proj: Projection, response: Response
) -> ClientCreated:
    """Register a client; personal fields are sealed with the client's own key."""
    client_id = await run_command(
        app,
        proj,
        lambda: app.register_client(organisation=who.org, actor=who.sub, **body.model_dump()),
    )
    set_etag(response, 1)
    response.headers["Location"] = f"/intake/v1/clients/{client_id}"
    return ClientCreated(client_id=client_id, version=1)


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


ClientQuery = Annotated[
    Annotated[StrictStr, Field(max_length=200), SingleLine] | None,
    Query(
        description="Words that each occur in the client's name or e-mail address (any "
        "case; `jan jansen`), or a date of birth (`1985-03-15`). Absent: every client.",
        examples=["jansen"],
    ),
]


@router.get("/clients", response_model=list[ClientFound])
async def find_clients(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    q: ClientQuery = None,
    client_id: Annotated[
        list[uuid.UUID] | None,
        Query(
            max_length=200,
            description="Only these clients (repeat the parameter, at most 200): the names "
            "of the clients a page lists.",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[ClientFound]:
    """Client search: the organisation's clients by name, e-mail address or date of birth
    (or by their ids), by family name; `X-Total-Count` and `Link` paginate. Erased clients
    are not found. Each listed client is a read of their personal data: one read per
    client is recorded (resource `client-search`) before the page is answered."""
    rows, total = await search_clients(
        request.app.state.runtime.pool,
        who.org,
        q,
        client_ids=client_id,
        limit=limit,
        offset=offset,
    )
    if rows:
        shown = [uuid.UUID(str(r["client_id"])) for r in rows]
        await run_in_threadpool(
            lambda: record_reads(
                app,
                who,
                client_ids=shown,
                resource="client-search",
                categories=["identity", "contact"],
            )
        )
    page_headers(request, response, total, limit, offset)
    return [ClientFound(**r) for r in rows]


@router.get("/clients/{client_id}", response_model=ClientOut)
async def get_client(client_id: uuid.UUID, who: Staff, app: App, response: Response) -> ClientOut:
    """A client of the caller's organisation, with personal fields."""

    def read() -> Client:
        client = app.client(client_id, who.org)
        record_read(
            app, who, client_id=client.id, resource="client", categories=["identity", "contact"]
        )
        return client

    client = await run_in_threadpool(read)
    set_etag(response, client.version)
    return client_out(client)


@router.post(
    "/clients/{client_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentCreated,
)
async def record_consent(
    client_id: uuid.UUID,
    body: ConsentIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> ConsentCreated:
    """Grant or withdraw a consent (`referral`: for one partner and named data categories)."""
    expected = expected_version(if_match)
    consent_id, version = await run_command(
        app,
        proj,
        lambda: app.record_consent(
            client_id,
            organisation=who.org,
            actor=who.sub,
            purpose=body.purpose,
            granted=body.granted,
            partner_id=body.partner_id,
            data_categories=list(body.data_categories) if body.data_categories else None,
            expected_version=expected,
        ),
    )
    set_etag(response, version)
    return ConsentCreated(consent_id=consent_id, version=version)


@router.get("/clients/{client_id}/consents", response_model=list[ConsentOut])
async def list_consents(
    client_id: uuid.UUID, who: Staff, app: App, response: Response
) -> list[ConsentOut]:
    """The client's current consents, one per purpose (and partner), granted or withdrawn."""
    client = await run_in_threadpool(app.client, client_id, who.org)
    set_etag(response, client.version)
    return [ConsentOut(**c) for c in client.consents.values()]


@router.get("/clients/{client_id}/consents/history", response_model=list[ConsentChangeOut])
async def consent_history(
    client_id: uuid.UUID, who: Staff, app: App, response: Response
) -> list[ConsentChangeOut]:
    """Every grant and withdrawal, oldest first, with who recorded it."""
    client = await run_in_threadpool(app.client, client_id, who.org)
    set_etag(response, client.version)
    return [ConsentChangeOut(**c) for c in client.consent_history]


# -- cases ------------------------------------------------------------------------------------
@router.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CaseCreated)
async def open_case(
    body: OpenCase, who: Counsellor, app: App, proj: Projection, response: Response
) -> CaseCreated:
    """Open a case with the client's career question; needs a granted `guidance` consent."""
    case_id = await run_command(
        app,
        proj,
        lambda: app.open_case(
            client_id=body.client_id,
            organisation=who.org,
            actor=who.sub,
            career_question=body.career_question,
        ),
    )
    set_etag(response, 1)
    response.headers["Location"] = f"/intake/v1/cases/{case_id}"
    return CaseCreated(case_id=case_id, version=1)


@router.get("/cases", response_model=list[CaseSummary])
async def get_cases(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    status_: Annotated[
        Literal["open", "accepted", "referred_out", "declined", "closed"] | None,
        Query(alias="status", description="Only cases with this status (the decision's)."),
    ] = None,
    phase: Annotated[
        Literal["intake", "deepening", "synthesis", "aftercare", "closed"] | None,
        Query(description="Only cases in this phase of guidance."),
    ] = None,
    client_id: Annotated[
        uuid.UUID | None, Query(description="Only the cases of this client.")
    ] = None,
    counsellor: CounsellorFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[CaseSummary]:
    """The organisation's cases, newest first, each with the client's name and the career
    question; `X-Total-Count` and `Link` paginate. Showing them is a read of each listed
    client's personal data: one read per listed client is recorded (resource
    `case-list`), all in one write, before the page is answered."""
    rows, total = await list_cases(
        request.app.state.runtime.pool,
        who.org,
        status=status_,
        phase=phase,
        client_id=client_id,
        counsellor=who.counsellor_filter(counsellor),
        limit=limit,
        offset=offset,
    )

    def open_and_record() -> None:
        # The page only: its questions opened, then one read per shown client recorded.
        open_career_questions(app.sealing, rows)
        shown = [uuid.UUID(str(r["client_id"])) for r in rows if not r["client_erased"]]
        record_reads(
            app,
            who,
            client_ids=shown,
            resource="case-list",
            categories=["identity", "career_question"],
        )

    if rows:
        await run_in_threadpool(open_and_record)
    page_headers(request, response, total, limit, offset)
    return [CaseSummary(**r) for r in rows]


@router.get("/cases/{case_id}", response_model=CaseOut)
async def get_case(case_id: uuid.UUID, who: Staff, app: App, response: Response) -> CaseOut:
    """A case of the caller's organisation, rebuilt from its events."""

    def read() -> Case:
        case = app.case(case_id, who.org)
        record_read(
            app,
            who,
            client_id=case.client_id,
            case_id=case.id,
            resource="case",
            categories=["career_question", "assessments"],
        )
        return case

    case = await run_in_threadpool(read)
    set_etag(response, case.version)
    return case_out(case)


async def _change(
    app: IntakeApplication,
    proj: LogFollower | None,
    case_id: uuid.UUID,
    who: Principal,
    if_match: str | None,
    response: Response,
    command: Any,
) -> tuple[Any, int]:
    result, case = await change(
        app, proj, lambda: app.case(case_id, who.org), if_match, response, command
    )
    return result, case.version


@router.post("/cases/{case_id}/entry-check", response_model=Created)
async def check_entry(
    case_id: uuid.UUID,
    body: EntryCheck,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """Record whether the client meets the entry conditions."""
    _, version = await _change(
        app,
        proj,
        case_id,
        who,
        if_match,
        response,
        lambda case, at: case.check_entry(
            eligible=body.eligible, notes=body.notes, actor=who.sub, at=at
        ),
    )
    return Created(version=version)


@router.post(
    "/cases/{case_id}/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentCreated,
)
async def record_assessment(
    case_id: uuid.UUID,
    body: AssessmentIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentCreated:
    """Score the five career competences (1-4), as the client or as the counsellor saw them."""
    assessment_id = new_id()
    _, version = await _change(
        app,
        proj,
        case_id,
        who,
        if_match,
        response,
        lambda case, at: case.record_assessment(
            assessment_id=assessment_id,
            assessor=body.assessor,
            scores=body.scores.model_dump(),
            actor=who.sub,
            at=at,
        ),
    )
    return AssessmentCreated(assessment_id=assessment_id, version=version)


@router.post(
    "/cases/{case_id}/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionCreated
)
async def hold_session(
    case_id: uuid.UUID,
    body: SessionIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> SessionCreated:
    """Record a session; its minutes count against the case's hours budget."""
    session_id = new_id()
    _, version = await _change(
        app,
        proj,
        case_id,
        who,
        if_match,
        response,
        lambda case, at: case.hold_session(
            session_id=session_id,
            kind=body.kind,
            held_at=body.held_at,
            minutes=body.minutes,
            actor=who.sub,
            at=at,
        ),
    )
    return SessionCreated(session_id=session_id, version=version)


@router.post("/cases/{case_id}/decision", response_model=Created)
async def decide(
    case_id: uuid.UUID,
    body: DecisionIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Created:
    """Accept (needs a passed entry check and an assessment), refer out, or decline."""
    _, version = await _change(
        app,
        proj,
        case_id,
        who,
        if_match,
        response,
        lambda case, at: case.decide(
            decision=body.decision, reason=body.reason, actor=who.sub, at=at
        ),
    )
    return Created(version=version)
