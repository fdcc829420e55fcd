"""A follow-up store written before the domain became a package still loads and replays.

Until then every event was stored under the topic `services.followup.domain:FollowUp.<Name>`
and each follow-up's `Opened` named its aggregate `services.followup.domain:FollowUp`. Here
a store is written through the application, its topics are rewritten to those old
strings with SQL, and then: a new application loads every follow-up as it was, and the
projection, replayed from the start, makes the same rows it made of the store as written.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from eventsourcing.utils import get_topic

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from services.followup.export import followup_part
from services.followup.projections import FollowUpProjection
from shared.audit.queries import events_table
from shared.runtime import key_vault
from shared.settings import Settings
from tests.conftest import DEFAULT_DB, fresh_database

OLD_MODULE = "services.followup.domain"
EVENTS = (
    "Opened",
    "PlanReagreed",
    "PlanRevised",
    "PlanActionAdded",
    "PlanActionCompleted",
    "PlanActionCancelled",
    "CheckInDone",
    "ContactRecorded",
    "ActionChecked",
    "BottleneckDetected",
    "ToDoAgreed",
    "OutcomeRecorded",
    "FeedbackGiven",
    "FollowUpClosed",
    "AftercareRequested",
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def own_store(settings: Settings) -> Iterator[Settings]:
    """Settings of a database of its own: its projection and positions start empty."""
    with fresh_database(
        os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB), "waypoint_topics"
    ) as url:
        yield Settings(
            database_url=url,
            nats_url=settings.nats_url,
            auth_mode="dev",
            db_pool_size=2,
            db_max_overflow=2,
            read_pool_size=2,
        )


def every_event(app: FollowUpApplication) -> list[uuid.UUID]:
    """Two follow-ups whose events are of every class of the aggregate."""
    action, other, goal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = FollowUp.open(
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation="org-topics",
        counsellor="counsellor-1",
        agreed_on=T0.date(),
        plan_version=1,
        actions=[
            {
                "action_id": action,
                "goal_id": goal,
                "owner": "client",
                "due_date": T0.date() + timedelta(days=5),
                "status": "open",
            }
        ],
        at=T0,
    )
    at = T0 + timedelta(days=1)
    first.note_action_added(
        action_id=other,
        goal_id=goal,
        owner="counsellor",
        due_date=T0.date() + timedelta(days=9),
        actor="c",
        at=at,
    )
    first.note_action_completed(action_id=other, actor="c", at=at)
    first.note_plan_revised(from_version=1, actor="c", at=at)
    first.note_plan_agreed(
        plan_version=2,
        actions=[
            {
                "action_id": action,
                "goal_id": goal,
                "owner": "client",
                "due_date": T0.date() + timedelta(days=5),
                "status": "open",
            }
        ],
        actor="c",
        at=at,
    )
    for _ in range(3):  # the third failed contact raises a bottleneck
        first.record_contact(
            contact_id=uuid.uuid4(),
            channel="phone",
            reached=False,
            notes="No answer.",
            actor="c",
            at=at,
        )
    first.check_action(
        check_id=uuid.uuid4(),
        action_id=action,
        status="partly",
        bottleneck="Waiting for the course.",
        actor="c",
        at=at,
    )
    first.agree_todo(
        todo_id=uuid.uuid4(),
        goal_id=goal,
        description="Apply for two vacancies.",
        owner="client",
        due_date=at.date() + timedelta(days=10),
        actor="c",
        at=at,
    )
    first.complete_checkin(checkin_id=first.checkins[0].checkin_id, actor="c", at=at)
    first.record_outcome(outcome="employed", on=at.date(), actor="c", at=at)
    first.give_feedback(
        satisfaction=4,
        self_knowledge_improved=True,
        confidence_improved=False,
        comments="Helpful.",
        actor="c",
        at=at,
    )  # closes it
    first.request_aftercare(due_on=at.date() + timedelta(days=30), actor="c", at=at)
    second = FollowUp.open(
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation="org-topics",
        counsellor="counsellor-2",
        agreed_on=T0.date(),
        plan_version=1,
        actions=[
            {
                "action_id": uuid.uuid4(),
                "goal_id": goal,
                "owner": "client",
                "due_date": T0.date() + timedelta(days=5),
                "status": "open",
            }
        ],
        at=T0,
    )
    second.note_action_cancelled(
        action_id=next(iter(second.actions)), actor="c", at=T0 + timedelta(days=1)
    )
    second.close(reason="unreachable", notes="Moved away.", actor="c", at=T0 + timedelta(days=2))
    app.save(first, second)
    return [first.id, second.id]


async def project(app: FollowUpApplication, settings: Settings) -> dict[str, list[Any]]:
    """Replay the whole log into the projection's tables (emptied first); their rows."""
    connect = settings.pg.asyncpg_kwargs()
    conn = await asyncpg.connect(**connect)
    try:
        views = ("followups_view", "checkins_view", "bottlenecks_view")
        present = [
            f"followup.{v}"
            for v in views
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"followup.{v}")
        ]
        if present:
            await conn.execute(
                f"TRUNCATE {', '.join(present)}; "
                "DELETE FROM followup.follower_positions WHERE name = 'projection'"
            )
        projection = FollowUpProjection(app, connect, poll_seconds=0.05)
        stop = asyncio.Event()
        running = asyncio.create_task(projection.run(stop))
        try:
            head = app.recorder.max_notification_id() or 0
            assert head > 0
            assert await projection.wait_until(head, timeout=30), "the projection did not replay"
        finally:
            stop.set()
            await running
        followups = await conn.fetch("SELECT * FROM followup.followups_view ORDER BY followup_id")
        checkins = await conn.fetch("SELECT * FROM followup.checkins_view ORDER BY checkin_id")
        bottlenecks = await conn.fetch(
            "SELECT * FROM followup.bottlenecks_view ORDER BY bottleneck_id"
        )
    finally:
        await conn.close()
    return {
        "followups": [dict(r) for r in followups],
        "checkins": [dict(r) for r in checkins],
        "bottlenecks": [dict(r) for r in bottlenecks],
    }


