"""Referral's request and response models for referrals: what a counsellor sends and
reads, and what a partner reads (the directory's models are in `partner_schemas.py`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictStr

from shared.privacy.retention_answers import RetentionRuleOut
from shared.schemas import Answer, Day, Id, MultiLine, Strict
from shared.vocabulary import DataCategory, ReferralOutcome

Reason = Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]
Note = Annotated[StrictStr, Field(max_length=4000), MultiLine]
Status = Literal[
    "proposed",
    "sent",
    "acknowledged",
    "accepted",
    "declined",
    "outcome_reported",
    "closed",
    "withdrawn",
]
Outcome = ReferralOutcome


class ReferralIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "5c2e1a7b-8d4f-4b6a-9e3c-1f2a3b4c5d6e",
                    "partner_id": "7d9e2f4a-1b3c-4d5e-8f6a-2b3c4d5e6f7a",
                    "reason": "Wants to retrain as a care assistant; needs a recognised course.",
                    "data_categories": ["identity", "contact", "career_question"],
                }
            ]
        }
    )

    case_id: Id
    """The accepted intake case the referral is for (of the caller's organisation)."""
    partner_id: Id
    """The partner to refer to (active, with open places or no limit)."""
    reason: Reason
    """Why the client is referred, for the partner to read (1-4000 characters)."""
    data_categories: list[DataCategory] = Field(min_length=1, max_length=5)
    """The client's data the partner may read: each must be covered by the client's granted
    `referral` consent for this partner. One or more of `identity`, `contact`, `career_question`,
    `assessments`, `plan`.
    """


class WithdrawIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The client found a course on their own."}]}
    )

    reason: Reason
    """Why the counsellor withdraws the referral (1-4000 characters)."""


class DeclineIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "No places left in the course this term."}]}
    )

    reason: Reason
    """Why the partner declines (1-4000 characters), for the counsellor."""


class OutcomeIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "completed", "notes": "Finished the course with a certificate."}
            ]
        }
    )

    outcome: Outcome
    """How the referral ended at the partner: `completed`, `partially_completed`, `not_completed` or
    `no_show`.
    """
    notes: Note | None = None
    """The partner's notes on the outcome (at most 4000 characters)."""


class CloseIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "Outcome discussed with the client."}]}
    )

    note: Note | None = None
    """The counsellor's closing note (at most 4000 characters)."""


class ResumptionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resumes": True,
                    "resume_on": "2030-09-01",
                    "note": "Picks up the job search after the course.",
                }
            ]
        }
    )

    resumes: StrictBool
    """Whether guidance resumes after the referral."""
    resume_on: Day | None = None
    """The day guidance resumes (ISO date, not before the referral was sent): required when
    `resumes` is true, absent when false.
    """
    note: Note | None = None
    """A note on the resumption (at most 4000 characters)."""


class ReferralCreated(Answer):
    referral_id: uuid.UUID
    """The new referral's id."""
    version: int
    """The referral's version now (its `ETag`; send it as `If-Match`)."""


class ReferralOut(Answer):
    """A referral as its organisation's staff see it."""

    referral_id: uuid.UUID
    """The referral's id."""
    case_id: uuid.UUID
    """The intake case it is for."""
    client_id: uuid.UUID
    """The case's client."""
    partner_id: uuid.UUID
    """The partner it is sent to."""
    status: str
    """`proposed`, `sent`, `acknowledged`, `accepted`, `declined`, `outcome_reported`, `closed` or
    `withdrawn`.
    """
    reason: str
    """Why the client is referred."""
    data_categories: list[str]
    """The client's data categories the partner may read."""
    consent_id: uuid.UUID
    """The client's `referral` consent the referral rests on."""
    consent_revoked: bool
    """The client withdrew that consent: nothing is shared any more (stays true)."""
    overdue: bool
    """The partner did not answer within the allowed working days (stays true)."""
    overdue_since: date | None
    """The day it became overdue; null if it never did."""
    sent_at: datetime | None
    """When it was sent to the partner; null while proposed."""
    acknowledged_at: datetime | None
    """When the partner acknowledged receipt."""
    answered_at: datetime | None
    """When the partner accepted or declined."""
    decline_reason: str | None
    """The partner's reason, if it declined."""
    outcome: dict[str, Any] | None
    """The partner's outcome: {outcome (`completed` | `partially_completed` | `not_completed` |
    `no_show`), notes, reported_at}; null before it.
    """
    closing_note: str | None
    """The counsellor's note on closing."""
    withdrawal_reason: str | None
    """The counsellor's reason, if withdrawn."""
    resumption: dict[str, Any] | None
    """Whether guidance resumes: {resumes, resume_on, note, recorded_at}; null until recorded."""
    packet_removed_at: datetime | None = None
    """When retention removed the packet (the reason, decline reason and outcome notes
    then read `REMOVED`); null while it is kept."""
    packet_removal_rule: str | None = None
    """The retention rule that removed it (e.g. `referral_packet: 12 months after ...`)."""
    created_at: datetime
    """When the referral was proposed."""
    updated_at: datetime
    """When it last changed."""
    version: int
    """The referral's version (its `ETag`)."""


