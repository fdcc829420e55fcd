"""The plan (POP) of one accepted case: its events, commands and views.

A plan is created when intake accepts the case; it gets a type, SMART goals in a
ranking, actions with owners and due dates, a competence analysis and optionally an EVC
portfolio. Client and counsellor agree to a *revision* of its content; once both agreed
to the same revision the plan is `agreed`, and any change after that makes it `revised`.
Its state is typed: goals, actions, evidence, agreements are the frozen value objects
of `values.py`, built by the events' `apply` (the events' stored attributes are as
they always were).

Longer than the other modules on purpose: it is one aggregate, whose events are nested
in its class (their stored topics name `Plan.<Event>`) and whose commands are its
methods; what stands apart from it (its values, the SMART check, the error) lives beside it.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.planning.domain.errors import PlanningError
from services.planning.domain.smart import SmartPolicy, smart_failures
from services.planning.domain.values import (
    Action,
    AgreedVersion,
    Agreement,
    Assessment,
    Closure,
    CompetenceAnalysis,
    Evidence,
    Goal,
    Portfolio,
    analysis_items,
)
from shared.text import guard_field, guard_text
from shared.vocabulary import COMPETENCES

PLAN_TYPES = ("action", "reflection", "combined")
OWNERS = ("client", "counsellor", "partner")
PARTIES = ("client", "counsellor")
EVIDENCE_KINDS = ("diploma", "certificate", "work_sample", "reference", "assessment", "other")
ADVICE = ("continue", "stop")
ESCO_URI = re.compile(r"^http://data\.europa\.eu/esco/(skill|occupation)/[0-9a-fA-F-]{8,}$")
PLAN_NAMESPACE = uuid.UUID("0b7e4b0e-6d1c-4f7e-9d0a-5a3f6c1d2e01")


def plan_id_for(case_id: uuid.UUID) -> uuid.UUID:
    """One plan per case: its id follows from the case's, so a redelivery creates nothing."""
    return uuid.uuid5(PLAN_NAMESPACE, str(case_id))


