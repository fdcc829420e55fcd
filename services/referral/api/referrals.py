"""Referral's HTTP API for referrals, the counsellor's side: propose, list, read, send,
withdraw, close and record resumption; and the partner's network figures. The partner's
side is in `inbox.py`.

Who sees what: a counsellor or team lead sees the referrals of their organisation; a
partner token sees only the referrals sent to its partner id. Any other referral reads
as absent (404), exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from services.referral.api.answers import ReferralView, consent_revoked, view
from services.referral.api.dependencies import (
    App,
    CounsellorCommand,
    StaffOrPartner,
    partner_of,
)
from services.referral.api.partner_schemas import Figures
from services.referral.api.schemas import (
    CloseIn,
    PartnerReferralOut,
    ReferralCreated,
    ReferralIn,
    ReferralItem,
    ReferralOut,
    ResumptionIn,
    Status,
    WithdrawIn,
)
from services.referral.application import ProposalFacts, ReferralApplication
from services.referral.domain import Referral
from services.referral.projections import partner_row
from services.referral.queries import (
    case_info,
    consent_for,
    consent_record,
    list_referrals,
    network_figures,
)
from shared.audit.access import record_read
from shared.auth import Counsellor, Principal, require
from shared.commands import Projection, run_command, set_etag
from shared.errors import Forbidden, NotFound
from shared.idempotency import new_id
from shared.paging import Listed, Paging, page_headers
from shared.periods import Period
from shared.periods import period as period_parameter
from shared.schemas import CounsellorFilter

referrals = APIRouter(tags=["referrals"])


# -- the counsellor ----------------------------------------------------------------------------
@referrals.post("/referrals", status_code=status.HTTP_201_CREATED, response_model=ReferralCreated)
async def propose_referral(
    body: ReferralIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    request: Request,
    response: Response,
) -> ReferralCreated:
    """Propose referring the case's client to a partner: the partner must be active with
    open places and accept the data categories, and the client must have consented to
    share exactly those categories with exactly that partner (409 consent-required)."""
    pool = request.app.state.runtime.pool
    case = await case_info(pool, body.case_id)
    consent = (
        None if case is None else await consent_record(pool, case["client_id"], body.partner_id)
    )
    facts = ProposalFacts(
        case=case, partner=await partner_row(pool, body.partner_id), consent=consent
    )
    referral_id = new_id()
    referral = await run_command(
        app,
        proj,
        lambda: app.propose_referral(
            referral_id,
            facts,
            organisation=who.org,
            case_id=body.case_id,
            partner_id=body.partner_id,
            reason=body.reason,
            data_categories=list(body.data_categories),
            actor=who.sub,
        ),
    )
    set_etag(response, referral.version)
    response.headers["Location"] = str(request.url_for("get_referral", referral_id=referral_id))
    return ReferralCreated(referral_id=referral_id, version=referral.version)


@referrals.get("/referrals", response_model=list[ReferralItem], response_model_exclude_unset=True)
async def get_referrals(
    who: StaffOrPartner,
    request: Request,
    response: Response,
    page: Paging,
    status_: Annotated[
        Status | None, Query(alias="status", description="Only referrals in this status.")
    ] = None,
    case_id: Annotated[
        uuid.UUID | None, Query(description="Only the referrals of this intake case (staff).")
    ] = None,
    partner_id: Annotated[
        uuid.UUID | None, Query(description="Only the referrals sent to this partner.")
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(
            description="`true`: only those marked overdue (the partner did not answer within "
            "the allowed working days; the mark stays); `false`: only the others."
        ),
    ] = None,
    consent_revoked: Annotated[
        bool | None,
        Query(
            description="`true`: only those whose client withdrew the consent to share "
            "their data with the partner (the packet is no longer given); `false`: the others."
        ),
    ] = None,
    counsellor: CounsellorFilter = None,
) -> list[ReferralItem]:
    """A partner's inbox (the referrals sent to it, newest change first), or the
    referrals of the caller's organisation; filters: status, case, partner, overdue,
    consent withdrawn, and (staff only) the case's counsellor."""
    inbox = who.has("partner")
    if inbox:
        own = partner_of(who)
        if partner_id is not None and partner_id != own:
            page_headers(request, response, page, Listed(rows=[], total=0))
            return []
        if case_id is not None:
            raise Forbidden("A partner does not filter by case.")
        if counsellor is not None:
            raise Forbidden("A partner does not filter by counsellor.")
        partner_id = own
    listed = await list_referrals(
        request.app.state.runtime.pool,
        organisation=None if inbox else who.org,
        partner_id=partner_id,
        inbox=inbox,
        status=status_,
        case_id=case_id,
        overdue=overdue,
        consent_revoked=consent_revoked,
        counsellor=who.counsellor_filter(counsellor),
        page=page,
    )
    rows = listed.rows
    hidden = ("case_id", "client_id", "proposed_at", "resumes", "resume_on", "counsellor")
    items = [
        ReferralItem(**({k: v for k, v in row.items() if k not in hidden} if inbox else row))
        for row in rows
    ]
    page_headers(request, response, page, listed)
    return items


