"""Reactions to other services' events, registered by contract class.

A service says what it does with another service's event by naming the contract
(`shared/contracts/`): `{CaseAcceptedV1: PlanningApplication.on_case_accepted}`. The
handler is handed the validated contract object (its fields typed, its personal fields
`Sealed`) and the envelope (for its id, which sealed fields are bound to, and its time);
the consumer below it still keys by event type, as the stream's subjects do.

Two kinds, as the two consumers (`shared/messaging/event_consumer.py`,
`read_model_consumer.py`):
- `Reactions`: new domain events of this service (an `EventConsumer`); the handler is
  `(application, contract, envelope) -> aggregates with pending events`;
- `ReadModel`: rows of a read model (a `ReadModelConsumer`); the handler is
  `(connection, contract, envelope) -> None`.

An event whose version no handler names, or whose data does not fit its contract, is
not silently half-read: the first is skipped (a newer version is not ours to guess),
the second raises, so the consumer sets it aside as a dead letter after its retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from eventsourcing.domain import Aggregate
from nats.js import JetStreamContext

from shared.contracts import IntegrationEvent
from shared.eventstore import ServiceApplication
from shared.messaging.envelope import CloudEvent
from shared.messaging.event_consumer import EventConsumer
from shared.messaging.read_model_consumer import ReadModelConsumer

# (application, contract, envelope) -> the aggregates whose pending events are the effect.
Reaction = Callable[[Any, Any, CloudEvent], Sequence[Aggregate]]
# (connection, contract, envelope): the effect on read-model rows.
RowHandler = Callable[[asyncpg.Connection, Any, CloudEvent], Awaitable[None]]


def source_of(contracts: Sequence[type[IntegrationEvent]]) -> str:
    """The one service whose stream these contracts come from."""
    services = {c.service for c in contracts}
    if len(services) != 1:
        raise ValueError(f"one consumer reads one service's stream, not {sorted(services)}")
    return services.pop()


def _by_type(
    handlers: Mapping[type[IntegrationEvent], Any],
) -> dict[str, dict[int, tuple[type[IntegrationEvent], Any]]]:
    table: dict[str, dict[int, tuple[type[IntegrationEvent], Any]]] = {}
    for contract, handler in handlers.items():
        table.setdefault(contract.event_type, {})[contract.contract_version] = (contract, handler)
    return table


def contract_of(
    table: Mapping[str, Mapping[int, tuple[type[IntegrationEvent], Any]]], event: CloudEvent
) -> tuple[IntegrationEvent, Any] | None:
    """The event's data as its contract, with the handler named for it; None for a
    version no handler names."""
    versions = table.get(event.event_type, {})
    found = versions.get(event.version)
    if found is None:
        return None
    contract, handler = found
    return contract.model_validate(event.data), handler


@dataclass(frozen=True)
class Reactions:
    """A durable consumer whose effects are new domain events of this service."""

    name: str
    """The durable consumer's name (`<service>-<what>`); never renamed (it is its position)."""
    handlers: Mapping[type[IntegrationEvent], Reaction]

    def consumer(self, js: JetStreamContext, app: ServiceApplication) -> EventConsumer:
        table = _by_type(self.handlers)

        def react(event: CloudEvent) -> Sequence[Aggregate]:
            found = contract_of(table, event)
            if found is None:
                return []
            contract, handler = found
            result: Sequence[Aggregate] = handler(app, contract, event)
            return result

        return EventConsumer(
            self.name,
            js,
            app,
            source_of(list(self.handlers)),
            {event_type: react for event_type in table},
        )


@dataclass(frozen=True)
class ReadModel:
    """A durable consumer keeping this service's copy of another service's facts."""

    name: str
    """The durable consumer's name (`<service>-<what>`); never renamed."""
    handlers: Mapping[type[IntegrationEvent], RowHandler]
    schema_sql: str = field(default="")
    """The tables it writes (idempotent DDL), created before it starts."""

    def consumer(self, js: JetStreamContext, pool: asyncpg.Pool, schema: str) -> ReadModelConsumer:
        table = _by_type(self.handlers)

        async def keep(conn: asyncpg.Connection, event: CloudEvent) -> None:
            found = contract_of(table, event)
            if found is not None:
                contract, handler = found
                await handler(conn, contract, event)

        return ReadModelConsumer(
            self.name,
            js,
            pool,
            schema,
            source_of(list(self.handlers)),
            {event_type: keep for event_type in table},
        )
