"""Intake's read models (asyncpg): the organisation's clients and cases.

Fed by the service's own notification log; the rows and the position commit in one
transaction. Plaintext personal data lives only here (and is dropped on erasure).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from eventsourcing.persistence import Notification

from services.intake.domain import COMPETENCES, GAP_SCORES, Case, Client
from shared.messaging.follower import LogFollower
from shared.runtime import snapshot

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS intake.clients_view (
    client_id uuid PRIMARY KEY,
    organisation text NOT NULL,
    given_name text, family_name text, birth_date date, email text, phone text,
    preferred_language text,
    registered_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS clients_view_org ON intake.clients_view (organisation, registered_at);
CREATE TABLE IF NOT EXISTS intake.cases_view (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    status text NOT NULL,
    phase text NOT NULL,
    hours_budget double precision NOT NULL,
    minutes_used int NOT NULL DEFAULT 0,
    scores jsonb NOT NULL DEFAULT '{}',
    gaps text[] NOT NULL DEFAULT '{}',
    opened_by text NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_view_org ON intake.cases_view (organisation, opened_at, case_id);
CREATE INDEX IF NOT EXISTS cases_view_client ON intake.cases_view (client_id);
"""


class IntakeProjection(LogFollower):
    name = "projection"

    async def setup(self, conn: asyncpg.Connection) -> None:
        await conn.execute(SCHEMA_SQL)

    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        # Opening sealed fields may read the key vault: keep it off the event loop.
        events = await asyncio.to_thread(
            lambda: [self.app.mapper.to_domain_event(n) for n in batch]
        )
        async with conn.transaction():
            for event in events:
                await apply(conn, event)
            await self.save_position(conn, batch[-1].id)


async def apply(conn: asyncpg.Connection, e: Any) -> None:
    version = e.originator_version
    if isinstance(e, Client.Registered):
        await conn.execute(
            "INSERT INTO intake.clients_view (client_id, organisation, given_name, family_name, "
            "birth_date, email, phone, preferred_language, registered_at, version) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (client_id) DO NOTHING",
            e.originator_id,
            e.organisation,
            e.given_name,
            e.family_name,
            e.birth_date if not isinstance(e.birth_date, str) else None,
            e.email,
            e.phone,
            e.preferred_language,
            e.timestamp,
            version,
        )
    elif isinstance(e, Client.ConsentGranted | Client.ConsentWithdrawn):
        await conn.execute(
            "UPDATE intake.clients_view SET version = $2 WHERE client_id = $1",
            e.originator_id,
            version,
        )
    elif isinstance(e, Case.Opened):
        await conn.execute(
            "INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase, "
            "hours_budget, opened_by, opened_at, updated_at, version) "
            "VALUES ($1,$2,$3,'open','intake',$4,$5,$6,$6,$7) ON CONFLICT (case_id) DO NOTHING",
            e.originator_id,
            e.client_id,
            e.organisation,
            e.hours_budget,
            e.actor,
            e.timestamp,
            version,
        )
    elif isinstance(e, Case.AssessmentRecorded):
        scores = await conn.fetchval(
            "SELECT scores FROM intake.cases_view WHERE case_id = $1", e.originator_id
        )
        latest = _json(scores)
        latest[e.assessor] = e.scores
        await _update_case(conn, e, "scores = $3::jsonb, gaps = $4", _dumps(latest), _gaps(latest))
    elif isinstance(e, Case.SessionHeld):
        await _update_case(conn, e, "minutes_used = minutes_used + $3", e.minutes)
    elif isinstance(e, Case.Accepted):
        await _update_case(conn, e, "status = 'accepted', phase = 'deepening'")
    elif isinstance(e, Case.ReferredOut):
        await _update_case(conn, e, "status = 'referred_out', phase = 'closed'")
    elif isinstance(e, Case.Declined):
        await _update_case(conn, e, "status = 'declined', phase = 'closed'")
    elif isinstance(e, Case.Closed):
        await _update_case(conn, e, "status = 'closed', phase = 'closed'")
    elif isinstance(e, Case.Reopened):
        await _update_case(conn, e, "status = 'accepted', phase = 'aftercare'")
    elif isinstance(e, Case.PhaseChanged):
        await _update_case(conn, e, "phase = $3", e.phase)
    elif isinstance(e, Case.Event):
        await _update_case(conn, e, "")


async def _update_case(conn: asyncpg.Connection, e: Any, sets: str, *args: Any) -> None:
    extra = f", {sets}" if sets else ""
    await conn.execute(
        f"UPDATE intake.cases_view SET version = $2, updated_at = now(){extra} "
        "WHERE case_id = $1 AND version < $2",
        e.originator_id,
        e.originator_version,
        *args,
    )


def _gaps(latest: dict[str, dict[str, int]]) -> list[str]:
    return [c for c in COMPETENCES if any(v.get(c) in GAP_SCORES for v in latest.values())]


def _json(value: Any) -> dict[str, Any]:
    import json

    if value is None:
        return {}
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value)


# -- queries ------------------------------------------------------------------------------
CASE_COLUMNS = (
    "case_id, client_id, organisation, status, phase, hours_budget, minutes_used, gaps, "
    "scores, opened_by, opened_at, updated_at, version"
)


async def list_cases(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    status: str | None = None,
    phase: str | None = None,
    client_id: uuid.UUID | None = None,
    opened_after: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The organisation's cases, newest first, with the total for pagination."""
    where = ["organisation = $1"]
    args: list[Any] = [organisation]
    for column, value in (("status", status), ("phase", phase), ("client_id", client_id)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if opened_after is not None:
        args.append(opened_after)
        where.append(f"opened_at >= ${len(args)}")
    clause = " AND ".join(where)
    async with snapshot(pool) as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM intake.cases_view WHERE {clause}", *args)
        rows = await conn.fetch(
            f"SELECT {CASE_COLUMNS} FROM intake.cases_view WHERE {clause} "
            f"ORDER BY opened_at DESC, case_id LIMIT {int(limit)} OFFSET {int(offset)}",
            *args,
        )
    return [_case_row(r) for r in rows], int(total)


def _case_row(r: asyncpg.Record) -> dict[str, Any]:
    row = dict(r)
    row["hours_used"] = round(row.pop("minutes_used") / 60, 2)
    row["gaps"] = list(row["gaps"])
    row["scores"] = _json(row["scores"])
    return row
