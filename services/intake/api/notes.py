"""Intake's HTTP API for a case's session notes and its reflection-and-action report:
recording and amending a session's notes, reading them with their history; drafting
(prefilled from the notes), revising and agreeing the report, reading it and its printable
page.

Notes and report are personal: sealed in the case's events, never in a read model, and
every answer showing them is a recorded read (resources `session-notes`, `report`,
`report-document`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    Created,
    ReportAgreementOut,
    ReportOut,
    SessionNotesOut,
    SessionWithNotes,
)
from services.intake.api.dependencies import App, CaseCommand
from services.intake.api.schemas import (
    ReportAgreementIn,
    ReportDraftIn,
    ReportIn,
    SessionNotesIn,
)
from services.intake.application import IntakeApplication
from services.intake.domain import Case, plain
from services.intake.report_document import language_for, render
from shared.audit.access import record_read
from shared.auth import Principal, Staff
from shared.errors import NotFound
from shared.privacy import ERASED

notes = APIRouter(tags=["intake"])

# What notes and the report are, for the access log.
NOTES_CATEGORIES = ["session_notes"]
REPORT_CATEGORIES = ["session_notes", "career_question"]


def _read(
    app: IntakeApplication,
    case_id: uuid.UUID,
    who: Principal,
    resource: str,
    categories: list[str],
) -> Case:
    case = app.case(case_id, who.org)
    record_read(
        app,
        who,
        client_id=case.client_id,
        case_id=case.id,
        resource=resource,
        categories=categories,
    )
    return case


def report_out(case: Case) -> ReportOut:
    report = case.report
    if report is None:
        raise NotFound(f"Case {case.id} has no reflection-and-action report yet.")
    return ReportOut(
        case_id=case.id,
        client_id=case.client_id,
        status=case.report_status or "draft",
        agreements=[ReportAgreementOut(**plain(a)) for a in case.report_agreements],
        version=case.version,
        **plain(report),
    )


# -- session notes ----------------------------------------------------------------------------
@notes.post(
    "/cases/{case_id}/sessions/{session_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
)
async def record_session_notes(
    session_id: uuid.UUID, body: SessionNotesIn, cmd: CaseCommand
) -> Created:
    """Record a held session's notes (what was discussed, insights, agreements, homework;
    at least one), or amend them: the new record replaces them, the earlier ones stay in the
    history. Sealed."""
    case = await cmd.run(
        lambda case, at: case.record_session_notes(
            session_id=session_id, actor=cmd.who.sub, at=at, **body.model_dump()
        )
    )
    return Created(version=case.version)


@notes.get("/cases/{case_id}/notes", response_model=list[SessionWithNotes])
async def get_session_notes(case_id: uuid.UUID, who: Staff, app: App) -> list[SessionWithNotes]:
    """Every session of the case, oldest first, with its notes as they stand and their
    history. A recorded read (resource `session-notes`)."""
    case = await run_in_threadpool(_read, app, case_id, who, "session-notes", NOTES_CATEGORIES)
    out = []
    for session in sorted(case.sessions, key=lambda s: s.held_at):
        history = [
            SessionNotesOut(**plain(n)) for n in case.session_notes.get(session.session_id, [])
        ]
        out.append(
            SessionWithNotes(
                session_id=session.session_id,
                kind=session.kind,
                held_at=session.held_at,
                notes=history[-1] if history else None,
                history=history,
            )
        )
    return out


# -- the reflection-and-action report ---------------------------------------------------------
@notes.post("/cases/{case_id}/report", status_code=status.HTTP_201_CREATED, response_model=Created)
async def draft_report(body: ReportDraftIn, cmd: CaseCommand) -> Created:
    """Draft the case's reflection-and-action report (an accepted case, once): what is not
    given is prefilled, the starting question from the case's career question, the insights
    from the sessions' notes. Sealed."""
    case = await cmd.run(
        lambda case, at: case.draft_report(
            starting_question=body.starting_question,
            insights=body.insights,
            conclusions=body.conclusions,
            actions=body.actions,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Created(version=case.version)


@notes.put("/cases/{case_id}/report", response_model=Created)
async def revise_report(body: ReportIn, cmd: CaseCommand) -> Created:
    """Replace the report's texts: a new revision, which the client agrees to again (the
    same texts again change nothing)."""
    case = await cmd.run(
        lambda case, at: case.revise_report(
            starting_question=body.starting_question,
            insights=body.insights,
            conclusions=body.conclusions,
            actions=body.actions,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Created(version=case.version)


@notes.post("/cases/{case_id}/report/agreement", response_model=Created)
async def agree_report(body: ReportAgreementIn, cmd: CaseCommand) -> Created:
    """Record that the client read and agreed to the report's current revision (`revision`
    names it: a report changed since is refused with 409 `report-changed`); it needs the
    conclusions and at least one agreed action."""
    case = await cmd.run(
        lambda case, at: case.agree_report(revision=body.revision, actor=cmd.who.sub, at=at)
    )
    return Created(version=case.version)


@notes.get("/cases/{case_id}/report", response_model=ReportOut)
async def get_report(case_id: uuid.UUID, who: Staff, app: App) -> ReportOut:
    """The case's reflection-and-action report with its agreements; 404 before its draft.
    A recorded read (resource `report`)."""
    case = await run_in_threadpool(_read, app, case_id, who, "report", REPORT_CATEGORIES)
    return report_out(case)


@notes.get("/cases/{case_id}/report/document", response_class=HTMLResponse)
async def get_report_document(
    case_id: uuid.UUID,
    who: Staff,
    app: App,
    lang: Annotated[
        Literal["nl", "fr", "en"] | None,
        Query(
            description="The page's language: Dutch, French or English; absent: the client's "
            "preferred one (`fr-BE` is French), else English."
        ),
    ] = None,
) -> HTMLResponse:
    """The report as a printable page for the client, in their preferred language: the
    starting question, the sessions' insights, the conclusions, the agreed actions and the
    client's agreement with its revision. A recorded read (resource `report-document`). The
    console prints it as PDF."""

    def read() -> tuple[Case, str | None, str | None]:
        case = _read(app, case_id, who, "report-document", ["identity", *REPORT_CATEGORIES])
        client = app.load_client(case.client_id)
        if client is None or client.given_name == ERASED:
            return case, None, None
        return case, f"{client.given_name} {client.family_name}", client.preferred_language

    case, name, preferred = await run_in_threadpool(read)
    report = report_out(case)
    page = render(
        report.model_dump(mode="json"),
        client_name=name,
        lang=language_for(preferred, lang),
        printed=app.clock().date(),
    )
    return HTMLResponse(page, headers={"ETag": f'"{case.version}"'})
