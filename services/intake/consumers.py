"""Intake's reactions to other services' events, registered by contract class:

- the case's phase follows its plan (planning);
- the case shows whether guidance resumes after a referral (referral);
- the case closes when follow-up closes its aftercare, and is accepted again when the
  client asks for aftercare (follow-up);
- a check-in of aftercare done counts `aftercare_checkin_minutes` against the case's
  hours budget (follow-up);
- each service's confirmation of an erasure lands on the client's erasure record;
- the closures read model: what follow-up says of a case's end, for retention (`jobs.py`);
- the outcomes read model: follow-up's outcome and the client's satisfaction score per
  case, for the report to the funder (`projections.funder_cases`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from services.intake.application import IntakeApplication
from services.intake.domain import Case
from shared.contracts.followup import (
    CLOSURE_REASONS,
    AftercareRequestedV1,
    CheckInDoneV1,
    FeedbackGivenV1,
    FollowUpClosedV1,
    OutcomeRecordedV1,
)
from shared.contracts.planning import GoalAddedV1, PlanAgreedV1, PlanRevisedV1
from shared.contracts.privacy import CONFIRMED
from shared.contracts.referral import GuidanceResumedV1
from shared.messaging.envelope import CloudEvent
from shared.messaging.reactions import Reaction, Reactions, ReadModel


def _case(app: IntakeApplication, case_id: uuid.UUID) -> Case | None:
    try:
        case: object = app.repository.get(case_id)
    except AggregateNotFoundError:
        return None
    return case if isinstance(case, Case) else None


# -- planning: the case's phase follows its plan (goals: synthesis; agreed: aftercare) ---------
def _phase(phase: str) -> Reaction:
    def follow(
        app: IntakeApplication, plan: GoalAddedV1 | PlanRevisedV1 | PlanAgreedV1, event: CloudEvent
    ) -> Sequence[Aggregate]:
        case = _case(app, plan.case_id)
        if case is None:
            return []
        changed = case.follow_plan(
            phase=phase,
            cause=f"planning.{plan.event_type}",
            source_position=event.position or 0,
            at=app.clock(),
        )
        return [case] if changed else []

    return follow


PLAN_PHASE = Reactions(
    "intake-plan-phase",
    {
        GoalAddedV1: _phase("synthesis"),
        PlanRevisedV1: _phase("synthesis"),
        PlanAgreedV1: _phase("aftercare"),
    },
)


# -- referral: whether and when guidance resumes ------------------------------------------------
def resumption_noted(
    app: IntakeApplication, resumed: GuidanceResumedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    case = _case(app, resumed.case_id)
    if case is None:
        return []
    changed = case.note_resumption(
        referral_id=resumed.referral_id,
        resumes=resumed.resumes,
        resume_on=resumed.resume_on,
        source_position=event.position or 0,
        at=app.clock(),
    )
    return [case] if changed else []


RESUMPTION = Reactions("intake-resumption", {GuidanceResumedV1: resumption_noted})


# -- follow-up: the case closes with its aftercare, and is accepted again ----------------------
def _closure_reason(app: IntakeApplication, closed: FollowUpClosedV1, event: CloudEvent) -> str:
    """The closure's reason code, opened with the client's key; anything else (an erased
    client, the free text of a closure from before reasons were codes) reads "other", so
    nothing personal lands on the case."""
    reason = app.sealing.open_published(closed.reason, event.id, "reason")
    return reason if reason in CLOSURE_REASONS else "other"


def case_closed(
    app: IntakeApplication, closed: FollowUpClosedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    """Older news (a lower position) changes nothing."""
    case = _case(app, closed.case_id)
    if case is None:
        return []
    changed = case.note_followup_closed(
        followup_id=closed.followup_id,
        reason=_closure_reason(app, closed, event),
        rule=closed.rule,
        closed_by=closed.closed_by,
        closed_at=closed.occurred_at,
        source_position=event.position or 0,
        at=app.clock(),
    )
    return [case] if changed else []


def case_reopened(
    app: IntakeApplication, requested: AftercareRequestedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    """Aftercare requested that reopened the follow-up accepts the case again."""
    case = _case(app, requested.case_id)
    if case is None or not requested.reopened:
        return []
    changed = case.note_followup_reopened(
        followup_id=requested.followup_id, source_position=event.position or 0, at=app.clock()
    )
    return [case] if changed else []


CASE_CLOSURE = Reactions(
    "intake-case-closure", {FollowUpClosedV1: case_closed, AftercareRequestedV1: case_reopened}
)


# -- follow-up: an aftercare check-in done counts against the hours budget ---------------------
def checkin_counted(
    app: IntakeApplication, done: CheckInDoneV1, event: CloudEvent
) -> Sequence[Aggregate]:
    """Each check-in once, at the agency's fixed duration (`aftercare_checkin_minutes`:
    follow-up does not record how long a check-in took)."""
    case = _case(app, done.case_id)
    if case is None:
        return []
    changed = case.count_aftercare_contact(
        contact_id=done.checkin_id,
        minutes=app.settings.aftercare_checkin_minutes,
        source_position=event.position or 0,
        at=app.clock(),
    )
    return [case] if changed else []


AFTERCARE_HOURS = Reactions("intake-aftercare-hours", {CheckInDoneV1: checkin_counted})


# -- every service's erasure confirmation, onto the client's erasure record --------------------
class _Confirmation(Protocol):
    client_id: uuid.UUID


def _confirmation(source: str) -> Reaction:
    def confirmed(
        app: IntakeApplication, confirmation: _Confirmation, _: CloudEvent
    ) -> Sequence[Aggregate]:
        return app.confirm_erasure(source, confirmation.client_id)

    return confirmed


CONFIRMATIONS = tuple(
    Reactions(f"intake-erasure-{source}", {contract: _confirmation(source)})
    for source, contract in CONFIRMED.items()
)

REACTIONS = (PLAN_PHASE, RESUMPTION, CASE_CLOSURE, AFTERCARE_HOURS, *CONFIRMATIONS)


# -- the closures read model: what follow-up says of a case's end ------------------------------
CLOSURES_SQL = """
CREATE TABLE IF NOT EXISTS intake.case_closures (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    closed_at timestamptz,
    source_position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS case_closures_client ON intake.case_closures (client_id);
"""


async def _closure(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    client_id: uuid.UUID,
    event: CloudEvent,
    closed: bool,
) -> None:
    await conn.execute(
        "INSERT INTO intake.case_closures (case_id, client_id, closed_at, source_position) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO UPDATE SET "
        "closed_at = EXCLUDED.closed_at, source_position = EXCLUDED.source_position "
        "WHERE intake.case_closures.source_position < EXCLUDED.source_position",
        case_id,
        client_id,
        event.time if closed else None,
        event.position or 0,
    )


async def on_followup_closed(
    conn: asyncpg.Connection, closed: FollowUpClosedV1, event: CloudEvent
) -> None:
    await _closure(conn, closed.case_id, closed.client_id, event, True)


async def on_aftercare_requested(
    conn: asyncpg.Connection, requested: AftercareRequestedV1, event: CloudEvent
) -> None:
    await _closure(conn, requested.case_id, requested.client_id, event, False)


CLOSURES = ReadModel(
    "intake-closures",
    {FollowUpClosedV1: on_followup_closed, AftercareRequestedV1: on_aftercare_requested},
    schema_sql=CLOSURES_SQL,
)


# -- the outcomes read model: what came of a case, for the report to the funder -----------------
OUTCOMES_SQL = """
CREATE TABLE IF NOT EXISTS intake.case_outcomes (
    case_id uuid PRIMARY KEY,
    outcome text,
    outcome_on date,
    outcome_position bigint NOT NULL DEFAULT 0,
    satisfaction int,
    feedback_position bigint NOT NULL DEFAULT 0
);
"""


async def on_outcome_recorded(
    conn: asyncpg.Connection, recorded: OutcomeRecordedV1, event: CloudEvent
) -> None:
    """The latest outcome of the case (a code and its day: nothing personal)."""
    await conn.execute(
        "INSERT INTO intake.case_outcomes (case_id, outcome, outcome_on, outcome_position) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO UPDATE SET "
        "outcome = EXCLUDED.outcome, outcome_on = EXCLUDED.outcome_on, "
        "outcome_position = EXCLUDED.outcome_position "
        "WHERE intake.case_outcomes.outcome_position < EXCLUDED.outcome_position",
        recorded.case_id,
        recorded.outcome,
        recorded.on,
        event.position or 0,
    )


async def on_feedback_given(
    conn: asyncpg.Connection, given: FeedbackGivenV1, event: CloudEvent
) -> None:
    """The client's latest satisfaction score (1 to 5; the comments are not kept)."""
    await conn.execute(
        "INSERT INTO intake.case_outcomes (case_id, satisfaction, feedback_position) "
        "VALUES ($1, $2, $3) ON CONFLICT (case_id) DO UPDATE SET "
        "satisfaction = EXCLUDED.satisfaction, feedback_position = EXCLUDED.feedback_position "
        "WHERE intake.case_outcomes.feedback_position < EXCLUDED.feedback_position",
        given.case_id,
        given.satisfaction,
        event.position or 0,
    )


FUNDER_OUTCOMES = ReadModel(
    "intake-funder-outcomes",
    {OutcomeRecordedV1: on_outcome_recorded, FeedbackGivenV1: on_feedback_given},
    schema_sql=OUTCOMES_SQL,
)
READ_MODELS = (CLOSURES, FUNDER_OUTCOMES)
