"""Intake's HTTP API for a client's rights and duties and their complaints: recording that
the client was informed, registering a complaint (with the deadline for its answer),
assigning, handling, answering or withdrawing it, and the team lead's list and figures.

A complaint's text (what about, the answer) is personal: sealed in its events, never in a
read model, and every answer showing it is a recorded read (resource `complaint`)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    ComplaintCreated,
    ComplaintOut,
    ComplaintReport,
    ComplaintSummary,
    Created,
)
from services.intake.api.dependencies import App, ClientCommand, ComplaintCommand
from services.intake.api.schemas import (
    AnswerComplaint,
    AssignComplaint,
    ComplaintFilter,
    RegisterComplaint,
    RightsInformed,
)
from services.intake.domain import Complaint
from services.intake.projections import complaint_figures, list_complaints
from shared.audit.access import record_read
from shared.auth import Staff, TeamLead
from shared.commands import Projection, run_command, set_etag
from shared.paging import Page, Paging, page_headers
from shared.periods import Period
from shared.periods import period as period_parameter

complaints = APIRouter(tags=["intake"])

# What a complaint's text is, for the access log.
CATEGORIES = ["complaints"]


def complaint_out(c: Complaint, today: date) -> ComplaintOut:
    answer = c.answer
    return ComplaintOut(
        complaint_id=c.id,
        client_id=c.client_id,
        case_id=c.case_id,
        status=c.status,
        deadline=c.deadline,
        overdue=c.overdue(today),
        assigned_to=c.assigned_to,
        answered_on=answer.answered_on if answer else None,
        registered_at=c.created_on,
        registered_by=c.registered_by,
        version=c.version,
        subject=c.subject,
        answer=answer.text if answer else None,
        answered_by=answer.actor if answer else None,
        withdrawn_at=c.withdrawn_at,
    )


# -- rights and duties ------------------------------------------------------------------------
@complaints.post("/clients/{client_id}/rights-information", response_model=Created)
async def inform_of_rights(body: RightsInformed, cmd: ClientCommand) -> Created:
    """Record that the client was informed of their rights and duties: which version of the
    agency's information, in which language; when and by whom are the caller and now.
    Nothing waits on it: a client not informed is flagged on the worklist."""
    versions = tuple(cmd.app.settings.rights_information_versions)
    client = await cmd.run(
        lambda client, at: client.inform_of_rights(
            version=body.version,
            language=body.language,
            versions=versions,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Created(version=client.version)


@complaints.get("/rights-information/versions", response_model=list[str])
async def rights_information_versions(who: Staff, app: App) -> list[str]:
    """The versions of the agency's information on rights and duties, the newest last."""
    return list(app.settings.rights_information_versions)


# -- complaints -------------------------------------------------------------------------------
@complaints.post(
    "/clients/{client_id}/complaints",
    status_code=status.HTTP_201_CREATED,
    response_model=ComplaintCreated,
)
async def register_complaint(
    client_id: uuid.UUID,
    body: RegisterComplaint,
    who: Staff,
    app: App,
    proj: Projection,
    response: Response,
) -> ComplaintCreated:
    """Register the client's complaint (about one of their cases, if named): received now,
    to be answered within `GUIDANCE_COMPLAINT_ANSWER_DAYS` (30) days."""
    complaint = await run_command(
        app,
        proj,
        lambda: app.register_complaint(
            client_id=client_id,
            organisation=who.org,
            actor=who.sub,
            subject=body.subject,
            case_id=body.case_id,
        ),
    )
    set_etag(response, complaint.version)
    response.headers["Location"] = f"/intake/v1/complaints/{complaint.id}"
    return ComplaintCreated(
        complaint_id=complaint.id, deadline=complaint.deadline, version=complaint.version
    )


