"""A plan's type, goals and actions: choosing the type, adding and ranking SMART goals,
adding, completing and cancelling actions (mixed into `Plan`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import OWNERS, PLAN_TYPES
from services.planning.domain.smart import SmartPolicy, smart_failures
from services.planning.domain.state import PlanState
from shared.text import guard_text
from shared.vocabulary import COMPETENCES


class Goals(PlanState):
    """The commands on a plan's type, goals and actions."""

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
