"""Intake's part of a client's export: the client, the consents, the information on rights
and duties, the cases (with their session notes, report and appointments), the complaints,
the erasure record; personal fields opened (ERASED where the client's key is gone)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from eventsourcing.application import AggregateNotFoundError
from starlette.concurrency import run_in_threadpool

from services.intake.application import IntakeApplication
from services.intake.domain import Case, Client, ClientErasure, Complaint, plain
from shared.errors import NotFound
from shared.messaging.follower import LogFollower
from shared.privacy import ERASED
from shared.privacy.export import jsonable
from shared.privacy.gathering import load_all, read_models_current


def client_part(c: Client) -> dict[str, Any]:
    return {
        "client_id": c.id,
        "organisation": c.organisation,
        "given_name": c.given_name,
        "family_name": c.family_name,
        "birth_date": c.birth_date,
        "email": c.email,
        "phone": c.phone,
        "preferred_language": c.preferred_language,
        "registered_at": c.created_on,
        "registered_by": c.registered_by,
        "version": c.version,
    }


def case_part(c: Case) -> dict[str, Any]:
    return {
        "case_id": c.id,
        "organisation": c.organisation,
        "career_question": c.career_question,
        "status": c.status,
        "phase": c.phase,
        "entry_check": plain(c.entry_check),
        "assessments": plain(c.assessments),
        "scores": c.latest_scores,
        "gaps": c.gaps,
        "sessions": plain(c.sessions),
        "session_notes": [plain(n) for history in c.session_notes.values() for n in history],
        "report": (
            {
                **plain(c.report),
                "status": c.report_status,
                "agreements": plain(c.report_agreements),
            }
            if c.report is not None
            else None
        ),
        "appointments": plain(sorted(c.appointments.values(), key=lambda a: a.starts_at)),
        "no_shows": c.no_shows,
        "hours_budget": c.hours_budget,
        "hours_used": c.hours_used,
        "budget": {
            "programme": c.programme,
            "hours_set": c.hours_budget,
            "reason": c.budget_reason,
            "aftercare_hours": round(c.aftercare_minutes / 60, 2),
            "extensions": plain(c.budget_extensions),
        },
        "decision": plain(c.decision),
        "resumed": c.resumed,
        "resumption": plain(c.resumption),
        "closure": plain(c.closure),
        "opened_at": c.created_on,
        "opened_by": c.opened_by,
        "counsellor": c.counsellor,
        "reassignments": plain(c.reassignments),
        "group_sessions": plain(c.group_sessions),
        "updated_at": c.modified_on,
        "version": c.version,
    }


def complaint_part(c: Complaint) -> dict[str, Any]:
    return {
        "complaint_id": c.id,
        "case_id": c.case_id,
        "subject": c.subject,
        "status": c.status,
        "deadline": c.deadline,
        "assigned_to": c.assigned_to,
        "answer": plain(c.answer),
        "withdrawn_at": c.withdrawn_at,
        "registered_at": c.created_on,
        "registered_by": c.registered_by,
        "version": c.version,
    }


def erasure_part(e: ClientErasure) -> dict[str, Any]:
    return {
        "erasure_id": e.id,
        "status": e.status,
        "legal_holds": plain(list(e.holds.values())),
        "refusals": plain(e.refusals),
        "requested": plain(e.requested),
        "confirmed_at": e.confirmed,
        "completed_at": e.completed_at,
    }


def _erasure(app: IntakeApplication, client_id: uuid.UUID) -> ClientErasure | None:
    try:
        record: object = app.repository.get(ClientErasure.id_for(client_id))
    except AggregateNotFoundError:
        return None
    return record if isinstance(record, ClientErasure) else None


async def gather(
    app: IntakeApplication,
    pool: asyncpg.Pool,
    client_id: uuid.UUID,
    projection: LogFollower | None = None,
) -> dict[str, Any]:
    """Everything intake holds about the client (the caller checked who may see it)."""
    client = await run_in_threadpool(app.load, Client, client_id)
    if client.given_name == ERASED:
        raise NotFound(f"No client {client_id}.")
    await read_models_current(app, pool, projection, app.settings.export_timeout_seconds / 2)
    rows = await pool.fetch(
        "SELECT case_id FROM intake.cases_view WHERE client_id = $1 ORDER BY opened_at, case_id",
        client_id,
    )
    cases = await run_in_threadpool(load_all, app, [r["case_id"] for r in rows])
    rows = await pool.fetch(
        "SELECT complaint_id FROM intake.complaints_view WHERE client_id = $1 "
        "ORDER BY registered_at, complaint_id",
        client_id,
    )
    complaints = await run_in_threadpool(load_all, app, [r["complaint_id"] for r in rows])
    erasure = await run_in_threadpool(_erasure, app, client_id)
    part = {
        "client": client_part(client),
        "consents": {
            "current": plain(list(client.consents.values())),
            "history": plain(client.consent_history),
        },
        "rights_information": plain(client.rights_information),
        "cases": [case_part(c) for c in cases if isinstance(c, Case)],
        "complaints": [complaint_part(c) for c in complaints if isinstance(c, Complaint)],
        "erasure": erasure_part(erasure) if erasure is not None else None,
    }
    out: dict[str, Any] = jsonable(part)
    return out
