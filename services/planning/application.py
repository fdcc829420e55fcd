"""Planning's use cases: plans created from accepted cases, and every change to a plan."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from services.planning.domain import Plan, PlanningError, SmartPolicy, plan_id_for
from shared.auth import Principal
from shared.contracts import planning as contracts
from shared.contracts import privacy as privacy_contracts
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import Publication
from shared.privacy import PersonalFields
from shared.privacy.erasure import ErasureConfirmation, confirmed_state

log = logging.getLogger(__name__)


class PlanningApplication(ServiceApplication):
    name = "planning"

    personal_data: ClassVar[dict[type, PersonalFields]] = {
        Plan.GoalAdded: PersonalFields(("title", "specific", "measure"), subject="client_id"),
        Plan.ActionAdded: PersonalFields(("description",), subject="client_id"),
        Plan.ActionCancelled: PersonalFields(("reason",), subject="client_id"),
        Plan.CompetenceAnalysisRecorded: PersonalFields(
            ("career_target", "strengths", "weaknesses", "training_needs"), subject="client_id"
        ),
        Plan.EvidenceAdded: PersonalFields(("title", "description"), subject="client_id"),
        Plan.PortfolioAssessed: PersonalFields(("comparison",), subject="client_id"),
        Plan.Agreed: PersonalFields(("content",), subject="client_id"),
        Plan.Closed: PersonalFields(("reason",), subject="client_id"),
    }

    @property
    def policy(self) -> SmartPolicy:
        s = self.settings
        return SmartPolicy(
            max_open_goals=s.plan_max_open_goals,
            horizon_days=s.plan_horizon_days,
            min_lead_days=s.plan_min_lead_days,
        )

    # -- reactions -----------------------------------------------------------------------
    def on_case_accepted(self, event: CloudEvent) -> Sequence[Aggregate]:
        """Create the case's draft plan (once: its id follows from the case's)."""
        data = event.data
        case_id = uuid.UUID(data["case_id"])
        try:
            self.repository.get(plan_id_for(case_id))
        except AggregateNotFoundError:
            pass
        else:
            return []
        return [
            Plan.create(
                case_id=case_id,
                client_id=uuid.UUID(data["client_id"]),
                organisation=data["organisation"],
                gaps=list(data.get("gaps", [])),
                scores=dict(data.get("scores", {})),
                actor=data["actor"],
                at=self.clock(),
                counsellor=data.get("counsellor"),
            )
        ]

    def on_todo_agreed(self, event: CloudEvent) -> Sequence[Aggregate]:
        """Add a to-do agreed in aftercare to the plan (its action id follows from the
        to-do's, so a redelivery adds nothing); the agreed plan becomes `revised`."""
        d = event.data
        try:
            plan: object = self.repository.get(plan_id_for(uuid.UUID(d["case_id"])))
        except AggregateNotFoundError:
            return []
        if not isinstance(plan, Plan):
            return []
        try:
            added = plan.add_action(
                action_id=uuid.UUID(d["action_id"]),
                goal_id=uuid.UUID(d["goal_id"]),
                description=self._opened(event, "description"),
                owner=d["owner"],
                due_date=date.fromisoformat(d["due_date"]),
                actor=d["actor"],
                at=self.clock(),
            )
        except PlanningError as e:
            # The to-do does not fit the plan (a closed plan, an unknown goal, a date
            # after the goal's): it stays with the follow-up; retrying cannot help.
            log.warning("to-do %s not added to plan %s: %s", d["todo_id"], plan.id, e)
            return []
        return [plan] if added else []

    def _opened(self, event: CloudEvent, field: str) -> str:
        """A sealed field of another service's event, opened with the client's key."""
        sealed = event.data.get(field)
        if not isinstance(sealed, dict):
            return str(sealed)
        return str(self.sealing.open_field(sealed, event.id, field))

    # -- queries and commands ------------------------------------------------------------
    def plan(self, plan_id: uuid.UUID, organisation: str) -> Plan:
        plan = self.load(Plan, plan_id)
        if plan.organisation != organisation:
            raise NotFound(f"No plan {plan_id}.")
        return plan

    def plan_for(self, plan_id: uuid.UUID, who: Principal) -> Plan:
        """The plan, if it belongs to the caller's organisation (else `NotFound`)."""
        return self.plan(plan_id, who.org)

    def plan_for_case(self, case_id: uuid.UUID, organisation: str) -> Plan | None:
        try:
            return self.plan(plan_id_for(case_id), organisation)
        except NotFound:
            return None


# -- what planning publishes -----------------------------------------------------------------
def _plan(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {
        "occurred_at": state["timestamp"],
        "actor": state["actor"],
        "plan_id": state["originator_id"],
        "case_id": state["case_id"],
        "client_id": state["client_id"],
        **{n: state[n] for n in names if n in state},
    }


PUBLICATIONS: dict[type, Publication] = {
    Plan.Created: Publication(contracts.PlanCreatedV1, lambda s: _plan(s, "organisation", "gaps")),
    Plan.TypeChosen: Publication(contracts.PlanTypeChosenV1, lambda s: _plan(s, "plan_type")),
    Plan.GoalAdded: Publication(
        contracts.GoalAddedV1,
        lambda s: _plan(
            s, "goal_id", "title", "specific", "measure", "target_date", "competences", "priority"
        ),
    ),
    Plan.GoalsReprioritised: Publication(
        contracts.GoalsReprioritisedV1, lambda s: _plan(s, "order")
    ),
    Plan.ActionAdded: Publication(
        contracts.ActionAddedV1,
        lambda s: _plan(s, "action_id", "goal_id", "description", "owner", "due_date"),
    ),
    Plan.ActionCompleted: Publication(contracts.ActionCompletedV1, lambda s: _plan(s, "action_id")),
    Plan.ActionCancelled: Publication(
        contracts.ActionCancelledV1, lambda s: _plan(s, "action_id", "reason")
    ),
    Plan.Agreed: Publication(
        contracts.PlanAgreedV1,
        lambda s: {**_plan(s, "organisation", "actions"), "version": s["revision"]},
    ),
    Plan.Closed: Publication(contracts.PlanClosedV1, lambda s: _plan(s, "reason")),
    Plan.Revised: Publication(
        contracts.PlanRevisedV1, lambda s: {**_plan(s), "from_version": s["from_revision"]}
    ),
}
# Each service confirms an erasure with an event of its own.
PUBLICATIONS[ErasureConfirmation.Confirmed] = Publication(
    privacy_contracts.CONFIRMED["planning"], confirmed_state
)
