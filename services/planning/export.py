"""Planning's part of a client's export: the plans of the client's cases, each with its
goals and actions, analysis, portfolio, career question, insights, decisions, support
needs, the actions' products (CVs, applications and their answers), the instruments used
(results, interpretation), agreements, every
agreed version, and the history of every change; personal fields opened (ERASED where
the key is gone)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from starlette.concurrency import run_in_threadpool

from services.planning.application import PlanningApplication
from services.planning.consumers import client_record
from services.planning.domain import Plan
from shared.messaging.follower import LogFollower
from shared.privacy.export import jsonable
from shared.privacy.gathering import event_history, read_models_current


def plan_part(app: PlanningApplication, p: Plan) -> dict[str, Any]:
    return {
        "plan_id": p.id,
        "case_id": p.case_id,
        "organisation": p.organisation,
        "status": p.status,
        "plan_type": p.plan_type,
        "revision": p.revision,
        "suggested_focus": p.suggested_focus,
        "goals": p.ranked_goals(),
        "competence_analysis": p.competence_analysis_dict(),
        "portfolio": p.portfolio.as_dict(),
        "career_question": p.career_question,
        "insights": p.insights_list(),
        "decisions": p.decisions_list(),
        "support_needs": p.support_needs_dict(),
        "products": p.products_list(),
        "instruments": p.instruments_list(),
        "agreements": p.agreements_dict(),
        "agreed_versions": p.agreed_in_order(),
        "closed": p.closed_dict(),
        "created_at": p.created_on,
        "created_by": p.created_by,
        "updated_at": p.modified_on,
        "version": p.version,
        "history": event_history(app, p.id),
    }


def _plans(app: PlanningApplication, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    out = []
    for plan_id in ids:
        plan: object = app.repository.get(plan_id)
        if isinstance(plan, Plan):
            out.append(plan_part(app, plan))
    return out


def client_part(app: PlanningApplication, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """Planning's copy of the client (from intake's ClientRegistered), names opened."""
    if record is None:
        return None
    out: dict[str, Any] = {"preferred_language": record["preferred_language"]}
    for field in ("given_name", "family_name"):
        sealed = record.get(field)
        value: Any = sealed
        if isinstance(sealed, dict):
            value = app.sealing.open_field(sealed, record["event_id"], field)
        out[field] = value
    return out


async def gather(
    app: PlanningApplication,
    pool: asyncpg.Pool,
    client_id: uuid.UUID,
    projection: LogFollower | None = None,
) -> dict[str, Any]:
    """Everything planning holds about the client."""
    await read_models_current(app, pool, projection, app.settings.export_timeout_seconds / 2)
    rows = await pool.fetch(
        "SELECT plan_id FROM planning.plans_view WHERE client_id = $1 ORDER BY created_at, plan_id",
        client_id,
    )
    plans = await run_in_threadpool(_plans, app, [r["plan_id"] for r in rows])
    record = await client_record(pool, client_id)
    client = await run_in_threadpool(client_part, app, record)
    out: dict[str, Any] = jsonable({"client": client, "plans": plans})
    return out
