"""Planning's commands: each route names its command on the plan and answers the plan's
version, status and revision (`PlanCommand`: the caller's plan, `If-Match`, `ETag`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from services.planning.api.dependencies import PlanCommand
from services.planning.api.schemas import (
    ActionCreated,
    ActionIn,
    AgreementIn,
    ApplicationStatusIn,
    CancelIn,
    CareerQuestionIn,
    Changed,
    CompetenceAnalysisIn,
    DecisionCreated,
    DecisionIn,
    EvidenceCreated,
    EvidenceIn,
    EvidenceWithdrawalIn,
    GoalCreated,
    GoalIn,
    InsightCreated,
    InsightIn,
    InstrumentIn,
    InstrumentUseCreated,
    InterpretationIn,
    PlanTypeIn,
    PortfolioAssessmentIn,
    PrioritiesIn,
    ProductCreated,
    ProductIn,
    SupportNeedsIn,
)
from services.planning.domain import Plan, PlanningError
from shared.idempotency import new_id

router = APIRouter(tags=["planning"])


def changed(plan: Plan) -> dict[str, Any]:
    """What every command answers: the plan's version (its `ETag`), status and revision."""
    return {"version": plan.version, "status": plan.status, "revision": plan.revision}


@router.put("/plans/{plan_id}/type", response_model=Changed)
async def choose_type(body: PlanTypeIn, cmd: PlanCommand) -> Changed:
    """Choose the plan's type: action-oriented, reflection-oriented or combined."""
    plan = await cmd.run(
        lambda plan, at: plan.choose_type(plan_type=body.plan_type, actor=cmd.who.sub, at=at)
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/goals", status_code=status.HTTP_201_CREATED, response_model=GoalCreated
)
async def add_goal(body: GoalIn, cmd: PlanCommand) -> GoalCreated:
    """Add a goal at a priority (1 = highest); refused, naming each criterion, unless SMART."""
    goal_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.add_goal(
            goal_id=goal_id,
            title=body.title,
            specific=body.specific,
            measure=body.measure,
            target_date=body.target_date,
            competences=list(body.competences),
            priority=body.priority,
            policy=cmd.app.policy,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return GoalCreated(goal_id=goal_id, **changed(plan))


@router.put("/plans/{plan_id}/priorities", response_model=Changed)
async def reprioritise(body: PrioritiesIn, cmd: PlanCommand) -> Changed:
    """Rank every goal anew in one command: `order` names them all, highest first."""
    plan = await cmd.run(
        lambda plan, at: plan.reprioritise(order=list(body.order), actor=cmd.who.sub, at=at)
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/goals/{goal_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionCreated,
)
async def add_action(cmd: PlanCommand, goal_id: uuid.UUID, body: ActionIn) -> ActionCreated:
    """Add an action under a goal: who does it, by when (not after the goal's target date)."""
    action_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.add_action(
            action_id=action_id,
            goal_id=goal_id,
            description=body.description,
            owner=body.owner,
            due_date=body.due_date,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return ActionCreated(action_id=action_id, **changed(plan))


@router.post("/plans/{plan_id}/actions/{action_id}/complete", response_model=Changed)
async def complete_action(cmd: PlanCommand, action_id: uuid.UUID) -> Changed:
    """Mark an action as done."""
    plan = await cmd.run(
        lambda plan, at: plan.complete_action(action_id=action_id, actor=cmd.who.sub, at=at)
    )
    return Changed(**changed(plan))


@router.post("/plans/{plan_id}/actions/{action_id}/cancel", response_model=Changed)
async def cancel_action(
    cmd: PlanCommand, action_id: uuid.UUID, body: CancelIn | None = None
) -> Changed:
    """Cancel an action, with an optional reason."""
    reason = body.reason if body else None
    plan = await cmd.run(
        lambda plan, at: plan.cancel_action(
            action_id=action_id, reason=reason, actor=cmd.who.sub, at=at
        )
    )
    return Changed(**changed(plan))


@router.put("/plans/{plan_id}/competence-analysis", response_model=Changed)
async def record_competence_analysis(body: CompetenceAnalysisIn, cmd: PlanCommand) -> Changed:
    """Record strengths, weaknesses and training needs against the career target, each
    maybe an ESCO skill (its URI) with its level as the client and the counsellor assess it
    (1-4); it replaces the analysis recorded before."""
    items = body.model_dump()
    plan = await cmd.run(
        lambda plan, at: plan.record_competence_analysis(
            career_target=body.career_target,
            career_target_uri=body.career_target_uri,
            strengths=items["strengths"],
            weaknesses=items["weaknesses"],
            training_needs=items["training_needs"],
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/portfolio/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceCreated,
)
async def add_evidence(body: EvidenceIn, cmd: PlanCommand) -> EvidenceCreated:
    """Add an evidence item to the portfolio for recognition of prior learning (EVC)."""
    evidence_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.add_evidence(
            evidence_id=evidence_id,
            title=body.title,
            kind=body.kind,
            description=body.description,
            dated=body.date,
            document_hash=body.document_hash,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return EvidenceCreated(evidence_id=evidence_id, **changed(plan))


@router.post("/plans/{plan_id}/portfolio/evidence/{evidence_id}/withdrawal", response_model=Changed)
async def withdraw_evidence(
    body: EvidenceWithdrawalIn, cmd: PlanCommand, evidence_id: uuid.UUID
) -> Changed:
    """Withdraw a piece of evidence from the portfolio (added by mistake, say), saying why:
    it leaves the portfolio with its links to the standard's items; the items' judgements
    stay as they are (judge them again)."""
    plan = await cmd.run(
        lambda plan, at: plan.withdraw_evidence(
            evidence_id=evidence_id, reason=body.reason, actor=cmd.who.sub, at=at
        )
    )
    return Changed(**changed(plan))


@router.put("/plans/{plan_id}/portfolio/assessment", response_model=Changed)
async def assess_portfolio(body: PortfolioAssessmentIn, cmd: PlanCommand) -> Changed:
    """Compare the portfolio with a named standard and advise to continue or stop."""
    plan = await cmd.run(
        lambda plan, at: plan.assess_portfolio(
            standard=body.standard,
            comparison=body.comparison,
            advice=body.advice,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Changed(**changed(plan))


@router.put("/plans/{plan_id}/career-question", response_model=Changed)
async def state_career_question(body: CareerQuestionIn, cmd: PlanCommand) -> Changed:
    """State the starting question in the plan's own words (the POP's "beginvraag")."""
    plan = await cmd.run(
        lambda plan, at: plan.state_career_question(
            question=body.question, actor=cmd.who.sub, at=at
        )
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/insights", status_code=status.HTTP_201_CREATED, response_model=InsightCreated
)
async def record_insight(body: InsightIn, cmd: PlanCommand) -> InsightCreated:
    """Write down a reflection or insight of the client's, with the day it came."""
    insight_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.record_insight(
            insight_id=insight_id, text=body.text, dated=body.date, actor=cmd.who.sub, at=at
        )
    )
    return InsightCreated(insight_id=insight_id, **changed(plan))


@router.post(
    "/plans/{plan_id}/decisions",
    status_code=status.HTTP_201_CREATED,
    response_model=DecisionCreated,
)
async def record_decision(body: DecisionIn, cmd: PlanCommand) -> DecisionCreated:
    """Record a choice or a decision with its reasons."""
    decision_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.record_decision(
            decision_id=decision_id,
            kind=body.kind,
            text=body.text,
            reasons=body.reasons,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return DecisionCreated(decision_id=decision_id, **changed(plan))


@router.put("/plans/{plan_id}/support-needs", response_model=Changed)
async def record_support_needs(body: SupportNeedsIn, cmd: PlanCommand) -> Changed:
    """Record the support the client needs (kinds and words), replacing what was recorded."""
    plan = await cmd.run(
        lambda plan, at: plan.record_support_needs(
            kinds=list(body.kinds), notes=body.notes, actor=cmd.who.sub, at=at
        )
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/actions/{action_id}/products",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductCreated,
)
async def record_product(action_id: uuid.UUID, body: ProductIn, cmd: PlanCommand) -> ProductCreated:
    """Record what an action produced: a skills-based CV, a job application (to whom, for
    which job, sent when), a cover letter, a portfolio piece. A record of work done: the
    plan's revision stays (an agreed plan stays agreed)."""
    product_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.record_product(
            product_id=product_id,
            action_id=action_id,
            kind=body.kind,
            title=body.title,
            dated=body.date,
            document_hash=body.document_hash,
            notes=body.notes,
            employer=body.employer,
            position=body.position,
            sent_on=body.sent_on,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return ProductCreated(product_id=product_id, **changed(plan))


@router.put("/plans/{plan_id}/products/{product_id}/status", response_model=Changed)
async def record_application_status(
    product_id: uuid.UUID, body: ApplicationStatusIn, cmd: PlanCommand
) -> Changed:
    """Move a job application on: sent, an interview, an offer, a rejection, withdrawn,
    with the day and the employer's answer in words."""
    plan = await cmd.run(
        lambda plan, at: plan.record_application_status(
            product_id=product_id,
            status=body.status,
            on=body.on,
            answer=body.answer,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/instruments",
    status_code=status.HTTP_201_CREATED,
    response_model=InstrumentUseCreated,
)
async def record_instrument(body: InstrumentIn, cmd: PlanCommand) -> InstrumentUseCreated:
    """Record an instrument of the agency's list used in the guidance: when, its result
    (in words and/or as scores), the counsellor's interpretation, and the competences and
    goals it informs. A record of the guidance: the plan's revision stays."""
    known = {i.code: i.name for i in cmd.app.settings.instruments}
    if body.instrument not in known:
        raise PlanningError("invalid", f"Unknown instrument {body.instrument!r}.", "instrument")
    use_id = new_id()
    plan = await cmd.run(
        lambda plan, at: plan.record_instrument(
            use_id=use_id,
            instrument=body.instrument,
            instrument_name=known[body.instrument],
            used_on=body.used_on,
            result=body.result,
            scores=body.scores,
            interpretation=body.interpretation,
            competences=list(body.competences),
            goal_ids=list(body.goal_ids),
            actor=cmd.who.sub,
            at=at,
        )
    )
    return InstrumentUseCreated(use_id=use_id, **changed(plan))


@router.put("/plans/{plan_id}/instruments/{use_id}/interpretation", response_model=Changed)
async def interpret_instrument(
    use_id: uuid.UUID, body: InterpretationIn, cmd: PlanCommand
) -> Changed:
    """Record (or replace) the counsellor's interpretation of an instrument's result."""
    plan = await cmd.run(
        lambda plan, at: plan.interpret_instrument(
            use_id=use_id, interpretation=body.interpretation, actor=cmd.who.sub, at=at
        )
    )
    return Changed(**changed(plan))


@router.post("/plans/{plan_id}/close", response_model=Changed)
async def close_plan(cmd: PlanCommand, body: CancelIn | None = None) -> Changed:
    """Close the plan (guidance ended); agreed versions stay readable."""
    reason = body.reason if body else None
    plan = await cmd.run(lambda plan, at: plan.close(reason=reason, actor=cmd.who.sub, at=at))
    return Changed(**changed(plan))


@router.post("/plans/{plan_id}/agreement", response_model=Changed)
async def agree(body: AgreementIn, cmd: PlanCommand) -> Changed:
    """Record that the client or the counsellor agrees to the plan's current revision."""
    plan = await cmd.run(lambda plan, at: plan.agree(party=body.party, actor=cmd.who.sub, at=at))
    return Changed(**changed(plan))
