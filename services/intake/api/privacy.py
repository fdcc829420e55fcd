"""Intake's privacy API: a client's erasure (GDPR Art. 17) with its receipt, and the
legal holds on cases that stand in its way.

Staff of the client's organisation (counsellor or team lead) request an erasure and read
a case's legal holds; a team lead places and lifts them. Another organisation's client or
case is absent.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import ErasureAccepted, LegalHolds, Receipt
from services.intake.api.dependencies import App
from services.intake.api.schemas import ErasureIn, HoldIn
from services.intake.domain import ClientErasure, plain
from shared.auth import Principal, Staff, TeamLead
from shared.commands import Projection, run_command
from shared.errors import NotFound

privacy = APIRouter(tags=["privacy"])


@privacy.post(
    "/clients/{client_id}/erasure",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ErasureAccepted,
)
async def request_erasure(
    client_id: uuid.UUID,
    body: ErasureIn,
    who: Staff,
    app: App,
    proj: Projection,
    request: Request,
    response: Response,
) -> ErasureAccepted:
    """Erase the client everywhere: the data key is destroyed at once, and each service
    drops the client's rows and confirms (see the receipt at GET). Refused with
    409 `legal-hold` while a case of the client is under a legal hold (the refusal is
    recorded). Asking again answers the same erasure."""
    record = await run_command(
        app,
        proj,
        lambda: app.request_erasure(
            client_id, organisation=who.org, reason=body.reason, actor=who.sub
        ),
    )
    response.headers["Location"] = str(request.url_for("get_erasure", client_id=client_id))
    return ErasureAccepted(erasure_id=record.id, status=record.status)


@privacy.get("/clients/{client_id}/erasure", response_model=Receipt)
async def get_erasure(client_id: uuid.UUID, who: Staff, app: App) -> Receipt:
    """The erasure's receipt: `pending` until all four services confirmed, then
    `completed`; when, by whom, why, which services confirmed when, which key was
    destroyed when; refused attempts and legal holds."""

    def load() -> tuple[ClientErasure, dict[str, Any] | None]:
        record = app.erasure(client_id, who.org)
        return record, app.vault.destruction(client_id)

    record, destruction = await run_in_threadpool(load)
    if record.requested is None:
        refused = f" ({len(record.refusals)} refused)" if record.refusals else ""
        raise NotFound(f"No erasure of client {client_id} was requested{refused}.")
    return Receipt(
        **record.receipt(),
        key_destroyed_at=destruction and destruction["destroyed_at"],
        key_destroyed_by=destruction and destruction["destroyed_by"],
    )


def _holds(case_id: uuid.UUID, record: ClientErasure) -> LegalHolds:
    return LegalHolds(
        case_id=case_id,
        client_id=record.client_id,
        legal_hold=case_id in record.holds,
        legal_holds=plain(list(record.holds.values())),
        version=0 if record.pending_events else record.version,
    )


async def _hold(
    app: Any, proj: Any, case_id: uuid.UUID, who: Principal, hold: bool, reason: str | None
) -> LegalHolds:
    record = await run_command(
        app,
        proj,
        lambda: app.set_legal_hold(
            case_id, organisation=who.org, hold=hold, reason=reason, actor=who.sub
        ),
    )
    return _holds(case_id, record)


@privacy.get("/cases/{case_id}/legal-hold", response_model=LegalHolds)
async def get_legal_hold(case_id: uuid.UUID, who: Staff, app: App) -> LegalHolds:
    """Whether the case is under a legal hold, and every hold on its client's cases
    (`version` 0 while nothing was ever recorded for the client)."""
    record = await run_in_threadpool(lambda: app.holds_of_case(case_id, who.org))
    return _holds(case_id, record)


@privacy.put("/cases/{case_id}/legal-hold", response_model=LegalHolds)
async def place_legal_hold(
    case_id: uuid.UUID, body: HoldIn, who: TeamLead, app: App, proj: Projection
) -> LegalHolds:
    """Put the case under a legal hold: its client cannot be erased until it is lifted."""
    return await _hold(app, proj, case_id, who, True, body.reason)


@privacy.delete("/cases/{case_id}/legal-hold", response_model=LegalHolds)
async def lift_legal_hold(
    case_id: uuid.UUID, who: TeamLead, app: App, proj: Projection
) -> LegalHolds:
    """Lift the case's legal hold."""
    return await _hold(app, proj, case_id, who, False, None)
