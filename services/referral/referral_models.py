"""Referral's request and response models, who may call, and the one way a referral
command runs (shared by the counsellor's and the partner's routes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from pydantic import ConfigDict, Field, StrictBool, StrictStr

from services.referral.api import referral as referral_app
from services.referral.application import ReferralApplication
from services.referral.knowledge import consent_for
from services.referral.lifecycle import Referral
from services.referral.packet import served_categories
from shared.auth import Counsellor, Principal, require
from shared.commands import Projection
from shared.commands import change as change_command
from shared.errors import Forbidden, Problem
from shared.messaging.follower import LogFollower
from shared.schemas import Answer, Day, Id, IfMatch, MultiLine, Strict
from shared.vocabulary import DataCategory, ReferralOutcome

StaffOrPartner = Annotated[Principal, Depends(require("counsellor", "team_lead", "partner"))]
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


def partner_of(who: Principal) -> uuid.UUID:
    """The partner a partner token speaks for."""
    if who.partner_id is None:
        raise Forbidden("This partner token names no partner_id.")
    return who.partner_id


async def a_partner(who: Annotated[Principal, Depends(require("partner"))]) -> Principal:
    partner_of(who)
    return who


PartnerUser = Annotated[Principal, Depends(a_partner)]


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


def referral_out(r: Referral) -> ReferralOut:
    return ReferralOut(
        referral_id=r.id,
        case_id=r.case_id,
        client_id=r.client_id,
        partner_id=r.partner_id,
        status=r.status,
        reason=r.reason,
        data_categories=list(r.data_categories),
        consent_id=r.consent_id,
        consent_revoked=r.consent_revoked,
        overdue=r.overdue,
        overdue_since=r.overdue_since,
        sent_at=r.sent_at,
        acknowledged_at=r.acknowledged_at,
        answered_at=r.answered_at,
        decline_reason=r.decline_reason,
        outcome=r.outcome,
        closing_note=r.closing_note,
        withdrawal_reason=r.withdrawal_reason,
        resumption=r.resumption,
        created_at=r.created_on,
        updated_at=r.modified_on,
        version=r.version,
    )


def partner_view(r: Referral, consented: bool = True) -> PartnerReferralOut:
    """The partner's view; the reason only while the client's data is shared with it
    (`consented`: the client's consent, as intake last said, still stands)."""
    return PartnerReferralOut(
        referral_id=r.id,
        partner_id=r.partner_id,
        organisation=r.organisation,
        status=r.status,
        reason=r.reason if r.shares_data and consented else None,
        data_categories=list(r.data_categories),
        consent_revoked=r.consent_revoked,
        overdue=r.overdue,
        sent_at=r.sent_at,
        acknowledged_at=r.acknowledged_at,
        answered_at=r.answered_at,
        outcome=r.outcome["outcome"] if r.outcome else None,
        updated_at=r.modified_on,
        version=r.version,
    )


ReferralView = ReferralOut | PartnerReferralOut


def view(who: Principal, r: Referral, consented: bool = True) -> ReferralView:
    return partner_view(r, consented) if who.has("partner") else referral_out(r)


@dataclass
class ReferralCommand:
    """Everything one command on one referral needs, gathered by FastAPI: the referral
    (path), who calls, `If-Match`, the application and its projection."""

    referral_id: uuid.UUID
    who: Principal
    app: ReferralApplication
    proj: LogFollower | None
    response: Response
    if_match: str | None

    async def run(self, change: Any) -> ReferralView:
        """Run `change(referral, at)` on the caller's referral; the referral as it is now."""
        _, referral = await change_command(
            self.app,
            self.proj,
            lambda: self.app.referral(self.referral_id, self.who),
            self.if_match,
            self.response,
            change,
        )
        return view(self.who, referral)


async def _counsellor_command(
    referral_id: uuid.UUID,
    who: Counsellor,
    app: Annotated[ReferralApplication, Depends(referral_app)],
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> ReferralCommand:
    return ReferralCommand(referral_id, who, app, proj, response, if_match)


async def _partner_command(
    referral_id: uuid.UUID,
    who: PartnerUser,
    app: Annotated[ReferralApplication, Depends(referral_app)],
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> ReferralCommand:
    return ReferralCommand(referral_id, who, app, proj, response, if_match)


CounsellorCommand = Annotated[ReferralCommand, Depends(_counsellor_command)]
PartnerCommand = Annotated[ReferralCommand, Depends(_partner_command)]


def consent_revoked(referral_id: uuid.UUID, status: int = 403) -> Problem:
    """The client withdrew the consent the referral rests on: 403 for a read of their
    data, 409 for a command that would share it."""
    return Problem(
        f"The client withdrew the consent referral {referral_id} rests on; "
        "their data is no longer shared.",
        status=status,
        code="consent-revoked",
        title="Consent withdrawn",
    )


async def shared_categories(request: Request, referral: Referral) -> list[str]:
    """The categories to share now; a problem when nothing may be shared."""
    if referral.consent_revoked:
        raise consent_revoked(referral.id)
    # The consent as intake last said: a withdrawal wins even before the referral's own
    # ConsentRevoked is stored.
    consented = await consent_for(
        request.app.state.runtime.pool, referral.client_id, referral.partner_id
    )
    served = [] if consented is None else served_categories(referral, consented)
    if not served:  # withdrawn, or narrowed to nothing this referral names
        raise consent_revoked(referral.id)
    return served
