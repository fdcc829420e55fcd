"""Referral's HTTP API, the partner directory (the "social map"); referrals are in
`referrals_api.py`.

Admins register partners; a partner belongs to the organisation whose admin registered
it, and only that organisation's admins and the network's directory administrators
(`directory_admin`) change it (a partner may set its own open places). To anyone else
who may change partners, another organisation's partner reads as absent (404), as
other organisations' objects do everywhere. Counsellors and team leads search the
directory, which every organisation shares, and see only active partners.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from services.referral.application import ReferralApplication
from services.referral.domain import Partner
from services.referral.projections import search_partners
from shared.auth import Principal, require
from shared.commands import Projection, run_command, set_etag
from shared.commands import change as change_command
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.http import page_headers
from shared.idempotency import new_id
from shared.messaging.follower import LogFollower
from shared.schemas import Answer, Id, IfMatch, Limit, MultiLine, Offset, SingleLine, Strict
from shared.vocabulary import DataCategory

router = APIRouter(tags=["partners"])

DirectoryAdmin = Annotated[Principal, Depends(require("admin", "directory_admin"))]
DirectoryReader = Annotated[
    Principal, Depends(require("counsellor", "team_lead", "admin", "directory_admin"))
]
ServiceCategory = Literal[
    "training",
    "psychology",
    "health",
    "union",
    "entrepreneurship",
    "debt",
    "housing",
    "language",
    "other",
]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Description = Annotated[StrictStr, Field(max_length=4000), MultiLine]
Email = Annotated[StrictStr, Field(max_length=254), SingleLine]
Area = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Language = Annotated[StrictStr, Field(pattern=r"^[A-Za-z]{2}$")]
OpenPlaces = Annotated[int, Field(ge=0, le=100_000)]


class ServiceIn(Strict):
    service_id: Id | None = None
    """Keep a service's id to keep the service (on a change); absent: a new one."""
    name: Name
    """The service's name (1-200 characters)."""
    category: ServiceCategory
    """What kind of service: `training`, `psychology`, `health`, `union`, `entrepreneurship`,
    `debt`, `housing`, `language` or `other`.
    """
    languages: list[Language] = Field(default_factory=list, max_length=20)
    """The languages it is given in (ISO 639-1, e.g. `nl`), at most 20."""
    area: Annotated[StrictStr, Field(max_length=200), SingleLine] | None = None
    """The area it covers (a region or town); absent: everywhere."""
    eligibility: Annotated[StrictStr, Field(max_length=2000), MultiLine] | None = None
    """Who may take part (at most 2000 characters)."""


class PartnerIn(Strict):
    # The id the partner's tokens carry, when it has one already (an identity provider's,
    # or another directory's); else a new one.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Zorgacademie Midden",
                    "description": "Vocational courses in care and welfare.",
                    "services": [
                        {
                            "name": "Retraining course for care assistants",
                            "category": "training",
                            "languages": ["nl", "en"],
                            "area": "Utrecht",
                            "eligibility": "Adults with a basic qualification (MBO 1).",
                        }
                    ],
                    "accepted_categories": ["identity", "contact", "career_question"],
                    "contact_email": "intake@zorgacademie.example.org",
                    "capacity": 12,
                }
            ]
        }
    )

    partner_id: Id | None = None
    """The id the partner's tokens carry, when it has one already (an identity provider's, or
    another directory's); absent: a new one.
    """
    name: Name
    """The partner's name (1-200 characters)."""
    description: Description | None = None
    """What the partner does (at most 4000 characters)."""
    services: list[ServiceIn] = Field(min_length=1, max_length=50)
    """What it offers: 1-50 services."""
    accepted_categories: list[DataCategory] = Field(max_length=5)
    """The client data categories it takes with a referral: `identity`, `contact`,
    `career_question`, `assessments`, `plan`.
    """
    contact_email: Email | None = None
    """Where the partner is reached."""
    # Open places; absent (or null) = no limit. 0 takes no new referrals for now.
    capacity: OpenPlaces | None = None
    """Open places for new referrals; absent or null: no limit, 0: none for now."""


class PartnerPatch(Strict):
    """Only the fields present change; `services` replaces the list (keep a service's id
    to keep the service)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"contact_email": "aanmelding@zorgacademie.example.org"}]}
    )

    name: Name | None = None
    """A new name."""
    description: Description | None = None
    """A new description."""
    services: list[ServiceIn] | None = Field(default=None, min_length=1, max_length=50)
    """The new list of services (replaces the old; keep `service_id` to keep one)."""
    accepted_categories: list[DataCategory] | None = Field(default=None, max_length=5)
    """The new accepted data categories."""
    contact_email: Email | None = None
    """A new contact address."""


class CapacityIn(Strict):
    # Required; null makes the partner unlimited (again).
    model_config = ConfigDict(json_schema_extra={"examples": [{"open_places": 8}]})

    open_places: OpenPlaces | None
    """Open places for new referrals (0-100000); null: no limit (required: send null explicitly)."""


class PartnerCreated(Answer):
    partner_id: uuid.UUID
    """The new partner's id."""
    version: int
    """The partner's version (its `ETag`)."""


class ServiceOut(Answer):
    service_id: uuid.UUID
    """The service's id."""
    name: str
    """The service's name."""
    category: str
    """What kind of service (see `ServiceIn.category`)."""
    languages: list[str]
    """The languages it is given in (ISO 639-1)."""
    area: str | None
    """The area it covers; null: everywhere."""
    eligibility: str | None
    """Who may take part."""


