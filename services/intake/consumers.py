"""Intake's reactions to other services' events: the case's phase follows its plan, the
case shows whether guidance resumes after a referral, and the case closes when follow-up
closes its aftercare (and is accepted again when the client asks for aftercare)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from services.intake.application import IntakeApplication
from services.intake.domain import Case
from shared.contracts.followup import CLOSURE_REASONS
from shared.messaging.envelope import CloudEvent
from shared.privacy.sealing import is_sealed, open_sealed

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


def _case(app: IntakeApplication, event: CloudEvent) -> Case | None:
    try:
        case: object = app.repository.get(uuid.UUID(event.data["case_id"]))
    except AggregateNotFoundError:
        return None
    return case if isinstance(case, Case) else None


def _closure_reason(app: IntakeApplication, event: CloudEvent) -> str:
    """The closure's reason code, opened with the client's key; anything else (an erased
    client, the free text of a closure from before reasons were codes) reads "other", so
    nothing personal lands on the case."""
    sealed = event.data.get("reason")
    if not isinstance(sealed, dict) or not is_sealed(sealed):
        return "other"
    plain = open_sealed(app.vault, sealed, event.id, "reason")
    if plain is None:
        return "other"
    reason = app.sealing.transcoder.decode(plain)["v"]
    return reason if reason in CLOSURE_REASONS else "other"


def case_follows_followup(app: IntakeApplication, event: CloudEvent) -> Sequence[Aggregate]:
    """Follow-up's FollowUpClosed closes the case; AftercareRequested that reopened the
    follow-up accepts it again. Older news (a lower position) changes nothing."""
    case = _case(app, event)
    if case is None:
        return []
    d, position, at = event.data, event.position or 0, app.clock()
    if event.event_type == "FollowUpClosed":
        changed = case.note_followup_closed(
            followup_id=uuid.UUID(d["followup_id"]),
            reason=_closure_reason(app, event),
            rule=d["rule"],
            closed_by=d.get("closed_by"),
            closed_at=datetime.fromisoformat(d["occurred_at"]),
            source_position=position,
            at=at,
        )
    else:  # AftercareRequested
        changed = bool(d.get("reopened")) and case.note_followup_reopened(
            followup_id=uuid.UUID(d["followup_id"]), source_position=position, at=at
        )
    return [case] if changed else []


FOLLOWUP_CLOSURE = ("FollowUpClosed", "AftercareRequested")
