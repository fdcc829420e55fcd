"""The plan (POP) of one accepted case: the aggregate, its events, its creation and guards.

A plan is created when intake accepts the case; it gets a type, SMART goals in a
ranking, actions with owners and due dates, a competence analysis and optionally an EVC
portfolio. Client and counsellor agree to a *revision* of its content; once both agreed
to the same revision the plan is `agreed`, and any change after that makes it `revised`.
Its state is typed: goals, actions, evidence, agreements are the frozen value objects
of `values.py`, built by the events' `apply` (the events' stored attributes are as
they always were).

Its commands are in `goals.py`, `competences.py`, `reflection.py` (the career question,
insights, choices and decisions, support needs), `products.py` (what its actions
produce: CVs, job applications and their answers), `instruments.py` (the instruments used,
their results and interpretation) and `agreement.py`, its views in
`views.py` (mixed in); the words its fields take and `plan_id_for` in `rules.py`.
Longer than 300 lines on purpose: the events are nested in the class, as their stored
topics (`services.planning.domain.plan:Plan.<Event>`) name them there.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.planning.domain.agreement import Agreeing
from services.planning.domain.competences import Competences
from services.planning.domain.errors import PlanningError
from services.planning.domain.goals import Goals
from services.planning.domain.instruments import Instruments
from services.planning.domain.products import Products
from services.planning.domain.reflection import Reflection
from services.planning.domain.rules import plan_id_for
from services.planning.domain.values import (
    Action,
    AgreedVersion,
    Agreement,
    ApplicationStep,
    Assessment,
    Closure,
    CompetenceAnalysis,
    Decision,
    Evidence,
    Goal,
    Insight,
    InstrumentUse,
    Judgement,
    Portfolio,
    PortfolioStandard,
    Product,
    StandardItem,
    SupportNeeds,
    analysis_items,
)
from services.planning.domain.views import PlanViews


class Plan(Goals, Competences, Reflection, Products, Instruments, Agreeing, PlanViews, Aggregate):
    """The POP of one case."""

    class Created(Aggregate.Created):
        # v2 added `counsellor` (the case's, from intake's CaseAccepted); plans created
        # before it name none.
        class_version = 2
        case_id: uuid.UUID
        client_id: uuid.UUID
        organisation: str
        gaps: list[str]
        scores: dict[str, dict[str, int]]
        actor: str
        counsellor: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["counsellor"] = None

    class TypeChosen(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        plan_type: str
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.plan_type = self.plan_type
            aggregate._changed()

    class GoalAdded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        goal_id: uuid.UUID
        title: str
        specific: str
        measure: str
        target_date: date
        competences: list[str]
        priority: int
        actor: str

        def apply(self, aggregate: Plan) -> None:
            order = [g for g in aggregate.ranking if g != self.goal_id]
            order.insert(self.priority - 1, self.goal_id)
            aggregate.goals[self.goal_id] = Goal(
                goal_id=self.goal_id,
                title=self.title,
                specific=self.specific,
                measure=self.measure,
                target_date=self.target_date,
                competences=tuple(self.competences),
                added_at=self.timestamp,
            )
            aggregate.ranking = order
            aggregate._changed()

    class GoalsReprioritised(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        order: list[uuid.UUID]
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.ranking = list(self.order)
            aggregate._changed()

    class ActionAdded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        goal_id: uuid.UUID
        description: str
        owner: str
        due_date: date
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.actions[self.action_id] = Action(
                action_id=self.action_id,
                goal_id=self.goal_id,
                description=self.description,
                owner=self.owner,
                due_date=self.due_date,
                added_at=self.timestamp,
            )
            goal = aggregate.goals[self.goal_id]
            aggregate.goals[self.goal_id] = replace(goal, actions=(*goal.actions, self.action_id))
            aggregate._changed()

    class ActionCompleted(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.actions[self.action_id] = replace(
                aggregate.actions[self.action_id], status="completed", closed_at=self.timestamp
            )
            aggregate._changed()

    class ActionCancelled(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        action_id: uuid.UUID
        reason: str | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.actions[self.action_id] = replace(
                aggregate.actions[self.action_id],
                status="cancelled",
                closed_at=self.timestamp,
                cancel_reason=self.reason,
            )
            aggregate._changed()

    class CompetenceAnalysisRecorded(Aggregate.Event):
        # v2 added `career_target_uri` (the ESCO occupation aimed at); the items may carry
        # `self_level` and `counsellor_level` (1-4) beside `text` and `esco_uri`.
        class_version = 2
        client_id: uuid.UUID
        case_id: uuid.UUID
        career_target: str
        career_target_uri: str | None
        strengths: list[dict[str, Any]]
        weaknesses: list[dict[str, Any]]
        training_needs: list[dict[str, Any]]
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["career_target_uri"] = None

        def apply(self, aggregate: Plan) -> None:
            aggregate.competence_analysis = CompetenceAnalysis(
                career_target=self.career_target,
                career_target_uri=self.career_target_uri,
                strengths=analysis_items(self.strengths),
                weaknesses=analysis_items(self.weaknesses),
                training_needs=analysis_items(self.training_needs),
                recorded_at=self.timestamp,
                actor=self.actor,
            )
            aggregate._changed()

    class EvidenceAdded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        evidence_id: uuid.UUID
        title: str
        kind: str
        description: str | None
        dated: date
        document_hash: str | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            evidence = Evidence(
                evidence_id=self.evidence_id,
                title=self.title,
                kind=self.kind,
                description=self.description,
                dated=self.dated,
                document_hash=self.document_hash,
                added_at=self.timestamp,
            )
            portfolio = aggregate.portfolio
            aggregate.portfolio = replace(portfolio, evidence=(*portfolio.evidence, evidence))
            aggregate._changed()

    class EvidenceWithdrawn(Aggregate.Event):
        """A piece of evidence taken out of the portfolio (added by mistake, say), with why
        (sealed): its links to the standard's items go with it; the items' judgements stay
        as they are (the counsellor judges them again)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        evidence_id: uuid.UUID
        reason: str
        actor: str

        def apply(self, aggregate: Plan) -> None:
            portfolio = aggregate.portfolio
            aggregate.portfolio = replace(
                portfolio,
                evidence=tuple(e for e in portfolio.evidence if e.evidence_id != self.evidence_id),
            )
            aggregate._changed()

    class PortfolioAssessed(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        standard: str
        comparison: str
        advice: str
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.portfolio = replace(
                aggregate.portfolio,
                assessment=Assessment(
                    standard=self.standard,
                    comparison=self.comparison,
                    advice=self.advice,
                    assessed_at=self.timestamp,
                    actor=self.actor,
                ),
            )
            aggregate._changed()

    class PortfolioStandardChosen(Aggregate.Event):
        """The EVC standard the portfolio is compared with, its items as imported then;
        another standard than before starts the judgements afresh."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        standard_id: str
        title: str
        items: list[dict[str, Any]]
        actor: str

        def apply(self, aggregate: Plan) -> None:
            before = aggregate.portfolio.standard
            kept = before is not None and before.standard_id == self.standard_id
            items = tuple(
                StandardItem(i["item_id"], i["title"], tuple(i.get("esco_uris") or ()))
                for i in self.items
            )
            known = {i.item_id for i in items}
            aggregate.portfolio = replace(
                aggregate.portfolio,
                standard=PortfolioStandard(
                    standard_id=self.standard_id,
                    title=self.title,
                    items=items,
                    chosen_at=self.timestamp,
                    actor=self.actor,
                ),
                judgements={
                    k: v for k, v in aggregate.portfolio.judgements.items() if kept and k in known
                },
            )
            aggregate._changed()

    class EvidenceLinked(Aggregate.Event):
        """The items of the standard an evidence proves and the ESCO skills it shows
        (replacing those named before)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        evidence_id: uuid.UUID
        items: list[str]
        esco_uris: list[str]
        actor: str

        def apply(self, aggregate: Plan) -> None:
            portfolio = aggregate.portfolio
            aggregate.portfolio = replace(
                portfolio,
                evidence=tuple(
                    replace(e, items=tuple(self.items), esco_uris=tuple(self.esco_uris))
                    if e.evidence_id == self.evidence_id
                    else e
                    for e in portfolio.evidence
                ),
            )
            aggregate._changed()

    class PortfolioItemJudged(Aggregate.Event):
        """The counsellor's judgement of one item of the standard: proven, partly or
        not yet, with a comment (sealed)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        item_id: str
        judgement: str
        comment: str | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            portfolio = aggregate.portfolio
            aggregate.portfolio = replace(
                portfolio,
                judgements={
                    **portfolio.judgements,
                    self.item_id: Judgement(
                        judgement=self.judgement,
                        comment=self.comment,
                        judged_at=self.timestamp,
                        actor=self.actor,
                    ),
                },
            )
            aggregate._changed()

    class CareerQuestionStated(Aggregate.Event):
        """The starting question in the plan's own words."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        question: str
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.career_question = self.question
            aggregate._changed()

    class InsightRecorded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        insight_id: uuid.UUID
        text: str
        dated: date
        actor: str

        def apply(self, aggregate: Plan) -> None:
            insight = Insight(
                insight_id=self.insight_id,
                text=self.text,
                dated=self.dated,
                added_at=self.timestamp,
            )
            aggregate.insights = (*aggregate.insights, insight)
            aggregate._changed()

    class DecisionRecorded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        decision_id: uuid.UUID
        kind: str
        text: str
        reasons: str
        actor: str

        def apply(self, aggregate: Plan) -> None:
            decision = Decision(
                decision_id=self.decision_id,
                kind=self.kind,
                text=self.text,
                reasons=self.reasons,
                added_at=self.timestamp,
            )
            aggregate.decisions = (*aggregate.decisions, decision)
            aggregate._changed()

    class SupportNeedsRecorded(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        kinds: list[str]
        notes: str | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            kinds = tuple(self.kinds) if isinstance(self.kinds, list) else str(self.kinds)
            aggregate.support_needs = SupportNeeds(
                kinds=kinds, notes=self.notes, recorded_at=self.timestamp
            )
            aggregate._changed()

    class ProductRecorded(Aggregate.Event):
        """An action produced something (a CV, a job application...): a record of work
        done, not agreed content (no new revision)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        product_id: uuid.UUID
        action_id: uuid.UUID
        kind: str
        title: str
        dated: date
        document_hash: str | None
        notes: str | None
        employer: str | None
        position: str | None
        sent_on: date | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            steps: tuple[ApplicationStep, ...] = ()
            if self.kind == "application":
                first = "draft" if self.sent_on is None else "sent"
                on = self.dated if self.sent_on is None else self.sent_on
                steps = (ApplicationStep(first, on, None, self.timestamp, self.actor),)
            aggregate.products[self.product_id] = Product(
                product_id=self.product_id,
                action_id=self.action_id,
                kind=self.kind,
                title=self.title,
                dated=self.dated,
                document_hash=self.document_hash,
                notes=self.notes,
                added_at=self.timestamp,
                employer=self.employer,
                position=self.position,
                steps=steps,
            )

    class ApplicationStatusChanged(Aggregate.Event):
        """A job application moved on (sent, interview, offer, rejected, withdrawn)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        product_id: uuid.UUID
        status: str
        on: date
        answer: str | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            product = aggregate.products[self.product_id]
            step = ApplicationStep(self.status, self.on, self.answer, self.timestamp, self.actor)
            aggregate.products[self.product_id] = replace(product, steps=(*product.steps, step))

    class InstrumentUsed(Aggregate.Event):
        """An instrument of the agency's list was used: its result and interpretation
        (sealed), the competences and goals it informs (no new revision)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        use_id: uuid.UUID
        instrument: str
        instrument_name: str
        used_on: date
        result: str | None
        scores: dict[str, float] | None
        interpretation: str | None
        competences: list[str]
        goal_ids: list[uuid.UUID]
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.instrument_uses[self.use_id] = InstrumentUse(
                use_id=self.use_id,
                instrument=self.instrument,
                instrument_name=self.instrument_name,
                used_on=self.used_on,
                result=self.result,
                scores=self.scores,
                interpretation=self.interpretation,
                competences=tuple(self.competences),
                goal_ids=tuple(self.goal_ids),
                recorded_at=self.timestamp,
                actor=self.actor,
                interpreted_at=self.timestamp if self.interpretation else None,
            )

    class InstrumentInterpreted(Aggregate.Event):
        """The counsellor's interpretation of an instrument's result (sealed)."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        use_id: uuid.UUID
        interpretation: str
        actor: str

        def apply(self, aggregate: Plan) -> None:
            use = aggregate.instrument_uses[self.use_id]
            aggregate.instrument_uses[self.use_id] = replace(
                use, interpretation=self.interpretation, interpreted_at=self.timestamp
            )

    class PartyAgreed(Aggregate.Event):
        client_id: uuid.UUID
        case_id: uuid.UUID
        party: str
        revision: int
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.agreements[self.party] = Agreement(
                revision=self.revision, at=self.timestamp, actor=self.actor
            )

    class Agreed(Aggregate.Event):
        """Both parties agreed to the same revision: the plan is a contract."""

        client_id: uuid.UUID
        organisation: str
        case_id: uuid.UUID
        revision: int
        actions: list[dict[str, Any]]
        content: dict[str, Any]
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.status = "agreed"
            aggregate.agreed_versions[self.revision] = AgreedVersion(
                revision=self.revision,
                agreed_at=self.timestamp,
                agreements=dict(aggregate.agreements),
                content=self.content,
            )

    class Revised(Aggregate.Event):
        """A change after an agreement: both must agree again."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        from_revision: int
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.status = "revised"

    class Closed(Aggregate.Event):
        """The plan is closed (the guidance ended); it changes no more."""

        client_id: uuid.UUID
        case_id: uuid.UUID
        reason: str | None
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.status = "closed"
            aggregate.closed = Closure(at=self.timestamp, reason=self.reason, actor=self.actor)

    def __init__(
        self,
        case_id: uuid.UUID,
        client_id: uuid.UUID,
        organisation: str,
        gaps: list[str],
        scores: dict[str, dict[str, int]],
        actor: str,
        counsellor: str | None = None,
    ) -> None:
        self.case_id = case_id
        self.client_id = client_id
        self.organisation = organisation
        self.counsellor = counsellor
        self.suggested_focus = {"gaps": list(gaps), "scores": dict(scores)}
        self.created_by = actor
        self.status = "draft"
        self.plan_type: str | None = None
        self.revision = 0
        self.goals: dict[uuid.UUID, Goal] = {}
        self.ranking: list[uuid.UUID] = []
        self.actions: dict[uuid.UUID, Action] = {}
        self.competence_analysis: CompetenceAnalysis | None = None
        self.portfolio = Portfolio()
        self.career_question: str | None = None
        self.insights: tuple[Insight, ...] = ()
        self.decisions: tuple[Decision, ...] = ()
        self.support_needs: SupportNeeds | None = None
        self.products: dict[uuid.UUID, Product] = {}
        self.instrument_uses: dict[uuid.UUID, InstrumentUse] = {}
        self.agreements: dict[str, Agreement] = {}
        self.agreed_versions: dict[int, AgreedVersion] = {}
        self.closed: Closure | None = None

    def _changed(self) -> None:
        """A change of content: a new revision, which nobody has agreed to yet."""
        self.revision += 1

    @classmethod
    def create(
        cls,
        *,
        case_id: uuid.UUID,
        client_id: uuid.UUID,
        organisation: str,
        gaps: list[str],
        scores: dict[str, dict[str, int]],
        actor: str,
        at: datetime,
        counsellor: str | None = None,
    ) -> Plan:
        return cls._create(
            cls.Created,
            id=plan_id_for(case_id),
            timestamp=at,
            case_id=case_id,
            client_id=client_id,
            organisation=organisation,
            gaps=list(gaps),
            scores=dict(scores),
            actor=actor,
            counsellor=counsellor,
        )

    # -- guards --------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.status == "closed":
            raise PlanningError("plan-closed", "The plan is closed.")

    def _goal(self, goal_id: uuid.UUID) -> Goal:
        goal = self.goals.get(goal_id)
        if goal is None:
            raise PlanningError("not-found", f"No goal {goal_id} in this plan.", "goal_id")
        return goal

    def _open_action(self, action_id: uuid.UUID) -> Action:
        action = self.actions.get(action_id)
        if action is None:
            raise PlanningError("not-found", f"No action {action_id} in this plan.", "action_id")
        if action.status != "open":
            raise PlanningError(
                "action-closed", f"The action is already {action.status}.", "action_id"
            )
        return action

    def _change(self, event_class: type[Aggregate.Event], at: datetime, **kwargs: Any) -> None:
        """Trigger a change of content; an agreed plan becomes `revised` first."""
        self._require_open()
        if self.status == "agreed":
            self.trigger_event(
                self.Revised,
                timestamp=at,
                client_id=self.client_id,
                case_id=self.case_id,
                from_revision=self.revision,
                actor=kwargs["actor"],
            )
        self.trigger_event(
            event_class, timestamp=at, client_id=self.client_id, case_id=self.case_id, **kwargs
        )


# Events stored before the plan moved from `services/planning/domain.py` keep loading.
EVENTS = (
    "Created",
    "TypeChosen",
    "GoalAdded",
    "GoalsReprioritised",
    "ActionAdded",
    "ActionCompleted",
    "ActionCancelled",
    "CompetenceAnalysisRecorded",
    "EvidenceAdded",
    "PortfolioAssessed",
    "PartyAgreed",
    "Agreed",
    "Revised",
    "Closed",
)
for _name in EVENTS:
    register_topic(f"services.planning.domain:Plan.{_name}", getattr(Plan, _name))
register_topic("services.planning.domain:Plan", Plan)
