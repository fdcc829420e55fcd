"""Referral's queries: on `referrals_view`, the counsellor's list, the partner's inbox,
the referrals awaiting an answer, the network figures of a partner and the team lead's
network report; on what referral
knows of other services' facts (`consumers.py`), the consents, cases, the client's
preferred language and the copies a packet is made of."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from shared.paging import Column, Listed, Order, Page, fetch_page
from shared.runtime import snapshot
from shared.vocabulary import DATA_CATEGORIES

COLUMNS = (
    "referral_id, case_id, client_id, organisation, partner_id, status, data_categories, "
    "consent_id, overdue, overdue_since, consent_revoked, proposed_at, sent_at, "
    "acknowledged_at, answered_at, answer, outcome, outcome_at, closed_at, resumes, resume_on, "
    "updated_at, version, counsellor"
)


def _row(record: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    out["data_categories"] = list(out["data_categories"])
    return out


async def list_referrals(
    pool: asyncpg.Pool,
    *,
    organisation: str | None,
    partner_id: uuid.UUID | None,
    inbox: bool,
    status: str | None,
    case_id: uuid.UUID | None,
    overdue: bool | None,
    page: Page | None = None,
    counsellor: str | None = None,
    consent_revoked: bool | None = None,
) -> Listed:
    """Referrals, newest change first: an organisation's (`organisation`), or a partner's
    inbox (`inbox`: addressed to `partner_id` and sent, so never a proposal)."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if organisation is not None:
        where.append(f"organisation = {arg(organisation)}")
    if partner_id is not None:
        where.append(f"partner_id = {arg(partner_id)}")
    if inbox:
        where.append("sent_at IS NOT NULL")
    if status is not None:
        where.append(f"status = {arg(status)}")
    if case_id is not None:
        where.append(f"case_id = {arg(case_id)}")
    if overdue is not None:
        where.append(f"overdue = {arg(overdue)}")
    if counsellor is not None:
        where.append(f"counsellor = {arg(counsellor)}")
    if consent_revoked is not None:
        where.append(f"consent_revoked = {arg(consent_revoked)}")
    async with snapshot(pool) as conn:
        listed = await fetch_page(
            conn,
            select=COLUMNS,
            source="FROM referral.referrals_view",
            where=where,
            args=args,
            order=REFERRAL_ORDER,
            page=page or Page(),
        )
    listed.rows = [_row(r) for r in listed.rows]
    return listed


# The referral list's order: newest change first, ties by id (descending too: one index
# read backwards serves it: `referrals_view_listed`, `_status`, `_carried`, `_inbox`).
REFERRAL_ORDER = Order(
    "referrals",
    (Column("updated_at", "timestamptz", True), Column("referral_id", "uuid", True)),
)


async def awaiting_answer(db: asyncpg.Pool | asyncpg.Connection) -> list[uuid.UUID]:
    """Referrals sent and not yet answered nor marked overdue."""
    rows = await db.fetch(
        "SELECT referral_id FROM referral.referrals_view "
        "WHERE status IN ('sent', 'acknowledged') AND NOT overdue ORDER BY sent_at"
    )
    return [r["referral_id"] for r in rows]


# The figures of a set of referrals (`FROM` and `WHERE` are the caller's), as `figures` reads them.
FIGURES = (
    "count(*) AS sent, "
    "count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged, "
    "count(*) FILTER (WHERE answer = 'accepted') AS accepted, "
    "count(*) FILTER (WHERE answer = 'declined') AS declined, "
    "count(*) FILTER (WHERE overdue) AS overdue, "
    "count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn, "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY "
    "  extract(epoch FROM acknowledged_at - sent_at)) AS ack_seconds, "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY "
    "  extract(epoch FROM answered_at - sent_at)) AS answer_seconds"
)


def figures(row: Mapping[str, Any], outcomes: dict[str, int]) -> dict[str, Any]:
    """The answer's figures from a row of `FIGURES` and the outcomes counted."""
    accepted, declined = int(row["accepted"]), int(row["declined"])
    answered = accepted + declined

    def hours(seconds: Any) -> float | None:
        return None if seconds is None else round(float(seconds) / 3600, 2)

    return {
        "referrals": int(row["sent"]),
        "acknowledged": int(row["acknowledged"]),
        "answered": answered,
        "accepted": accepted,
        "declined": declined,
        "withdrawn": int(row["withdrawn"]),
        "overdue": int(row["overdue"]),
        "acceptance_rate": None if answered == 0 else round(accepted / answered, 4),
        "median_hours_to_acknowledgement": hours(row["ack_seconds"]),
        "median_hours_to_answer": hours(row["answer_seconds"]),
        "outcomes": outcomes,
    }


