"""A client's erasure (GDPR Art. 17) and the legal holds that can stand in its way.

Pure domain: the standard library and eventsourcing.domain only. One `ClientErasure`
per client (its id follows from the client's): the legal holds on the client's cases,
every refused request, the request that destroyed the key, each service's confirmation
and the completion once all four confirmed. Holds and the request live in one
aggregate, so a hold placed while an erasure is being requested conflicts with it
instead of slipping past it.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.intake.domain.errors import IntakeError
from shared.text import guard_field

NAMESPACE = uuid.UUID("0b6f2a64-2c1d-4c1e-8f3a-5d7e9b1c2a40")
SERVICES = ("intake", "planning", "followup", "referral")


def _text(value: str | None, field: str) -> str:
    guard_field(IntakeError, field, value, multiline=True)
    text = (value or "").strip()
    if not text:
        raise IntakeError("invalid", "Give a reason.", field)
    return text


@dataclass(frozen=True)
class Hold:
    """A legal hold on one of the client's cases."""

    case_id: uuid.UUID
    reason: str
    placed_at: datetime
    placed_by: str


@dataclass(frozen=True)
class Refusal:
    """An erasure refused because cases were held."""

    refused_at: datetime
    by: str
    reason: str
    held_cases: list[uuid.UUID]


@dataclass(frozen=True)
class Request:
    """The erasure as requested (its key destroyed right after)."""

    requested_at: datetime
    by: str
    reason: str
    key_id: uuid.UUID


