"""Planning's HTTP API: the plan, its goals, actions, analysis, portfolio and agreement."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from services.planning.application import PlanningApplication
from services.planning.document import language_for, render
from services.planning.domain import Plan
from services.planning.projections import case_record, client_record, list_plans
from shared.audit.access import record_read, record_reads
from shared.auth import Counsellor, Principal, Staff
from shared.commands import Projection, change, set_etag
from shared.errors import NotFound
from shared.http import page_headers
from shared.idempotency import new_id
from shared.messaging.follower import LogFollower
from shared.privacy import ERASED
from shared.privacy.sealing import open_sealed
from shared.schemas import (
    Answer,
    CounsellorFilter,
    Day,
    Id,
    IfMatch,
    Limit,
    MultiLine,
    Offset,
    SingleLine,
    Strict,
)
from shared.vocabulary import Competence

router = APIRouter(tags=["planning"])

Text = Annotated[StrictStr, Field(min_length=1, max_length=2000), MultiLine]
Title = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Note = Annotated[StrictStr, Field(max_length=2000), MultiLine]


class PlanTypeIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"plan_type": "combined"}]})

    plan_type: Literal["action", "reflection", "combined"]
    """`action` (action-oriented), `reflection` (reflection-oriented) or `combined`."""


# A goal's target date lies within the plan's horizon (about 18 months): the examples'
# dates are counted from the day the document is built, so that they are accepted.
EXAMPLE_TARGET = (date.today() + timedelta(days=180)).isoformat()
EXAMPLE_DUE = (date.today() + timedelta(days=60)).isoformat()


class GoalIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Start the care assistant course",
                    "specific": "Enrol in and start the MBO 2 care assistant course at a "
                    "regional college",
                    "measure": "A signed enrolment and 2 attended lessons",
                    "target_date": EXAMPLE_TARGET,
                    "competences": ["work_exploration", "career_steering"],
                    "priority": 1,
                }
            ]
        }
    )

    title: Title
    """A short title (1-200 characters)."""
    specific: Text
    """What the client will do or reach, concretely: at least a few words, not the title again
    (1-2000 characters).
    """
    measure: Text
    """The observable result that shows the goal is reached: a number, a document, an event (1-2000
    characters).
    """
    target_date: Day
    """When it is reached (ISO date): in the future, at least 7 days ahead and within the plan's
    horizon (about 18 months; both configurable).
    """
    competences: list[Competence] = Field(max_length=5)
    """The career competences it serves (at least one for a SMART goal): `quality_reflection`,
    `motive_reflection`, `work_exploration`, `career_steering`, `networking`.
    """
    priority: int = Field(ge=1, le=100)
    """Its rank, 1 = highest; at most one more than the goals so far (the others move down)."""


class PrioritiesIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order": [
                        "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
                        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    ]
                }
            ]
        }
    )

    order: list[Id] = Field(min_length=1, max_length=100)
    """Every goal of the plan, each once, highest priority first."""


class ActionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "description": "Visit the college's open day and ask about enrolment",
                    "owner": "client",
                    "due_date": EXAMPLE_DUE,
                }
            ]
        }
    )

    description: Text
    """What is done (1-2000 characters)."""
    owner: Literal["client", "counsellor", "partner"]
    """Who does it: `client`, `counsellor` or `partner`."""
    due_date: Day
    """By when (ISO date): not in the past, not after the goal's target date."""


class CancelIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The client found a course elsewhere."}]}
    )

    reason: Note | None = None
    """Why (at most 2000 characters); optional, and so is the body."""


class AnalysisItem(Strict):
    text: Annotated[StrictStr, Field(min_length=1, max_length=500), MultiLine]
    """The strength, weakness or training need (1-500 characters)."""
    esco_uri: Annotated[StrictStr, Field(max_length=200), SingleLine] | None = None
    """The matching ESCO skill or competence, as its URI (optional)."""


class CompetenceAnalysisIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "career_target": "Care assistant",
                    "strengths": [{"text": "Patient and friendly with customers"}],
                    "weaknesses": [{"text": "No experience with personal care"}],
                    "training_needs": [{"text": "Vocational course care assistant (MBO 2)"}],
                }
            ]
        }
    )

    career_target: Annotated[StrictStr, Field(min_length=1, max_length=500), SingleLine]
    """The occupation aimed at (1-500 characters), e.g. an ESCO occupation's title."""
    strengths: list[AnalysisItem] = Field(default_factory=list, max_length=50)
    """What the client already brings to it (at most 50)."""
    weaknesses: list[AnalysisItem] = Field(default_factory=list, max_length=50)
    """What falls short (at most 50)."""
    training_needs: list[AnalysisItem] = Field(default_factory=list, max_length=50)
    """What the client needs to learn (at most 50)."""


class EvidenceIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Retail diploma",
                    "kind": "diploma",
                    "description": "MBO 2 retail, 2012.",
                    "date": "2012-06-30",
                    "document_hash": "sha256:"
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                }
            ]
        }
    )

    title: Title
    """The evidence's title (1-200 characters)."""
    kind: Literal["diploma", "certificate", "work_sample", "reference", "assessment", "other"]
    """`diploma`, `certificate`, `work_sample`, `reference`, `assessment` or `other`."""
    description: Note | None = None
    """What it shows (at most 2000 characters)."""
    date: Day
    """The date of the evidence (ISO date), e.g. when the diploma was awarded."""
    document_hash: Annotated[StrictStr, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    """The document's SHA-256 as `sha256:<64 hex digits>` (the document itself is kept elsewhere).
    """


class PortfolioAssessmentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "standard": "MBO 2 care assistant qualification",
                    "comparison": "Customer care and hygiene are covered by the retail work; "
                    "personal care is not.",
                    "advice": "continue",
                }
            ]
        }
    )

    standard: Annotated[StrictStr, Field(min_length=1, max_length=300), SingleLine]
    """The standard the portfolio is compared with (1-300 characters), e.g. a qualification's name.
    """
    comparison: Text
    """How the portfolio measures up to it (1-2000 characters)."""
    advice: Literal["continue", "stop"]
    """`continue` (the recognition procedure) or `stop`."""


class AgreementIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"party": "client"}]})

    party: Literal["client", "counsellor"]
    """Who agrees to the current revision: `client` or `counsellor` (the counsellor records both).
    """


class Changed(Answer):
    version: int
    """The plan's version now (its `ETag`; send it as `If-Match`)."""
    status: str
    """The plan's status: `draft`, `agreed`, `revised` or `closed`."""
    revision: int
    """The plan's content revision (a change after an agreement starts a new one)."""


class GoalCreated(Changed):
    goal_id: uuid.UUID
    """The new goal's id."""


class ActionCreated(Changed):
    action_id: uuid.UUID
    """The new action's id."""


class EvidenceCreated(Changed):
    evidence_id: uuid.UUID
    """The new evidence item's id."""


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
        description="The case's counsellor (who opened it); null for a plan created before "
        "it was kept."
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
    """{career_target, strengths, weaknesses, training_needs (each [{text, esco_uri}]), recorded_at,
    actor}; null until recorded.
    """
    portfolio: dict[str, Any]
    """{evidence: [{evidence_id, title, kind, description, dated, document_hash, added_at, ...}],
    assessment: {standard, comparison, advice, assessed_at, actor} or null}.
    """
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
    """What both agreed to: {plan_type, goals, competence_analysis, portfolio}; `ERASED` once the
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


async def planning(request: Request) -> PlanningApplication:
    app: PlanningApplication = request.app.state.planning
    return app


App = Annotated[PlanningApplication, Depends(planning)]


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
        competence_analysis=p.competence_analysis,
        portfolio=p.portfolio,
        agreements=p.agreements,
        agreed_versions=list(range(1, len(p.agreed_versions) + 1)),
        agreed_revisions=sorted(p.agreed_versions),
        latest_agreed_version=len(p.agreed_versions) or None,
        closed=p.closed,
        created_at=p.created_on,
        version=p.version,
    )


@router.get("/plans", response_model=list[PlanOut])
async def get_plans(
    who: Staff,
    app: App,
    request: Request,
    response: Response,
    case_id: Annotated[
        uuid.UUID | None, Query(description="The plan of this intake case (at most one).")
    ] = None,
    status_: Annotated[
        Literal["draft", "agreed", "revised", "closed"] | None,
        Query(alias="status", description="Only plans in this status."),
    ] = None,
    counsellor: CounsellorFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[PlanOut]:
    """Plans of the organisation: the case's one plan with `case_id`, else all, newest
    first; `counsellor` keeps those of one counsellor's cases."""
    counsellor = who.counsellor_filter(counsellor)
    if case_id is not None:
        plan = await run_in_threadpool(app.plan_for_case, case_id, who.org)
        plans = (
            [plan]
            if plan is not None
            and status_ in (None, plan.status)
            and counsellor in (None, plan.counsellor)
            else []
        )
        await run_in_threadpool(_listed, app, who, plans)
        response.headers["X-Total-Count"] = str(len(plans))
        return [plan_out(p) for p in plans]
    ids, total = await list_plans(
        request.app.state.runtime.pool,
        who.org,
        status=status_,
        counsellor=counsellor,
        limit=limit,
        offset=offset,
    )
    page_headers(request, response, total, limit, offset)

    def load() -> list[Plan]:
        plans = [app.plan(plan_id, who.org) for plan_id in ids]
        _listed(app, who, plans)
        return plans

    return [plan_out(p) for p in await run_in_threadpool(load)]


