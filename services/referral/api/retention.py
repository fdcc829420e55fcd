"""Referral's retention receipts: the agency's rules per purpose, and the referrals whose
packet the `referral_packet` rule removed (the `PacketRemoved` tombstones), for the team
lead and the auditor of the organisation. No personal data: ids, dates, statuses, rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.referral.api.schemas import PacketRetention, RemovedPacket
from shared.privacy.retention_answers import RetentionReader, rules_out

retention = APIRouter(tags=["retention"])

REMOVED_SQL = """
SELECT referral_id, case_id, partner_id, status, packet_removed_at,
    packet_removal_rule AS rule, count(*) OVER () AS total,
    CASE WHEN status = 'declined' THEN answered_at ELSE closed_at END AS ended_at
FROM referral.referrals_view
WHERE organisation = $1 AND packet_removed_at IS NOT NULL
ORDER BY packet_removed_at DESC, referral_id
LIMIT $2 OFFSET $3
"""


@retention.get("/retention", response_model=PacketRetention)
async def get_retention(
    who: RetentionReader,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many removals.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Skip this many removals.")] = 0,
) -> PacketRetention:
    """The retention rules per purpose, and the organisation's referrals whose packet was
    removed by the `referral_packet` rule: when, by which rule, when the referral ended."""
    rules = rules_out(request.app.state.runtime.settings)
    rows = await request.app.state.runtime.pool.fetch(REMOVED_SQL, who.org, limit, offset)
    removed = [RemovedPacket(**{k: v for k, v in dict(r).items() if k != "total"}) for r in rows]
    total = int(rows[0]["total"]) if rows else 0
    return PacketRetention(rules=rules, removed=removed, total=total)
