"""Referral's HTTP API for partners: their answers (acknowledge, accept, decline,
outcome), the packet of the client's consented data, and the counsellor's printable
letter for partners without API access. Every packet and letter read is recorded."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from services.referral.api.answers import (
    ReferralView,
    packet_removed,
    shared_categories,
    view,
)
from services.referral.api.dependencies import App, PartnerCommand, PartnerUser
from services.referral.api.partner_schemas import Packet
from services.referral.api.schemas import DeclineIn, OutcomeIn, PartnerReferralOut
from services.referral.domain import LETTER, SHARED
from services.referral.packet import build_packet, letter_language, render_letter
from services.referral.projections import partner_row
from services.referral.queries import preferred_language
from shared.auth import Counsellor
from shared.errors import Problem

inbox = APIRouter(tags=["partner inbox"])


# -- the partner -------------------------------------------------------------------------------
@inbox.post("/referrals/{referral_id}/acknowledge", response_model=PartnerReferralOut)
async def acknowledge_referral(
    cmd: PartnerCommand,
) -> ReferralView:
    """The partner has seen the referral (again: no change)."""
    return view(cmd.who, await cmd.run(lambda r, at: r.acknowledge(actor=cmd.who.sub, at=at)))


@inbox.post("/referrals/{referral_id}/accept", response_model=PartnerReferralOut)
async def accept_referral(
    cmd: PartnerCommand,
) -> ReferralView:
    """The partner takes the client on."""
    return view(cmd.who, await cmd.run(lambda r, at: r.accept(actor=cmd.who.sub, at=at)))


@inbox.post("/referrals/{referral_id}/decline", response_model=PartnerReferralOut)
async def decline_referral(
    body: DeclineIn,
    cmd: PartnerCommand,
) -> ReferralView:
    """The partner does not take the client on, with a reason."""
    return view(
        cmd.who,
        await cmd.run(lambda r, at: r.decline(reason=body.reason, actor=cmd.who.sub, at=at)),
    )


@inbox.post("/referrals/{referral_id}/outcome", response_model=PartnerReferralOut)
async def report_outcome(
    body: OutcomeIn,
    cmd: PartnerCommand,
) -> ReferralView:
    """How the partner's service to the client ended (after accepting it)."""
    referral = await cmd.run(
        lambda r, at: r.report_outcome(
            outcome=body.outcome, notes=body.notes, actor=cmd.who.sub, at=at
        )
    )
    return view(cmd.who, referral)


@inbox.get(
    "/referrals/{referral_id}/packet", response_model=Packet, response_model_exclude_unset=True
)
async def get_packet(
    referral_id: uuid.UUID, who: PartnerUser, app: App, request: Request
) -> Packet:
    """The client's data the partner may read: only the consented categories, opened
    now; each read is recorded (PartnerDataAccessed) and listed in the access log."""
    referral = await run_in_threadpool(lambda: app.referral(referral_id, who))
    if (removed := packet_removed(referral)) is not None:
        raise removed
    categories = await shared_categories(request, referral)
    if referral.status not in SHARED:
        raise Problem(
            f"The referral is {referral.status}; its data is not shared.",
            status=409,
            code="not-shared",
            title="Not shared",
        )
    packet = await build_packet(app, request.app.state.runtime.pool, referral, categories)
    access = await run_in_threadpool(
        lambda: app.record_access(who, referral, resource="packet", categories=categories)
    )
    return Packet(
        referral_id=referral.id,
        partner_id=referral.partner_id,
        reason=referral.reason,
        data_categories=categories,
        access_id=access.id,
        read_at=access.created_on,
        **packet,
    )


@inbox.get("/referrals/{referral_id}/letter", response_class=HTMLResponse)
async def get_letter(
    referral_id: uuid.UUID,
    who: Counsellor,
    app: App,
    request: Request,
    lang: Annotated[
        Literal["nl", "fr", "en"] | None,
        Query(
            description="The letter's language: Dutch, French or English; absent: the "
            "client's preferred one (`fr-BE` is French), else Dutch."
        ),
    ] = None,
) -> HTMLResponse:
    """A printable referral letter with only the consented data, for a partner without
    API access, in the client's preferred language unless `lang` names another; each render
    is recorded like a packet read. The console prints it as PDF."""
    referral = await run_in_threadpool(lambda: app.referral(referral_id, who))
    if (removed := packet_removed(referral)) is not None:
        raise removed
    categories = await shared_categories(request, referral)
    if referral.status not in LETTER:
        raise Problem(
            f"The referral is {referral.status}; no letter is printed for it.",
            status=409,
            code="not-shared",
            title="Not shared",
        )
    pool = request.app.state.runtime.pool
    packet = await build_packet(app, pool, referral, categories)
    partner = await partner_row(pool, referral.partner_id)
    access = await run_in_threadpool(
        lambda: app.record_access(who, referral, resource="letter", categories=categories)
    )
    language = letter_language(await preferred_language(pool, referral.client_id), lang)
    html = render_letter(
        referral, partner, packet, categories, language=language, printed_at=access.created_on
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