async def to_old_topics(app: FollowUpApplication, settings: Settings) -> int:
    """Rewrite the stored events as the old domain module stored them; how many now
    carry an old topic."""
    schema, table = events_table(app)
    conn = await asyncpg.connect(**settings.pg.asyncpg_kwargs())
    try:
        async with conn.transaction():
            for name in EVENTS:
                await conn.execute(
                    f'UPDATE "{schema}"."{table}" SET topic = $1 WHERE topic = $2',
                    f"{OLD_MODULE}:FollowUp.{name}",
                    get_topic(getattr(FollowUp, name)),
                )
            await conn.execute(
                f'UPDATE "{schema}"."{table}" SET state = convert_to(replace('
                "convert_from(state, 'UTF8'), $1, $2), 'UTF8') WHERE topic = $3",
                f'"{get_topic(FollowUp)}"',
                f'"{OLD_MODULE}:FollowUp"',
                f"{OLD_MODULE}:FollowUp.Opened",
            )
        old: int = await conn.fetchval(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE topic LIKE $1',
            f"{OLD_MODULE}:FollowUp%",
        )
        named_old: int = await conn.fetchval(
            f'SELECT count(*) FROM "{schema}"."{table}" '
            "WHERE convert_from(state, 'UTF8') LIKE $1",
            f'%"{OLD_MODULE}:FollowUp"%',
        )
    finally:
        await conn.close()
    assert named_old == 2, "each Opened names the old aggregate topic"
    return old


async def test_a_store_written_with_the_old_topics_still_loads_and_replays(
    own_store: Settings,
) -> None:
    vault = key_vault(own_store)
    app = await asyncio.to_thread(FollowUpApplication, own_store, vault)
    try:
        ids = await asyncio.to_thread(every_event, app)
        written = [await asyncio.to_thread(app.repository.get, i) for i in ids]
        kinds = {type(e).__name__ for i in ids for e in app.events.get(i)}
        assert kinds == set(EVENTS), "the store holds an event of every class"
        assert not any(get_topic(getattr(FollowUp, n)).startswith(f"{OLD_MODULE}:") for n in EVENTS)
        as_written = await project(app, own_store)
        total = len(list(app.events.get(ids[0]))) + len(list(app.events.get(ids[1])))
    finally:
        app.close()

    app = await asyncio.to_thread(FollowUpApplication, own_store, vault)
    try:
        assert await to_old_topics(app, own_store) == total
        loaded = [await asyncio.to_thread(app.repository.get, i) for i in ids]
        assert [followup_part(f) for f in loaded] == [followup_part(f) for f in written]
        assert loaded[0].contacts[0].notes == "No answer."  # sealed, and opened again
        assert loaded[1].status == "closed" and loaded[0].version == written[0].version
        replayed = await project(app, own_store)
    finally:
        app.close()
    assert replayed == as_written
    assert len(replayed["followups"]) == 2 and len(replayed["checkins"]) == 7
    assert sorted(b["kind"] for b in replayed["bottlenecks"]) == ["action", "unreachable"]
