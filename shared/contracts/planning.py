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
