"""How a referral and a partner read in answers, and the checks before a client's data
is shared (the consent it rests on, as intake last said)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from fastapi import Request

from services.referral.api.partner_schemas import PartnerOut, ServiceOut
from services.referral.api.schemas import PartnerReferralOut, ReferralOut
from services.referral.domain import Partner, Referral
from services.referral.packet import served_categories
from services.referral.queries import consent_for
from shared.auth import Principal
from shared.errors import Problem


def referral_out(r: Referral) -> ReferralOut:
    return ReferralOut(
        referral_id=r.id,
        case_id=r.case_id,
        client_id=r.client_id,
        partner_id=r.partner_id,
        status=r.status,
        reason=r.reason,
        data_categories=list(r.data_categories),
        consent_id=r.consent_id,
        consent_revoked=r.consent_revoked,
        overdue=r.overdue,
        overdue_since=r.overdue_since,
        sent_at=r.sent_at,
        acknowledged_at=r.acknowledged_at,
        answered_at=r.answered_at,
        decline_reason=r.decline_reason,
        outcome=None if r.outcome is None else asdict(r.outcome),
        closing_note=r.closing_note,
        withdrawal_reason=r.withdrawal_reason,
        resumption=None if r.resumption is None else asdict(r.resumption),
        packet_removed_at=r.packet_removed_at,
        packet_removal_rule=r.packet_removal_rule,
        created_at=r.created_on,
        updated_at=r.modified_on,
        version=r.version,
    )


def partner_view(r: Referral, consented: bool = True) -> PartnerReferralOut:
    """The partner's view; the reason only while the client's data is shared with it
    (`consented`: the client's consent, as intake last said, still stands)."""
    return PartnerReferralOut(
        referral_id=r.id,
        partner_id=r.partner_id,
        organisation=r.organisation,
        status=r.status,
        reason=r.reason if r.shares_data and consented else None,
        data_categories=list(r.data_categories),
        consent_revoked=r.consent_revoked,
        overdue=r.overdue,
        sent_at=r.sent_at,
        acknowledged_at=r.acknowledged_at,
        answered_at=r.answered_at,
        outcome=r.outcome.outcome if r.outcome else None,
        packet_removed_at=r.packet_removed_at,
        updated_at=r.modified_on,
        version=r.version,
    )


ReferralView = ReferralOut | PartnerReferralOut


def view(who: Principal, r: Referral, consented: bool = True) -> ReferralView:
    return partner_view(r, consented) if who.has("partner") else referral_out(r)


def partner_out(p: Partner) -> PartnerOut:
    return PartnerOut(
        partner_id=p.id,
        name=p.name,
        description=p.description,
        services=[ServiceOut(**s.stored()) for s in p.services],
        accepted_categories=list(p.accepted_categories),
        contact_email=p.contact_email,
        open_places=p.open_places,
        active=p.active,
        created_at=p.created_on,
        updated_at=p.modified_on,
        version=p.version,
    )


def packet_removed(r: Referral) -> Problem | None:
    """410 once retention removed the referral's packet; None while it is kept."""
    if r.packet_removed_at is None:
        return None
    return Problem(
        f"The packet of referral {r.id} was removed by retention on "
        f"{r.packet_removed_at.date().isoformat()} ({r.packet_removal_rule}).",
        status=410,
        code="packet-removed",
        title="Packet removed",
    )


def consent_revoked(referral_id: uuid.UUID, status: int = 403) -> Problem:
    """The client withdrew the consent the referral rests on: 403 for a read of their
    data, 409 for a command that would share it."""
    return Problem(
        f"The client withdrew the consent referral {referral_id} rests on; "
        "their data is no longer shared.",
        status=status,
        code="consent-revoked",
        title="Consent withdrawn",
    )


async def shared_categories(request: Request, referral: Referral) -> list[str]:
    """The categories to share now; a problem when nothing may be shared."""
    if referral.consent_revoked:
        raise consent_revoked(referral.id)
    # The consent as intake last said: a withdrawal wins even before the referral's own
    # ConsentRevoked is stored.
    consented = await consent_for(
        request.app.state.runtime.pool, referral.client_id, referral.partner_id
    )
    served = [] if consented is None else served_categories(referral, consented)
    if not served:  # withdrawn, or narrowed to nothing this referral names
        raise consent_revoked(referral.id)
    return served