class ClientErasure(Aggregate):
    """The record of a client's erasure: the legal holds on their cases, refused
    attempts, the request, and each service's confirmation."""

    class Started(Aggregate.Created):
        client_id: uuid.UUID
        organisation: str

    class HoldPlaced(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        reason: str
        actor: str

        def apply(self, aggregate: ClientErasure) -> None:
            aggregate.holds[self.case_id] = Hold(
                case_id=self.case_id,
                reason=self.reason,
                placed_at=self.timestamp,
                placed_by=self.actor,
            )

    class HoldLifted(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        actor: str

        def apply(self, aggregate: ClientErasure) -> None:
            aggregate.holds.pop(self.case_id, None)

    class Refused(Aggregate.Event):
        client_id: uuid.UUID
        organisation: str
        reason: str
        held_cases: list[uuid.UUID]
        actor: str

        def apply(self, aggregate: ClientErasure) -> None:
            aggregate.refusals.append(
                Refusal(
                    refused_at=self.timestamp,
                    by=self.actor,
                    reason=self.reason,
                    held_cases=list(self.held_cases),
                )
            )

    class Requested(Aggregate.Event):
        client_id: uuid.UUID
        organisation: str
        reason: str
        key_id: uuid.UUID
        actor: str

        def apply(self, aggregate: ClientErasure) -> None:
            aggregate.requested = Request(
                requested_at=self.timestamp, by=self.actor, reason=self.reason, key_id=self.key_id
            )

    class Confirmed(Aggregate.Event):
        client_id: uuid.UUID
        service: str

        def apply(self, aggregate: ClientErasure) -> None:
            aggregate.confirmed[self.service] = self.timestamp

    class Completed(Aggregate.Event):
        client_id: uuid.UUID
        services: list[str]

        def apply(self, aggregate: ClientErasure) -> None:
            aggregate.completed_at = self.timestamp

    def __init__(self, client_id: uuid.UUID, organisation: str) -> None:
        self.client_id = client_id
        self.organisation = organisation
        self.holds: dict[uuid.UUID, Hold] = {}
        self.refusals: list[Refusal] = []
        self.requested: Request | None = None
        self.confirmed: dict[str, datetime] = {}
        self.completed_at: datetime | None = None

    @staticmethod
    def id_for(client_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, str(client_id))

    @classmethod
    def start(cls, client_id: uuid.UUID, organisation: str, at: datetime) -> ClientErasure:
        return cls._create(
            cls.Started,
            id=cls.id_for(client_id),
            timestamp=at,
            client_id=client_id,
            organisation=organisation,
        )

    # -- legal holds ---------------------------------------------------------------------
    def place_hold(self, *, case_id: uuid.UUID, reason: str, actor: str, at: datetime) -> bool:
        """Put the case under a legal hold; False if it is already held."""
        text = _text(reason, "reason")
        if self.requested is not None:
            raise IntakeError("erased", "The client was erased; there is nothing to hold.")
        if case_id in self.holds:
            return False
        self.trigger_event(
            self.HoldPlaced,
            timestamp=at,
            client_id=self.client_id,
            case_id=case_id,
            reason=text,
            actor=actor,
        )
        return True

    def lift_hold(self, *, case_id: uuid.UUID, actor: str, at: datetime) -> bool:
        """Lift the case's legal hold; False if it was not held."""
        if case_id not in self.holds:
            return False
        self.trigger_event(
            self.HoldLifted, timestamp=at, client_id=self.client_id, case_id=case_id, actor=actor
        )
        return True

    # -- erasure -------------------------------------------------------------------------
    def refuse_if_held(self, *, reason: str, actor: str, at: datetime) -> list[uuid.UUID]:
        """Record a refusal when a hold stands in the way; the held cases (else [])."""
        text = _text(reason, "reason")
        held = sorted(self.holds, key=str)
        if held:
            self.trigger_event(
                self.Refused,
                timestamp=at,
                client_id=self.client_id,
                organisation=self.organisation,
                reason=text,
                held_cases=held,
                actor=actor,
            )
        return held

    def request(self, *, reason: str, actor: str, at: datetime) -> bool:
        """Record the erasure (its key is destroyed right after); False if recorded before."""
        text = _text(reason, "reason")
        if self.requested is not None:
            return False
        if self.holds:
            raise IntakeError("legal-hold", "A case of the client is under a legal hold.")
        self.trigger_event(
            self.Requested,
            timestamp=at,
            client_id=self.client_id,
            organisation=self.organisation,
            reason=text,
            key_id=self.client_id,
            actor=actor,
        )
        return True

    def confirm(self, *, service: str, at: datetime) -> bool:
        """A service confirmed; completes the erasure with the last of the four."""
        if service not in SERVICES:
            raise IntakeError("invalid", f"Unknown service {service!r}.", "service")
        if self.requested is None or service in self.confirmed:
            return False
        self.trigger_event(self.Confirmed, timestamp=at, client_id=self.client_id, service=service)
        if set(self.confirmed) == set(SERVICES) and self.completed_at is None:
            self.trigger_event(
                self.Completed, timestamp=at, client_id=self.client_id, services=list(SERVICES)
            )
        return True

    # -- views ---------------------------------------------------------------------------
    @property
    def status(self) -> str:
        if self.requested is None:
            return "refused" if self.refusals else "none"
        return "completed" if self.completed_at is not None else "pending"

    def receipt(self) -> dict[str, Any]:
        return {
            "erasure_id": self.id,
            "client_id": self.client_id,
            "status": self.status,
            "services": {s: s in self.confirmed for s in SERVICES},
            "confirmed_at": {s: self.confirmed.get(s) for s in SERVICES},
            "requested_at": self.requested and self.requested.requested_at,
            "requested_by": self.requested and self.requested.by,
            "reason": self.requested and self.requested.reason,
            "key_id": self.requested and self.requested.key_id,
            "completed_at": self.completed_at,
            "refusals": [asdict(r) for r in self.refusals],
            "legal_holds": [asdict(h) for h in self.holds.values()],
        }


# Events stored before the record moved here (from `services/intake/erasure.py`) keep loading.
register_topic("services.intake.erasure:ClientErasure", ClientErasure)
for _name in (
    "Started",
    "HoldPlaced",
    "HoldLifted",
    "Refused",
    "Requested",
    "Confirmed",
    "Completed",
):
    register_topic(f"services.intake.erasure:ClientErasure.{_name}", getattr(ClientErasure, _name))
