"""Intake's HTTP API for clients and their consents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.intake.api.answers import (
    ClientCreated,
    ClientFound,
    ClientOut,
    ConsentChangeOut,
    ConsentCreated,
    ConsentOut,
    RightsInformationOut,
)
from services.intake.api.dependencies import App, ClientCommand
from services.intake.api.schemas import ClientQuery, ConsentIn, RegisterClient
from services.intake.application import consent_change
from services.intake.domain import Client, plain
from services.intake.projections import search_clients
from shared.audit.access import record_read, record_reads
from shared.auth import Counsellor, Staff
from shared.commands import Projection, run_command, set_etag
from shared.paging import Paging, page_headers

clients = APIRouter(tags=["intake"])


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
        informed_of_rights=_informed(c.informed_of_rights),
        rights_information=[RightsInformationOut(**plain(r)) for r in c.rights_information],
    )


def _informed(r: object) -> RightsInformationOut | None:
    return None if r is None else RightsInformationOut(**plain(r))


# -- clients ----------------------------------------------------------------------------------
@clients.post("/clients", status_code=status.HTTP_201_CREATED, response_model=ClientCreated)
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


@clients.get("/clients", response_model=list[ClientFound])
async def find_clients(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    page: Paging,
    q: ClientQuery = None,
    client_id: Annotated[
        list[uuid.UUID] | None,
        Query(
            max_length=200,
            description="Only these clients (repeat the parameter, at most 200): the names "
            "of the clients a page lists.",
        ),
    ] = None,
) -> list[ClientFound]:
    """Client search: the organisation's clients by name, e-mail address or date of birth
    (or by their ids), by family name; `X-Total-Count` and `Link` paginate. Erased clients
    are not found. Each listed client is a read of their personal data: one read per
    client is recorded (resource `client-search`) before the page is answered."""
    listed = await search_clients(
        request.app.state.runtime.pool, who.org, q, client_ids=client_id, page=page
    )
    rows = listed.rows
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
    page_headers(request, response, page, listed)
    return [ClientFound(**r) for r in rows]


@clients.get("/clients/{client_id}", response_model=ClientOut)
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


@clients.post(
    "/clients/{client_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentCreated,
)
async def record_consent(body: ConsentIn, cmd: ClientCommand) -> ConsentCreated:
    """Grant or withdraw a consent (`referral`: for one partner and named data categories)."""
    consent_id, client = await cmd.result_of(
        consent_change(
            actor=cmd.who.sub,
            purpose=body.purpose,
            granted=body.granted,
            partner_id=body.partner_id,
            data_categories=list(body.data_categories) if body.data_categories else None,
        )
    )
    return ConsentCreated(consent_id=consent_id, version=client.version)


@clients.get("/clients/{client_id}/consents", response_model=list[ConsentOut])
async def list_consents(
    client_id: uuid.UUID, who: Staff, app: App, response: Response
) -> list[ConsentOut]:
    """The client's current consents, one per purpose (and partner), granted or withdrawn."""
    client = await run_in_threadpool(app.client, client_id, who.org)
    set_etag(response, client.version)
    return [ConsentOut(**plain(c)) for c in client.consents.values()]


@clients.get("/clients/{client_id}/consents/history", response_model=list[ConsentChangeOut])
async def consent_history(
    client_id: uuid.UUID, who: Staff, app: App, response: Response
) -> list[ConsentChangeOut]:
    """Every grant and withdrawal, oldest first, with who recorded it."""
    client = await run_in_threadpool(app.client, client_id, who.org)
    set_etag(response, client.version)
    return [ConsentChangeOut(**plain(c)) for c in client.consent_history]
