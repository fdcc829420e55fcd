"""Planning's answers to reads: a plan with its goals and actions, its agreed versions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from services.planning.domain import Plan
from shared.schemas import Answer


class ActionOut(Answer):
    action_id: uuid.UUID
    """The action's id."""
    goal_id: uuid.UUID
    """The goal it belongs to."""
    description: str
    """What is done."""
    owner: str
    """Who does it: `client`, `counsellor` or `partner`."""
    due_date: date
    """By when."""
    status: str
    """`open`, `completed` or `cancelled`."""
    added_at: datetime
    """When it was added."""
    closed_at: datetime | None
    """When it was completed or cancelled; null while open."""


class GoalOut(Answer):
    goal_id: uuid.UUID
    """The goal's id."""
    title: str
    """Its title."""
    specific: str
    """What the client will do or reach."""
    measure: str
    """The observable result."""
    target_date: date
    """When it is reached."""
    competences: list[str]
    """The career competences it serves."""
    priority: int
    """Its rank, 1 = highest."""
    actions: list[ActionOut]
    """Its actions."""


class PlanOut(Answer):
    plan_id: uuid.UUID
    """The plan's id."""
    case_id: uuid.UUID
    """The intake case."""
    client_id: uuid.UUID
    """The case's client."""
    organisation: str
    """The organisation it belongs to."""
    counsellor: str | None = Field(
        description="The case's counsellor (who opened it; in the list of plans, the one a "
        "team lead handed the case to, if it was); null for a plan created before it was kept."
    )
    status: str
    """`draft`, `agreed`, `revised` (changed since an agreement) or `closed`."""
    plan_type: str | None
    """`action`, `reflection` or `combined`; null until chosen."""
    revision: int
    """The content revision (a change after an agreement starts a new one)."""
    suggested_focus: dict[str, Any]
    """From the intake assessments: {gaps: the competences to work on, scores: the latest score per
    competence}.
    """
    goals: list[GoalOut]
    """The goals, by priority."""
    competence_analysis: dict[str, Any] | None
    """{career_target, career_target_uri, strengths, weaknesses, training_needs (each [{text,
    esco_uri, self_level, counsellor_level}]), recorded_at, actor}; null until recorded.
    """
    portfolio: dict[str, Any]
    """{evidence: [{evidence_id, title, kind, description, dated, document_hash, added_at, ...}],
    assessment: {standard, comparison, advice, assessed_at, actor} or null}.
    """
    career_question: str | None = Field(
        default=None,
        description="The starting question in the plan's own words; null until stated (the "
        "case's career question stands for it).",
    )
    insights: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The client's reflections and insights, oldest first: [{insight_id, text, "
        "date, added_at}].",
    )
    decisions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The choices and decisions, oldest first: [{decision_id, kind (`choice` or "
        "`decision`), text, reasons, added_at}].",
    )
    support_needs: dict[str, Any] | None = Field(
        default=None,
        description="The support the client needs: {kinds, notes, recorded_at}; null until "
        "recorded.",
    )
    products: list[dict[str, Any]] = Field(
        default_factory=list,
        description="What the actions produced, oldest first (a record of work done, not "
        "agreed content): [{product_id, action_id, kind (`skills_cv`, `cv`, `application`, "
        "`cover_letter`, `portfolio_piece`, `other`), title, date, document_hash, notes, "
        "added_at, application}]; `application` is null but for an application: {employer, "
        "position, status (`draft`, `sent`, `interview`, `offer`, `rejected`, `withdrawn`), "
        "sent_on, steps [{status, on, answer, recorded_at, actor}]}.",
    )
    instruments: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The instruments used, in the order recorded (not agreed content): "
        "[{use_id, instrument (its code), instrument_name, used_on, result, scores "
        "({name: number} or null), interpretation, interpreted_at, competences, goal_ids, "
        "recorded_at, actor}].",
    )
    agreements: dict[str, Any]
    """Per party (`client`, `counsellor`): the revision it agreed to, when, who."""
    # Version numbers count agreements (1 = the first agreed version): the `n` of
    # `GET …/versions/{n}`. The revision each was agreed on, in the same order.
    agreed_versions: list[int]
    """The agreed versions' numbers (1 = the first agreement): the `version` of `GET
    .../versions/{version}`.
    """
    agreed_revisions: list[int]
    """The revision each agreed version was agreed on, in the same order."""
    latest_agreed_version: int | None
    """The latest agreed version's number; null before an agreement."""
    closed: dict[str, Any] | None
    """While closed: {at, reason, actor}; null otherwise."""
    created_at: datetime
    """When the plan was created (when the case was accepted)."""
    version: int
    """The plan's version (its `ETag`)."""


class InstrumentOut(Answer):
    code: str
    """The instrument's code (what a plan's record names)."""
    name: str
    """Its name."""
    kind: str
    """`interests`, `personality`, `values`, `skills`, `aptitude` or `other`."""
    publisher: str | None
    """Who publishes it, if said."""
    languages: list[str]
    """The languages it is available in (`nl`, `fr`, `en`, `de`)."""


class PlanVersionOut(Answer):
    plan_id: uuid.UUID
    """The plan's id."""
    # 1 = the first agreed version; `revision` is the plan's revision it was agreed on.
    version: int
    """The agreed version's number: 1 = the first agreement."""
    revision: int
    """The plan's revision it was agreed on."""
    agreed_at: datetime
    """When the second party agreed."""
    agreements: dict[str, Any]
    """Who agreed for each party (`client`, `counsellor`), to which revision, when."""
    # What both agreed to; "ERASED" once the client's key is destroyed.
    content: dict[str, Any] | Literal["ERASED"]
    """What both agreed to: {plan_type, goals, competence_analysis, portfolio, and since the
    richer plan career_question, insights, decisions, support_needs}; `ERASED` once the
    client's data key is destroyed.
    """


class PartyAgreementOut(Answer):
    revision: int
    """The revision agreed to."""
    at: datetime
    """When."""
    actor: str
    """Who recorded it (`sub`)."""


class PlanVersionSummary(Answer):
    version: int
    """The agreed version's number: 1 = the first agreement."""
    revision: int
    """The plan's revision it was agreed on."""
    agreed_at: datetime
    """When the second party agreed."""
    # Who agreed for each party (`client`, `counsellor`) and when.
    agreements: dict[str, PartyAgreementOut]
    """Who agreed for each party (`client`, `counsellor`) and when."""
    plan_type: str | None
    """The plan's type in that version."""
    # None once the client's key is destroyed (the content reads "ERASED").
    goals: int | None
    """How many goals it has; null once the client's data key is destroyed."""


def plan_out(p: Plan) -> PlanOut:
    return PlanOut(
        plan_id=p.id,
        case_id=p.case_id,
        client_id=p.client_id,
        organisation=p.organisation,
        counsellor=p.counsellor,
        status=p.status,
        plan_type=p.plan_type,
        revision=p.revision,
        suggested_focus=p.suggested_focus,
        goals=[GoalOut(**g) for g in p.ranked_goals()],
        competence_analysis=p.competence_analysis_dict(),
        portfolio=p.portfolio.as_dict(),
        career_question=p.career_question,
        insights=p.insights_list(),
        decisions=p.decisions_list(),
        support_needs=p.support_needs_dict(),
        products=p.products_list(),
        instruments=p.instruments_list(),
        agreements=p.agreements_dict(),
        agreed_versions=list(range(1, len(p.agreed_versions) + 1)),
        agreed_revisions=sorted(p.agreed_versions),
        latest_agreed_version=len(p.agreed_versions) or None,
        closed=p.closed_dict(),
        created_at=p.created_on,
        version=p.version,
    )