def _listed(app: PlanningApplication, who: Principal, plans: list[Plan]) -> None:
    """A list of plans shows each one's goals and actions (the client's data): one read
    per listed client recorded, all in one write."""
    record_reads(
        app,
        who,
        client_ids=[p.client_id for p in plans],
        resource="plan-list",
        categories=["plan"],
    )


def _read(
    app: PlanningApplication, plan_id: uuid.UUID, who: Principal, resource: str, kinds: list[str]
) -> Plan:
    """The plan, its read recorded (goals, actions and notes are the client's data)."""
    plan = app.plan(plan_id, who.org)
    record_read(
        app,
        who,
        client_id=plan.client_id,
        case_id=plan.case_id,
        resource=resource,
        categories=kinds,
    )
    return plan


@router.get("/plans/{plan_id}", response_model=PlanOut)
async def get_plan(plan_id: uuid.UUID, who: Staff, app: App, response: Response) -> PlanOut:
    """One plan with its goals by priority, their actions, analysis, portfolio, agreement."""
    plan = await run_in_threadpool(_read, app, plan_id, who, "plan", ["plan"])
    set_etag(response, plan.version)
    return plan_out(plan)


def _summary(agreed: dict[str, Any]) -> PlanVersionSummary:
    content = agreed["content"]
    opened = isinstance(content, dict)
    return PlanVersionSummary(
        version=agreed["version"],
        revision=agreed["revision"],
        agreed_at=agreed["agreed_at"],
        agreements={p: PartyAgreementOut(**a) for p, a in agreed["agreements"].items()},
        plan_type=content.get("plan_type") if opened else None,
        goals=len(content.get("goals", [])) if opened else None,
    )


def _which_exist(plan: Plan) -> str:
    count = len(plan.agreed_versions)
    if count == 0:
        return "This plan has no agreed version yet."
    if count == 1:
        return "This plan has agreed version 1."
    return f"This plan has agreed versions 1\u2013{count}."


@router.get("/plans/{plan_id}/versions", response_model=list[PlanVersionSummary])
async def get_agreed_versions(plan_id: uuid.UUID, who: Staff, app: App) -> list[PlanVersionSummary]:
    """The plan's agreed versions, first agreement first: `version` counts agreements
    (1 = the first agreed version), `revision` is the plan's revision it was agreed on."""
    plan = await run_in_threadpool(_read, app, plan_id, who, "plan-versions", ["plan"])
    return [_summary(v) for v in plan.agreed_in_order()]


@router.get("/plans/{plan_id}/versions/{version}", response_model=PlanVersionOut)
async def get_agreed_version(
    plan_id: uuid.UUID,
    version: Annotated[
        int,
        Path(
            ge=1,
            le=1_000_000,
            description="The agreed version: 1 = the first agreement, 2 = the second (not the "
            "plan's revision; `GET .../versions` lists them).",
        ),
    ],
    who: Staff,
    app: App,
) -> PlanVersionOut:
    """Agreed version `version` of the plan (1 = the first agreement), as both parties
    agreed to it; it says the revision it was agreed on."""
    plan = await run_in_threadpool(_read, app, plan_id, who, "plan-version", ["plan"])
    agreed = plan.agreed_version(version)
    if agreed is None:
        raise NotFound(f"Plan {plan_id} has no agreed version {version}. {_which_exist(plan)}")
    return PlanVersionOut(plan_id=plan.id, **agreed)


