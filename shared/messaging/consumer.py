"""Idempotent consumers of other services' integration events (JetStream pull consumers).

Delivery is at least once, even after an ack, and may be late or out of order. So the
effect and the record that this message was processed commit in one PostgreSQL
transaction, keyed by the event id (multi-row, so order does not matter); a second
delivery finds the record and changes nothing. Only then is the message acked.

Two kinds of effect:
- `ReadModelConsumer`: rows in read models (asyncpg), with the record in
  `<schema>.consumed_events` in the same transaction;
- `EventConsumer`: new domain events, stored together with an eventsourcing
  tracking record (multi-row tracking) in one transaction of the event store.

A message whose effect keeps failing is set aside as a dead letter after a bounded number
of deliveries (see `shared/messaging/deadletters.py`), so that the consumer goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from shared.eventstore import ServiceApplication
from shared.messaging.deadletters import DeadLetters, describe, is_transient
from shared.messaging.envelope import CloudEvent, stream_name, subject_for

log = logging.getLogger(__name__)


class Consumer(ABC):
    """A durable pull consumer on one service's stream, filtered to some event types."""

    # Under load (a batch came less than this long after the previous one), wait this
    # long after a batch's first message before taking the rest, so the stream is taken
    # in fewer, larger batches: one fetch, transaction and acknowledgement round per
    # batch. A lone message on a quiet stream is taken at once. 0: never wait.
    linger_seconds: float = 0.0

    def __init__(
        self,
        name: str,
        js: JetStreamContext,
        source_service: str,
        event_types: Sequence[str],
        *,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        ack_wait_seconds: float = 30.0,
        linger_seconds: float | None = None,
    ) -> None:
        self.name = name
        self.js = js
        self.source_service = source_service
        self.event_types = list(event_types)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.ack_wait_seconds = ack_wait_seconds
        if linger_seconds is not None:
            self.linger_seconds = linger_seconds
        self._last_batch_at = float("-inf")
        self.applied = 0
        self.duplicates = 0
        self.dead_letters: DeadLetters | None = None
        self.dead_letter_after = 5
        self.dead_lettered = 0
        self._outage: str | None = None

    def attach(self, dead_letters: DeadLetters, *, attempts: int) -> None:
        """Set a message whose effect failed on `attempts` deliveries aside in `dead_letters`."""
        self.dead_letters = dead_letters
        self.dead_letter_after = attempts

    def _failed(self, what: str) -> None:
        """Log a failure (an outage) once while it lasts, not once a second."""
        if self._outage == what:
            log.debug("consumer %s: %s; retrying", self.name, what)
        else:
            log.warning("consumer %s: %s; retrying (quietly until it recovers)", self.name, what)
        self._outage = what

    def _recovered(self) -> None:
        if self._outage is not None:
            log.info("consumer %s: going again", self.name)
            self._outage = None

    @property
    def subjects(self) -> list[str]:
        return [subject_for(self.source_service, t) for t in self.event_types]

    async def setup(self) -> None:
        """Create what the consumer's effects need; before the first message."""
        return None  # an optional hook

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_seconds,
            max_deliver=-1,
        )
        # One subject as `filter_subject`: servers before 2.10 know no `filter_subjects`.
        if len(self.subjects) == 1:
            config.filter_subject = self.subjects[0]
        else:
            config.filter_subjects = self.subjects
        # Created on first start, then bound to by every replica (they share the work).
        return await self.js.pull_subscribe(
            "", durable=self.name, stream=stream_name(self.source_service), config=config
        )

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """Wait for one message, then take whatever else is there at once.

        (A single fetch of a whole batch lingers until the batch is full or the poll
        time is over, which would hold a lone message back for up to that long.)
        """
        try:
            msgs = await sub.fetch(1, timeout=self.poll_seconds)
        except TimeoutError:
            return []
        if self.batch_size > 1:
            loop = asyncio.get_running_loop()
            if loop.time() - self._last_batch_at < self.linger_seconds:
                await asyncio.sleep(self.linger_seconds)
            with contextlib.suppress(TimeoutError):
                msgs += await sub.fetch(self.batch_size - 1, timeout=0.01)
            self._last_batch_at = loop.time()
        return msgs

    async def run(self, stop: asyncio.Event) -> None:
        await self.setup()
        while not stop.is_set():
            try:
                sub = await self.subscribe()
                try:
                    while not stop.is_set():
                        msgs = await self._fetch(sub)
                        if self._outage is not None:
                            self._recovered()
                        if msgs:
                            await self.process_batch(msgs)
                finally:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
            except asyncio.CancelledError:
                raise
            except NotFoundError:
                # The source's stream does not exist until its relay first starts.
                log.info(
                    "consumer %s: waiting for stream %s",
                    self.name,
                    stream_name(self.source_service),
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            except Exception as e:
                self._failed(f"{type(e).__name__}: {e}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def process_batch(self, msgs: list[Msg]) -> None:
        """Process fetched messages in order (one at a time unless a subclass batches)."""
        for msg in msgs:
            await self.process(msg)

    async def ours(self, msgs: list[Msg]) -> list[tuple[Msg, CloudEvent]]:
        """The fetched messages this consumer reacts to, parsed; the others are settled
        here (a malformed one dropped, another type acked)."""
        found: list[tuple[Msg, CloudEvent]] = []
        for msg in msgs:
            event = self.parse(msg)
            if event is None or event.event_type not in self.event_types:
                await self.process(msg)
            else:
                found.append((msg, event))
        return found

    def parse(self, msg: Msg) -> CloudEvent | None:
        try:
            return CloudEvent.from_bytes(msg.data)
        except (ValidationError, ValueError):
            return None

    async def process(self, msg: Msg) -> None:
        event = self.parse(msg)
        if event is None:
            log.error("consumer %s: malformed message %s dropped", self.name, msg.subject)
            await msg.term()
            return
        if event.event_type not in self.event_types:
            # Not one we react to (a server that cannot filter by several subjects).
            await msg.ack()
            return
        try:
            applied = await self.apply(event, msg.metadata.sequence.stream)
        except RetryLater as e:
            log.info("consumer %s: retry %s later: %s", self.name, event.id, e)
            await msg.nak(delay=e.delay)
            return
        except Exception as e:
            # The transaction rolled back: nothing was applied. Let it come again, or,
            # after enough deliveries, set it aside so that the others go on.
            await self._failed_effect(msg, event, e)
            return
        if applied:
            self.applied += 1
        else:
            self.duplicates += 1
        await msg.ack_sync()

    async def _failed_effect(self, msg: Msg, event: CloudEvent, error: Exception) -> None:
        if is_transient(error):
            # The database, not the event: not counted against it, logged once.
            self._failed(describe(error))
            await msg.nak(delay=1.0)
            return
        delivered = msg.metadata.num_delivered or 1
        if self.dead_letters is None or delivered < self.dead_letter_after:
            log.info(
                "consumer %s: %s failed on delivery %d (%s); redelivering",
                self.name,
                event.id,
                delivered,
                describe(error),
            )
            await msg.nak(delay=min(5.0, 0.1 * 2 ** (delivered - 1)))
            return
        try:
            async with self.dead_letters.pool.acquire() as conn:
                letter = await self.dead_letters.record(
                    conn,
                    follower=self.name,
                    kind="consumer",
                    position=msg.metadata.sequence.stream,
                    event_id=event.id,
                    event_type=event.event_type,
                    aggregate_id=event.subject,
                    error=describe(error),
                    attempts=delivered,
                    payload=msg.data,
                )
        except Exception as e:
            if not is_transient(e):
                raise
            self._failed(describe(e))
            await msg.nak(delay=1.0)
            return
        self.dead_lettered += 1
        log.error(
            "consumer %s: %s (%s) dead-lettered after %d deliveries (dead letter %d)",
            self.name,
            event.id,
            event.event_type,
            delivered,
            letter,
            exc_info=error,
        )
        await msg.term()

    @abstractmethod
    async def apply(self, event: CloudEvent, stream_seq: int) -> bool:
        """Apply the effect once; False when this event was processed before."""


IMMEDIATE_RETRIES = 3


async def ack_all(done: Sequence[tuple[Msg, CloudEvent]]) -> None:
    """Ack messages whose effects committed; the last ack waits for the server, so the
    batch is settled before the next fetch."""
    for msg, _ in done[:-1]:
        await msg.ack()
    await done[-1][0].ack_sync()


class RetryLater(Exception):
    """The effect cannot be applied yet (a conflict, a missing predecessor)."""

    def __init__(self, reason: str, delay: float = 0.5) -> None:
        super().__init__(reason)
        self.delay = delay


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
            for msg, _ in ours:
                await self.process(msg)
            return
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                applied = await self._apply_in(
                    conn, [(event, msg.metadata.sequence.stream) for msg, event in ours]
                )
        except Exception as e:
            log.debug("consumer %s: batch of %d failed (%s); one by one", self.name, len(ours), e)
            for msg, _ in ours:
                await self.process(msg)
            return
        self.applied += applied
        self.duplicates += len(ours) - applied
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


# Returns the aggregates whose pending events are the effect (empty: nothing to do).
Reaction = Callable[[CloudEvent], Sequence[Aggregate]]


class EventConsumer(Consumer):
    """Effects as new domain events, stored with a tracking record in one transaction.

    These drive the process on (a plan for an accepted case), so they linger less."""

    linger_seconds = 0.05

    def __init__(
        self,
        name: str,
        js: JetStreamContext,
        app: ServiceApplication,
        source_service: str,
        reactions: Mapping[str, Reaction],
        **kwargs: Any,
    ) -> None:
        super().__init__(name, js, source_service, list(reactions), **kwargs)
        self.app = app
        self.reactions = dict(reactions)

    def tracking_id(self, event: CloudEvent) -> int:
        # Positions of the source's log are unique per source: track them, not seqs.
        assert event.position is not None, "integration events carry their log position"
        return event.position

    async def process_batch(self, msgs: list[Msg]) -> None:
        """A fetched batch in one transaction: its new events and every position.

        Should the batch fail (a conflict, say), its messages go one by one.
        """
        ours = await self.ours(msgs)
        # A reaction reads the store, not what earlier reactions of the same transaction
        # did: a subject seen again starts a new transaction.
        segment: list[tuple[Msg, CloudEvent]] = []
        for msg, event in ours:
            if any(event.subject == e.subject for _, e in segment):
                await self._apply_segment(segment)
                segment = []
            segment.append((msg, event))
        if segment:
            await self._apply_segment(segment)

    async def _apply_segment(self, segment: list[tuple[Msg, CloudEvent]]) -> None:
        try:
            applied = await asyncio.to_thread(self._apply_batch, [e for _, e in segment])
        except Exception as e:
            log.debug(
                "consumer %s: batch of %d failed (%s); one by one", self.name, len(segment), e
            )
            for msg, _ in segment:
                await self.process(msg)
            return
        self.applied += applied
        self.duplicates += len(segment) - applied
        await ack_all(segment)

    def _apply_batch(self, events: list[CloudEvent]) -> int:
        recorder = self.app.process_recorder
        done = recorder.tracked(self.name, [self.tracking_id(e) for e in events])
        new_events: list[Any] = []
        trackings: list[Tracking] = []
        for event in events:
            position = self.tracking_id(event)
            if position in done:
                continue
            done.add(position)
            for aggregate in self.reactions[event.event_type](event):
                new_events.extend(aggregate.collect_events())
            trackings.append(Tracking(application_name=self.name, notification_id=position))
        if trackings:
            recordings = self.app.events.put(new_events, trackings=trackings)
            self.app._notify(recordings)
        return len(trackings)

    async def apply(self, event: CloudEvent, stream_seq: int) -> bool:
        return await asyncio.to_thread(self._apply_sync, event)

    def _apply_sync(self, event: CloudEvent) -> bool:
        tracking = Tracking(application_name=self.name, notification_id=self.tracking_id(event))
        recorder = self.app.process_recorder
        if recorder.tracked(self.name, [tracking.notification_id]):
            return False
        # A conflict means another writer changed the aggregate meanwhile (often another
        # consumer's reaction to a sibling event): react again to the store as it is now,
        # at once, before leaving it to a delayed redelivery.
        for attempt in range(IMMEDIATE_RETRIES + 1):
            aggregates = self.reactions[event.event_type](event)
            events = [e for agg in aggregates for e in agg.collect_events()]
            try:
                recordings = self.app.events.put(events, tracking=tracking)
            except IntegrityError:
                if recorder.tracked(self.name, [tracking.notification_id]):
                    return False
                if attempt < IMMEDIATE_RETRIES:
                    time.sleep(0.002 * (attempt + 1))
                    continue
                raise RetryLater("the aggregate changed meanwhile") from None
            self.app._notify(recordings)
            return True
        raise AssertionError("unreachable")
