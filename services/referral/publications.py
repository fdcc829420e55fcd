"""What referral publishes: which of its domain events become which contracts
(`shared/contracts/referral.py`), and how each contract's data is read off the stored
event's state (personal fields still sealed)."""

from __future__ import annotations

from typing import Any

from services.referral.domain import Partner, Referral
from shared.audit.access import DataAccess
from shared.contracts import privacy as privacy_contracts
from shared.contracts import referral as contracts
from shared.messaging.relay import Publication
from shared.privacy.erasure import ErasureConfirmation, confirmed_state


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


def _accessed(s: dict[str, Any]) -> dict[str, Any]:
    names = ("referral_id", "case_id", "client_id", "partner_id", "role", "organisation")
    return {
        "occurred_at": s["timestamp"],
        "actor": s["actor"],
        "access_id": s["originator_id"],
        "purpose": s["purpose"],
        "resource": s["resource"],
        "categories": s["categories"],
        **{n: s[n] for n in names},
    }


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
    Referral.Acknowledged: Publication(
        contracts.ReferralAcknowledgedV1, lambda s: _referral(s, partner_id=s["partner_id"])
    ),
    Referral.Accepted: Publication(
        contracts.ReferralAcceptedV1, lambda s: _referral(s, partner_id=s["partner_id"])
    ),
    Referral.Declined: Publication(
        contracts.ReferralDeclinedV1,
        lambda s: _referral(s, partner_id=s["partner_id"], reason=s["reason"]),
    ),
    Referral.OutcomeReported: Publication(
        contracts.ReferralOutcomeReportedV1,
        lambda s: _referral(s, partner_id=s["partner_id"], outcome=s["outcome"], notes=s["notes"]),
    ),
    Referral.Closed: Publication(
        contracts.ReferralClosedV1, lambda s: _referral(s, note=s["note"])
    ),
    Referral.BecameOverdue: Publication(
        contracts.ReferralOverdueV1,
        lambda s: _referral(s, partner_id=s["partner_id"], due_on=s["due_on"]),
    ),
    Referral.ConsentRevoked: Publication(
        contracts.ReferralConsentRevokedV1,
        lambda s: _referral(s, partner_id=s["partner_id"], consent_id=s["consent_id"]),
    ),
    Referral.PacketRemoved: Publication(
        contracts.ReferralPacketRemovedV1,
        lambda s: _referral(s, rule=s["rule"], ended_at=s["ended_at"]),
    ),
    Referral.ResumptionRecorded: Publication(
        contracts.GuidanceResumedV1,
        lambda s: _referral(s, resumes=s["resumes"], resume_on=s["resume_on"], note=s["note"]),
    ),
    DataAccess.Recorded: Publication(contracts.PartnerDataAccessedV1, _accessed),
}
# Each service confirms an erasure with an event of its own.
PUBLICATIONS[ErasureConfirmation.Confirmed] = Publication(
    privacy_contracts.CONFIRMED["referral"], confirmed_state
)