@referrals.get("/referrals/{referral_id}", response_model=ReferralOut | PartnerReferralOut)
async def get_referral(
    referral_id: uuid.UUID, who: StaffOrPartner, app: App, request: Request, response: Response
) -> ReferralOut | PartnerReferralOut:
    """One referral: staff of its organisation see all of it, its partner its own view.
    Its reason and notes are the client's data: a read that shows them is recorded
    (resource `referral`), the partner's as a disclosure to it, like a packet read."""
    if who.has("partner"):
        partner_of(who)
    referral = await run_in_threadpool(lambda: app.referral(referral_id, who))
    set_etag(response, referral.version)
    consented = True
    if who.has("partner"):
        pool = request.app.state.runtime.pool
        consented = await consent_for(pool, referral.client_id, referral.partner_id) is not None
    shown = view(who, referral, consented)
    if shown.reason is not None:
        await run_in_threadpool(_viewed, app, who, referral)
    return shown


def _viewed(app: ReferralApplication, who: Principal, referral: Referral) -> None:
    """Record a read of the referral itself: by its partner, one for the partner (it
    lists among the client's recipients); by staff, one of their organisation's, for
    the referral (no partner: nothing was disclosed)."""
    if who.has("partner"):
        app.record_access(who, referral, resource="referral", categories=["referrals"])
        return
    record_read(
        app,
        who,
        client_id=referral.client_id,
        case_id=referral.case_id,
        referral_id=referral.id,
        purpose="referral",
        resource="referral",
        categories=["referrals"],
    )


@referrals.post("/referrals/{referral_id}/send", response_model=ReferralOut)
async def send_referral(
    request: Request,
    cmd: CounsellorCommand,
) -> ReferralView:
    """Send the proposed referral to the partner: it appears in the partner's inbox;
    refused (409 consent-revoked) once the client withdrew the consent it rests on."""
    referral = await run_in_threadpool(cmd.load)
    pool = request.app.state.runtime.pool
    if await consent_for(pool, referral.client_id, referral.partner_id) is None:
        raise consent_revoked(referral.id, status=409)
    return view(cmd.who, await cmd.run(lambda r, at: r.send(actor=cmd.who.sub, at=at)))


@referrals.post("/referrals/{referral_id}/withdraw", response_model=ReferralOut)
async def withdraw_referral(
    body: WithdrawIn,
    cmd: CounsellorCommand,
) -> ReferralView:
    """Withdraw the referral, with a reason (until the partner reports an outcome)."""
    return view(
        cmd.who,
        await cmd.run(lambda r, at: r.withdraw(reason=body.reason, actor=cmd.who.sub, at=at)),
    )


@referrals.post("/referrals/{referral_id}/close", response_model=ReferralOut)
async def close_referral(
    cmd: CounsellorCommand,
    body: Annotated[CloseIn | None, Body()] = None,
) -> ReferralView:
    """Close the loop once the partner declined or reported an outcome."""
    note = body.note if body else None
    return view(cmd.who, await cmd.run(lambda r, at: r.close(note=note, actor=cmd.who.sub, at=at)))


@referrals.post("/referrals/{referral_id}/resumption", response_model=ReferralOut)
async def record_resumption(
    body: ResumptionIn,
    cmd: CounsellorCommand,
) -> ReferralView:
    """Whether and from when guidance resumes after the referral (intake shows it)."""
    referral = await cmd.run(
        lambda r, at: r.record_resumption(
            resumes=body.resumes, resume_on=body.resume_on, note=body.note, actor=cmd.who.sub, at=at
        )
    )
    return view(cmd.who, referral)


# -- network figures ---------------------------------------------------------------------------
@referrals.get(
    "/partners/{partner_id}/figures", response_model=Figures, response_model_by_alias=True
)
async def get_figures(
    partner_id: uuid.UUID,
    who: Annotated[Principal, Depends(require("team_lead", "admin", "directory_admin", "partner"))],
    request: Request,
    period: Annotated[Period, Depends(period_parameter)],
) -> Figures:
    """For the referrals sent to the partner in the period [from, to) (see the parameters;
    default: the last 90 days): how many, acknowledged, accepted or declined, the
    acceptance rate and the median hours to acknowledgement and to answer. A team lead or
    an admin sees their organisation's; the directory administrator and the partner
    itself every organisation's (counts only, no client)."""
    staff = who.has("admin", "team_lead", "directory_admin")
    if not staff and partner_of(who) != partner_id:
        raise NotFound(f"No partner {partner_id}.")
    start, end = period.start, period.end
    pool = request.app.state.runtime.pool
    if await partner_row(pool, partner_id) is None:
        raise NotFound(f"No partner {partner_id}.")
    # One organisation's counts are its own business: only the network's administrator,
    # and the partner about itself, see across organisations.
    # (A caller who is not staff got here only as the partner itself: see above.)
    network_wide = who.has("directory_admin") or not staff
    organisation = None if network_wide else who.org
    figures = await network_figures(
        pool, partner_id, organisation=organisation, start=start, end=end
    )
    figures["from_"] = figures.pop("from")
    return Figures(**figures)
