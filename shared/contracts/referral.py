"""Integration events published by referral (`guidance.referral.<EventType>`).

The partner directory (a partner registered, and any change to it after; nothing there
is personal data: partners are organisations), each step of a referral's closed loop
(reasons and notes are the client's, and sealed), the reads of a client's data by
partners, and whether guidance resumes after a referral.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import IntegrationEvent, Personal
from shared.vocabulary import DataCategory, ReferralOutcome

ServiceCategory = Literal[
    "training",
    "psychology",
    "health",
    "union",
    "entrepreneurship",
    "debt",
    "housing",
    "language",
    "other",
]
PartnerField = Literal[
    "name",
    "description",
    "services",
    "accepted_categories",
    "contact_email",
    "open_places",
    "active",
]


class PartnerService(BaseModel):
    """One service of a partner (HSDS `service`): `languages` are ISO 639-1 codes, `area`
    is a free-text region or postcode area (absent: no restriction)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_id: uuid.UUID
    name: str
    category: ServiceCategory
    languages: list[str]
    area: str | None = None
    eligibility: str | None = None


class _Partner(IntegrationEvent):
    service: ClassVar[str] = "referral"
    subject_field: ClassVar[str] = "partner_id"

    partner_id: uuid.UUID


class PartnerRegisteredV1(_Partner):
    """A partner was added to the directory, active, with its services and capacity.
    `open_places` null: the partner has no limit."""

    event_type: ClassVar[str] = "PartnerRegistered"

    name: str
    description: str | None = None
    services: list[PartnerService]
    accepted_categories: list[DataCategory]
    contact_email: str | None = None
    # Open places; null: no limit (registered without a capacity). Always present.
    open_places: int | None


class PartnerUpdatedV1(_Partner):
    """Some of a partner's fields changed: `changed` names them, and exactly those fields
    carry their new value (a cleared description or contact address is null; open places
    null: no limit)."""

    event_type: ClassVar[str] = "PartnerUpdated"

    changed: list[PartnerField]
    name: str | None = None
    description: str | None = None
    services: list[PartnerService] | None = None
    accepted_categories: list[DataCategory] | None = None
    contact_email: str | None = None
    open_places: int | None = None
    active: bool | None = None


class _Referral(IntegrationEvent):
    service: ClassVar[str] = "referral"
    subject_field: ClassVar[str] = "case_id"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    client_id: uuid.UUID


class ReferralProposedV1(_Referral):
    """A counsellor proposed referring the case's client to a partner, sharing these data
    categories on the strength of the client's consent `consent_id`; the reason is sealed."""

    event_type: ClassVar[str] = "ReferralProposed"

    organisation: str
    partner_id: uuid.UUID
    reason: Personal
    data_categories: list[DataCategory]
    consent_id: uuid.UUID


class ReferralSentV1(_Referral):
    """The proposed referral was sent to the partner."""

    event_type: ClassVar[str] = "ReferralSent"


class ReferralWithdrawnV1(_Referral):
    """The counsellor withdrew the referral (proposed or sent); the reason is sealed."""

    event_type: ClassVar[str] = "ReferralWithdrawn"

    reason: Personal


class _PartnerStep(_Referral):
    partner_id: uuid.UUID


class ReferralAcknowledgedV1(_PartnerStep):
    """The partner has seen the referral."""

    event_type: ClassVar[str] = "ReferralAcknowledged"


class ReferralAcceptedV1(_PartnerStep):
    """The partner takes the client on."""

    event_type: ClassVar[str] = "ReferralAccepted"


class ReferralDeclinedV1(_PartnerStep):
    """The partner does not take the client on; the reason is sealed."""

    event_type: ClassVar[str] = "ReferralDeclined"

    reason: Personal


Outcome = ReferralOutcome


class ReferralOutcomeReportedV1(_PartnerStep):
    """The partner reports how its service to the client ended; the notes are sealed."""

    event_type: ClassVar[str] = "ReferralOutcomeReported"

    outcome: Outcome
    notes: Personal | None = None


class ReferralClosedV1(_Referral):
    """The counsellor closed the loop (after a decline or an outcome)."""

    event_type: ClassVar[str] = "ReferralClosed"

    note: Personal | None = None


class ReferralOverdueV1(_PartnerStep):
    """The partner did not answer by `due_on` (working days after sending)."""

    event_type: ClassVar[str] = "ReferralOverdue"

    due_on: date


class ReferralConsentRevokedV1(_PartnerStep):
    """The client withdrew the consent `consent_id` the referral rests on: nothing of the
    client is shared under it any more."""

    event_type: ClassVar[str] = "ReferralConsentRevoked"

    consent_id: uuid.UUID


class ReferralPacketRemovedV1(_Referral):
    """Retention removed the referral's packet (`rule`: the agency's period), the
    referral having ended at `ended_at`: the packet and letter are no longer served and
    the texts the partner received read `REMOVED`; the referral record stays."""

    event_type: ClassVar[str] = "ReferralPacketRemoved"

    rule: str
    ended_at: datetime


class GuidanceResumedV1(_Referral):
    """The counsellor recorded whether (and from when) guidance resumes after the
    referral; recorded again, the latest wins. The note is sealed."""

    event_type: ClassVar[str] = "GuidanceResumed"

    resumes: bool
    resume_on: date | None = None
    note: Personal | None = None


class PartnerDataAccessedV1(IntegrationEvent):
    """A client's data was read in referral: by the partner (`resource` `packet`), as a
    printed letter for the partner (`letter`), the referral itself with its reason and
    notes (`referral`: by its partner, or by its organisation's staff without a
    `partner_id`), or by an auditor. Who, as which role, for which purpose and partner,
    which categories, when."""

    service: ClassVar[str] = "referral"
    subject_field: ClassVar[str] = "client_id"
    event_type: ClassVar[str] = "PartnerDataAccessed"

    access_id: uuid.UUID
    client_id: uuid.UUID
    case_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    role: str
    organisation: str
    purpose: str
    resource: str
    categories: list[str]
