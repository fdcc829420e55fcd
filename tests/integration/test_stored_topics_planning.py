"""A planning store written before the plan moved into `services/planning/domain/plan.py`
(its events stored under the topics `services.planning.domain:Plan.<Event>`) still loads
its plans, and the projection replays it from the start to the same rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import psycopg
import pytest

from services.planning.application import PlanningApplication
from services.planning.domain import Plan, SmartPolicy
from services.planning.projections import PlanningProjection
from shared.audit.queries import events_table
from shared.runtime import key_vault
from shared.settings import Settings
from tests.conftest import fresh_database

OLD = "services.planning.domain:"
NEW = "services.planning.domain.plan:"
AT = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def own_database(database_url: str) -> Iterator[str]:
    with fresh_database(database_url, "waypoint_topics") as url:
        yield url


def on_own_database(settings: Settings, url: str) -> Settings:
    # Built anew, not model_copy'd: derived values (the PostgreSQL parameters) are cached.
    return Settings(**{**settings.model_dump(), "database_url": url})


def a_plan_with_every_event(app: PlanningApplication) -> Plan:
    """A plan that went through every kind of event planning stores."""
    case_id = uuid.uuid4()
    plan = Plan.create(
        case_id=case_id,
        client_id=uuid.uuid4(),
        organisation="org-topics",
        gaps=["networking"],
        scores={"client": {"networking": 2}},
        actor="lead-1",
        at=AT,
        counsellor="c-1",
    )
    goal_id, second_id = uuid.uuid4(), uuid.uuid4()
    action_id, spare_id = uuid.uuid4(), uuid.uuid4()
    plan.choose_type(plan_type="combined", actor="c-1", at=AT)
    for priority, goal in enumerate((goal_id, second_id), start=1):
        plan.add_goal(
            goal_id=goal,
            title=f"Start course {priority}",
            specific="Enrol in and start the care assistant course",
            measure="A signed enrolment and 2 attended lessons",
            target_date=AT.date() + timedelta(days=120),
            competences=["networking"],
            priority=priority,
            policy=SmartPolicy(),
            actor="c-1",
            at=AT,
        )
    plan.reprioritise(order=[second_id, goal_id], actor="c-1", at=AT)
    for action in (action_id, spare_id):
        plan.add_action(
            action_id=action,
            goal_id=goal_id,
            description="Visit the open day",
            owner="client",
            due_date=AT.date() + timedelta(days=30),
            actor="c-1",
            at=AT,
        )
    plan.complete_action(action_id=action_id, actor="c-1", at=AT)
    plan.cancel_action(action_id=spare_id, reason="Not needed", actor="c-1", at=AT)
    plan.record_competence_analysis(
        career_target="Care assistant",
        strengths=[{"text": "Patient", "esco_uri": None}],
        weaknesses=[],
        training_needs=[{"text": "Personal care", "esco_uri": None}],
        actor="c-1",
        at=AT,
    )
    plan.add_evidence(
        evidence_id=uuid.uuid4(),
        title="Retail diploma",
        kind="diploma",
        description="MBO 2 retail",
        dated=date(2012, 6, 30),
        document_hash=None,
        actor="c-1",
        at=AT,
    )
    plan.assess_portfolio(
        standard="MBO 2", comparison="Care is not covered", advice="continue", actor="c-1", at=AT
    )
    plan.agree(party="client", actor="c-1", at=AT)
    plan.agree(party="counsellor", actor="c-1", at=AT)
    plan.choose_type(plan_type="action", actor="c-1", at=AT)  # revises the agreed plan
    plan.close(reason="Guidance ended", actor="c-1", at=AT)
    app.save(plan)
    return plan


def seen(plan: Plan) -> dict[str, Any]:
    """Everything a reader sees of a plan."""
    return {
        "id": plan.id,
        "version": plan.version,
        "status": plan.status,
        "revision": plan.revision,
        "plan_type": plan.plan_type,
        "counsellor": plan.counsellor,
        "goals": plan.ranked_goals(),
        "content": plan.content(),
        "agreements": plan.agreements,
        "agreed": plan.agreed_in_order(),
        "closed": plan.closed,
        "created_by": plan.created_by,
    }


def rewrite_to_old_topics(settings: Settings, schema: str, table: str) -> tuple[list[str], int]:
    """Store the plan's events as a store written before the move holds them: the old
    topics in the `topic` column, the old class in the created event's state. The topics
    now stored, and how many events name the old class in their state."""
    with psycopg.connect(settings.pg.dsn()) as c:
        rows = c.execute(
            f'UPDATE "{schema}"."{table}" SET topic = replace(topic, %s, %s), '
            "state = convert_to(replace(convert_from(state, 'UTF8'), %s, %s), 'UTF8') "
            "WHERE topic LIKE %s RETURNING topic, state",
            (NEW, OLD, f'"{NEW}Plan"', f'"{OLD}Plan"', NEW + "%"),
        ).fetchall()
    naming_old_class = sum(1 for _, state in rows if f'"{OLD}Plan"'.encode() in bytes(state))
    return sorted({r[0] for r in rows}), naming_old_class


async def projected(app: PlanningApplication, settings: Settings) -> list[dict[str, Any]]:
    """The projection replayed from the start: the rows of `plans_view`."""
    connect = settings.pg.asyncpg_kwargs()
    conn = await asyncpg.connect(**connect)
    try:
        await conn.execute(
            "DROP TABLE IF EXISTS planning.plans_view; "
            "DROP TABLE IF EXISTS planning.follower_positions"
        )
    finally:
        await conn.close()
    projection = PlanningProjection(app, connect, poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(projection.run(stop))
    try:
        await asyncio.wait_for(projection.active.wait(), 20)
        assert await projection.wait_until(app.last_position(), timeout=20)
    finally:
        stop.set()
        projection.wake()
        await asyncio.wait_for(task, 20)
    conn = await asyncpg.connect(**connect)
    try:
        rows = await conn.fetch("SELECT * FROM planning.plans_view ORDER BY plan_id")
    finally:
        await conn.close()
    # `updated_at` is when the projection handled the event, not part of the event.
    return [{k: v for k, v in dict(r).items() if k != "updated_at"} for r in rows]


async def test_a_store_written_with_the_old_topics_loads_and_replays(
    settings: Settings, own_database: str
) -> None:
    own = on_own_database(settings, own_database)
    vault = await asyncio.to_thread(key_vault, own)
    app = await asyncio.to_thread(PlanningApplication, own, vault)
    try:
        plan = await asyncio.to_thread(a_plan_with_every_event, app)
        before = seen(plan)
        rows_before = await projected(app, own)
        schema, table = events_table(app)
    finally:
        app.close()
    assert rows_before and rows_before[0]["status"] == "closed"

    old, naming_old_class = await asyncio.to_thread(rewrite_to_old_topics, own, schema, table)
    assert naming_old_class == 1  # the created event names the aggregate's class
    assert f"{OLD}Plan.Created" in old and f"{OLD}Plan.Closed" in old
    assert len(old) == 14, old  # every event class of the plan

    app = await asyncio.to_thread(PlanningApplication, own, vault)
    try:
        loaded = await asyncio.to_thread(app.load, Plan, plan.id)
        assert seen(loaded) == before
        assert await projected(app, own) == rows_before
    finally:
        app.close()
