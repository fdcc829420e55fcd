"""Intake's reactions to other services' events: the case's phase follows its plan, and
the case shows whether guidance resumes after a referral."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from services.intake.application import IntakeApplication
from services.intake.domain import Case
from shared.messaging.envelope import CloudEvent

# Planning's event → the case's phase (the plan has goals: synthesis; agreed: aftercare).
PLAN_PHASE = {
    "GoalAdded": "synthesis",
    "PlanRevised": "synthesis",
    "PlanAgreed": "aftercare",
}


def phase_follows_plan(app: IntakeApplication, event: CloudEvent) -> Sequence[Aggregate]:
    try:
        case: object = app.repository.get(uuid.UUID(event.data["case_id"]))
    except AggregateNotFoundError:
        return []
    if not isinstance(case, Case):
        return []
    changed = case.follow_plan(
        phase=PLAN_PHASE[event.event_type],
        cause=f"planning.{event.event_type}",
        source_position=event.position or 0,
        at=app.clock(),
    )
    return [case] if changed else []


def resumption_noted(app: IntakeApplication, event: CloudEvent) -> Sequence[Aggregate]:
    """Referral's GuidanceResumed: the case shows whether and when guidance resumes."""
    d = event.data
    try:
        case: object = app.repository.get(uuid.UUID(d["case_id"]))
    except AggregateNotFoundError:
        return []
    if not isinstance(case, Case):
        return []
    resume_on = d.get("resume_on")
    changed = case.note_resumption(
        referral_id=uuid.UUID(d["referral_id"]),
        resumes=bool(d["resumes"]),
        resume_on=None if resume_on is None else date.fromisoformat(resume_on),
        source_position=event.position or 0,
        at=app.clock(),
    )
    return [case] if changed else []
