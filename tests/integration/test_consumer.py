"""Consumers on the real NATS and PostgreSQL: twice, late or out of order, one effect each."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from eventsourcing.domain import Aggregate
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from shared.eventstore import ServiceApplication
from shared.messaging.envelope import CloudEvent, stream_name
from shared.messaging.event_consumer import EventConsumer
from shared.messaging.read_model_consumer import ReadModelConsumer
from shared.runtime import key_vault
from shared.settings import Settings

SOURCE = "constest"


def envelope(position: int, event_type: str = "ThingHappened") -> CloudEvent:
    return CloudEvent(
        id=uuid.uuid4(),
        source=f"/guidance/{SOURCE}",
        type=f"guidance.{SOURCE}.{event_type}.v1",
        subject=str(uuid.uuid4()),
        time=datetime.now(UTC),
        position=position,
        data={"n": position},
    )


async def publish(js: Any, env: CloudEvent) -> None:
    # No Nats-Msg-Id: the stream keeps each copy, as a redelivery would bring it again.
    await js.publish(f"guidance.{SOURCE}.{env.event_type}", env.to_bytes())


@pytest.fixture
async def source_stream(js: Any) -> AsyncIterator[None]:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(stream_name(SOURCE))
    await js.add_stream(StreamConfig(name=stream_name(SOURCE), subjects=[f"guidance.{SOURCE}.>"]))
    yield


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS consumertest")
        await conn.execute("DROP TABLE IF EXISTS consumertest.effects")
        await conn.execute("DROP TABLE IF EXISTS consumertest.consumed_events")
        # No unique key: a doubled effect would show as two rows.
        await conn.execute("CREATE TABLE consumertest.effects (event_id uuid, n int)")
    yield pool
    await pool.close()


async def run_until(consumer: Any, done: Any, timeout: float = 15) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await done():
            assert asyncio.get_running_loop().time() < deadline, "consumer did not finish"
            assert not task.done(), task
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # let anything extra (a double) land, if it would
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def effects_consumer(
    js: Any,
    pool: asyncpg.Pool,
    fail_once: set[uuid.UUID] | None = None,
    cls: type[ReadModelConsumer] = ReadModelConsumer,
    **kwargs: Any,
) -> ReadModelConsumer:
    failing = set(fail_once or ())

    async def on_thing(conn: asyncpg.Connection, event: CloudEvent) -> None:
        await conn.execute(
            "INSERT INTO consumertest.effects VALUES ($1, $2)", event.id, event.data["n"]
        )
        if event.id in failing:
            failing.discard(event.id)
            raise RuntimeError("the effect fails half-way the first time")

    return cls(
        f"readmodel-{uuid.uuid4().hex[:6]}",
        js,
        pool,
        "consumertest",
        SOURCE,
        {"ThingHappened": on_thing},
        poll_seconds=0.2,
        ack_wait_seconds=2,
        **kwargs,
    )


async def effects(pool: asyncpg.Pool) -> list[tuple[uuid.UUID, int]]:
    rows = await pool.fetch("SELECT event_id, n FROM consumertest.effects ORDER BY n")
    return [(r["event_id"], r["n"]) for r in rows]


async def test_the_same_message_twice_has_one_effect(
    js: Any, pool: asyncpg.Pool, source_stream: None
):
    first = envelope(1)
    await publish(js, first)
    await publish(js, first)
    consumer = effects_consumer(js, pool)

    async def done() -> bool:
        return consumer.applied + consumer.duplicates >= 2

    await run_until(consumer, done)
    assert await effects(pool) == [(first.id, 1)]
    assert (consumer.applied, consumer.duplicates) == (1, 1)


async def test_messages_out_of_order_and_late_each_have_exactly_one_effect(
    js: Any, pool: asyncpg.Pool, source_stream: None
):
    one, two, three = envelope(1), envelope(2), envelope(3)
    for env in (three, one, two, one, three):
        await publish(js, env)
    consumer = effects_consumer(js, pool)

    async def done() -> bool:
        return consumer.applied + consumer.duplicates >= 5

    await run_until(consumer, done)
    assert await effects(pool) == [(one.id, 1), (two.id, 2), (three.id, 3)]
    # A late redelivery, after everything was processed, changes nothing either.
    await publish(js, two)
    consumer2 = effects_consumer(js, pool)
    consumer2.name = consumer.name  # the same durable consumer, restarted

    async def done2() -> bool:
        return consumer2.duplicates >= 1

    await run_until(consumer2, done2)
    assert await effects(pool) == [(one.id, 1), (two.id, 2), (three.id, 3)]


async def test_a_failing_effect_leaves_nothing_half_written_and_is_retried(
    js: Any, pool: asyncpg.Pool, source_stream: None
):
    env = envelope(7)
    await publish(js, env)
    consumer = effects_consumer(js, pool, fail_once={env.id})

    async def done() -> bool:
        return consumer.applied >= 1

    await run_until(consumer, done)
    assert await effects(pool) == [(env.id, 7)]


class Thing(Aggregate):
    class Started(Aggregate.Created):
        source_event: uuid.UUID

    def __init__(self, source_event: uuid.UUID) -> None:
        self.source_event = source_event


class ReactingApp(ServiceApplication):
    name = "consumertestapp"


@pytest.fixture(scope="module")
def reacting_app(settings: Settings) -> Iterator[ReactingApp]:
    app = ReactingApp(settings, key_vault(settings))
    yield app
    app.close()


def things(app: ReactingApp) -> list[uuid.UUID]:
    found = []
    for n in app.recorder.select_notifications(start=1, limit=100_000):
        event = app.mapper.to_domain_event(n)
        if isinstance(event, Thing.Started):
            found.append(event.source_event)
    return found


async def test_an_event_consumer_stores_its_new_events_once_with_the_tracking_record(
    js: Any, reacting_app: ReactingApp, source_stream: None
):
    before = things(reacting_app)
    a, b = envelope(101), envelope(102)
    for env in (b, a, b, a, a):
        await publish(js, env)

    def react(event: CloudEvent) -> list[Aggregate]:
        # A random id: only the tracking record can stop a second Thing.
        return [Thing._create(Thing.Started, id=uuid.uuid4(), source_event=event.id)]

    consumer = EventConsumer(
        f"events-{uuid.uuid4().hex[:6]}",
        js,
        reacting_app,
        SOURCE,
        {"ThingHappened": react},
        poll_seconds=0.2,
        ack_wait_seconds=2,
    )

    async def done() -> bool:
        return consumer.applied + consumer.duplicates >= 5

    await run_until(consumer, done)
    new = [t for t in things(reacting_app) if t not in before]
    assert sorted(new) == sorted([a.id, b.id])
    assert (consumer.applied, consumer.duplicates) == (2, 3)
    recorder: Any = reacting_app.recorder
    assert recorder.max_tracking_id(consumer.name) == 102


class Counter(Aggregate):
    class Started(Aggregate.Created):
        pass

    class Counted(Aggregate.Event):
        source_event: uuid.UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.seen.append(self.source_event)

    def __init__(self) -> None:
        self.seen: list[uuid.UUID] = []


async def test_a_batch_that_conflicts_with_itself_is_applied_one_by_one(
    js: Any, reacting_app: ReactingApp, source_stream: None
):
    counter_id = uuid.uuid4()

    def count(event: CloudEvent) -> list[Aggregate]:
        try:
            counter = reacting_app.repository.get(counter_id)
        except Exception:
            counter = Counter._create(Counter.Started, id=counter_id)
        counter.trigger_event(Counter.Counted, source_event=event.id)
        return [counter]

    first, second = envelope(201), envelope(202)
    await publish(js, first)
    await publish(js, second)
    consumer = EventConsumer(
        f"counter-{uuid.uuid4().hex[:6]}",
        js,
        reacting_app,
        SOURCE,
        {"ThingHappened": count},
        poll_seconds=0.2,
        ack_wait_seconds=2,
    )

    async def done() -> bool:
        return consumer.applied >= 2

    await run_until(consumer, done)
    counter = reacting_app.repository.get(counter_id)
    assert counter.seen == [first.id, second.id]


class BatchRecorder(ReadModelConsumer):
    """Records the size of each fetched batch, and when it was handed over (recorded
    once its effects are committed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[int, float]] = []

    async def process_batch(self, msgs: list[Any]) -> None:
        handed = asyncio.get_running_loop().time()
        await super().process_batch(msgs)
        self.batches.append((len(msgs), handed))


