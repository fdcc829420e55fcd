"""The overdue job on the real PostgreSQL: twice, or by two workers at once, raises each once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from services.followup.jobs import OverdueJob


async def open_followup(app: FollowUpApplication, pool: Any, agreed_on: date) -> uuid.UUID:
    """A follow-up agreed on `agreed_on` with one open action due a week later."""
    followup = FollowUp.open(
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation=f"org-{uuid.uuid4().hex[:6]}",
        counsellor="counsellor-1",
        agreed_on=agreed_on,
        plan_version=3,
        actions=[
            {
                "action_id": uuid.uuid4(),
                "goal_id": uuid.uuid4(),
                "owner": "client",
                "due_date": agreed_on + timedelta(days=7),
                "status": "open",
            }
        ],
        at=datetime.combine(agreed_on, datetime.min.time(), UTC),
    )
    await asyncio.to_thread(app.save, followup)
    # The job reads open follow-ups from the read model: wait for the projection.
    for _ in range(200):
        found = await pool.fetchval(
            "SELECT 1 FROM followup.followups_view WHERE followup_id = $1", followup.id
        )
        if found:
            return followup.id
        await asyncio.sleep(0.05)
    raise AssertionError("the projection did not show the follow-up")


def bottleneck_keys(app: FollowUpApplication, followup_id: uuid.UUID) -> list[str]:
    followup = app.repository.get(followup_id)
    events = list(app.events.get(followup_id))
    raised = [e.key for e in events if isinstance(e, FollowUp.BottleneckDetected)]
    assert sorted(raised) == sorted(followup.bottlenecks)
    return raised


def job(app: FollowUpApplication, pool: Any, today: date) -> OverdueJob:
    return OverdueJob(
        app,
        pool,
        interval_seconds=3600,
        grace_days=7,
        clock=lambda: datetime.combine(today, datetime.min.time(), UTC),
    )


async def test_the_overdue_job_run_twice_raises_each_bottleneck_once(followup_app: Any):
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    agreed = date(2026, 1, 5)
    followup_id = await open_followup(app, pool, agreed)
    # 30 days later: the first check-in (day 14) is 16 days overdue, the action 23.
    later = agreed + timedelta(days=30)
    first = await job(app, pool, later).run_once()
    assert first is not None
    second = await job(app, pool, later).run_once()
    keys = bottleneck_keys(app, followup_id)
    assert sorted(k.split(":")[0] for k in keys) == ["action-overdue", "checkin-overdue"]
    assert second is not None and not [k for k in second if k in keys]
    # Within the grace period nothing is overdue yet.
    fresh = await open_followup(app, pool, agreed)
    await job(app, pool, agreed + timedelta(days=14 + 7)).run_once()
    assert [k.split(":")[0] for k in bottleneck_keys(app, fresh)] == ["action-overdue"]


async def test_two_workers_at_once_raise_each_bottleneck_once(followup_app: Any):
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    agreed = date(2026, 2, 2)
    ids = [await open_followup(app, pool, agreed) for _ in range(3)]
    later = agreed + timedelta(days=100)  # two check-ins and the action overdue
    runs = await asyncio.gather(*(job(app, pool, later).run_once() for _ in range(2)))
    assert any(r is not None for r in runs)
    for followup_id in ids:
        keys = bottleneck_keys(app, followup_id)
        assert len(keys) == len(set(keys)) == 3


async def test_even_without_the_lock_two_detections_at_once_raise_each_bottleneck_once(
    followup_app: Any,
):
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    agreed = date(2026, 3, 2)
    followup_id = await open_followup(app, pool, agreed)
    later = agreed + timedelta(days=100)
    a, b = job(app, pool, later), job(app, pool, later)
    raised = await asyncio.gather(
        *(asyncio.to_thread(j._detect, followup_id) for j in (a, b, a, b))
    )
    keys = bottleneck_keys(app, followup_id)
    assert len(keys) == len(set(keys)) == 3
    assert sorted(k for run in raised for k in run[0]) == sorted(keys)


class SlowJob(OverdueJob):
    """A pass whose first follow-up takes long to look at (as a large caseload would)."""

    slept = False

    def _detect(self, followup_id: uuid.UUID) -> tuple[list[str], int, date | None]:
        import time

        if not self.slept:
            self.slept = True
            time.sleep(1.5)
        return super()._detect(followup_id)


async def test_a_long_pass_does_not_stall_a_starting_replica_s_schema_statements(
    followup_app: Any,
):
    """A pass holds no transaction (nor its lock on the read model) while it looks at the
    open follow-ups: a replica starting meanwhile runs its schema statements at once."""
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    await open_followup(app, pool, date(2026, 3, 2))
    slow = SlowJob(
        app,
        pool,
        interval_seconds=3600,
        grace_days=7,
        clock=lambda: datetime(2026, 3, 3, tzinfo=UTC),
    )
    running = asyncio.create_task(slow.run_once())
    await asyncio.sleep(0.3)
    async with pool.acquire() as conn:
        await conn.execute("SET lock_timeout = '500ms'")
        try:
            await conn.execute(
                "ALTER TABLE followup.followups_view ADD COLUMN IF NOT EXISTS overdue_probe int"
            )
            await conn.execute("ALTER TABLE followup.followups_view DROP COLUMN overdue_probe")
        finally:
            await conn.execute("RESET lock_timeout")
    # Meanwhile the pass still holds the job's lock: another replica's pass skips.
    assert await job(app, pool, date(2026, 3, 3)).run_once() is None
    assert await running is not None


class CountingJob(OverdueJob):
    """A pass that notes which follow-ups it loaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked: list[uuid.UUID] = []

    def _detect(self, followup_id: uuid.UUID) -> tuple[list[str], int, date | None]:
        self.looked.append(followup_id)
        return super()._detect(followup_id)


