"""Integration events of erasure (GDPR Art. 17) and legal holds.

Intake publishes the request (after destroying the client's data key), a refusal (a
legal hold stands in the way), the completion (all four services confirmed), and the
legal holds on cases. Every service publishes its own confirmation that it dropped the
client's rows, as `guidance.<service>.ErasureConfirmed`. None of them carries personal
data: the reasons are the organisation's words about the request, not about the client.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from shared.contracts import IntegrationEvent

Service = Literal["intake", "planning", "followup", "referral"]


class _Erasure(IntegrationEvent):
    service: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "client_id"

    erasure_id: uuid.UUID
    client_id: uuid.UUID


class ErasureRequestedV1(_Erasure):
    """The client's erasure was requested and its data key `key_id` is destroyed; every
    service now drops the client's rows and confirms."""

    event_type: ClassVar[str] = "ErasureRequested"

    organisation: str
    reason: str
    key_id: uuid.UUID


class ErasureRefusedV1(_Erasure):
    """The erasure was refused: the client's cases `held_cases` are under a legal hold."""

    event_type: ClassVar[str] = "ErasureRefused"

    organisation: str
    reason: str
    held_cases: list[uuid.UUID]


class ErasureCompletedV1(_Erasure):
    """All four services confirmed the erasure."""

    event_type: ClassVar[str] = "ErasureCompleted"

    services: list[Service]


class LegalHoldPlacedV1(_Erasure):
    """A case was put under a legal hold: its client cannot be erased until it is lifted."""

    event_type: ClassVar[str] = "LegalHoldPlaced"

    case_id: uuid.UUID
    reason: str


class LegalHoldLiftedV1(_Erasure):
    """The case's legal hold was lifted: its client can be erased again."""

    event_type: ClassVar[str] = "LegalHoldLifted"

    case_id: uuid.UUID


class _Confirmed(IntegrationEvent):
    """A service dropped an erased client's rows; the stream says which service."""

    subject_field: ClassVar[str] = "client_id"

    erasure_id: uuid.UUID
    client_id: uuid.UUID
    rows_dropped: int


def _confirmed(name: str) -> type[_Confirmed]:
    doc = f"{name} dropped the erased client's rows from its read models."
    return type(
        f"{name.capitalize()}ErasureConfirmedV1",
        (_Confirmed,),
        {"__doc__": doc, "__module__": __name__, "service": name, "event_type": "ErasureConfirmed"},
    )


IntakeErasureConfirmedV1 = _confirmed("intake")
PlanningErasureConfirmedV1 = _confirmed("planning")
FollowupErasureConfirmedV1 = _confirmed("followup")
ReferralErasureConfirmedV1 = _confirmed("referral")
CONFIRMED: dict[str, type[IntegrationEvent]] = {
    "intake": IntakeErasureConfirmedV1,
    "planning": PlanningErasureConfirmedV1,
    "followup": FollowupErasureConfirmedV1,
    "referral": ReferralErasureConfirmedV1,
}
