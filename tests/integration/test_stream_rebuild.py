"""`waypoint streams rebuild` on the real PostgreSQL and NATS: a lost stream is re-created
from the event store, every event once, in order, with its id; a consumer that had applied
them all applies nothing again; a running relay's lease makes the rebuild refuse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import asyncpg
import pytest
from nats.js.errors import NotFoundError

from services.intake.application import IntakeApplication
from services.intake.publications import PUBLICATIONS
from shared.messaging.envelope import CloudEvent, stream_name
from shared.messaging.read_model_consumer import ReadModelConsumer
from shared.messaging.rebuild import RelayRunning, rebuild_stream, stream_status
from shared.messaging.relay import Relay
from shared.runtime import key_vault
from shared.settings import Settings
from tests.conftest import stream_messages


class RebuildTestApp(IntakeApplication):
    name = "rebuildtest"


SERVICE = "rebuildtest"
STREAM = stream_name(SERVICE)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[RebuildTestApp]:
    application = RebuildTestApp(settings, key_vault(settings))
    yield application
    application.close()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=2)
    assert created is not None
    yield created
    await created.close()


def make_relay(app: IntakeApplication, settings: Settings, js: Any) -> Relay:
    return Relay(
        app,
        settings.pg.asyncpg_kwargs(),
        js,
        SERVICE,
        PUBLICATIONS,
        duplicate_window=600,
        batch_size=7,  # several batches
        poll_seconds=0.1,
    )


@contextlib.asynccontextmanager
async def running(worker: Any) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def until(check: Any, what: str, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


def register(app: IntakeApplication, n: int) -> None:
    for i in range(n):
        client_id = app.register_client(
            organisation="org-rb",
            actor="counsellor-1",
            given_name=f"Rebuild{uuid.uuid4().hex[:8]}",
            family_name="Streamsson",
            birth_date=date(1990, 1, 1 + i % 27),
            email=f"rb{uuid.uuid4().hex[:8]}@example.org",
        )
        app.record_consent(
            client_id, organisation="org-rb", actor="counsellor-1", purpose="guidance", granted=True
        )


async def test_a_lost_stream_is_rebuilt_from_the_store_and_nothing_is_applied_twice(
    app: RebuildTestApp, settings: Settings, js: Any, pool: asyncpg.Pool
) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(STREAM)
    async with pool.acquire() as conn:
        await conn.execute(
            'CREATE TABLE IF NOT EXISTS "rebuildtest".effects (event_id uuid NOT NULL)'
        )

    async def effect(conn: asyncpg.Connection, event: CloudEvent) -> None:
        await conn.execute('INSERT INTO "rebuildtest".effects VALUES ($1)', event.id)

    consumer = ReadModelConsumer(
        f"rebuild-{uuid.uuid4().hex[:6]}",
        js,
        pool,
        "rebuildtest",
        SERVICE,
        {p.contract.event_type: effect for p in PUBLICATIONS.values()},
        poll_seconds=0.2,
    )

    async def effects() -> int:
        async with pool.acquire() as conn:
            return int(await conn.fetchval('SELECT count(*) FROM "rebuildtest".effects'))

    register(app, 6)
    stored = [
        n
        for n in app.recorder.select_notifications(start=1, limit=100_000)
        if type(app.mapper.to_domain_event(n)) in PUBLICATIONS
    ]
    last = app.recorder.max_notification_id() or 0
    assert len(stored) == 12

    relay = make_relay(app, settings, js)
    async with running(consumer):
        async with running(relay):
            await until(lambda: _at(relay, last), "the relay did not publish the store")
            await until(lambda: _eq(effects, len(stored)), "the consumer did not apply every event")
            # A running relay holds its lease: the rebuild refuses, and changes nothing.
            with pytest.raises(RelayRunning, match=f"stop the relay/worker processes of {SERVICE}"):
                await rebuild_stream(
                    settings.pg.asyncpg_kwargs(),
                    js,
                    SERVICE,
                    duplicate_window=600,
                    replicas=1,
                    wait_seconds=0.5,
                )
            assert (await js.stream_info(STREAM)).state.messages == len(stored)

        # The stream is lost (and its consumer with it).
        await js.delete_stream(STREAM)
        done = await rebuild_stream(
            settings.pg.asyncpg_kwargs(), js, SERVICE, duplicate_window=600, replicas=1
        )
        assert (done.deleted, done.position_before) == (False, last)
        info = await js.stream_info(STREAM)
        assert info.state.messages == 0
        assert info.config.subjects == [f"guidance.{SERVICE}.>"]
        assert info.config.duplicate_window == 600
        status = await stream_status(settings.pg.asyncpg_kwargs(), js, SERVICE, f"{SERVICE}_events")
        assert (status.messages, status.relay_position, status.store_last_id) == (0, 0, last)

        # The relay (a new one, or one that stood by: it reads the stored position when it
        # takes the lease) republishes the whole log.
        async with running(relay):
            await until(
                lambda: _stream_holds(js, len(stored)), "the relay did not republish the log"
            )
            await until(
                lambda: _pending_none(js, consumer.name),
                "the running consumer did not consume the rebuilt stream",
                seconds=15,
            )
        messages = await stream_messages(js, STREAM)
        ids = [uuid.UUID(json.loads(m.data)["id"]) for m in messages]
        assert [m.headers["Nats-Msg-Id"] for m in messages] == [str(i) for i in ids]
        assert [json.loads(m.data)["position"] for m in messages] == [n.id for n in stored]
        assert len(set(ids)) == len(stored)
        # Every event came again, and none was applied again.
        assert await effects() == len(stored)
        assert consumer.applied == len(stored)
        assert consumer.duplicates == len(stored)

    # Rebuilt again with the stream there: it is deleted, with what it held.
    again = await rebuild_stream(
        settings.pg.asyncpg_kwargs(), js, SERVICE, duplicate_window=600, replicas=1
    )
    assert (again.deleted, again.messages_deleted, again.position_before) == (
        True,
        len(stored),
        last,
    )


async def _at(relay: Relay, position: int) -> bool:
    return relay.position >= position


async def _eq(count: Any, n: int) -> bool:
    return bool(await count() == n)


async def _stream_holds(js: Any, n: int) -> bool:
    try:
        return bool((await js.stream_info(STREAM)).state.messages >= n)
    except NotFoundError:
        return False


async def _pending_none(js: Any, durable: str) -> bool:
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return False
    return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq)