class Plan(Aggregate):
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
        client_id: uuid.UUID
        case_id: uuid.UUID
        career_target: str
        strengths: list[dict[str, Any]]
        weaknesses: list[dict[str, Any]]
        training_needs: list[dict[str, Any]]
        actor: str

        def apply(self, aggregate: Plan) -> None:
            aggregate.competence_analysis = CompetenceAnalysis(
                career_target=self.career_target,
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

    # -- commands ------------------------------------------------------------------------
    def choose_type(self, *, plan_type: str, actor: str, at: datetime) -> None:
        if plan_type not in PLAN_TYPES:
            raise PlanningError("invalid", f"Unknown plan type {plan_type!r}.", "plan_type")
        if plan_type == self.plan_type:
            return
        self._change(self.TypeChosen, at, plan_type=plan_type, actor=actor)

    @property
    def open_goals(self) -> int:
        return len(self.goals)

    def add_goal(
        self,
        *,
        goal_id: uuid.UUID,
        title: str,
        specific: str,
        measure: str,
        target_date: date,
        competences: list[str],
        priority: int,
        policy: SmartPolicy,
        actor: str,
        at: datetime,
    ) -> None:
        self._require_open()
        if goal_id in self.goals:
            return  # a redelivery: re-adding would reset the goal and orphan its actions
        unknown = [c for c in competences if c not in COMPETENCES]
        if unknown:
            raise PlanningError(
                "invalid", f"Unknown career competence {unknown[0]!r}.", "competences"
            )
        guard_text(PlanningError, title=title)
        guard_text(PlanningError, multiline=True, specific=specific, measure=measure)
        if not title.strip():
            raise PlanningError("invalid", "A goal has a title.", "title")
        if not 1 <= priority <= len(self.ranking) + 1:
            raise PlanningError(
                "invalid",
                f"The priority lies between 1 and {len(self.ranking) + 1}.",
                "priority",
            )
        failures = smart_failures(
            title=title,
            specific=specific,
            measure=measure,
            target_date=target_date,
            competences=competences,
            open_goals=self.open_goals,
            today=at.date(),
            policy=policy,
        )
        if failures:
            raise PlanningError(
                "not-smart",
                "The goal is not SMART: " + ", ".join(failures) + ".",
                failures=failures,
            )
        self._change(
            self.GoalAdded,
            at,
            goal_id=goal_id,
            title=title.strip(),
            specific=specific.strip(),
            measure=measure.strip(),
            target_date=target_date,
            competences=list(dict.fromkeys(competences)),
            priority=priority,
            actor=actor,
        )

    def reprioritise(self, *, order: list[uuid.UUID], actor: str, at: datetime) -> None:
        """Rank all goals at once: `order` is every goal of the plan, highest first."""
        if len(order) != len(set(order)) or set(order) != set(self.ranking):
            raise PlanningError(
                "invalid", "Name every goal of the plan exactly once, highest first.", "order"
            )
        if order == self.ranking:
            return
        self._change(self.GoalsReprioritised, at, order=list(order), actor=actor)

    def add_action(
        self,
        *,
        action_id: uuid.UUID,
        goal_id: uuid.UUID,
        description: str,
        owner: str,
        due_date: date,
        actor: str,
        at: datetime,
    ) -> bool:
        """Add an action; False (and nothing changes) if that action id exists already."""
        if action_id in self.actions:
            return False
        goal = self._goal(goal_id)
        if owner not in OWNERS:
            raise PlanningError("invalid", f"Unknown owner {owner!r}.", "owner")
        guard_text(PlanningError, multiline=True, description=description)
        if not description.strip():
            raise PlanningError("invalid", "An action has a description.", "description")
        if due_date > goal.target_date:
            raise PlanningError(
                "invalid", "The due date lies after the goal's target date.", "due_date"
            )
        if due_date < at.date():
            raise PlanningError("invalid", "The due date lies in the past.", "due_date")
        self._change(
            self.ActionAdded,
            at,
            action_id=action_id,
            goal_id=goal_id,
            description=description.strip(),
            owner=owner,
            due_date=due_date,
            actor=actor,
        )
        return True

    def complete_action(self, *, action_id: uuid.UUID, actor: str, at: datetime) -> None:
        self._open_action(action_id)
        self._change(self.ActionCompleted, at, action_id=action_id, actor=actor)

    def cancel_action(
        self, *, action_id: uuid.UUID, reason: str | None, actor: str, at: datetime
    ) -> None:
        self._open_action(action_id)
        guard_text(PlanningError, multiline=True, reason=reason)
        self._change(self.ActionCancelled, at, action_id=action_id, reason=reason, actor=actor)

    def record_competence_analysis(
        self,
        *,
        career_target: str,
        strengths: list[dict[str, Any]],
        weaknesses: list[dict[str, Any]],
        training_needs: list[dict[str, Any]],
        actor: str,
        at: datetime,
    ) -> None:
        guard_text(PlanningError, career_target=career_target)
        for name, items in (
            ("strengths", strengths),
            ("weaknesses", weaknesses),
            ("training_needs", training_needs),
        ):
            for i, item in enumerate(items):
                guard_field(PlanningError, f"{name}.{i}.text", item.get("text"), multiline=True)
                guard_field(PlanningError, f"{name}.{i}.esco_uri", item.get("esco_uri"))
                uri = item.get("esco_uri")
                if uri is not None and not ESCO_URI.match(uri):
                    raise PlanningError(
                        "invalid",
                        "An ESCO code is a skill or occupation URI "
                        "(http://data.europa.eu/esco/skill/… or …/occupation/…).",
                        f"{name}.{i}.esco_uri",
                    )
        self._change(
            self.CompetenceAnalysisRecorded,
            at,
            career_target=career_target,
            strengths=strengths,
            weaknesses=weaknesses,
            training_needs=training_needs,
            actor=actor,
        )

    def add_evidence(
        self,
        *,
        evidence_id: uuid.UUID,
        title: str,
        kind: str,
        description: str | None,
        dated: date,
        document_hash: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        guard_text(PlanningError, title=title, document_hash=document_hash)
        guard_text(PlanningError, multiline=True, description=description)
        if kind not in EVIDENCE_KINDS:
            raise PlanningError("invalid", f"Unknown evidence kind {kind!r}.", "kind")
        if dated > at.date():
            raise PlanningError("invalid", "Evidence cannot be dated ahead.", "date")
        self._change(
            self.EvidenceAdded,
            at,
            evidence_id=evidence_id,
            title=title,
            kind=kind,
            description=description,
            dated=dated,
            document_hash=document_hash,
            actor=actor,
        )

    def assess_portfolio(
        self, *, standard: str, comparison: str, advice: str, actor: str, at: datetime
    ) -> None:
        guard_text(PlanningError, standard=standard)
        guard_text(PlanningError, multiline=True, comparison=comparison)
        if advice not in ADVICE:
            raise PlanningError("invalid", f"Unknown advice {advice!r}.", "advice")
        if not self.portfolio.evidence:
            raise PlanningError(
                "portfolio-empty", "Compare a portfolio with a standard once it holds evidence."
            )
        self._change(
            self.PortfolioAssessed,
            at,
            standard=standard,
            comparison=comparison,
            advice=advice,
            actor=actor,
        )

    def agree(self, *, party: str, actor: str, at: datetime) -> None:
        """`party` agrees to the current revision; both on one revision make it `agreed`."""
        self._require_open()
        if party not in PARTIES:
            raise PlanningError("invalid", f"Unknown party {party!r}.", "party")
        if not self.ranking:
            raise PlanningError("plan-incomplete", "A plan needs at least one goal to agree.")
        if self.plan_type is None:
            raise PlanningError("plan-incomplete", "Choose the plan's type before agreeing.")
        if self._agreed_by(party) == self.revision:
            return  # already agreed to this revision
        self.trigger_event(
            self.PartyAgreed,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            party=party,
            revision=self.revision,
            actor=actor,
        )
        if all(self._agreed_by(p) == self.revision for p in PARTIES):
            self.trigger_event(
                self.Agreed,
                timestamp=at,
                client_id=self.client_id,
                organisation=self.organisation,
                case_id=self.case_id,
                revision=self.revision,
                actions=[
                    {
                        "action_id": a.action_id,
                        "goal_id": a.goal_id,
                        "owner": a.owner,
                        "due_date": a.due_date,
                        "status": a.status,
                    }
                    for a in self.actions.values()
                ],
                content=self.content(),
                actor=actor,
            )

    def _agreed_by(self, party: str) -> int | None:
        """The revision `party` last agreed to (None: never)."""
        agreement = self.agreements.get(party)
        return None if agreement is None else agreement.revision

    def close(self, *, reason: str | None, actor: str, at: datetime) -> None:
        """Close the plan: its agreed versions stay readable, nothing changes any more."""
        self._require_open()
        guard_text(PlanningError, multiline=True, reason=reason)
        self.trigger_event(
            self.Closed,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            reason=reason,
            actor=actor,
        )

    # -- views ---------------------------------------------------------------------------
    def ranked_goals(self) -> list[dict[str, Any]]:
        """Goals by priority (1 = highest), each with its actions."""
        out = []
        for priority, goal_id in enumerate(self.ranking, start=1):
            goal = self.goals[goal_id]
            out.append(
                {
                    **goal.as_dict(),
                    "priority": priority,
                    "actions": [self.actions[a].as_dict() for a in goal.actions],
                }
            )
        return out

    def agreed_in_order(self) -> list[dict[str, Any]]:
        """The agreed versions, first agreement first, each numbered: `version` 1 is the
        first agreement, whatever the revision it was made on (kept as `revision`)."""
        return [
            {"version": number, **self.agreed_versions[revision].as_dict()}
            for number, revision in enumerate(sorted(self.agreed_versions), start=1)
        ]

    def agreed_version(self, version: int) -> dict[str, Any] | None:
        """Agreed version number `version` (1 = the first agreement), or None."""
        ordered = self.agreed_in_order()
        return ordered[version - 1] if 1 <= version <= len(ordered) else None

    def content(self) -> dict[str, Any]:
        """The plan's content at this revision, as agreed versions keep it.

        A deep copy: an agreed version must not change with the portfolio (whose evidence
        list and assessment are updated in place) or anything else that changes later.
        """
        return copy.deepcopy(
            {
                "plan_type": self.plan_type,
                "goals": self.ranked_goals(),
                "competence_analysis": self.competence_analysis_dict(),
                "portfolio": self.portfolio.as_dict(),
            }
        )

    def competence_analysis_dict(self) -> dict[str, Any] | None:
        """The competence analysis as the views show it (None until recorded)."""
        analysis = self.competence_analysis
        return None if analysis is None else analysis.as_dict()

    def agreements_dict(self) -> dict[str, dict[str, Any]]:
        """Per party, the revision it agreed to, when and who recorded it."""
        return {p: a.as_dict() for p, a in self.agreements.items()}

    def closed_dict(self) -> dict[str, Any] | None:
        """While closed: when, why, who (None otherwise)."""
        return None if self.closed is None else self.closed.as_dict()


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
