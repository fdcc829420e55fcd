"""The relay: the event store is the outbox; this publishes it to JetStream.

Each allow-listed domain event becomes a CloudEvents envelope on
`guidance.<service>.<EventType>` with `Nats-Msg-Id` = the event id. Publishes of a
batch are pipelined; the position advances only after every ack of the batch, so a
crash between commit and publish loses nothing and a re-publish is de-duplicated by
the stream (its duplicate window outlasts any restart of the relay).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.contracts import IntegrationEvent
from shared.eventstore import ServiceApplication
from shared.messaging.envelope import CloudEvent, stream_name, subject_for
from shared.messaging.follower import LogFollower, Stopping, sleep_or_stop
from shared.privacy.sealing import event_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = logging.getLogger(__name__)

# Builds the contract's fields from the stored state (personal fields still sealed).
StateMapper = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Publication:
    """One allow-listed domain event and the contract it is published as."""

    contract: type[IntegrationEvent]
    build: StateMapper


def envelope_for(
    service: str, publication: Publication, notification: Notification, state: dict[str, Any]
) -> CloudEvent:
    full = dict(state)
    full["originator_id"] = notification.originator_id
    full["originator_version"] = notification.originator_version
    data = publication.contract.model_validate(publication.build(full))
    return CloudEvent(
        id=event_id(notification.originator_id, notification.originator_version),
        source=f"/guidance/{service}",
        type=publication.contract.cloudevents_type(),
        subject=data.subject(),
        time=data.occurred_at,
        position=notification.id,
        data=data.model_dump(mode="json", by_alias=True),
    )


async def ensure_stream(
    js: JetStreamContext, service: str, *, duplicate_window: float, replicas: int = 1
) -> None:
    """Create or update the service's stream (idempotent, at every start)."""
    name = stream_name(service)
    config = StreamConfig(
        name=name,
        subjects=[f"guidance.{service}.>"],
        storage=StorageType.FILE,
        duplicate_window=duplicate_window,
        num_replicas=replicas,
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


class Relay(LogFollower):
    name = "relay"
    # Publishing fails on the broker, almost never on an event, and skipping one would
    # lose a publication: retried as it is (a relay that does not move shows as lag).
    poison = "retry"
    # How long a batch the broker does not acknowledge is retried before the lease is
    # given up (see `_publish_keeping_the_lease`).
    lease_patience_seconds = 30.0

    def __init__(
        self,
        app: ServiceApplication,
        connect_kwargs: dict[str, Any],
        js: JetStreamContext,
        service: str,
        publications: Mapping[type, Publication],
        *,
        duplicate_window: float = 3600,
        replicas: int = 1,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        super().__init__(app, connect_kwargs, batch_size=batch_size, poll_seconds=poll_seconds)
        self.js = js
        self.service = service
        self.publications = dict(publications)
        self.duplicate_window = duplicate_window
        self.replicas = replicas
        self.published = 0
        # Event time (taken just before its commit) to publish ack, in seconds.
        self.lags: deque[float] = deque(maxlen=100_000)

    async def setup(self, conn: asyncpg.Connection) -> None:
        await ensure_stream(
            self.js, self.service, duplicate_window=self.duplicate_window, replicas=self.replicas
        )
        # The relay's position is where to start publishing, not a fact: its commit need
        # not wait for the WAL's flush (one fsync, and the relay's wait for it, per batch).
        # Should PostgreSQL itself crash within the WAL writer's delay (~0.6 s at most) of
        # such a commit, the position is an earlier one and the relay publishes those
        # events again: the stream drops them by Nats-Msg-Id within its duplicate window,
        # and past it every consumer applies an event once by its id anyway. This
        # connection is the relay's alone (its lock, its position), and the setting is its
        # session's (set in the transaction around this, which commits).
        await conn.execute("SET synchronous_commit TO off")

    def envelopes(self, batch: Sequence[Notification]) -> list[CloudEvent]:
        out = []
        for notification in batch:
            publication = self.publications.get(resolve_topic(notification.topic))
            if publication is None:
                continue  # internal event: not part of the public contract
            state = self.app.sealing.decode_state(notification)
            out.append(envelope_for(self.service, publication, notification, state))
        return out

    async def handle(self, conn: asyncpg.Connection, batch: Sequence[Notification]) -> None:
        envelopes = self.envelopes(batch)
        await self._publish_keeping_the_lease(envelopes)
        acked = time.time()
        for env in envelopes:
            self.lags.append(acked - _ts(env.time))
        self.published += len(envelopes)
        await self.save_position(conn, batch[-1].id)

    async def _publish_keeping_the_lease(self, envelopes: list[CloudEvent]) -> None:
        """Publish the batch, retried for up to `lease_patience_seconds` while the broker
        does not acknowledge it (a stream electing a new leader, a node restarting). The
        lease is kept meanwhile: a NATS outage is the same for every replica, and giving
        the lease up would hand publishing to whichever process polls first (a worker's
        stand-in, which then keeps it). Beyond the patience the error is raised and the
        lease released, so that a replica that can reach NATS may take over."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await self._publish(envelopes)
                if attempt:
                    log.info("%s relay: publishing again", self.service)
                return
            except Exception as e:
                attempt += 1
                if time.monotonic() - started > self.lease_patience_seconds:
                    raise
                if attempt == 1:
                    log.warning(
                        "%s relay: NATS did not acknowledge a batch (%s: %s); retrying "
                        "with the lease held",
                        self.service,
                        type(e).__name__,
                        e,
                    )
            stop = self._stop
            if stop is not None and await sleep_or_stop(stop, min(2.0, 0.2 * attempt)):
                raise Stopping

    async def _publish(self, envelopes: list[CloudEvent]) -> None:
        futures = []
        for env in envelopes:
            futures.append(
                await self.js.publish_async(
                    subject_for(self.service, env.event_type),
                    env.to_bytes(),
                    headers={"Nats-Msg-Id": str(env.id)},
                )
            )
        # Every ack of the batch, or an exception and the position stays where it was.
        await asyncio.wait_for(asyncio.gather(*futures), timeout=10)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def service_relay(
    runtime: Runtime, app: ServiceApplication, publications: Mapping[type, Publication]
) -> Relay:
    """The service's relay, configured as every service configures it: its database, its
    stream (duplicate window, replicas) and its batch and poll from the settings."""
    settings = runtime.settings
    return Relay(
        app,
        settings.pg.asyncpg_kwargs(),
        runtime.js,
        runtime.service,
        publications,
        duplicate_window=settings.stream_duplicate_window_seconds,
        replicas=settings.stream_replicas,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
    )
