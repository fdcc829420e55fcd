"""Referral's use cases: the partner directory, and the referral's closed loop."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services.referral.domain import (
    ConsentReferrals,
    Partner,
    Referral,
    ReferralError,
    has_open_places,
)
from shared.audit.access import DataAccess, record_read
from shared.auth import Principal
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.privacy import PersonalFields


class ReferralApplication(ServiceApplication):
    name = "referral"

    # Partners are organisations: nothing in the directory is personal data. A
    # referral's reasons are the client's.
    personal_data: ClassVar[dict[type, PersonalFields]] = {
        Referral.Proposed: PersonalFields(("reason",), subject="client_id"),
        Referral.Withdrawn: PersonalFields(("reason",), subject="client_id"),
        Referral.Declined: PersonalFields(("reason",), subject="client_id"),
        Referral.OutcomeReported: PersonalFields(("notes",), subject="client_id"),
        Referral.Closed: PersonalFields(("note",), subject="client_id"),
        Referral.ResumptionRecorded: PersonalFields(("note",), subject="client_id"),
    }

    # Long-lived aggregates load from their latest snapshot and the events after it: a
    # partner changes its open places for years; a client's consent index gains a referral
    # each time. Neither holds personal data (a snapshot's state is not sealed: never
    # snapshot an aggregate with personal fields).
    snapshotting_intervals: ClassVar[dict[Any, int]] = {
        Partner: 50,
        ConsentReferrals: 50,
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
        try:
            self.save(partner)
        except IntegrityError:
            raise ReferralError(
                "partner-exists", f"A partner {partner_id} is in the directory already."
            ) from None
        return partner

    def referral(self, referral_id: uuid.UUID, who: Principal) -> Referral:
        """A referral the caller may see: a partner's own (once sent), else one of the
        caller's organisation; any other reads as absent."""
        referral = self.load(Referral, referral_id)
        if who.has("partner"):
            # Only what was sent to it: never a proposal, not even one withdrawn unsent.
            visible = referral.partner_id == who.partner_id and referral.sent_at is not None
        else:
            visible = referral.organisation == who.org
        if not visible:
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
        if not partner["active"] or not has_open_places(partner["open_places"]):
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
        # The referral and the index a withdrawal of its consent reaches, in one save.
        client_id = referral.client_id
        for attempt in range(3):
            index = self._consent_referrals(client_id, partner_id, referral.created_on)
            index.attach(referral_id, referral.created_on)
            try:
                self.save(referral, index)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            break
        return referral

    def _consent_referrals(
        self, client_id: uuid.UUID, partner_id: uuid.UUID, at: Any
    ) -> ConsentReferrals:
        try:
            index: object = self.repository.get(ConsentReferrals.id_for(client_id, partner_id))
        except AggregateNotFoundError:
            return ConsentReferrals.start(client_id, partner_id, at)
        assert isinstance(index, ConsentReferrals)
        return index

    # -- reactions ---------------------------------------------------------------------
    def revoke_consent(
        self, client_id: uuid.UUID, partner_id: uuid.UUID, consent_id: uuid.UUID
    ) -> list[Aggregate]:
        """The client withdrew their referral consent for the partner (intake's
        ConsentWithdrawn): every open referral resting on it is marked revoked."""
        try:
            index: object = self.repository.get(ConsentReferrals.id_for(client_id, partner_id))
        except AggregateNotFoundError:
            return []
        assert isinstance(index, ConsentReferrals)
        changed: list[Aggregate] = []
        for referral_id in index.referral_ids:
            referral: object = self.repository.get(referral_id)
            assert isinstance(referral, Referral)
            if referral.revoke_consent(consent_id=consent_id, actor=CONSENT_ACTOR, at=self.clock()):
                changed.append(referral)
        return changed

    def record_access(
        self,
        who: Principal,
        referral: Referral,
        *,
        resource: str,
        categories: list[str],
    ) -> DataAccess:
        """Record one read of the client's data under this referral."""
        return record_read(
            self,
            who,
            client_id=referral.client_id,
            case_id=referral.case_id,
            referral_id=referral.id,
            partner_id=referral.partner_id,
            purpose="referral",
            resource=resource,
            categories=categories,
        )


CONSENT_ACTOR = "system:consent-withdrawn"


@dataclass(frozen=True)
class ProposalFacts:
    """What referral's read models know when a referral is proposed: the case (client,
    organisation), the partner (active, open places, accepted categories) and the
    client's current referral consent for that partner; None where nothing is known."""

    case: dict[str, Any] | None
    partner: dict[str, Any] | None
    consent: dict[str, Any] | None