@router.get("/plans/{plan_id}/document", response_class=HTMLResponse)
async def get_document(
    plan_id: uuid.UUID,
    who: Staff,
    app: App,
    request: Request,
    lang: Annotated[
        Literal["nl", "fr", "en"] | None,
        Query(
            description="The page's language: Dutch, French or English; absent: the client's "
            "preferred one (`fr-BE` is French), else English."
        ),
    ] = None,
) -> HTMLResponse:
    """The plan as a printable page for the client, in their preferred language: the career
    question, the competences to work on, the goals with their SMART measures and target
    dates, the actions with who does them and by when, and the agreement with its version.
    The console prints it as PDF."""
    plan = await run_in_threadpool(
        _read, app, plan_id, who, "plan-document", ["identity", "career_question", "plan"]
    )
    pool = request.app.state.runtime.pool
    client = await client_record(pool, plan.client_id)
    case = await case_record(pool, plan.case_id)
    name = await run_in_threadpool(_client_name, app, client)
    question = await run_in_threadpool(_career_question, app, case)
    content = plan.content()
    agreed = plan.agreed_in_order()
    page = render(
        {
            **content,
            "status": plan.status,
            "gaps": plan.suggested_focus["gaps"],
            "last_agreed": agreed[-1] if agreed else None,
        },
        client_name=name,
        career_question=question,
        lang=language_for(client["preferred_language"] if client else None, lang),
        printed=app.clock().date(),
    )
    return HTMLResponse(page, headers={"ETag": f'"{plan.version}"'})


def _career_question(app: PlanningApplication, case: dict[str, Any] | None) -> str | None:
    """The case's career question, opened from intake's sealed copy (None once erased or
    not yet known here)."""
    if case is None or not isinstance(case["career_question"], dict):
        return None
    plain = open_sealed(app.vault, case["career_question"], case["event_id"], "career_question")
    if plain is None:
        return None
    value = app.sealing.transcoder.decode(plain)["v"]
    return None if value == ERASED else str(value)


def _client_name(app: PlanningApplication, client: dict[str, Any] | None) -> str | None:
    """The client's name, opened from intake's sealed copy (None once erased or unknown)."""
    if client is None:
        return None
    parts = []
    for field in ("given_name", "family_name"):
        sealed = client.get(field)
        if not isinstance(sealed, dict):
            return None
        plain = open_sealed(app.vault, sealed, client["event_id"], field)
        if plain is None:
            return None
        value = app.sealing.transcoder.decode(plain)["v"]
        if value == ERASED:
            return None
        parts.append(str(value))
    return " ".join(parts)


async def _change(
    app: PlanningApplication,
    proj: LogFollower | None,
    plan_id: uuid.UUID,
    who: Principal,
    if_match: str | None,
    response: Response,
    command: Any,
) -> tuple[Any, dict[str, Any]]:
    """One command on the plan; the result and the plan's version, status and revision."""
    result, plan = await change(
        app, proj, lambda: app.plan(plan_id, who.org), if_match, response, command
    )
    return result, {"version": plan.version, "status": plan.status, "revision": plan.revision}


@router.put("/plans/{plan_id}/type", response_model=Changed)
async def choose_type(
    plan_id: uuid.UUID,
    body: PlanTypeIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Choose the plan's type: action-oriented, reflection-oriented or combined."""
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.choose_type(plan_type=body.plan_type, actor=who.sub, at=at),
    )
    return Changed(**out)


@router.post(
    "/plans/{plan_id}/goals", status_code=status.HTTP_201_CREATED, response_model=GoalCreated
)
async def add_goal(
    plan_id: uuid.UUID,
    body: GoalIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> GoalCreated:
    """Add a goal at a priority (1 = highest); refused, naming each criterion, unless SMART."""
    goal_id = new_id()
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.add_goal(
            goal_id=goal_id,
            title=body.title,
            specific=body.specific,
            measure=body.measure,
            target_date=body.target_date,
            competences=list(body.competences),
            priority=body.priority,
            policy=app.policy,
            actor=who.sub,
            at=at,
        ),
    )
    return GoalCreated(goal_id=goal_id, **out)