class PartnerReferralOut(Answer):
    """A referral as the partner sees it: no case or client ids; the reason only while
    the client's data is shared with it."""

    referral_id: uuid.UUID
    """The referral's id."""
    partner_id: uuid.UUID
    """The partner (the caller)."""
    organisation: str
    """The referring organisation."""
    status: str
    """`sent`, `acknowledged`, `accepted`, `declined`, `outcome_reported`, `closed` or `withdrawn`.
    """
    reason: str | None
    """Why the client is referred; null once the client's data is no longer shared."""
    data_categories: list[str]
    """The client's data categories the partner may read (see the packet)."""
    consent_revoked: bool
    """The client withdrew the consent: nothing is shared any more."""
    overdue: bool
    """The answer came (or is) later than the allowed working days."""
    sent_at: datetime | None
    """When the referral was sent."""
    acknowledged_at: datetime | None
    """When the partner acknowledged receipt."""
    answered_at: datetime | None
    """When the partner accepted or declined."""
    outcome: str | None
    """The reported outcome (`completed`, `partially_completed`, `not_completed`, `no_show`); null
    before it.
    """
    packet_removed_at: datetime | None = None
    """When the referring organisation's retention removed the packet (it is no longer
    served: 410 `packet-removed`); null while it is kept."""
    updated_at: datetime
    """When it last changed."""
    version: int
    """The referral's version (its `ETag`; send it as `If-Match`)."""


class ReferralItem(Answer):
    """One line of a list (no personal data)."""

    referral_id: uuid.UUID
    """The referral's id."""
    case_id: uuid.UUID | None = None
    """The intake case (staff only; absent in a partner's inbox)."""
    client_id: uuid.UUID | None = None
    """The case's client (staff only)."""
    organisation: str
    """The referring organisation."""
    partner_id: uuid.UUID
    """The partner it is sent to."""
    status: str
    """The referral's status (see `GET /referrals/{referral_id}`)."""
    data_categories: list[str]
    """The client's data categories the partner may read."""
    consent_revoked: bool
    """The client withdrew the consent it rests on."""
    overdue: bool
    """The partner did not answer in time (stays true)."""
    overdue_since: date | None
    """The day it became overdue; null if it never did."""
    proposed_at: datetime | None = None
    """When it was proposed (staff only)."""
    sent_at: datetime | None
    """When it was sent."""
    acknowledged_at: datetime | None
    """When the partner acknowledged receipt."""
    answered_at: datetime | None
    """When the partner accepted or declined."""
    outcome: str | None
    """The reported outcome; null before it."""
    resumes: bool | None = None
    """Whether guidance resumes after it (staff only; null until recorded)."""
    resume_on: date | None = None
    """When guidance resumes (staff only)."""
    counsellor: str | None = Field(
        default=None,
        description="The case's counsellor (who opened it); not in a partner's inbox; null "
        "for a referral listed before it was kept.",
    )
    updated_at: datetime
    """When it last changed."""
    version: int
    """The referral's version."""


class RemovedPacket(Answer):
    """A referral whose packet retention removed (no personal data)."""

    referral_id: uuid.UUID
    """The referral."""
    case_id: uuid.UUID
    """Its case."""
    partner_id: uuid.UUID
    """The partner it was sent to."""
    status: str
    """`declined`, `closed` or `withdrawn`."""
    ended_at: datetime | None
    """When the referral ended."""
    packet_removed_at: datetime
    """When the packet was removed."""
    rule: str
    """The rule that removed it."""


class PacketRetention(Answer):
    """The agency's retention rules, and the packets removed by the `referral_packet` rule."""

    rules: list[RetentionRuleOut]
    """Every purpose's rule (a legal hold on any case of the client keeps everything)."""
    removed: list[RemovedPacket]
    """The organisation's referrals whose packet was removed, the latest first."""
    total: int
    """How many there are in all."""