class PartnerOut(Answer):
    partner_id: uuid.UUID
    """The partner's id."""
    name: str
    """The partner's name."""
    description: str | None
    """What the partner does."""
    services: list[ServiceOut]
    """What it offers."""
    accepted_categories: list[str]
    """The client data categories it takes with a referral."""
    contact_email: str | None
    """Where the partner is reached."""
    # null: no limit (the partner was registered without a capacity, or set to null).
    open_places: int | None
    """Open places for new referrals; null: no limit."""
    active: bool
    """Whether it takes referrals and shows in searches (false: deactivated)."""
    created_at: datetime
    """When it was registered."""
    updated_at: datetime
    """When it last changed."""
    version: int
    """The partner's version (its `ETag`; send it as `If-Match`)."""


async def referral(request: Request) -> ReferralApplication:
    app: ReferralApplication = request.app.state.referral
    return app


App = Annotated[ReferralApplication, Depends(referral)]


def partner_out(p: Partner) -> PartnerOut:
    return PartnerOut(
        partner_id=p.id,
        name=p.name,
        description=p.description,
        services=[ServiceOut(**s) for s in p.services],
        accepted_categories=list(p.accepted_categories),
        contact_email=p.contact_email,
        open_places=p.open_places,
        active=p.active,
        created_at=p.created_on,
        updated_at=p.modified_on,
        version=p.version,
    )


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
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[PartnerOut]:
    """Search the directory: `service` matches a service's category or name, `category`,
    `language` (ISO 639-1) and `area` a service's; one service must meet them all.
    Active partners only; admins may ask for inactive ones too."""
    if include_inactive and not who.has("admin", "directory_admin"):
        raise Forbidden("Only admins see inactive partners.")
    rows, total = await search_partners(
        request.app.state.runtime.pool,
        service=service,
        category=category,
        language=language,
        area=area,
        include_inactive=include_inactive,
        limit=limit,
        offset=offset,
    )
    page_headers(request, response, total, limit, offset)
    return [PartnerOut(**row) for row in rows]


@router.get("/partners/{partner_id}", response_model=PartnerOut)
async def get_partner(
    partner_id: uuid.UUID, who: DirectoryReader, app: App, response: Response
) -> PartnerOut:
    """One partner; an inactive one only for admins."""
    partner = await run_in_threadpool(
        lambda: app.partner(partner_id, include_inactive=who.has("admin", "directory_admin"))
    )
    set_etag(response, partner.version)
    return partner_out(partner)


def administered(app: ReferralApplication, partner_id: uuid.UUID, who: Principal) -> Partner:
    """The partner, if `who` may change it: an admin of its owner, a directory
    administrator, or the partner itself; else it reads as absent (checked before
    `If-Match`, so that not even its version shows)."""
    partner = app.load(Partner, partner_id)
    if who.has("partner") and who.partner_id == partner_id:
        return partner
    if who.has("admin", "directory_admin") and partner.administered_by(
        who.org, directory_admin=who.has("directory_admin")
    ):
        return partner
    raise NotFound(f"No partner {partner_id}.")


async def _change(
    app: ReferralApplication,
    proj: LogFollower | None,
    partner_id: uuid.UUID,
    who: Principal,
    if_match: str | None,
    response: Response,
    change: Any,
) -> PartnerOut:
    """Run one command on the partner; the partner as it is now."""
    _, partner = await change_command(
        app, proj, lambda: administered(app, partner_id, who), if_match, response, change
    )
    return partner_out(partner)


@router.patch("/partners/{partner_id}", response_model=PartnerOut)
async def update_partner(
    partner_id: uuid.UUID,
    body: PartnerPatch,
    who: DirectoryAdmin,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> PartnerOut:
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
    return await _change(
        app,
        proj,
        partner_id,
        who,
        if_match,
        response,
        lambda partner, at: partner.update(
            changes=changes, new_id=app.new_id, actor=who.sub, at=at
        ),
    )


@router.put("/partners/{partner_id}/capacity", response_model=PartnerOut)
async def set_capacity(
    partner_id: uuid.UUID,
    body: CapacityIn,
    who: Annotated[Principal, Depends(require("admin", "directory_admin", "partner"))],
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> PartnerOut:
    """Set the partner's open places (0: no new referrals for now; null: no limit): an
    admin of its organisation, a directory administrator, or the partner itself (another
    partner's reads as absent)."""
    return await _change(
        app,
        proj,
        partner_id,
        who,
        if_match,
        response,
        lambda partner, at: partner.set_capacity(
            open_places=body.open_places, actor=who.sub, at=at
        ),
    )


@router.post("/partners/{partner_id}/deactivate", response_model=PartnerOut)
async def deactivate_partner(
    partner_id: uuid.UUID,
    who: DirectoryAdmin,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> PartnerOut:
    """Take the partner off the map: counsellors no longer find it."""
    return await _change(
        app,
        proj,
        partner_id,
        who,
        if_match,
        response,
        lambda partner, at: partner.deactivate(actor=who.sub, at=at),
    )


@router.post("/partners/{partner_id}/reactivate", response_model=PartnerOut)
async def reactivate_partner(
    partner_id: uuid.UUID,
    who: DirectoryAdmin,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> PartnerOut:
    """Put a deactivated partner back on the map."""
    return await _change(
        app,
        proj,
        partner_id,
        who,
        if_match,
        response,
        lambda partner, at: partner.reactivate(actor=who.sub, at=at),
    )