@router.put("/plans/{plan_id}/priorities", response_model=Changed)
async def reprioritise(
    plan_id: uuid.UUID,
    body: PrioritiesIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Rank every goal anew in one command: `order` names them all, highest first."""
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.reprioritise(order=list(body.order), actor=who.sub, at=at),
    )
    return Changed(**out)


@router.post(
    "/plans/{plan_id}/goals/{goal_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionCreated,
)
async def add_action(
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    body: ActionIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> ActionCreated:
    """Add an action under a goal: who does it, by when (not after the goal's target date)."""
    action_id = new_id()
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.add_action(
            action_id=action_id,
            goal_id=goal_id,
            description=body.description,
            owner=body.owner,
            due_date=body.due_date,
            actor=who.sub,
            at=at,
        ),
    )
    return ActionCreated(action_id=action_id, **out)


@router.post("/plans/{plan_id}/actions/{action_id}/complete", response_model=Changed)
async def complete_action(
    plan_id: uuid.UUID,
    action_id: uuid.UUID,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Mark an action as done."""
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.complete_action(action_id=action_id, actor=who.sub, at=at),
    )
    return Changed(**out)


@router.post("/plans/{plan_id}/actions/{action_id}/cancel", response_model=Changed)
async def cancel_action(
    plan_id: uuid.UUID,
    action_id: uuid.UUID,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    body: CancelIn | None = None,
    if_match: IfMatch = None,
) -> Changed:
    """Cancel an action, with an optional reason."""
    reason = body.reason if body else None
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.cancel_action(
            action_id=action_id, reason=reason, actor=who.sub, at=at
        ),
    )
    return Changed(**out)


@router.put("/plans/{plan_id}/competence-analysis", response_model=Changed)
async def record_competence_analysis(
    plan_id: uuid.UUID,
    body: CompetenceAnalysisIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Record strengths, weaknesses and training needs against the career target (ESCO)."""
    items = body.model_dump()
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.record_competence_analysis(
            career_target=body.career_target,
            strengths=items["strengths"],
            weaknesses=items["weaknesses"],
            training_needs=items["training_needs"],
            actor=who.sub,
            at=at,
        ),
    )
    return Changed(**out)


@router.post(
    "/plans/{plan_id}/portfolio/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceCreated,
)
async def add_evidence(
    plan_id: uuid.UUID,
    body: EvidenceIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> EvidenceCreated:
    """Add an evidence item to the portfolio for recognition of prior learning (EVC)."""
    evidence_id = new_id()
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.add_evidence(
            evidence_id=evidence_id,
            title=body.title,
            kind=body.kind,
            description=body.description,
            dated=body.date,
            document_hash=body.document_hash,
            actor=who.sub,
            at=at,
        ),
    )
    return EvidenceCreated(evidence_id=evidence_id, **out)


@router.put("/plans/{plan_id}/portfolio/assessment", response_model=Changed)
async def assess_portfolio(
    plan_id: uuid.UUID,
    body: PortfolioAssessmentIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Compare the portfolio with a named standard and advise to continue or stop."""
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.assess_portfolio(
            standard=body.standard,
            comparison=body.comparison,
            advice=body.advice,
            actor=who.sub,
            at=at,
        ),
    )
    return Changed(**out)


@router.post("/plans/{plan_id}/close", response_model=Changed)
async def close_plan(
    plan_id: uuid.UUID,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    body: CancelIn | None = None,
    if_match: IfMatch = None,
) -> Changed:
    """Close the plan (guidance ended); agreed versions stay readable."""
    reason = body.reason if body else None
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.close(reason=reason, actor=who.sub, at=at),
    )
    return Changed(**out)


@router.post("/plans/{plan_id}/agreement", response_model=Changed)
async def agree(
    plan_id: uuid.UUID,
    body: AgreementIn,
    who: Counsellor,
    app: App,
    proj: Projection,
    response: Response,
    if_match: IfMatch = None,
) -> Changed:
    """Record that the client or the counsellor agrees to the plan's current revision."""
    _, out = await _change(
        app,
        proj,
        plan_id,
        who,
        if_match,
        response,
        lambda plan, at: plan.agree(party=body.party, actor=who.sub, at=at),
    )
    return Changed(**out)
