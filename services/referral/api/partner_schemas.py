"""Referral's request and response models of the partner directory, and what a partner
reads beside its referrals: the packet of a client's data and its network figures; the team
lead's network report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictStr

from shared.schemas import Answer, Id, MultiLine, SingleLine, Strict
from shared.vocabulary import DataCategory

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
Name = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Description = Annotated[StrictStr, Field(max_length=4000), MultiLine]
Email = Annotated[StrictStr, Field(max_length=254), SingleLine]
Area = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Language = Annotated[StrictStr, Field(pattern=r"^[A-Za-z]{2}$")]
OpenPlaces = Annotated[int, Field(ge=0, le=100_000)]


class ServiceIn(Strict):
    service_id: Id | None = None
    """Keep a service's id to keep the service (on a change); absent: a new one."""
    name: Name
    """The service's name (1-200 characters)."""
    category: ServiceCategory
    """What kind of service: `training`, `psychology`, `health`, `union`, `entrepreneurship`,
    `debt`, `housing`, `language` or `other`.
    """
    languages: list[Language] = Field(default_factory=list, max_length=20)
    """The languages it is given in (ISO 639-1, e.g. `nl`), at most 20."""
    area: Annotated[StrictStr, Field(max_length=200), SingleLine] | None = None
    """The area it covers (a region or town); absent: everywhere."""
    eligibility: Annotated[StrictStr, Field(max_length=2000), MultiLine] | None = None
    """Who may take part (at most 2000 characters)."""


class PartnerIn(Strict):
    # The id the partner's tokens carry, when it has one already (an identity provider's,
    # or another directory's); else a new one.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Zorgacademie Midden",
                    "description": "Vocational courses in care and welfare.",
                    "services": [
                        {
                            "name": "Retraining course for care assistants",
                            "category": "training",
                            "languages": ["nl", "en"],
                            "area": "Utrecht",
                            "eligibility": "Adults with a basic qualification (MBO 1).",
                        }
                    ],
                    "accepted_categories": ["identity", "contact", "career_question"],
                    "contact_email": "intake@zorgacademie.example.org",
                    "capacity": 12,
                }
            ]
        }
    )

    partner_id: Id | None = None
    """The id the partner's tokens carry, when it has one already (an identity provider's, or
    another directory's); absent: a new one.
    """
    name: Name
    """The partner's name (1-200 characters)."""
    description: Description | None = None
    """What the partner does (at most 4000 characters)."""
    services: list[ServiceIn] = Field(min_length=1, max_length=50)
    """What it offers: 1-50 services."""
    accepted_categories: list[DataCategory] = Field(max_length=5)
    """The client data categories it takes with a referral: `identity`, `contact`,
    `career_question`, `assessments`, `plan`.
    """
    contact_email: Email | None = None
    """Where the partner is reached."""
    # Open places; absent (or null) = no limit. 0 takes no new referrals for now.
    capacity: OpenPlaces | None = None
    """Open places for new referrals; absent or null: no limit, 0: none for now."""


class PartnerPatch(Strict):
    """Only the fields present change; `services` replaces the list (keep a service's id
    to keep the service)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"contact_email": "aanmelding@zorgacademie.example.org"}]}
    )

    name: Name | None = None
    """A new name."""
    description: Description | None = None
    """A new description."""
    services: list[ServiceIn] | None = Field(default=None, min_length=1, max_length=50)
    """The new list of services (replaces the old; keep `service_id` to keep one)."""
    accepted_categories: list[DataCategory] | None = Field(default=None, max_length=5)
    """The new accepted data categories."""
    contact_email: Email | None = None
    """A new contact address."""


class CapacityIn(Strict):
    # Required; null makes the partner unlimited (again).
    model_config = ConfigDict(json_schema_extra={"examples": [{"open_places": 8}]})

    open_places: OpenPlaces | None
    """Open places for new referrals (0-100000); null: no limit (required: send null explicitly)."""


class PartnerCreated(Answer):
    partner_id: uuid.UUID
    """The new partner's id."""
    version: int
    """The partner's version (its `ETag`)."""


class ServiceOut(Answer):
    service_id: uuid.UUID
    """The service's id."""
    name: str
    """The service's name."""
    category: str
    """What kind of service (see `ServiceIn.category`)."""
    languages: list[str]
    """The languages it is given in (ISO 639-1)."""
    area: str | None
    """The area it covers; null: everywhere."""
    eligibility: str | None
    """Who may take part."""


