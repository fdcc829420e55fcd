"""Referral's read models (asyncpg), following referral's own log.

- `partners_view`, the searchable directory: each partner's current directory fields.
  The directory is shared by every organisation; inactive partners only when asked.
- `referrals_view`: each referral's status, marks and times, for the counsellor's list,
  the partner's inbox, the overdue job and the network figures. Nothing personal: the
  reasons and notes stay in the events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import asyncpg

from services.referral.domain import Partner, Referral
from shared.messaging.projection import Handler, Projection, Stored
from shared.paging import Column, Listed, Order, Page, fetch_page
from shared.runtime import snapshot

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS referral.partners_view (
    partner_id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    services jsonb NOT NULL,
    accepted_categories text[] NOT NULL,
    contact_email text,
    open_places int,  -- NULL: no limit
    active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS partners_view_name ON referral.partners_view (active, name);
-- Read models made before partners could be unlimited held a NOT NULL column.
ALTER TABLE referral.partners_view ALTER COLUMN open_places DROP NOT NULL;
CREATE TABLE IF NOT EXISTS referral.referrals_view (
    referral_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    partner_id uuid NOT NULL,
    status text NOT NULL,
    data_categories text[] NOT NULL,
    consent_id uuid NOT NULL,
    overdue boolean NOT NULL DEFAULT false,
    overdue_since date,
    consent_revoked boolean NOT NULL DEFAULT false,
    proposed_at timestamptz NOT NULL,
    sent_at timestamptz,
    acknowledged_at timestamptz,
    answered_at timestamptz,
    answer text,
    outcome text,
    outcome_at timestamptz,
    closed_at timestamptz,
    resumes boolean,
    resume_on date,
    updated_at timestamptz NOT NULL,
    version int NOT NULL
);
-- Erasing a client deletes its rows by client id: found by index, not by a scan of every
-- client's rows (which grows with the years kept).
CREATE INDEX IF NOT EXISTS referrals_view_client ON referral.referrals_view (client_id);
CREATE INDEX IF NOT EXISTS referrals_view_case ON referral.referrals_view (case_id);
-- The team lead's network report: the organisation's referrals sent in a period.
CREATE INDEX IF NOT EXISTS referrals_view_sent ON referral.referrals_view (organisation, sent_at)
    WHERE sent_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS referrals_view_awaiting ON referral.referrals_view (status)
    WHERE status IN ('sent', 'acknowledged') AND NOT overdue;
-- The case's counsellor (from referral.cases); added later, so NULL on older rows.
ALTER TABLE referral.referrals_view ADD COLUMN IF NOT EXISTS counsellor text;
-- Retention of the packet: when it was removed, by which rule (added later).
ALTER TABLE referral.referrals_view
    ADD COLUMN IF NOT EXISTS packet_removed_at timestamptz,
    ADD COLUMN IF NOT EXISTS packet_removal_rule text;
-- The lists' orders (shared/paging.py: keyset pages and capped counts read an index in
-- order, whatever the history's length): an organisation's referrals newest change
-- first, unfiltered, by status, by counsellor; a partner's inbox; the directory by name.
-- They replace the indexes without the id.
CREATE INDEX IF NOT EXISTS referrals_view_listed
    ON referral.referrals_view (organisation, updated_at, referral_id);
CREATE INDEX IF NOT EXISTS referrals_view_status
    ON referral.referrals_view (organisation, status, updated_at, referral_id);
CREATE INDEX IF NOT EXISTS referrals_view_carried
    ON referral.referrals_view (organisation, counsellor, updated_at, referral_id);
CREATE INDEX IF NOT EXISTS referrals_view_inbox
    ON referral.referrals_view (partner_id, updated_at, referral_id) INCLUDE (sent_at);
DROP INDEX IF EXISTS referral.referrals_view_org;
DROP INDEX IF EXISTS referral.referrals_view_partner;
DROP INDEX IF EXISTS referral.referrals_view_counsellor;
-- The packets' retention (services/referral/jobs.py ENDED_SQL): the referrals whose
-- packet is still there, by when they ended.
CREATE INDEX IF NOT EXISTS referrals_view_ended ON referral.referrals_view
    ((CASE WHEN status = 'declined' THEN answered_at
           WHEN status IN ('closed', 'withdrawn') THEN closed_at END), referral_id)
    WHERE packet_removed_at IS NULL;
-- (the planner's estimate of that expression: without it, a third of the rows)
CREATE STATISTICS IF NOT EXISTS referral.referrals_view_ended_stats
    ON (CASE WHEN status = 'declined' THEN answered_at
             WHEN status IN ('closed', 'withdrawn') THEN closed_at END)
    FROM referral.referrals_view;
CREATE INDEX IF NOT EXISTS partners_view_listed
    ON referral.partners_view (active, lower(name), partner_id);
"""

