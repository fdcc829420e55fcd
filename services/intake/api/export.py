"""Intake's export API: everything Waypoint holds about a client, as one JSON document
(GDPR Art. 15 access and Art. 20 portability), and the document's JSON Schema.

Staff of the client's organisation (counsellor or team lead) ask for it; another
organisation's client, an unknown or an erased one is absent (404). Intake gives its own
part and asks planning, follow-up and referral for theirs over NATS request-reply; when
any of them does not answer in time (or answers an error) the export fails with 504
`export-incomplete` naming them, and nothing is returned. Each export is recorded as a
read of the client's data (`DataAccess`, purpose `access-request`, resource `export`,
its id the export's).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.intake.api.dependencies import App
from services.intake.export import gather
from shared.audit.access import DataAccess, main_role
from shared.auth import Staff
from shared.contracts.export import ClientExport, schema
from shared.errors import PROBLEM_JSON, Problem
from shared.privacy.export import (
    REMOTE_SERVICES,
    ExportIncomplete,
    ExportUnavailable,
)
from shared.privacy.gathering import gather_export

export = APIRouter(tags=["privacy"])

# What an export reads: all of it.
CATEGORIES = [
    "identity",
    "contact",
    "career_question",
    "assessments",
    "plan",
    "followup",
    "referrals",
]


class ExportIncompleteProblem(Problem):
    status, code, title = 504, "export-incomplete", "Export incomplete"


def incomplete(failures: dict[str, str]) -> Problem:
    named = ", ".join(f"{service} ({why})" for service, why in sorted(failures.items()))
    return ExportIncompleteProblem(
        f"The export cannot be complete, so none is given: {named}. Try again later.",
        errors=[
            {"field": f"services.{service}", "service": service, "message": why}
            for service, why in sorted(failures.items())
        ],
    )


@export.get(
    "/schemas/client-export.json",
    name="client_export_schema",
    response_class=JSONResponse,
    responses={200: {"content": {"application/schema+json": {}}}},
)
async def client_export_schema() -> JSONResponse:
    """The JSON Schema (draft 2020-12) of the client export document."""
    return JSONResponse(schema(), media_type="application/schema+json")


@export.get(
    "/clients/{client_id}/export",
    response_model=ClientExport,
    responses={504: {"description": "A service did not answer", "content": {PROBLEM_JSON: {}}}},
)
async def export_client(
    client_id: uuid.UUID, who: Staff, app: App, request: Request, response: Response
) -> ClientExport:
    """Everything held about the client in the four services, personal data opened;
    see `schema` for the document's JSON Schema. Recorded as a read of the client's data."""
    await run_in_threadpool(app.client, client_id, who.org)
    state = request.app.state
    settings, runtime = state.settings, state.runtime
    own, others = await asyncio.gather(
        gather(app, runtime.pool, client_id, getattr(state, "projection", None)),
        gather_export(
            runtime.nc,
            client_id,
            REMOTE_SERVICES,
            settings.export_timeout_seconds,
            prefix=settings.export_subject_prefix,
        ),
        return_exceptions=True,
    )
    failures: dict[str, str] = {}
    if isinstance(own, ExportUnavailable):
        failures["intake"] = str(own)
    elif isinstance(own, BaseException):
        raise own
    if isinstance(others, ExportIncomplete):
        failures.update(others.failures)
    elif isinstance(others, BaseException):
        raise others
    if failures:
        raise incomplete(failures)
    assert isinstance(own, dict) and isinstance(others, dict)

    export_id = uuid.uuid4()
    access = DataAccess.record(
        who,
        client_id=client_id,
        purpose="access-request",
        resource="export",
        categories=CATEGORIES,
        at=app.clock(),
        access_id=export_id,
    )
    sections: dict[str, Any] = {"intake": own, **others}
    document = ClientExport.model_validate(
        {
            "export_id": export_id,
            "client_id": client_id,
            "generated_at": access.created_on,
            "generated_by": {
                "subject": who.sub,
                "organisation": who.org,
                "role": main_role(who),
            },
            "schema": str(request.url_for("client_export_schema")),
            "services": sections,
            "recipients": sections["referral"].get("recipients", []),
        }
    )
    # Recorded before anything is returned: no export leaves unrecorded.
    await run_in_threadpool(app.save, access)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="client-{client_id}-export.json"'
    )
    return document
