"""Helpers the unit tests of reactions share: another service's event as its consumer
receives it (a CloudEvents envelope of a real contract, personal fields sealed as the
publishing service seals them) and delivered through a service's `Reactions` table, the
handler's aggregates then saved, as the consumer does. On the library's in-memory
persistence (`ServiceApplication.in_memory()`): no PostgreSQL, no NATS."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate

from shared.contracts import IntegrationEvent, Sealed
from shared.eventstore import ServiceApplication
from shared.messaging.envelope import CloudEvent
from shared.messaging.reactions import Reactions, _by_type, contract_of
from shared.privacy.sealing import seal_value

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def sealed(
    app: ServiceApplication, client_id: uuid.UUID, event_id: uuid.UUID, field: str, value: object
) -> Sealed:
    """A personal field as the publishing service seals it (the key vault is shared): bound
    to the envelope's id and the field's name."""
    key = app.vault.key_for(client_id, create=True)
    assert key is not None
    plaintext = app.sealing.transcoder.encode({"v": value})
    return Sealed.model_validate(seal_value(key, client_id, plaintext, event_id, field))


def envelope(
    contract: IntegrationEvent, position: int, event_id: uuid.UUID | None = None
) -> CloudEvent:
    """The contract as its service publishes it, at `position` in that service's log (the
    id its sealed fields were bound to, when it has any)."""
    return CloudEvent(
        id=event_id or uuid.uuid4(),
        source=f"/guidance/{contract.service}",
        type=contract.cloudevents_type(),
        subject=contract.subject(),
        time=NOW,
        position=position,
        data=contract.model_dump(mode="json", by_alias=True),
    )


def deliver(
    app: ServiceApplication, reactions: Reactions, event: CloudEvent
) -> Sequence[Aggregate]:
    """What the consumer does with one message: the contract its table names, the
    handler's aggregates saved; those aggregates returned."""
    found = contract_of(_by_type(reactions.handlers), event)
    assert found is not None, f"{reactions.name} does not react to {event.type}"
    contract, handler = found
    changed: Sequence[Aggregate] = handler(app, contract, event)
    app.save(*changed)
    return changed


def events_of(app: ServiceApplication, aggregate_id: uuid.UUID) -> list[str]:
    """The names of an aggregate's stored events, oldest first."""
    return [type(e).__qualname__ for e in app.repository.event_store.get(aggregate_id)]
