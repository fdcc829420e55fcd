"""Intake's privacy API: a client's erasure (GDPR Art. 17) with its receipt, and the
legal holds on cases that stand in its way.

Staff of the client's organisation (counsellor or team lead) request an erasure; a team
lead places and lifts legal holds. Another organisation's client or case is absent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from services.intake.api import App
from services.intake.erasure import ClientErasure
from shared.auth import Principal, Staff, TeamLead
from shared.commands import Projection, run_command
from shared.errors import NotFound
from shared.schemas import Answer, MultiLine, Strict

privacy = APIRouter(tags=["privacy"])

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
    """The version of the client's erasure record."""


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
    return LegalHolds(
        case_id=case_id,
        client_id=record.client_id,
        legal_hold=case_id in record.holds,
        legal_holds=list(record.holds.values()),
        version=record.version,
    )


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