async def network_figures(
    pool: asyncpg.Pool,
    partner_id: uuid.UUID,
    *,
    organisation: str | None,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """For the referrals sent to the partner in [start, end) (of one organisation, or of
    all): how many, how they were answered, and how fast (hours, medians)."""
    org = "" if organisation is None else "AND organisation = $4"
    args: list[Any] = [partner_id, start, end] + ([] if organisation is None else [organisation])
    async with snapshot(pool) as conn:
        row = await conn.fetchrow(
            f"SELECT {FIGURES} FROM referral.referrals_view "
            f"WHERE partner_id = $1 AND sent_at >= $2 AND sent_at < $3 {org}",
            *args,
        )
        assert row is not None
        outcomes = await conn.fetch(
            "SELECT outcome, count(*) AS n FROM referral.referrals_view "
            f"WHERE partner_id = $1 AND sent_at >= $2 AND sent_at < $3 {org} "
            "AND outcome IS NOT NULL GROUP BY outcome ORDER BY outcome",
            *args,
        )
    return {
        "partner_id": partner_id,
        "organisation": organisation,
        "from": start,
        "to": end,
        **figures(row, {r["outcome"]: int(r["n"]) for r in outcomes}),
    }


# The organisation's referrals sent in [$2, $3), but those of clients who withdrew the
# `statistics` consent.
_SENT_IN_STATISTICS = (
    "SELECT r.partner_id, r.status, r.overdue, r.sent_at, r.acknowledged_at, r.answered_at, "
    "r.answer, r.outcome FROM referral.referrals_view r "
    "WHERE r.organisation = $1 AND r.sent_at >= $2 AND r.sent_at < $3 "
    "AND NOT EXISTS (SELECT 1 FROM referral.statistics_consents s "
    "WHERE s.client_id = r.client_id AND s.withdrawn)"
)
NETWORK_SQL = f"""
WITH sent AS MATERIALIZED ({_SENT_IN_STATISTICS}),
per_partner AS (SELECT partner_id, {FIGURES} FROM sent GROUP BY partner_id),
outcomes AS (
    SELECT partner_id, jsonb_object_agg(outcome, n) AS outcomes FROM (
        SELECT partner_id, outcome, count(*) AS n FROM sent
        WHERE outcome IS NOT NULL GROUP BY partner_id, outcome
    ) o GROUP BY partner_id
)
SELECT f.*, p.name, coalesce(o.outcomes, '{{}}'::jsonb) AS outcomes
FROM per_partner f
LEFT JOIN outcomes o USING (partner_id)
LEFT JOIN referral.partners_view p USING (partner_id)
ORDER BY p.name, f.partner_id
"""


async def network_report(
    pool: asyncpg.Pool, organisation: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The team lead's network: for each partner the organisation sent referrals to in
    [start, end), the figures of `network_figures` with the partner's name, by name.

    One grouped query, however many partners. Unlike a partner's own figures, it leaves
    out the referrals of clients who withdrew the `statistics` consent: the team lead's
    figures are statistics."""
    async with snapshot(pool) as conn:
        rows = await conn.fetch(NETWORK_SQL, organisation, start, end)
    return [
        {
            "partner_id": r["partner_id"],
            "name": r["name"],
            **figures(r, {k: int(v) for k, v in sorted(_loads(r["outcomes"]).items())}),
        }
        for r in rows
    ]


# -- what referral knows of other services' facts --------------------------------------------------
async def consent_for(
    pool: asyncpg.Pool, client_id: uuid.UUID, partner_id: uuid.UUID
) -> list[str] | None:
    """The categories the client consents to share with the partner, or None."""
    row = await pool.fetchrow(
        "SELECT data_categories FROM referral.consents WHERE client_id = $1 "
        "AND purpose = 'referral' AND partner_id = $2 AND granted",
        client_id,
        partner_id,
    )
    return None if row is None else list(row["data_categories"])


async def consent_record(
    pool: asyncpg.Pool, client_id: uuid.UUID, partner_id: uuid.UUID
) -> dict[str, Any] | None:
    """The whole current consent row (granted or not), or None."""
    row = await pool.fetchrow(
        "SELECT * FROM referral.consents WHERE client_id = $1 AND purpose = 'referral' "
        "AND partner_id = $2",
        client_id,
        partner_id,
    )
    if row is None:
        return None
    out = dict(row)
    out["data_categories"] = list(out["data_categories"])
    return out


async def case_info(pool: asyncpg.Pool, case_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT case_id, client_id, organisation, accepted FROM referral.cases WHERE case_id = $1",
        case_id,
    )
    return None if row is None else dict(row)


async def preferred_language(pool: asyncpg.Pool, client_id: uuid.UUID) -> str | None:
    """The client's preferred language as intake registered it (`fr-BE`), None if unknown."""
    value = await pool.fetchval(
        "SELECT preferred_language FROM referral.client_languages WHERE client_id = $1",
        client_id,
    )
    return None if value is None else str(value)


async def packet_sources(
    pool: asyncpg.Pool, case_id: uuid.UUID, categories: Iterable[str]
) -> list[dict[str, Any]]:
    """The stored copies of exactly these categories for the case (and its client).

    Identity and contact belong to the client; the others to the case. Each copy has
    `event_id` and `field`, which open a sealed `value` with the client's key.
    """
    wanted = [c for c in dict.fromkeys(categories) if c in DATA_CATEGORIES]
    if not wanted:
        return []
    rows = await pool.fetch(
        "SELECT s.client_id, s.case_id, s.category, s.field, s.event_id, s.value, s.detail, "
        "s.recorded_at FROM referral.sealed_copies s JOIN referral.cases c "
        "ON c.case_id = $1 AND s.client_id = c.client_id "
        "WHERE s.category = ANY($2::text[]) AND (s.case_id = $1 OR s.case_id IS NULL) "
        "ORDER BY s.category, s.recorded_at, s.field",
        case_id,
        wanted,
    )
    out = []
    for r in rows:
        item = dict(r)
        item["value"] = _loads(item["value"])
        item["detail"] = _loads(item["detail"])
        out.append(item)
    return out


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
