"""What follow-up's routes answer, built from a follow-up."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from services.followup.api.schemas import Changed, CheckInOut, Created, FollowUpOut
from services.followup.domain import FollowUp


def closure(f: FollowUp) -> dict[str, Any]:
    """When, why and by which command the follow-up closed (all None while open)."""
    closed = f.closed if f.status == "closed" else None
    return {
        "closed_at": closed and closed["at"],
        "closure_reason": closed and closed["reason"],
        "closed_by": closed and closed["closed_by"],
    }


def changed(f: FollowUp) -> Changed:
    """What a command answers: the follow-up's version and status now."""
    now = closure(f)
    return Changed(
        version=f.version,
        status=f.status,
        closed_by=now["closed_by"],
        closure_reason=now["closure_reason"],
    )


def created(f: FollowUp, id: uuid.UUID) -> Created:
    """What a command that recorded something answers: its id, and as `changed`."""
    return Created(id=id, **changed(f).model_dump())


def followup_out(f: FollowUp) -> FollowUpOut:
    return FollowUpOut(
        followup_id=f.id,
        case_id=f.case_id,
        client_id=f.client_id,
        organisation=f.organisation,
        counsellor=f.counsellor,
        status=f.status,
        plan_version=f.plan_version,
        plan_status=f.plan_status,
        checkins=[
            CheckInOut(**{k: getattr(c, k) for k in CheckInOut.model_fields}) for c in f.checkins
        ],
        actions=list(f.actions.values()),
        action_checks=[asdict(c) for c in f.action_checks.values()],
        contacts=[asdict(c) for c in f.contacts],
        bottlenecks=[asdict(b) for b in f.bottlenecks.values()],
        todos=list(f.todos.values()),
        outcome=f.outcome,
        feedback=f.feedback,
        closed=f.closed,
        **closure(f),
        version=f.version,
    )
