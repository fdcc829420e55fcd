"""Idempotent consumers of other services' integration events (JetStream pull consumers).

Delivery is at least once, even after an ack, and may be late or out of order. So the
effect and the record that this message was processed commit in one PostgreSQL
transaction, keyed by the event id (multi-row, so order does not matter); a second
delivery finds the record and changes nothing. Only then is the message acked.

Two kinds of effect, each a subclass of `Consumer` (this module: fetching, delivery,
retries, dead letters) in a module of its own:
- `ReadModelConsumer` (`read_model_consumer.py`): rows in read models (asyncpg), with
  the record in `<schema>.consumed_events` in the same transaction;
- `EventConsumer` (`event_consumer.py`): new domain events, stored together with an
  eventsourcing tracking record (multi-row tracking) in one transaction of the event store.

A message whose effect keeps failing is set aside as a dead letter after a bounded number
of deliveries (see `shared/messaging/deadletters.py`), so that the consumer goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter
from pydantic import ValidationError

from shared.messaging.deadletters import DeadLetters, describe, is_transient
from shared.messaging.envelope import CloudEvent, stream_name, subject_for

log = logging.getLogger(__name__)

CONSUMED = Counter(
    "waypoint_consumer_messages",
    "Messages a durable consumer processed in this process: applied, or a duplicate of "
    "one applied before (each then acknowledged).",
    ["consumer", "outcome"],
)


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

    def count(self, applied: int, duplicates: int) -> None:
        """Count messages whose effect committed here (`applied`) or had been applied
        before (`duplicates`): on the consumer and in this process's metrics, so that
        how several replicas share a durable consumer's work can be seen."""
        self.applied += applied
        self.duplicates += duplicates
        if applied:
            CONSUMED.labels(self.name, "applied").inc(applied)
        if duplicates:
            CONSUMED.labels(self.name, "duplicate").inc(duplicates)

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
                await self.settle(msg, event)
            else:
                found.append((msg, event))
        return found

    def parse(self, msg: Msg) -> CloudEvent | None:
        try:
            return CloudEvent.from_bytes(msg.data)
        except (ValidationError, ValueError):
            return None

    async def process(self, msg: Msg) -> None:
        await self.settle(msg, self.parse(msg))

    async def settle(self, msg: Msg, event: CloudEvent | None) -> None:
        """Apply and acknowledge one message, already parsed (`event`: None when it is
        malformed), so that a batch's messages are decoded once."""
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
        self.count(int(applied), int(not applied))
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
