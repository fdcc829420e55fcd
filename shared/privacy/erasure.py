"""Erasure (GDPR Art. 17) as every service takes part in it.

Intake destroys the client's data key and publishes `ErasureRequested`. Every service
(intake too) reacts the same way: it forgets any cached copy of the key, drops the
client's rows from its read models, and confirms with an `ErasureConfirmed` event of
its own, which intake collects into the erasure's receipt. The confirmation is an
aggregate whose id follows from the erasure and the service, stored together with the
consumer's tracking record: a redelivered request changes nothing.

The event stores keep their events: personal fields are sealed, and without the key
they read as ERASED, so the history stays replayable and its hash chain intact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate
from nats.js import JetStreamContext

from shared.eventstore import ServiceApplication
from shared.messaging.deadletters import erasure_statement
from shared.messaging.envelope import CloudEvent
from shared.messaging.event_consumer import EventConsumer

NAMESPACE = uuid.UUID("5e1d0c3a-7f0b-4b8e-9a2d-6c4f1e2b3a90")
ACTOR = "system:erasure"
SERVICES = ("intake", "planning", "followup", "referral")


class ErasureConfirmation(Aggregate):
    """One service's confirmation that it dropped an erased client's rows."""

    class Confirmed(Aggregate.Created):
        erasure_id: uuid.UUID
        client_id: uuid.UUID
        service: str
        rows_dropped: int
        actor: str

    def __init__(
        self,
        erasure_id: uuid.UUID,
        client_id: uuid.UUID,
        service: str,
        rows_dropped: int,
        actor: str,
    ) -> None:
        self.erasure_id = erasure_id
        self.client_id = client_id
        self.service = service
        self.rows_dropped = rows_dropped

    @staticmethod
    def id_for(erasure_id: uuid.UUID, service: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{erasure_id}:{service}")

    @classmethod
    def confirm(
        cls,
        *,
        erasure_id: uuid.UUID,
        client_id: uuid.UUID,
        service: str,
        rows_dropped: int,
        at: datetime,
    ) -> ErasureConfirmation:
        return cls._create(
            cls.Confirmed,
            id=cls.id_for(erasure_id, service),
            timestamp=at,
            erasure_id=erasure_id,
            client_id=client_id,
            service=service,
            rows_dropped=rows_dropped,
            actor=ACTOR,
        )


def drop_client_rows(
    app: ServiceApplication, statements: Sequence[str], client_id: uuid.UUID
) -> int:
    """Run each statement (a DELETE with `%(client_id)s`) in one transaction; rows dropped."""
    dropped = 0
    with app.process_recorder.datastore.transaction(commit=True) as curs:
        for statement in statements:
            curs.execute(statement, {"client_id": client_id})
            dropped += max(curs.rowcount, 0)
    return dropped


def erasure_reaction(
    app: ServiceApplication, service: str, statements: Sequence[str]
) -> Callable[[CloudEvent], list[Aggregate]]:
    """The reaction of `service` to intake's ErasureRequested."""
    statements = [*statements, erasure_statement(app.name.lower())]

    def react(event: CloudEvent) -> list[Aggregate]:
        d = event.data
        client_id, erasure_id = uuid.UUID(d["client_id"]), uuid.UUID(d["erasure_id"])
        app.vault.forget(client_id)
        dropped = drop_client_rows(app, statements, client_id)
        return [
            ErasureConfirmation.confirm(
                erasure_id=erasure_id,
                client_id=client_id,
                service=service,
                rows_dropped=dropped,
                at=app.clock(),
            )
        ]

    return react


def confirmed_state(s: dict[str, Any]) -> dict[str, Any]:
    """The published form of a confirmation (`ErasureConfirmed`)."""
    return {
        "occurred_at": s["timestamp"],
        "actor": s["actor"],
        "erasure_id": s["erasure_id"],
        "client_id": s["client_id"],
        "rows_dropped": s["rows_dropped"],
    }


def erasure_consumer(
    js: JetStreamContext,
    app: ServiceApplication,
    service: str,
    statements: Sequence[str],
    before: Callable[[CloudEvent], object] | None = None,
) -> EventConsumer:
    """The durable consumer of intake's ErasureRequested for `service`; `before` runs
    first (intake destroys the key there, should the request's process have died)."""
    react = erasure_reaction(app, service, statements)

    def reaction(event: CloudEvent) -> list[Aggregate]:
        if before is not None:
            before(event)
        return react(event)

    return EventConsumer(f"{service}-erasure", js, app, "intake", {"ErasureRequested": reaction})
