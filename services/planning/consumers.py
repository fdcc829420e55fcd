"""Planning's reactions to other services' events, registered by contract class.

- intake's `CaseAccepted` creates the case's draft plan (`planning-case-accepted`);
- follow-up's `ToDoAgreed` adds the agreed to-do to the plan (`planning-todos`);
- intake's `ClientRegistered` and `CaseOpened` keep planning's copies of the client's
  name and language (`planning-clients`) and of the case's career question
  (`planning-cases`), sealed as published: opened only to print the client's plan;
- intake's `CaseReassigned` moves the case's plan to the new counsellor in the plans'
  list (`planning-counsellors`; the newer handover wins, also for a plan created after).

The durable names are the consumers' positions in NATS: never renamed.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from services.planning.application import PlanningApplication
from services.planning.domain import Plan, PlanningError, plan_id_for
from shared.contracts import as_published
from shared.contracts.followup import ToDoAgreedV1
from shared.contracts.intake import (
    CaseAcceptedV1,
    CaseOpenedV1,
    CaseReassignedV1,
    ClientRegisteredV1,
)
from shared.messaging.envelope import CloudEvent
from shared.messaging.reactions import Reactions, ReadModel

log = logging.getLogger(__name__)


# -- reactions: new events of planning ---------------------------------------------------------
def on_case_accepted(
    app: PlanningApplication, accepted: CaseAcceptedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    """Create the case's draft plan (once: its id follows from the case's)."""
    try:
        app.repository.get(plan_id_for(accepted.case_id))
    except AggregateNotFoundError:
        pass
    else:
        return []
    return [
        Plan.create(
            case_id=accepted.case_id,
            client_id=accepted.client_id,
            organisation=accepted.organisation,
            gaps=list(accepted.gaps),
            scores=accepted.model_dump()["scores"],
            actor=accepted.actor,
            at=app.clock(),
            counsellor=accepted.counsellor,
        )
    ]


def on_todo_agreed(
    app: PlanningApplication, todo: ToDoAgreedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    """Add a to-do agreed in aftercare to the plan (its action id follows from the
    to-do's, so a redelivery adds nothing); the agreed plan becomes `revised`."""
    try:
        plan: object = app.repository.get(plan_id_for(todo.case_id))
    except AggregateNotFoundError:
        return []
    if not isinstance(plan, Plan):
        return []
    try:
        added = plan.add_action(
            action_id=todo.action_id,
            goal_id=todo.goal_id,
            description=str(app.sealing.open_published(todo.description, event.id, "description")),
            owner=todo.owner,
            due_date=todo.due_date,
            actor=todo.actor,
            at=app.clock(),
        )
    except PlanningError as e:
        # The to-do does not fit the plan (a closed plan, an unknown goal, a date
        # after the goal's): it stays with the follow-up; retrying cannot help.
        log.warning("to-do %s not added to plan %s: %s", todo.todo_id, plan.id, e)
        return []
    return [plan] if added else []


# -- read models: planning's copies of intake's facts -----------------------------------------
COPIES_SQL = """
CREATE TABLE IF NOT EXISTS planning.clients_view (
    client_id uuid PRIMARY KEY,
    organisation text NOT NULL,
    preferred_language text,
    event_id uuid NOT NULL,
    given_name jsonb,
    family_name jsonb
);
CREATE TABLE IF NOT EXISTS planning.cases_view (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    event_id uuid NOT NULL,
    career_question jsonb
);
-- Erasing a client deletes its rows by client id: found by index, not by a scan of every
-- client's rows (which grows with the years kept).
CREATE INDEX IF NOT EXISTS cases_view_client ON planning.cases_view (client_id);
"""


async def on_client_registered(
    conn: asyncpg.Connection, client: ClientRegisteredV1, event: CloudEvent
) -> None:
    await conn.execute(
        "INSERT INTO planning.clients_view (client_id, organisation, preferred_language, "
        "event_id, given_name, family_name) VALUES ($1,$2,$3,$4,$5::jsonb,$6::jsonb) "
        "ON CONFLICT (client_id) DO NOTHING",
        client.client_id,
        client.organisation,
        client.preferred_language,
        event.id,
        json.dumps(as_published(client.given_name)),
        json.dumps(as_published(client.family_name)),
    )


async def on_case_opened(conn: asyncpg.Connection, case: CaseOpenedV1, event: CloudEvent) -> None:
    await conn.execute(
        "INSERT INTO planning.cases_view (case_id, client_id, event_id, career_question) "
        "VALUES ($1,$2,$3,$4::jsonb) ON CONFLICT (case_id) DO NOTHING",
        case.case_id,
        case.client_id,
        event.id,
        json.dumps(as_published(case.career_question)),
    )


async def case_record(pool: asyncpg.Pool, case_id: uuid.UUID) -> dict[str, Any] | None:
    """The case's sealed career question and the event it came with (None: not yet known)."""
    row = await pool.fetchrow(
        "SELECT event_id, career_question FROM planning.cases_view WHERE case_id = $1", case_id
    )
    if row is None:
        return None
    value = row["career_question"]
    return {
        "event_id": row["event_id"],
        "career_question": json.loads(value) if isinstance(value, str) else value,
    }


async def client_record(pool: asyncpg.Pool, client_id: uuid.UUID) -> dict[str, Any] | None:
    """Planning's copy of the client: language, sealed names and the event they came with."""
    row = await pool.fetchrow(
        "SELECT client_id, preferred_language, event_id, given_name, family_name "
        "FROM planning.clients_view WHERE client_id = $1",
        client_id,
    )
    if row is None:
        return None
    out = dict(row)
    for key in ("given_name", "family_name"):
        value = out[key]
        out[key] = json.loads(value) if isinstance(value, str) else value
    return out


CASE_COUNSELLORS_SQL = """
CREATE TABLE IF NOT EXISTS planning.case_counsellors (
    case_id uuid PRIMARY KEY,
    counsellor text NOT NULL,
    source_position bigint NOT NULL
);
"""


async def on_case_reassigned(
    conn: asyncpg.Connection, reassigned: CaseReassignedV1, event: CloudEvent
) -> None:
    """The case's plan is the new counsellor's in the list (older news changes nothing)."""
    kept = await conn.fetchval(
        "INSERT INTO planning.case_counsellors VALUES ($1, $2, $3) ON CONFLICT (case_id) "
        "DO UPDATE SET counsellor = EXCLUDED.counsellor, "
        "source_position = EXCLUDED.source_position "
        "WHERE planning.case_counsellors.source_position < EXCLUDED.source_position "
        "RETURNING case_id",
        reassigned.case_id,
        reassigned.counsellor,
        event.position or 0,
    )
    if kept is not None:
        await conn.execute(
            "UPDATE planning.plans_view SET counsellor = $2 WHERE case_id = $1",
            reassigned.case_id,
            reassigned.counsellor,
        )


REACTIONS = (
    Reactions("planning-case-accepted", {CaseAcceptedV1: on_case_accepted}),
    Reactions("planning-todos", {ToDoAgreedV1: on_todo_agreed}),
)
READ_MODELS = (
    ReadModel("planning-clients", {ClientRegisteredV1: on_client_registered}, COPIES_SQL),
    # The career question, printed on the client's plan.
    ReadModel("planning-cases", {CaseOpenedV1: on_case_opened}, COPIES_SQL),
    ReadModel("planning-counsellors", {CaseReassignedV1: on_case_reassigned}, CASE_COUNSELLORS_SQL),
)