COLUMNS = (
    "partner_id, name, description, services, accepted_categories, contact_email, "
    "open_places, active, created_at, updated_at, version"
)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


# -- the directory -------------------------------------------------------------------------------
async def partner_registered(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        f"INSERT INTO referral.partners_view ({COLUMNS}) "
        "VALUES ($1,$2,$3,$4::jsonb,$5,$6,$7,true,$8,$8,$9) "
        "ON CONFLICT (partner_id) DO NOTHING",
        e.id,
        e["name"],
        e["description"],
        _json(e["services"]),
        list(e["accepted_categories"]),
        e["contact_email"],
        e["open_places"],
        e.at,
        e.version,
    )


def partner_changed(changes: Callable[[Stored], dict[str, Any]]) -> Handler:
    """A handler setting the directory fields `changes(event)` names (and the version)."""

    async def handle(conn: asyncpg.Connection, e: Stored) -> None:
        sets, args = "", []
        for i, (field, value) in enumerate(sorted(changes(e).items()), start=4):
            if field == "services":
                sets += f", services = ${i}::jsonb"
                args.append(_json(value))
            else:
                sets += f", {field} = ${i}"
                args.append(value)
        await conn.execute(
            f"UPDATE referral.partners_view SET version = $2, updated_at = $3{sets} "
            "WHERE partner_id = $1 AND version < $2",
            e.id,
            e.version,
            e.at,
            *args,
        )

    return handle


# -- referrals -----------------------------------------------------------------------------------
async def referral_proposed(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "INSERT INTO referral.referrals_view (referral_id, case_id, client_id, "
        "organisation, partner_id, status, data_categories, consent_id, proposed_at, "
        "updated_at, version, counsellor) VALUES ($1,$2,$3,$4,$5,'proposed',$6,$7,$8,$8,$9,"
        "(SELECT counsellor FROM referral.cases WHERE case_id = $2)) "
        "ON CONFLICT (referral_id) DO NOTHING",
        e.id,
        e["case_id"],
        e["client_id"],
        e["organisation"],
        e["partner_id"],
        list(e["data_categories"]),
        e["consent_id"],
        e.at,
        e.version,
    )


def referral_changed(changes: Callable[[Stored], dict[str, Any]]) -> Handler:
    """A handler setting the columns `changes(event)` names (besides version and
    updated_at); a value `("coalesce", v)` keeps an earlier value."""

    async def handle(conn: asyncpg.Connection, e: Stored) -> None:
        sets, args = "", []
        for i, (column, value) in enumerate(sorted(changes(e).items()), start=4):
            if isinstance(value, tuple):
                sets += f", {column} = coalesce({column}, ${i})"
                args.append(value[1])
            else:
                sets += f", {column} = ${i}"
                args.append(value)
        await conn.execute(
            f"UPDATE referral.referrals_view SET version = $2, updated_at = $3{sets} "
            "WHERE referral_id = $1 AND version < $2",
            e.id,
            e.version,
            e.at,
            *args,
        )

    return handle


def _answered(status: str) -> Callable[[Stored], dict[str, Any]]:
    return lambda e: {
        "status": status,
        "answer": status,
        "acknowledged_at": ("coalesce", e.at),
        "answered_at": e.at,
    }


