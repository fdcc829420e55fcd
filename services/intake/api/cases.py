"""Intake's HTTP API for cases: one use case per route (clients in `clients.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    AssessmentCreated,
    AssessmentOut,
    BudgetDetail,
    BudgetExtensionOut,
    BudgetOut,
    CaseCreated,
    CaseloadReassigned,
    CaseOut,
    CaseSummary,
    Created,
    GroupParticipationOut,
    ReassignmentOut,
    SessionCreated,
    SessionOut,
)
from services.intake.api.dependencies import App, CaseCommand, LeadCaseCommand, StaffCaseCommand
from services.intake.api.schemas import (
    AssessmentIn,
    CloseCase,
    DecisionIn,
    EntryCheck,
    ExtraHoursIn,
    OpenCase,
    ReassignCase,
    ReassignCaseload,
    SessionIn,
)
from services.intake.domain import Case, IntakeError, plain
from services.intake.domain.case_budget import budget_of, resolve_budget
from services.intake.projections import carried_cases, list_cases, open_career_questions
from shared.audit.access import record_read, record_reads
from shared.auth import Counsellor, Staff, TeamLead
from shared.commands import Projection, run_command, set_etag
from shared.idempotency import new_id
from shared.paging import Paging, page_headers
from shared.schemas import CounsellorFilter

router = APIRouter(tags=["intake"])


def budget_detail(c: Case, warning_share: float) -> BudgetDetail:
    return BudgetDetail(
        **plain(c.budget(warning_share)),
        reason=c.budget_reason,
        aftercare_hours=round(c.aftercare_minutes / 60, 2),
        extensions=[BudgetExtensionOut(**plain(e)) for e in c.budget_extensions],
    )


def case_out(c: Case, warning_share: float = 0.8) -> CaseOut:
    return CaseOut(
        case_id=c.id,
        client_id=c.client_id,
        organisation=c.organisation,
        phase=c.phase,
        status=c.status,
        career_question=c.career_question,
        entry_check=plain(c.entry_check),
        assessments=[AssessmentOut(**plain(a)) for a in c.assessments],
        scores=c.latest_scores,
        gaps=c.gaps,
        sessions=[
            SessionOut(**plain(s), has_notes=s.session_id in c.session_notes) for s in c.sessions
        ],
        hours_budget=c.hours_budget,
        hours_used=c.hours_used,
        hours_remaining=round(max(c.budget_hours - c.hours_used, 0), 2),
        over_budget=c.hours_used > c.budget_hours,
        budget=budget_detail(c, warning_share),
        decision=plain(c.decision),
        resumed=c.resumed,
        resumption=plain(c.resumption),
        closed_at=c.closure.closed_at if c.closure else None,
        closure=plain(c.closure),
        opened_at=c.created_on,
        opened_by=c.opened_by,
        counsellor=c.counsellor,
        reassignments=[ReassignmentOut(**plain(r)) for r in c.reassignments],
        version=c.version,
        report_status=c.report_status,
        group_sessions=[GroupParticipationOut(**plain(g)) for g in c.group_sessions],
    )


def case_categories(c: Case) -> list[str]:
    """What a case's answer shows of its client: the career question and assessments, and
    its file's closing summary and handovers' reasons when it has them."""
    has_file = c.reassignments or (c.closure is not None and c.closure.summary is not None)
    has_file = bool(has_file or c.budget_reason is not None or c.budget_extensions)
    return ["career_question", "assessments", *(["case_file"] if has_file else [])]


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
    page: Paging,
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
) -> list[CaseSummary]:
    """The organisation's cases, newest first, each with the client's name and the career
    question; `X-Total-Count` and `Link` paginate. Showing them is a read of each listed
    client's personal data: one read per listed client is recorded (resource
    `case-list`), all in one write, before the page is answered."""
    listed = await list_cases(
        request.app.state.runtime.pool,
        who.org,
        status=status_,
        phase=phase,
        client_id=client_id,
        counsellor=who.counsellor_filter(counsellor),
        page=page,
    )
    rows = listed.rows

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
    page_headers(request, response, page, listed)
    return [_summary(r, app.settings.budget_warning_share) for r in rows]


def _summary(row: dict[str, Any], warning_share: float) -> CaseSummary:
    hours = float(row.pop("hours_budget")) + float(row.pop("budget_extra"))
    budget = budget_of(hours, row.pop("minutes_used"), warning_share, row.pop("programme"))
    return CaseSummary(**row, hours_budget=hours, budget=BudgetOut(**plain(budget)))


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
            categories=case_categories(case),
        )
        return case

    case = await run_in_threadpool(read)
    set_etag(response, case.version)
    return case_out(case, app.settings.budget_warning_share)


@router.get("/cases/{case_id}/budget", response_model=BudgetOut)
async def get_budget(case_id: uuid.UUID, who: Staff, app: App, response: Response) -> BudgetOut:
    """The case's hours budget only (hours, used, left, state, programme): nothing
    personal, no read recorded (the plan page shows it)."""
    case = await run_in_threadpool(lambda: app.case(case_id, who.org))
    set_etag(response, case.version)
    return BudgetOut(**plain(case.budget(app.settings.budget_warning_share)))


@router.post("/cases/{case_id}/entry-check", response_model=Created)
async def check_entry(body: EntryCheck, cmd: CaseCommand) -> Created:
    """Record whether the client meets the entry conditions."""
    case = await cmd.run(
        lambda case, at: case.check_entry(
            eligible=body.eligible, notes=body.notes, actor=cmd.who.sub, at=at
        )
    )
    return Created(version=case.version)


@router.post(
    "/cases/{case_id}/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentCreated,
)
async def record_assessment(body: AssessmentIn, cmd: CaseCommand) -> AssessmentCreated:
    """Score the five career competences (1-4), as the client or as the counsellor saw them."""
    assessment_id = new_id()
    case = await cmd.run(
        lambda case, at: case.record_assessment(
            assessment_id=assessment_id,
            assessor=body.assessor,
            scores=body.scores.model_dump(),
            actor=cmd.who.sub,
            at=at,
        )
    )
    return AssessmentCreated(assessment_id=assessment_id, version=case.version)


@router.post(
    "/cases/{case_id}/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionCreated
)
async def hold_session(body: SessionIn, cmd: CaseCommand) -> SessionCreated:
    """Record a session; its minutes count against the case's hours budget. Its notes
    (sealed) may come with it, or later."""
    session_id = new_id()
    notes = body.notes

    def command(case: Case, at: datetime) -> None:
        case.hold_session(
            session_id=session_id,
            kind=body.kind,
            held_at=body.held_at,
            minutes=body.minutes,
            actor=cmd.who.sub,
            at=at,
        )
        if notes is not None:
            try:
                case.record_session_notes(
                    session_id=session_id, actor=cmd.who.sub, at=at, **notes.model_dump()
                )
            except IntakeError as e:  # the field is the body's: `notes.discussed`
                raise IntakeError(e.code, e.message, f"notes.{e.field}") from None

    case = await cmd.run(command)
    return SessionCreated(session_id=session_id, version=case.version)


@router.post("/cases/{case_id}/decision", response_model=Created)
async def decide(body: DecisionIn, cmd: CaseCommand, app: App) -> Created:
    """Accept (needs a passed entry check and an assessment), refer out, or decline.
    Accepting sets the hours budget: the named `programme`'s hours (from
    `GUIDANCE_BUDGET_PROGRAMMES`; an unknown one is refused naming `programme`), else the
    default; other `hours_budget` need a `budget_reason` (sealed)."""
    budget = None
    if body.decision == "accept":
        budget = resolve_budget(
            app.settings.budget_programmes,
            app.settings.hours_budget_default,
            programme=body.programme,
            hours=body.hours_budget,
            reason=body.budget_reason,
        )
    case = await cmd.run(
        lambda case, at: case.decide(
            decision=body.decision, reason=body.reason, actor=cmd.who.sub, at=at, budget=budget
        )
    )
    return Created(version=case.version)


@router.post("/cases/{case_id}/budget/approvals", response_model=Created)
async def approve_extra_hours(body: ExtraHoursIn, cmd: LeadCaseCommand) -> Created:
    """A team lead approves going over the case's hours budget by `extra_hours`, saying
    why (sealed); sessions that the budget refused (409 `over-budget`) fit again. An ended
    case refuses (409 `case-decided`)."""
    case = await cmd.run(
        lambda case, at: case.approve_extra_hours(
            extra_hours=body.extra_hours, reason=body.reason, actor=cmd.who.sub, at=at
        )
    )
    return Created(version=case.version)


@router.post("/cases/{case_id}/closure", response_model=Created)
async def close_case(body: CloseCase, cmd: StaffCaseCommand) -> Created:
    """Close the case's file with a closing summary (sealed) and why: the client was
    referred out, declined, or withdrew. A case in intake is decided first (referred out or
    declined); a closed case refuses (409 `case-decided`), a reason its status does not
    allow is refused naming `reason`. A counsellor or a team lead closes it."""
    case = await cmd.run(
        lambda case, at: case.close_file(
            reason=body.reason, summary=body.summary, actor=cmd.who.sub, at=at
        )
    )
    return Created(version=case.version)


@router.post("/cases/{case_id}/reassignment", response_model=Created)
async def reassign_case(body: ReassignCase, cmd: LeadCaseCommand) -> Created:
    """A team lead hands the case (open or accepted) to another counsellor, saying why
    (sealed); the case's `counsellor` changes, the lists follow. Handing it to its own
    counsellor changes nothing; an ended case refuses (409 `case-decided`)."""
    case = await cmd.run(
        lambda case, at: case.reassign(
            counsellor=body.counsellor, reason=body.reason, actor=cmd.who.sub, at=at
        )
    )
    return Created(version=case.version)


@router.post("/reassignments", response_model=CaseloadReassigned)
async def reassign_caseload(
    body: ReassignCaseload, who: TeamLead, app: App, proj: Projection, request: Request
) -> CaseloadReassigned:
    """A team lead hands every open or accepted case of one counsellor to another, each
    with the same reason (sealed with its client's key), all saved at once; the ids of the
    cases handed over (none: an empty list)."""
    case_ids = await carried_cases(request.app.state.runtime.pool, who.org, body.from_counsellor)
    changed = await run_command(
        app,
        proj,
        lambda: app.reassign_cases(
            case_ids,
            organisation=who.org,
            counsellor=body.to_counsellor,
            reason=body.reason,
            actor=who.sub,
        ),
    )
    return CaseloadReassigned(case_ids=changed, counsellor=body.to_counsellor)
