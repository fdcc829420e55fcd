"""Integration events published by referral (`guidance.referral.<EventType>`).

So far the partner directory: a partner registered, and any change to it after.
Nothing here is personal data: partners are organisations.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import IntegrationEvent

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
DataCategory = Literal["identity", "contact", "career_question", "assessments", "plan"]
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
    """A partner was added to the directory, active, with its services and capacity."""

    event_type: ClassVar[str] = "PartnerRegistered"

    name: str
    description: str | None = None
    services: list[PartnerService]
    accepted_categories: list[DataCategory]
    contact_email: str | None = None
    open_places: int


class PartnerUpdatedV1(_Partner):
    """Some of a partner's fields changed: `changed` names them, and exactly those fields
    carry their new value (a cleared description or contact address is null)."""

    event_type: ClassVar[str] = "PartnerUpdated"

    changed: list[PartnerField]
    name: str | None = None
    description: str | None = None
    services: list[PartnerService] | None = None
    accepted_categories: list[DataCategory] | None = None
    contact_email: str | None = None
    open_places: int | None = None
    active: bool | None = None
