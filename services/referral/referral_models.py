"""Referral's request and response models, who may call, and the one way a referral
command runs (shared by the counsellor's and the partner's routes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictStr

from services.referral.api import DataCategory
from services.referral.api import referral as referral_app
from services.referral.application import ReferralApplication
from services.referral.knowledge import consent_for
from services.referral.lifecycle import Referral
from services.referral.packet import served_categories
from shared.auth import Principal, require
from shared.commands import Projection
from shared.commands import change as change_command
from shared.errors import Forbidden, Problem
from shared.messaging.follower import LogFollower
from shared.schemas import Day, Id, MultiLine, Strict

Counsellor = Annotated[Principal, Depends(require("counsellor"))]
Staff = Annotated[Principal, Depends(require("counsellor", "team_lead"))]
Reader = Annotated[Principal, Depends(require("counsellor", "team_lead", "partner"))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
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
Outcome = Literal["completed", "partially_completed", "not_completed", "no_show"]


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
    case_id: Id
    partner_id: Id
    reason: Reason
    data_categories: list[DataCategory] = Field(min_length=1, max_length=5)


class WithdrawIn(Strict):
    reason: Reason


class DeclineIn(Strict):
    reason: Reason


class OutcomeIn(Strict):
    outcome: Outcome
    notes: Note | None = None


class CloseIn(Strict):
    note: Note | None = None


class ResumptionIn(Strict):
    resumes: StrictBool
    resume_on: Day | None = None
    note: Note | None = None


class ReferralCreated(BaseModel):
    referral_id: uuid.UUID
    version: int


class ReferralOut(BaseModel):
    """A referral as its organisation's staff see it."""

    referral_id: uuid.UUID
    case_id: uuid.UUID
    client_id: uuid.UUID
    partner_id: uuid.UUID
    status: str
    reason: str
    data_categories: list[str]
    consent_id: uuid.UUID
    consent_revoked: bool
    overdue: bool
    overdue_since: date | None
    sent_at: datetime | None
    acknowledged_at: datetime | None
    answered_at: datetime | None
    decline_reason: str | None
    outcome: dict[str, Any] | None
    closing_note: str | None
    withdrawal_reason: str | None
    resumption: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    version: int


class PartnerReferralOut(BaseModel):
    """A referral as the partner sees it: no case or client ids; the reason only while
    the client's data is shared with it."""

    referral_id: uuid.UUID
    partner_id: uuid.UUID
    organisation: str
    status: str
    reason: str | None
    data_categories: list[str]
    consent_revoked: bool
    overdue: bool
    sent_at: datetime | None
    acknowledged_at: datetime | None
    answered_at: datetime | None
    outcome: str | None
    updated_at: datetime
    version: int


class ReferralItem(BaseModel):
    """One line of a list (no personal data)."""

    referral_id: uuid.UUID
    case_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    organisation: str
    partner_id: uuid.UUID
    status: str
    data_categories: list[str]
    consent_revoked: bool
    overdue: bool
    overdue_since: date | None
    proposed_at: datetime | None = None
    sent_at: datetime | None
    acknowledged_at: datetime | None
    answered_at: datetime | None
    outcome: str | None
    resumes: bool | None = None
    resume_on: date | None = None
    counsellor: str | None = Field(
        default=None,
        description="The case's counsellor (who opened it); not in a partner's inbox; null "
        "for a referral listed before it was kept.",
    )
    updated_at: datetime
    version: int


class Packet(BaseModel):
    referral_id: uuid.UUID
    partner_id: uuid.UUID
    reason: str
    data_categories: list[str]
    identity: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    career_question: str | None = None
    assessments: list[dict[str, Any]] | None = None
    plan: dict[str, Any] | None = None
    access_id: uuid.UUID
    read_at: datetime


class Figures(BaseModel):
    partner_id: uuid.UUID
    organisation: str | None
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    referrals: int
    acknowledged: int
    answered: int
    accepted: int
    declined: int
    withdrawn: int
    overdue: int
    acceptance_rate: float | None
    median_hours_to_acknowledgement: float | None
    median_hours_to_answer: float | None
    outcomes: dict[str, int]


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