async def test_a_lone_message_is_taken_at_once_and_a_busy_stream_in_batches(
    js: Any, pool: asyncpg.Pool, source_stream: None
):
    linger = 1.0
    consumer = effects_consumer(js, pool, cls=BatchRecorder, linger_seconds=linger)
    assert isinstance(consumer, BatchRecorder)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(1.5)  # subscribed, and quiet for longer than the linger
        sent = loop.time()
        await publish(js, envelope(1))
        while not consumer.batches:
            await asyncio.sleep(0.01)
            assert loop.time() - sent < 5
        # Quiet stream: no lingering for the lone message.
        assert consumer.batches[0][0] == 1
        assert consumer.batches[0][1] - sent < linger / 2

        # Right after it (a busy stream), the next messages are gathered into one batch.
        for n in range(2, 6):
            await publish(js, envelope(n))
            await asyncio.sleep(0.05)
        while sum(size for size, _ in consumer.batches) < 5:
            await asyncio.sleep(0.01)
            assert loop.time() - sent < 10
        # (In one batch on a quiet machine; a loaded one may hand the rest over in two,
        # as the fetch of the rest waits only 10 ms for what the server sends.)
        later = [size for size, _ in consumer.batches[1:]]
        assert sum(later) == 4 and len(later) <= 2 and max(later) >= 2, consumer.batches
        assert len(await effects(pool)) == 5
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
