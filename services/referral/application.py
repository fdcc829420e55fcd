"""Referral's use cases: the partner directory, and proposing and sending referrals."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from services.referral.domain import Partner, Referral, ReferralError
from shared.contracts import referral as contracts
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.messaging.relay import Publication
from shared.privacy import PersonalFields


class ReferralApplication(ServiceApplication):
    name = "referral"

    # Partners are organisations: nothing in the directory is personal data. A
    # referral's reasons are the client's.
    personal_data: ClassVar[dict[type, PersonalFields]] = {
        Referral.Proposed: PersonalFields(("reason",), subject="client_id"),
        Referral.Withdrawn: PersonalFields(("reason",), subject="client_id"),
    }

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

    def referral(self, referral_id: uuid.UUID, organisation: str) -> Referral:
        """A referral of the caller's organisation; another's reads as absent."""
        referral = self.load(Referral, referral_id)
        if referral.organisation != organisation:
            raise NotFound(f"No referral {referral_id}.")
        return referral

    def propose_referral(
        self,
        referral_id: uuid.UUID,
        facts: ProposalFacts,
        *,
        organisation: str,
        case_id: uuid.UUID,
        partner_id: uuid.UUID,
        reason: str,
        data_categories: list[str],
        actor: str,
    ) -> Referral:
        """Propose a referral of the case's client to the partner, resting on the client's
        consent; `facts` are what referral's read models say of the case, the partner and
        the consent (gathered by the caller)."""
        case = facts.case
        if case is None or case["organisation"] != organisation:
            raise ReferralError("not-found", f"No case {case_id}.", "case_id")
        partner = facts.partner
        if partner is None:
            raise ReferralError("not-found", f"No partner {partner_id}.", "partner_id")
        if not partner["active"] or partner["open_places"] <= 0:
            raise ReferralError(
                "partner-unavailable",
                "The partner takes no referrals now (inactive or without open places).",
                "partner_id",
            )
        refused = sorted(set(data_categories) - set(partner["accepted_categories"]))
        if refused:
            raise ReferralError(
                "invalid",
                f"The partner does not accept the data categories {', '.join(refused)}.",
                "data_categories",
            )
        consent = facts.consent
        if (
            consent is None
            or not consent["granted"]
            or not set(data_categories) <= set(consent["data_categories"])
        ):
            raise ReferralError(
                "consent-required",
                "The client has not consented to share these data categories with this partner.",
                "data_categories",
            )
        referral = Referral.propose(
            referral_id=referral_id,
            case_id=case_id,
            client_id=uuid.UUID(str(case["client_id"])),
            organisation=organisation,
            partner_id=partner_id,
            reason=reason,
            data_categories=data_categories,
            consent_id=uuid.UUID(str(consent["consent_id"])),
            actor=actor,
            at=self.clock(),
        )
        self.save(referral)
        return referral


@dataclass(frozen=True)
class ProposalFacts:
    """What referral's read models know when a referral is proposed: the case (client,
    organisation), the partner (active, open places, accepted categories) and the
    client's current referral consent for that partner; None where nothing is known."""

    case: dict[str, Any] | None
    partner: dict[str, Any] | None
    consent: dict[str, Any] | None


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


def _referral(state: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "occurred_at": state["timestamp"],
        "actor": state["actor"],
        "referral_id": state["originator_id"],
        "case_id": state["case_id"],
        "client_id": state["client_id"],
        **fields,
    }


def _proposed(s: dict[str, Any]) -> dict[str, Any]:
    names = (
        "organisation",
        "partner_id",
        "reason",
        "data_categories",
        "consent_id",
    )
    return _referral(s, **{n: s[n] for n in names})


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
    Referral.Proposed: Publication(contracts.ReferralProposedV1, _proposed),
    Referral.Sent: Publication(contracts.ReferralSentV1, lambda s: _referral(s)),
    Referral.Withdrawn: Publication(
        contracts.ReferralWithdrawnV1, lambda s: _referral(s, reason=s["reason"])
    ),
}