class ReferralProjection(Projection):
    schema_sql = SCHEMA_SQL
    tables = ("partners_view", "referrals_view")
    handlers: ClassVar[Mapping[type, Handler]] = {
        Partner.Registered: partner_registered,
        Partner.Updated: partner_changed(lambda e: dict(e["changes"])),
        Partner.CapacitySet: partner_changed(lambda e: {"open_places": e["open_places"]}),
        Partner.Deactivated: partner_changed(lambda e: {"active": False}),
        Partner.Reactivated: partner_changed(lambda e: {"active": True}),
        Referral.Proposed: referral_proposed,
        Referral.Sent: referral_changed(lambda e: {"status": "sent", "sent_at": e.at}),
        Referral.Acknowledged: referral_changed(
            lambda e: {"status": "acknowledged", "acknowledged_at": e.at}
        ),
        Referral.Accepted: referral_changed(_answered("accepted")),
        Referral.Declined: referral_changed(_answered("declined")),
        Referral.OutcomeReported: referral_changed(
            lambda e: {"status": "outcome_reported", "outcome": e["outcome"], "outcome_at": e.at}
        ),
        Referral.Closed: referral_changed(lambda e: {"status": "closed", "closed_at": e.at}),
        Referral.Withdrawn: referral_changed(lambda e: {"status": "withdrawn", "closed_at": e.at}),
        Referral.BecameOverdue: referral_changed(
            lambda e: {"overdue": True, "overdue_since": e["due_on"]}
        ),
        Referral.ConsentRevoked: referral_changed(lambda e: {"consent_revoked": True}),
        Referral.PacketRemoved: referral_changed(
            lambda e: {"packet_removed_at": e.at, "packet_removal_rule": e["rule"]}
        ),
        Referral.ResumptionRecorded: referral_changed(
            lambda e: {"resumes": e["resumes"], "resume_on": e["resume_on"]}
        ),
    }


# -- the directory's queries ---------------------------------------------------------------------
def _row(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out["services"], str):
        out["services"] = json.loads(out["services"])
    out["accepted_categories"] = list(out["accepted_categories"])
    return out


async def search_partners(
    pool: asyncpg.Pool,
    *,
    service: str | None,
    category: str | None,
    language: str | None,
    area: str | None,
    include_inactive: bool,
    page: Page | None = None,
) -> Listed:
    """Partners by name, each with at least one service that meets every filter given.

    `service` matches a service's category exactly or its name in part; `area` matches a
    service's area in part, and a service without an area serves every area.
    """
    where: list[str] = [] if include_inactive else ["active"]
    conditions: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if service is not None:
        p = arg(service)
        conditions.append(
            f"(s->>'category' = lower({p}) OR strpos(lower(s->>'name'), lower({p})) > 0)"
        )
    if category is not None:
        conditions.append(f"s->>'category' = {arg(category)}")
    if language is not None:
        conditions.append(f"s->'languages' ? lower({arg(language)})")
    if area is not None:
        conditions.append(
            f"(s->>'area' IS NULL OR strpos(lower(s->>'area'), lower({arg(area)})) > 0)"
        )
    if conditions:
        where.append(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(services) s WHERE "
            + " AND ".join(conditions)
            + ")"
        )
    async with snapshot(pool) as conn:
        listed = await fetch_page(
            conn,
            select=COLUMNS,
            source="FROM referral.partners_view",
            where=where,
            args=args,
            order=PARTNER_ORDER,
            page=page or Page(),
        )
    listed.rows = [_row(r) for r in listed.rows]
    return listed


# The directory's order: by name (`partners_view_listed`).
PARTNER_ORDER = Order("partners", (Column("lower(name)", "text"), Column("partner_id", "uuid")))


async def partner_row(pool: asyncpg.Pool, partner_id: uuid.UUID) -> dict[str, Any] | None:
    """A partner as the directory holds it (active or not), or None."""
    row = await pool.fetchrow(
        f"SELECT {COLUMNS} FROM referral.partners_view WHERE partner_id = $1", partner_id
    )
    return None if row is None else _row(row)
