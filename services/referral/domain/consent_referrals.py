"""The index a withdrawal of a client's referral consent reaches: the referrals resting
on that consent for one partner."""

from __future__ import annotations

import uuid
from datetime import datetime

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic


class ConsentReferrals(Aggregate):
    """The referrals that rest on a client's referral consent for one partner: what a
    withdrawal of that consent must reach. Its id follows from client and partner."""

    class Started(Aggregate.Created):
        client_id: uuid.UUID
        partner_id: uuid.UUID

    class Attached(Aggregate.Event):
        referral_id: uuid.UUID

        def apply(self, aggregate: ConsentReferrals) -> None:
            aggregate.referral_ids.append(self.referral_id)

    def __init__(self, client_id: uuid.UUID, partner_id: uuid.UUID) -> None:
        self.client_id = client_id
        self.partner_id = partner_id
        self.referral_ids: list[uuid.UUID] = []

    @staticmethod
    def id_for(client_id: uuid.UUID, partner_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(INDEX_NAMESPACE, f"{client_id}:{partner_id}")

    @classmethod
    def start(cls, client_id: uuid.UUID, partner_id: uuid.UUID, at: datetime) -> ConsentReferrals:
        return cls._create(
            cls.Started,
            id=cls.id_for(client_id, partner_id),
            timestamp=at,
            client_id=client_id,
            partner_id=partner_id,
        )

    def attach(self, referral_id: uuid.UUID, at: datetime) -> None:
        self.trigger_event(self.Attached, timestamp=at, referral_id=referral_id)


INDEX_NAMESPACE = uuid.UUID("6f1c8d2e-0b7a-4f53-9c1e-5a2d7e8b9c30")


# Events stored before the index moved from `lifecycle.py` keep loading.
register_topic("services.referral.lifecycle:ConsentReferrals", ConsentReferrals)
for _name in ("Started", "Attached"):
    register_topic(
        f"services.referral.lifecycle:ConsentReferrals.{_name}", getattr(ConsentReferrals, _name)
    )
