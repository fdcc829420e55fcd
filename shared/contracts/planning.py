"""Integration events published by planning (`guidance.planning.<EventType>`)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import IntegrationEvent, Personal
from shared.vocabulary import Competence

Owner = Literal["client", "counsellor", "partner"]


class _Plan(IntegrationEvent):
    service: ClassVar[str] = "planning"
    subject_field: ClassVar[str] = "case_id"

    plan_id: uuid.UUID
    case_id: uuid.UUID
    client_id: uuid.UUID


class PlanCreatedV1(_Plan):
    """A draft plan was created for an accepted case, with its gaps as suggested focus."""

    event_type: ClassVar[str] = "PlanCreated"

    organisation: str
    gaps: list[Competence]


class PlanTypeChosenV1(_Plan):
    """The plan's type was chosen."""

    event_type: ClassVar[str] = "PlanTypeChosen"

    plan_type: Literal["action", "reflection", "combined"]


class GoalAddedV1(_Plan):
    """A SMART goal was added at a priority (1 = highest); its texts are sealed."""

    event_type: ClassVar[str] = "GoalAdded"

    goal_id: uuid.UUID
    title: Personal
    specific: Personal
    measure: Personal
    target_date: date
    competences: list[Competence]
    priority: int


class GoalsReprioritisedV1(_Plan):
    """The goals were ranked anew; `order` lists every goal, highest first."""

    event_type: ClassVar[str] = "GoalsReprioritised"

    order: list[uuid.UUID]


class ActionAddedV1(_Plan):
    """An action was added under a goal, with its owner and due date."""

    event_type: ClassVar[str] = "ActionAdded"

    action_id: uuid.UUID
    goal_id: uuid.UUID
    description: Personal
    owner: Owner
    due_date: date


class ActionCompletedV1(_Plan):
    """An action was completed."""

    event_type: ClassVar[str] = "ActionCompleted"

    action_id: uuid.UUID


class ActionCancelledV1(_Plan):
    """An action was cancelled."""

    event_type: ClassVar[str] = "ActionCancelled"

    action_id: uuid.UUID
    reason: Personal | None = None


class CareerQuestionStatedV1(_Plan):
    """The plan's starting question (the career question in the plan's words); sealed."""

    event_type: ClassVar[str] = "CareerQuestionStated"

    question: Personal


class InsightRecordedV1(_Plan):
    """A reflection or insight of the client's was written down, with its day; sealed."""

    event_type: ClassVar[str] = "InsightRecorded"

    insight_id: uuid.UUID
    text: Personal
    dated: date


class DecisionRecordedV1(_Plan):
    """A choice or a decision was recorded with its reasons; both texts sealed."""

    event_type: ClassVar[str] = "DecisionRecorded"

    decision_id: uuid.UUID
    kind: Literal["choice", "decision"]
    text: Personal
    reasons: Personal


class SupportNeedsRecordedV1(_Plan):
    """The support the client needs was recorded (kinds and words, both sealed).

    It replaces the former; the kinds are among `language`, `digital_skills`, `childcare`,
    `mobility`, `finances` and `other`.
    """

    event_type: ClassVar[str] = "SupportNeedsRecorded"

    kinds: Personal
    notes: Personal | None = None


ProductKind = Literal["skills_cv", "cv", "application", "cover_letter", "portfolio_piece", "other"]
ApplicationStatus = Literal["draft", "sent", "interview", "offer", "rejected", "withdrawn"]


class ProductRecordedV1(_Plan):
    """An action produced a CV, a job application, a cover letter...; its texts sealed.

    The kinds: `skills_cv`, `cv`, `application`, `cover_letter`, `portfolio_piece`,
    `other`. Its title, notes and an application's employer and job are sealed. An
    application starts `sent` (with `sent_on`) or `draft`."""

    event_type: ClassVar[str] = "ProductRecorded"

    product_id: uuid.UUID
    action_id: uuid.UUID
    kind: ProductKind
    title: Personal
    dated: date
    document_hash: str | None = None
    notes: Personal | None = None
    employer: Personal | None = None
    position: Personal | None = None
    sent_on: date | None = None


class ApplicationStatusChangedV1(_Plan):
    """A job application moved on to a status on a day; the employer's answer sealed.

    The statuses: `sent`, `interview`, `offer`, `rejected`, `withdrawn`."""

    event_type: ClassVar[str] = "ApplicationStatusChanged"

    product_id: uuid.UUID
    status: ApplicationStatus
    on: date
    answer: Personal | None = None


class InstrumentUsedV1(_Plan):
    """An instrument of the agency's list was used; its result and interpretation sealed.

    `instrument` is its code in `GUIDANCE_INSTRUMENTS`, `instrument_name` its name then;
    `competences` and `goal_ids` say what in the plan it informs."""

    event_type: ClassVar[str] = "InstrumentUsed"

    use_id: uuid.UUID
    instrument: str
    instrument_name: str
    used_on: date
    result: Personal | None = None
    scores: Personal | None = None
    interpretation: Personal | None = None
    competences: list[Competence]
    goal_ids: list[uuid.UUID]


class InstrumentInterpretedV1(_Plan):
    """The counsellor interpreted an instrument's result; the interpretation sealed."""

    event_type: ClassVar[str] = "InstrumentInterpreted"

    use_id: uuid.UUID
    interpretation: Personal


class AgreedAction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: uuid.UUID
    goal_id: uuid.UUID
    owner: Owner
    due_date: date
    status: Literal["open", "completed", "cancelled"]


class PlanAgreedV1(_Plan):
    """Client and counsellor agreed to the same revision (`version`) of the plan."""

    event_type: ClassVar[str] = "PlanAgreed"

    organisation: str
    version: int
    actions: list[AgreedAction]


class PlanRevisedV1(_Plan):
    """The agreed plan was changed; it needs both agreements again."""

    event_type: ClassVar[str] = "PlanRevised"

    from_version: int


class PlanClosedV1(_Plan):
    """The plan was closed; it changes no more."""

    event_type: ClassVar[str] = "PlanClosed"

    reason: Personal | None = None
