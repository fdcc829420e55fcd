"""Follow-up's part of a client's export: the aftercare of the client's cases (check-ins,
contacts, action checks, bottlenecks, to-dos, outcome, feedback); personal fields opened
(ERASED where the client's key is gone)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import asyncpg
from starlette.concurrency import run_in_threadpool

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from shared.messaging.follower import LogFollower
from shared.privacy.export import jsonable
from shared.privacy.gathering import load_all, read_models_current


def followup_part(f: FollowUp) -> dict[str, Any]:
    return {
        "followup_id": f.id,
        "case_id": f.case_id,
        "organisation": f.organisation,
        "counsellor": f.counsellor,
        "status": f.status,
        "agreed_on": f.agreed_on,
        "plan_version": f.plan_version,
        "plan_status": f.plan_status,
        "checkins": [asdict(c) for c in f.checkins],
        "contacts": [asdict(c) for c in f.contacts],
        "actions": list(f.actions.values()),
        "action_checks": [asdict(c) for c in f.action_checks.values()],
        "bottlenecks": [asdict(b) for b in f.bottlenecks.values()],
        "todos": list(f.todos.values()),
        "outcome": f.outcome,
        "feedback": f.feedback,
        "closed": f.closed,
        "closures": f.closures,
        "opened_at": f.created_on,
        "updated_at": f.modified_on,
        "version": f.version,
    }


async def gather(
    app: FollowUpApplication,
    pool: asyncpg.Pool,
    client_id: uuid.UUID,
    projection: LogFollower | None = None,
) -> dict[str, Any]:
    """Everything follow-up holds about the client."""
    await read_models_current(app, pool, projection, app.settings.export_timeout_seconds / 2)
    rows = await pool.fetch(
        "SELECT followup_id FROM followup.followups_view WHERE client_id = $1 ORDER BY followup_id",
        client_id,
    )
    found = await run_in_threadpool(load_all, app, [r["followup_id"] for r in rows])
    followups = [followup_part(f) for f in found if isinstance(f, FollowUp)]
    out: dict[str, Any] = jsonable({"followups": followups})
    return out
