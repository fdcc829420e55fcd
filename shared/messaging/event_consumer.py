"""`EventConsumer`: a consumer whose effects are new domain events, stored with an
eventsourcing tracking record in one transaction of the event store (see `consumer.py`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared.eventstore import ServiceApplication
from shared.messaging.consumer import Consumer, RetryLater, ack_all, log
from shared.messaging.envelope import CloudEvent

IMMEDIATE_RETRIES = 3


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
            for msg, event in segment:
                await self.settle(msg, event)
            return
        self.count(applied, len(segment) - applied)
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
