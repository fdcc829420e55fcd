"""Planning's read model of its own log (asyncpg): `plans_view`, the organisation's plans.

Its copies of intake's facts (the client's name, the case's career question) are kept by
the read-model consumers in `consumers.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import ClassVar

import asyncpg

from services.planning.domain import Plan
from shared.messaging.projection import Handler, Projection, Stored
from shared.paging import Column, Listed, Order, Page, fetch_page
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
-- Erasing a client deletes its rows by client id: found by index, not by a scan of every
-- client's rows (which grows with the years kept).
CREATE INDEX IF NOT EXISTS plans_view_client ON planning.plans_view (client_id);
-- The case's counsellor (from CaseAccepted); added later, so NULL on older rows.
ALTER TABLE planning.plans_view ADD COLUMN IF NOT EXISTS counsellor text;
-- The case's counsellor after a team lead handed it over (intake's CaseReassigned, kept by
-- the `planning-counsellors` read model): a plan created later is theirs in the list.
CREATE TABLE IF NOT EXISTS planning.case_counsellors (
    case_id uuid PRIMARY KEY,
    counsellor text NOT NULL,
    source_position bigint NOT NULL
);
-- The plan list's order with its id (shared/paging.py: keyset pages and capped counts
-- read an index in order, whatever the history's length), unfiltered, by status, by
-- counsellor. They replace the indexes without the id.
DROP INDEX IF EXISTS planning.plans_view_org;
DROP INDEX IF EXISTS planning.plans_view_counsellor;
CREATE INDEX IF NOT EXISTS plans_view_listed
    ON planning.plans_view (organisation, created_at, plan_id);
CREATE INDEX IF NOT EXISTS plans_view_status
    ON planning.plans_view (organisation, status, created_at, plan_id);
CREATE INDEX IF NOT EXISTS plans_view_carried
    ON planning.plans_view (organisation, counsellor, created_at, plan_id);
"""


async def created(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "INSERT INTO planning.plans_view (plan_id, case_id, client_id, organisation, "
        "status, created_at, updated_at, version, counsellor) "
        "VALUES ($1,$2,$3,$4,'draft',$5,$5,$6,coalesce((SELECT counsellor FROM "
        "planning.case_counsellors WHERE case_id = $2), $7)) ON CONFLICT (plan_id) DO NOTHING",
        e.id,
        e["case_id"],
        e["client_id"],
        e["organisation"],
        e.at,
        e.version,
        e.get("counsellor"),
    )


def updated(sets: str = "", *fields: str) -> Handler:
    """A handler moving the plan's row to the event's version, `sets` changing more
    (`$3`, … are the event's `fields`); an event seen before changes nothing."""

    async def update(conn: asyncpg.Connection, e: Stored) -> None:
        await conn.execute(
            f"UPDATE planning.plans_view SET version = $2, updated_at = now(){sets} "
            "WHERE plan_id = $1 AND version < $2",
            e.id,
            e.version,
            *(e[f] for f in fields),
        )

    return update


class PlanningProjection(Projection):
    """`plans_view`: one row per plan, its status, type and number of goals (no personal
    field, so nothing is opened)."""

    schema_sql = SCHEMA_SQL
    tables = ("plans_view",)
    handlers: ClassVar[Mapping[type, Handler]] = {
        Plan.Created: created,
        Plan.TypeChosen: updated(", plan_type = $3", "plan_type"),
        Plan.GoalAdded: updated(", goals = goals + 1"),
        Plan.Agreed: updated(", status = 'agreed'"),
        Plan.Revised: updated(", status = 'revised'"),
        Plan.Closed: updated(", status = 'closed'"),
        # Every other change of the plan moves its version on.
        Plan.GoalsReprioritised: updated(),
        Plan.ActionAdded: updated(),
        Plan.ActionCompleted: updated(),
        Plan.ActionCancelled: updated(),
        Plan.CompetenceAnalysisRecorded: updated(),
        Plan.EvidenceAdded: updated(),
        Plan.EvidenceWithdrawn: updated(),
        Plan.PortfolioAssessed: updated(),
        Plan.PortfolioStandardChosen: updated(),
        Plan.EvidenceLinked: updated(),
        Plan.PortfolioItemJudged: updated(),
        Plan.CareerQuestionStated: updated(),
        Plan.InsightRecorded: updated(),
        Plan.DecisionRecorded: updated(),
        Plan.SupportNeedsRecorded: updated(),
        Plan.ProductRecorded: updated(),
        Plan.ApplicationStatusChanged: updated(),
        Plan.InstrumentUsed: updated(),
        Plan.InstrumentInterpreted: updated(),
        Plan.PartyAgreed: updated(),
    }


async def list_plans(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    status: str | None,
    page: Page | None = None,
    counsellor: str | None = None,
) -> Listed:
    """The organisation's plans (`plan_id` rows), newest first, with the capped total."""
    where, args = ["organisation = $1"], [organisation]
    if status is not None:
        args.append(status)
        where.append(f"status = ${len(args)}")
    if counsellor is not None:
        args.append(counsellor)
        where.append(f"counsellor = ${len(args)}")
    async with snapshot(pool) as conn:
        return await fetch_page(
            conn,
            select="plan_id",
            source="FROM planning.plans_view",
            where=where,
            args=args,
            order=PLAN_ORDER,
            page=page or Page(),
        )


# The plan list's order: newest first (ties by id, descending too: one index read
# backwards serves it: `plans_view_listed`, `plans_view_status`, `plans_view_carried`).
PLAN_ORDER = Order(
    "plans", (Column("created_at", "timestamptz", True), Column("plan_id", "uuid", True))
)


async def handed_over(pool: asyncpg.Pool, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The counsellor each of these cases was handed to (intake's `CaseReassigned`, the
    latest); a case never handed over is absent."""
    if not case_ids:
        return {}
    rows = await pool.fetch(
        "SELECT case_id, counsellor FROM planning.case_counsellors WHERE case_id = ANY($1)",
        case_ids,
    )
    return {uuid.UUID(str(r["case_id"])): str(r["counsellor"]) for r in rows}
