"""Planning's read model of its own log (asyncpg): `plans_view`, the organisation's plans.

Its copies of intake's facts (the client's name, the case's career question) are kept by
the read-model consumers in `consumers.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from services.planning.domain import Plan
from shared.messaging.follower import LogFollower
from shared.runtime import snapshot

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS planning.plans_view (
    plan_id uuid PRIMARY KEY,
    case_id uuid NOT NULL UNIQUE,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    status text NOT NULL,
    plan_type text,
    goals int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_view_org ON planning.plans_view (organisation, created_at);
-- The case's counsellor (from CaseAccepted); added later, so NULL on older rows.
ALTER TABLE planning.plans_view ADD COLUMN IF NOT EXISTS counsellor text;
CREATE INDEX IF NOT EXISTS plans_view_counsellor
    ON planning.plans_view (organisation, counsellor, created_at);
"""


class PlanningProjection(LogFollower):
    name = "projection"

    async def setup(self, conn: asyncpg.Connection) -> None:
        await conn.execute(SCHEMA_SQL)

    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        # Only non-personal facts go into this view: no need to open sealed fields.
        async with conn.transaction():
            for n in batch:
                cls = resolve_topic(n.topic)
                state = self.app.sealing.decode_state(n)
                await apply(conn, cls, n, state)
            await self.save_position(conn, batch[-1].id)


async def apply(conn: asyncpg.Connection, cls: type, n: Notification, s: dict[str, Any]) -> None:
    version = n.originator_version
    if cls is Plan.Created:
        await conn.execute(
            "INSERT INTO planning.plans_view (plan_id, case_id, client_id, organisation, "
            "status, created_at, updated_at, version, counsellor) "
            "VALUES ($1,$2,$3,$4,'draft',$5,$5,$6,$7) ON CONFLICT (plan_id) DO NOTHING",
            n.originator_id,
            s["case_id"],
            s["client_id"],
            s["organisation"],
            s["timestamp"],
            version,
            s.get("counsellor"),
        )
        return
    sets = ""
    args: list[Any] = []
    if cls is Plan.TypeChosen:
        sets, args = ", plan_type = $3", [s["plan_type"]]
    elif cls is Plan.GoalAdded:
        sets = ", goals = goals + 1"
    elif cls is Plan.Agreed:
        sets = ", status = 'agreed'"
    elif cls is Plan.Revised:
        sets = ", status = 'revised'"
    elif cls is Plan.Closed:
        sets = ", status = 'closed'"
    await conn.execute(
        f"UPDATE planning.plans_view SET version = $2, updated_at = now(){sets} "
        "WHERE plan_id = $1 AND version < $2",
        n.originator_id,
        version,
        *args,
    )


async def list_plans(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    status: str | None,
    limit: int,
    offset: int,
    counsellor: str | None = None,
) -> tuple[list[uuid.UUID], int]:
    where, args = "organisation = $1", [organisation]
    if status is not None:
        args.append(status)
        where += f" AND status = ${len(args)}"
    if counsellor is not None:
        args.append(counsellor)
        where += f" AND counsellor = ${len(args)}"
    async with snapshot(pool) as conn:
        total = await conn.fetchval(
            f"SELECT count(*) FROM planning.plans_view WHERE {where}", *args
        )
        rows = await conn.fetch(
            f"SELECT plan_id FROM planning.plans_view WHERE {where} "
            f"ORDER BY created_at DESC, plan_id LIMIT {int(limit)} OFFSET {int(offset)}",
            *args,
        )
    return [r["plan_id"] for r in rows], int(total)