class PartnerOut(Answer):
    partner_id: uuid.UUID
    """The partner's id."""
    name: str
    """The partner's name."""
    description: str | None
    """What the partner does."""
    services: list[ServiceOut]
    """What it offers."""
    accepted_categories: list[str]
    """The client data categories it takes with a referral."""
    contact_email: str | None
    """Where the partner is reached."""
    # null: no limit (the partner was registered without a capacity, or set to null).
    open_places: int | None
    """Open places for new referrals; null: no limit."""
    active: bool
    """Whether it takes referrals and shows in searches (false: deactivated)."""
    created_at: datetime
    """When it was registered."""
    updated_at: datetime
    """When it last changed."""
    version: int
    """The partner's version (its `ETag`; send it as `If-Match`)."""


class Packet(Answer):
    referral_id: uuid.UUID
    """The referral."""
    partner_id: uuid.UUID
    """The partner reading it."""
    reason: str
    """Why the client is referred."""
    data_categories: list[str]
    """The categories served now: those the referral names that the client's consent still covers;
    only these sections are present.
    """
    identity: dict[str, Any] | None = None
    """{given_name, family_name, birth_date} (category `identity`)."""
    contact: dict[str, Any] | None = None
    """{email, phone} (category `contact`)."""
    career_question: str | None = None
    """The client's career question (category `career_question`)."""
    assessments: list[dict[str, Any]] | None = None
    """The competence assessments: [{assessment_id, assessor, scores, recorded_at}] (category
    `assessments`).
    """
    plan: dict[str, Any] | None = None
    """The agreed plan's summary with its goals' titles; null before an agreement (category `plan`).
    """
    access_id: uuid.UUID
    """The id of this recorded read (it is in the access log)."""
    read_at: datetime
    """When this read was recorded."""


class Figures(Answer):
    partner_id: uuid.UUID
    """The partner."""
    organisation: str | None
    """The organisation counted; null: every organisation (the network)."""
    from_: datetime = Field(serialization_alias="from")
    """The period's start (inclusive), by when a referral was sent."""
    to: datetime
    """The period's end (exclusive)."""
    referrals: int
    """Referrals sent to the partner in the period."""
    acknowledged: int
    """Of those, acknowledged."""
    answered: int
    """Of those, accepted or declined."""
    accepted: int
    """Of those, accepted."""
    declined: int
    """Of those, declined."""
    withdrawn: int
    """Of those, withdrawn by the counsellor."""
    overdue: int
    """Of those, marked overdue."""
    acceptance_rate: float | None
    """accepted / answered (0-1, four decimals); null when none answered."""
    median_hours_to_acknowledgement: float | None
    """Median hours from sending to acknowledgement; null when none."""
    median_hours_to_answer: float | None
    """Median hours from sending to the answer; null when none."""
    outcomes: dict[str, int]
    """Referrals per reported outcome, e.g. {"completed": 3}."""


class PartnerFigures(Answer):
    """One partner's line of the team lead's network report: the fields of `Figures`."""

    partner_id: uuid.UUID
    """The partner."""
    name: str | None
    """The partner's name in the directory (null should the directory not know it)."""
    referrals: int
    """The organisation's referrals sent to the partner in the period."""
    acknowledged: int
    """Of those, acknowledged."""
    answered: int
    """Of those, accepted or declined."""
    accepted: int
    """Of those, accepted."""
    declined: int
    """Of those, declined."""
    withdrawn: int
    """Of those, withdrawn by the counsellor."""
    overdue: int
    """Of those, marked overdue."""
    acceptance_rate: float | None
    """accepted / answered (0-1, four decimals); null when none answered."""
    median_hours_to_acknowledgement: float | None
    """Median hours from sending to acknowledgement; null when none."""
    median_hours_to_answer: float | None
    """Median hours from sending to the answer; null when none."""
    outcomes: dict[str, int]
    """Referrals per reported outcome, e.g. {"completed": 3}."""


class NetworkReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    """The period's start (inclusive), by when a referral was sent."""
    to: datetime
    """The period's end (exclusive)."""
    partners: list[PartnerFigures]
    """Each partner the organisation sent a referral to in the period, by name."""
