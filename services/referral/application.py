"""Referral's use cases, so far the partner directory: register and change partners."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from services.referral.domain import Partner
from shared.contracts import referral as contracts
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.messaging.relay import Publication
from shared.privacy import PersonalFields


class ReferralApplication(ServiceApplication):
    name = "referral"

    # Partners are organisations: nothing in the directory is personal data.
    personal_data: ClassVar[dict[type, PersonalFields]] = {}

    new_id: Callable[[], uuid.UUID] = staticmethod(uuid.uuid4)

    # -- queries and commands ------------------------------------------------------------
    def partner(self, partner_id: uuid.UUID, *, include_inactive: bool) -> Partner:
        """A partner; an inactive one only for those who may see it (else: not found)."""
        partner = self.load(Partner, partner_id)
        if not partner.active and not include_inactive:
            raise NotFound(f"No partner {partner_id}.")
        return partner

    def register_partner(self, partner_id: uuid.UUID, **fields: Any) -> Partner:
        partner = Partner.register(
            partner_id=partner_id, new_id=self.new_id, at=self.clock(), **fields
        )
        self.save(partner)
        return partner


# -- what referral publishes -----------------------------------------------------------------
def _partner(state: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "occurred_at": state["timestamp"],
        "actor": state["actor"],
        "partner_id": state["originator_id"],
        **fields,
    }


def _registered(s: dict[str, Any]) -> dict[str, Any]:
    names = ("name", "description", "services", "accepted_categories", "contact_email")
    return _partner(s, open_places=s["open_places"], **{n: s[n] for n in names})


PUBLICATIONS: dict[type, Publication] = {
    Partner.Registered: Publication(contracts.PartnerRegisteredV1, _registered),
    Partner.Updated: Publication(
        contracts.PartnerUpdatedV1,
        lambda s: _partner(s, changed=sorted(s["changes"]), **s["changes"]),
    ),
    Partner.CapacitySet: Publication(
        contracts.PartnerUpdatedV1,
        lambda s: _partner(s, changed=["open_places"], open_places=s["open_places"]),
    ),
    Partner.Deactivated: Publication(
        contracts.PartnerUpdatedV1, lambda s: _partner(s, changed=["active"], active=False)
    ),
    Partner.Reactivated: Publication(
        contracts.PartnerUpdatedV1, lambda s: _partner(s, changed=["active"], active=True)
    ),
}