async def test_a_run_loads_only_the_follow_ups_that_changed_or_whose_overdue_day_came(
    followup_app: Any,
):
    """Not every open follow-up at every run (at 10 million events, 43,600 aggregates
    loaded every five minutes): one unchanged since the last look, with nothing due yet,
    is left alone until its overdue day or its next change."""
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    agreed = date(2026, 4, 6)  # its action due on day 7, its first check-in on day 14
    followup_id = await open_followup(app, pool, agreed)

    async def run(day: int) -> tuple[bool, list[str]]:
        counting = CountingJob(
            app,
            pool,
            interval_seconds=3600,
            grace_days=7,
            clock=lambda: datetime.combine(agreed + timedelta(days=day), datetime.min.time(), UTC),
        )
        raised = await counting.run_once()
        assert raised is not None
        return followup_id in counting.looked, [k for k in raised if k in keys_of()]

    def keys_of() -> list[str]:
        return bottleneck_keys(app, followup_id)

    async def projected() -> None:
        version = app.repository.get(followup_id).version
        for _ in range(200):
            seen = await pool.fetchval(
                "SELECT version FROM followup.followups_view WHERE followup_id = $1", followup_id
            )
            if seen == version:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the projection did not catch up")

    assert await run(3) == (True, [])  # never looked at: looked at
    assert (await run(4))[0] is False  # unchanged, nothing due before day 8
    looked, raised = await run(8)  # the action's overdue day
    assert looked and [k.split(":")[0] for k in raised] == ["action-overdue"]
    await projected()
    assert (await run(9))[0] is False  # its own bottleneck seen; the check-in due later
    # A change (planning adds an action already past due) is looked at in the next run.
    followup = app.repository.get(followup_id)
    followup.note_action_added(
        action_id=uuid.uuid4(),
        goal_id=uuid.uuid4(),
        owner="client",
        due_date=agreed,
        actor="planning",
        at=datetime.combine(agreed + timedelta(days=9), datetime.min.time(), UTC),
    )
    await asyncio.to_thread(app.save, followup)
    await projected()
    looked, raised = await run(10)
    assert looked and [k.split(":")[0] for k in raised] == ["action-overdue"]
    await projected()
    assert (await run(11))[0] is False
    # The first check-in is overdue from day 22 (due on day 14, seven days' grace).
    assert (await run(21))[0] is False
    looked, raised = await run(22)
    assert looked and [k.split(":")[0] for k in raised] == ["checkin-overdue"]
