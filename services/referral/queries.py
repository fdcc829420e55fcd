"""Referral's list queries on `referrals_view`: the counsellor's list, the partner's
inbox, the referrals awaiting an answer, and the network figures of a partner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.runtime import snapshot

COLUMNS = (
    "referral_id, case_id, client_id, organisation, partner_id, status, data_categories, "
    "consent_id, overdue, overdue_since, consent_revoked, proposed_at, sent_at, "
    "acknowledged_at, answered_at, answer, outcome, outcome_at, closed_at, resumes, resume_on, "
    "updated_at, version, counsellor"
)


def _row(record: asyncpg.Record) -> dict[str, Any]:
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
    limit: int,
    counsellor: str | None = None,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
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
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    async with snapshot(pool) as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM referral.referrals_view {clause}", *args)
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM referral.referrals_view {clause} "
            f"ORDER BY updated_at DESC, referral_id LIMIT {int(limit)} OFFSET {int(offset)}",
            *args,
        )
    return [_row(r) for r in rows], int(total)


async def awaiting_answer(pool: asyncpg.Pool) -> list[uuid.UUID]:
    """Referrals sent and not yet answered nor marked overdue."""
    rows = await pool.fetch(
        "SELECT referral_id FROM referral.referrals_view "
        "WHERE status IN ('sent', 'acknowledged') AND NOT overdue ORDER BY sent_at"
    )
    return [r["referral_id"] for r in rows]


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
            "SELECT count(*) AS sent, "
            "count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged, "
            "count(*) FILTER (WHERE answer = 'accepted') AS accepted, "
            "count(*) FILTER (WHERE answer = 'declined') AS declined, "
            "count(*) FILTER (WHERE overdue) AS overdue, "
            "count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY "
            "  extract(epoch FROM acknowledged_at - sent_at)) AS ack_seconds, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY "
            "  extract(epoch FROM answered_at - sent_at)) AS answer_seconds "
            "FROM referral.referrals_view "
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
    accepted, declined = int(row["accepted"]), int(row["declined"])
    answered = accepted + declined

    def hours(seconds: Any) -> float | None:
        return None if seconds is None else round(float(seconds) / 3600, 2)

    return {
        "partner_id": partner_id,
        "organisation": organisation,
        "from": start,
        "to": end,
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
        "outcomes": {r["outcome"]: int(r["n"]) for r in outcomes},
    }
