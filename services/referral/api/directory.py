"""Referral's HTTP API, the partner directory (the "social map"); referrals are in
`referrals.py` and `inbox.py`.

Admins register partners; a partner belongs to the organisation whose admin registered
it, and only that organisation's admins and the network's directory administrators
(`directory_admin`) change it (a partner may set its own open places). To anyone else
who may change partners, another organisation's partner reads as absent (404), as
other organisations' objects do everywhere. Counsellors and team leads search the
directory, which every organisation shares, and see only active partners; a partner
reads its own entry.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.referral.api.answers import partner_out
from services.referral.api.dependencies import (
    App,
    CapacityCommand,
    DirectoryAdmin,
    DirectoryReader,
    PartnerAdminCommand,
    PartnerReader,
    partner_of,
)
from services.referral.api.partner_schemas import (
    Area,
    CapacityIn,
    Language,
    Name,
    PartnerCreated,
    PartnerIn,
    PartnerOut,
    PartnerPatch,
    ServiceCategory,
)
from services.referral.projections import search_partners
from shared.commands import Projection, run_command, set_etag
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.idempotency import new_id
from shared.paging import Paging, page_headers

router = APIRouter(tags=["partners"])


@router.post("/partners", status_code=status.HTTP_201_CREATED, response_model=PartnerCreated)
async def register_partner(
    body: PartnerIn,
    who: DirectoryAdmin,
    app: App,
    proj: Projection,
    request: Request,
    response: Response,
) -> PartnerCreated:
    """Add a partner to the directory: its services, accepted data categories, capacity
    (open places; absent or null = no limit)."""
    partner_id = body.partner_id or new_id()
    partner = await run_command(
        app,
        proj,
        lambda: app.register_partner(
            partner_id,
            name=body.name,
            description=body.description,
            services=[s.model_dump() for s in body.services],
            accepted_categories=list(body.accepted_categories),
            contact_email=body.contact_email,
            open_places=body.capacity,
            actor=who.sub,
            owner_org=who.org,
        ),
    )
    set_etag(response, partner.version)
    response.headers["Location"] = str(request.url_for("get_partner", partner_id=partner_id))
    return PartnerCreated(partner_id=partner_id, version=partner.version)


@router.get("/partners", response_model=list[PartnerOut])
async def get_partners(
    who: DirectoryReader,
    request: Request,
    response: Response,
    page: Paging,
    service: Annotated[
        Name | None, Query(description="A service's category or (part of its) name.")
    ] = None,
    category: Annotated[ServiceCategory | None, Query(description="A service's category.")] = None,
    language: Annotated[
        Language | None, Query(description="A language a service is given in (ISO 639-1).")
    ] = None,
    area: Annotated[
        Area | None,
        Query(
            description="(Part of) the area a service covers; a service without an area serves all."
        ),
    ] = None,
    include_inactive: Annotated[
        bool, Query(description="Inactive partners too (admins and directory admins only).")
    ] = False,
) -> list[PartnerOut]:
    """Search the directory: `service` matches a service's category or name, `category`,
    `language` (ISO 639-1) and `area` a service's; one service must meet them all.
    Active partners only; admins may ask for inactive ones too."""
    if include_inactive and not who.has("admin", "directory_admin"):
        raise Forbidden("Only admins see inactive partners.")
    listed = await search_partners(
        request.app.state.runtime.pool,
        service=service,
        category=category,
        language=language,
        area=area,
        include_inactive=include_inactive,
        page=page,
    )
    page_headers(request, response, page, listed)
    return [PartnerOut(**row) for row in listed.rows]


@router.get("/partners/{partner_id}", response_model=PartnerOut)
async def get_partner(
    partner_id: uuid.UUID, who: PartnerReader, app: App, response: Response
) -> PartnerOut:
    """One partner; an inactive one only for admins. A partner reads its own entry (its
    open places, say), and no other: another reads as absent (404)."""
    staff = who.has("counsellor", "team_lead", "admin", "directory_admin")
    if who.has("partner") and not staff and partner_id != partner_of(who):
        raise NotFound(f"No partner {partner_id}.")
    partner = await run_in_threadpool(
        lambda: app.partner(partner_id, include_inactive=who.has("admin", "directory_admin"))
    )
    set_etag(response, partner.version)
    return partner_out(partner)


@router.patch("/partners/{partner_id}", response_model=PartnerOut)
async def update_partner(body: PartnerPatch, cmd: PartnerAdminCommand) -> PartnerOut:
    """Change some of name, description, services, accepted categories and contact."""
    changes = body.model_dump(include=body.model_fields_set)
    cleared = [
        f
        for f in ("name", "services", "accepted_categories")
        if f in changes and changes[f] is None
    ]
    if cleared:
        raise InvalidInput(
            "A partner always has a name, services and accepted categories.",
            errors=[{"field": f, "message": "cannot be null"} for f in cleared],
        )
    return partner_out(
        await cmd.run(
            lambda partner, at: partner.update(
                changes=changes, new_id=cmd.app.new_id, actor=cmd.who.sub, at=at
            )
        )
    )


@router.put("/partners/{partner_id}/capacity", response_model=PartnerOut)
async def set_capacity(body: CapacityIn, cmd: CapacityCommand) -> PartnerOut:
    """Set the partner's open places (0: no new referrals for now; null: no limit): an
    admin of its organisation, a directory administrator, or the partner itself (another
    partner's reads as absent)."""
    return partner_out(
        await cmd.run(
            lambda partner, at: partner.set_capacity(
                open_places=body.open_places, actor=cmd.who.sub, at=at
            )
        )
    )


@router.post("/partners/{partner_id}/deactivate", response_model=PartnerOut)
async def deactivate_partner(cmd: PartnerAdminCommand) -> PartnerOut:
    """Take the partner off the map: counsellors no longer find it."""
    return partner_out(
        await cmd.run(lambda partner, at: partner.deactivate(actor=cmd.who.sub, at=at))
    )


@router.post("/partners/{partner_id}/reactivate", response_model=PartnerOut)
async def reactivate_partner(cmd: PartnerAdminCommand) -> PartnerOut:
    """Put a deactivated partner back on the map."""
    return partner_out(
        await cmd.run(lambda partner, at: partner.reactivate(actor=cmd.who.sub, at=at))
    )
