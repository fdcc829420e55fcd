"""What planning publishes: which of its domain events become which contracts
(`shared/contracts/planning.py`), and the data each carries (personal fields as stored: sealed)."""

from __future__ import annotations

from typing import Any

from services.planning.domain import Plan
from shared.contracts import planning as contracts
from shared.contracts import privacy as privacy_contracts
from shared.messaging.relay import Publication
from shared.privacy.erasure import ErasureConfirmation, confirmed_state


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
    Plan.CareerQuestionStated: Publication(
        contracts.CareerQuestionStatedV1, lambda s: _plan(s, "question")
    ),
    Plan.InsightRecorded: Publication(
        contracts.InsightRecordedV1,
        lambda s: _plan(s, "insight_id", "text", "dated"),
    ),
    Plan.DecisionRecorded: Publication(
        contracts.DecisionRecordedV1, lambda s: _plan(s, "decision_id", "kind", "text", "reasons")
    ),
    Plan.SupportNeedsRecorded: Publication(
        contracts.SupportNeedsRecordedV1, lambda s: _plan(s, "kinds", "notes")
    ),
    Plan.ProductRecorded: Publication(
        contracts.ProductRecordedV1,
        lambda s: _plan(
            s,
            "product_id",
            "action_id",
            "kind",
            "title",
            "dated",
            "document_hash",
            "notes",
            "employer",
            "position",
            "sent_on",
        ),
    ),
    Plan.ApplicationStatusChanged: Publication(
        contracts.ApplicationStatusChangedV1,
        lambda s: _plan(s, "product_id", "status", "on", "answer"),
    ),
    Plan.InstrumentUsed: Publication(
        contracts.InstrumentUsedV1,
        lambda s: _plan(
            s,
            "use_id",
            "instrument",
            "instrument_name",
            "used_on",
            "result",
            "scores",
            "interpretation",
            "competences",
            "goal_ids",
        ),
    ),
    Plan.InstrumentInterpreted: Publication(
        contracts.InstrumentInterpretedV1, lambda s: _plan(s, "use_id", "interpretation")
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
