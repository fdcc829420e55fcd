"""`ReadModelConsumer`: a consumer whose effects are rows in read models (asyncpg),
committed with the record `<schema>.consumed_events` that the event was processed
(see `consumer.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared.messaging.consumer import Consumer, ack_all, log
from shared.messaging.envelope import CloudEvent

ReadModelHandler = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]


class ReadModelConsumer(Consumer):
    """Effects on read-model rows, committed with the processed-event record.

    What these keep are copies of other services' facts, read later by people: under
    load they linger a little for larger batches (see `Consumer.linger_seconds`)."""

    linger_seconds = 0.15

    def __init__(
        self,
        name: str,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        schema: str,
        source_service: str,
        handlers: dict[str, ReadModelHandler],
        **kwargs: Any,
    ) -> None:
        super().__init__(name, js, source_service, list(handlers), **kwargs)
        self.pool = pool
        self.schema = schema
        self.handlers = handlers

    async def setup(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7420003)")
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{self.schema}".consumed_events ('
                "consumer text NOT NULL, event_id uuid NOT NULL, stream_seq bigint, "
                "consumed_at timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (consumer, event_id))"
            )

    async def apply(self, event: CloudEvent, stream_seq: int) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            return await self._apply_in(conn, [(event, stream_seq)]) == 1

    async def process_batch(self, msgs: list[Msg]) -> None:
        """A fetched batch in one transaction (effects and records, in order), acked
        after the commit; should any of it fail, its messages go one by one."""
        ours = await self.ours(msgs)
        if len(ours) < 2:
            for msg, event in ours:
                await self.settle(msg, event)
            return
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                applied = await self._apply_in(
                    conn, [(event, msg.metadata.sequence.stream) for msg, event in ours]
                )
        except Exception as e:
            log.debug("consumer %s: batch of %d failed (%s); one by one", self.name, len(ours), e)
            for msg, event in ours:
                await self.settle(msg, event)
            return
        self.count(applied, len(ours) - applied)
        await ack_all(ours)

    async def _apply_in(
        self, conn: asyncpg.Connection, events: Sequence[tuple[CloudEvent, int]]
    ) -> int:
        """Record the events (with their stream sequences) as processed in one statement,
        then apply those that were new, in order (an event twice counts once); how many."""
        rows = await conn.fetch(
            f'INSERT INTO "{self.schema}".consumed_events (consumer, event_id, stream_seq) '
            "SELECT $1, e, s FROM unnest($2::uuid[], $3::bigint[]) AS t(e, s) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            self.name,
            [event.id for event, _ in events],
            [seq for _, seq in events],
        )
        new = {row["event_id"] for row in rows}
        applied = 0
        for event, _ in events:
            if event.id not in new:
                continue
            new.discard(event.id)
            handler = self.handlers.get(event.event_type)
            if handler is not None:
                await handler(conn, event)
            applied += 1
        return applied