@complaints.get("/clients/{client_id}/complaints", response_model=list[ComplaintOut])
async def client_complaints(
    client_id: uuid.UUID, who: Staff, app: App, request: Request
) -> list[ComplaintOut]:
    """The client's complaints with their text, oldest deadline first; one read of the
    client's data is recorded (resource `complaint`) when there is any."""
    await run_in_threadpool(app.client, client_id, who.org)
    rows = (
        await list_complaints(
            request.app.state.runtime.pool,
            who.org,
            which=None,
            today=app.clock().date(),
            client_id=client_id,
            page=Page(limit=200),
        )
    ).rows

    def read() -> list[Complaint]:
        found = [app.complaint(r["complaint_id"], who.org) for r in rows]
        if found:
            record_read(
                app, who, client_id=client_id, resource="complaint-list", categories=CATEGORIES
            )
        return found

    found = await run_in_threadpool(read)
    today = app.clock().date()
    return [complaint_out(c, today) for c in found]


@complaints.get("/complaints", response_model=list[ComplaintSummary])
async def find_complaints(
    who: TeamLead,
    app: App,
    request: Request,
    response: Response,
    page: Paging,
    status: ComplaintFilter = None,
) -> list[ComplaintSummary]:
    """The team lead's list of the organisation's complaints (without their text), oldest
    deadline first; `X-Total-Count` and `Link` paginate (by `offset` or `cursor`)."""
    listed = await list_complaints(
        request.app.state.runtime.pool,
        who.org,
        which=status,
        today=app.clock().date(),
        page=page,
    )
    page_headers(request, response, page, listed)
    return [ComplaintSummary(**r) for r in listed.rows]


@complaints.get("/complaints/{complaint_id}", response_model=ComplaintOut)
async def get_complaint(
    complaint_id: uuid.UUID, who: Staff, app: App, response: Response
) -> ComplaintOut:
    """A complaint of the caller's organisation with its text (a recorded read)."""

    def read() -> Complaint:
        complaint = app.complaint(complaint_id, who.org)
        record_read(
            app,
            who,
            client_id=complaint.client_id,
            case_id=complaint.case_id,
            resource="complaint",
            categories=CATEGORIES,
        )
        return complaint

    complaint = await run_in_threadpool(read)
    set_etag(response, complaint.version)
    return complaint_out(complaint, app.clock().date())


@complaints.post("/complaints/{complaint_id}/assignment", response_model=Created)
async def assign_complaint(body: AssignComplaint, cmd: ComplaintCommand) -> Created:
    """Give the complaint to a team lead to handle."""
    complaint = await cmd.run(
        lambda c, at: c.assign(team_lead=body.team_lead, actor=cmd.who.sub, at=at)
    )
    return Created(version=complaint.version)


@complaints.post("/complaints/{complaint_id}/handling", response_model=Created)
async def start_handling(cmd: ComplaintCommand) -> Created:
    """The complaint is in handling (received → in handling)."""
    complaint = await cmd.run(lambda c, at: c.start_handling(actor=cmd.who.sub, at=at))
    return Created(version=complaint.version)


@complaints.post("/complaints/{complaint_id}/answer", response_model=Created)
async def answer_complaint(body: AnswerComplaint, cmd: ComplaintCommand) -> Created:
    """Record the answer given to the client (its text and day): the complaint is answered."""
    complaint = await cmd.run(
        lambda c, at: c.give_answer(
            answer=body.answer,
            answered_on=body.answered_on or at.date(),
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Created(version=complaint.version)


@complaints.post("/complaints/{complaint_id}/withdrawal", response_model=Created)
async def withdraw_complaint(cmd: ComplaintCommand) -> Created:
    """The client withdrew the complaint."""
    complaint = await cmd.run(lambda c, at: c.withdraw(actor=cmd.who.sub, at=at))
    return Created(version=complaint.version)


@complaints.get("/reports/complaints", response_model=ComplaintReport, response_model_by_alias=True)
async def get_complaint_report(
    who: TeamLead,
    app: App,
    request: Request,
    period: Annotated[Period, Depends(period_parameter)],
) -> ComplaintReport:
    """The complaints registered in the period [from, to) (see the parameters; default: the
    last 90 days), counted per status now, with how many are overdue and how many were
    answered by their deadline."""
    figures = await complaint_figures(
        request.app.state.runtime.pool, who.org, period, app.clock().date()
    )
    return ComplaintReport.model_validate(
        {"from": period.start, "to": period.end, "figures": figures}
    )
