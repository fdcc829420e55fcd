"""Planning's application: its event store, which event fields are personal, its SMART
policy and the queries that find a plan for its caller (commands run on the plan itself,
`api/commands.py`; reactions to other services' events are in `consumers.py`)."""

from __future__ import annotations

import logging
import uuid
from typing import ClassVar

from services.planning.domain import Plan, SmartPolicy, plan_id_for
from shared.auth import Principal
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.privacy import PersonalFields

log = logging.getLogger(__name__)


class PlanningApplication(ServiceApplication):
    name = "planning"

    personal_data: ClassVar[dict[type, PersonalFields]] = {
        Plan.GoalAdded: PersonalFields(("title", "specific", "measure"), subject="client_id"),
        Plan.ActionAdded: PersonalFields(("description",), subject="client_id"),
        Plan.ActionCancelled: PersonalFields(("reason",), subject="client_id"),
        Plan.CompetenceAnalysisRecorded: PersonalFields(
            ("career_target", "career_target_uri", "strengths", "weaknesses", "training_needs"),
            subject="client_id",
        ),
        Plan.EvidenceAdded: PersonalFields(("title", "description"), subject="client_id"),
        Plan.EvidenceWithdrawn: PersonalFields(("reason",), subject="client_id"),
        Plan.PortfolioAssessed: PersonalFields(("comparison",), subject="client_id"),
        Plan.EvidenceLinked: PersonalFields(("esco_uris",), subject="client_id"),
        Plan.PortfolioItemJudged: PersonalFields(("comment",), subject="client_id"),
        Plan.CareerQuestionStated: PersonalFields(("question",), subject="client_id"),
        Plan.InsightRecorded: PersonalFields(("text",), subject="client_id"),
        Plan.DecisionRecorded: PersonalFields(("text", "reasons"), subject="client_id"),
        Plan.SupportNeedsRecorded: PersonalFields(("kinds", "notes"), subject="client_id"),
        Plan.ProductRecorded: PersonalFields(
            ("title", "notes", "employer", "position"), subject="client_id"
        ),
        Plan.ApplicationStatusChanged: PersonalFields(("answer",), subject="client_id"),
        Plan.InstrumentUsed: PersonalFields(
            ("result", "scores", "interpretation"), subject="client_id"
        ),
        Plan.InstrumentInterpreted: PersonalFields(("interpretation",), subject="client_id"),
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
