"""A plan's state as the modules of its commands and views see it (`goals.py`,
`competences.py`, `reflection.py`, `products.py`, `instruments.py`, `agreement.py`,
`views.py`): the
attributes its events set, its event classes and the helpers of `Plan` they call."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from services.planning.domain.values import (
        Action,
        AgreedVersion,
        Agreement,
        Closure,
        CompetenceAnalysis,
        Decision,
        Goal,
        Insight,
        InstrumentUse,
        Portfolio,
        Product,
        SupportNeeds,
    )


class PlanState:
    """Declarations only (for the type checker): `Plan` defines them all."""

    if TYPE_CHECKING:
        case_id: uuid.UUID
        client_id: uuid.UUID
        organisation: str
        counsellor: str | None
        status: str
        plan_type: str | None
        revision: int
        goals: dict[uuid.UUID, Goal]
        ranking: list[uuid.UUID]
        actions: dict[uuid.UUID, Action]
        competence_analysis: CompetenceAnalysis | None
        portfolio: Portfolio
        career_question: str | None
        insights: tuple[Insight, ...]
        decisions: tuple[Decision, ...]
        support_needs: SupportNeeds | None
        products: dict[uuid.UUID, Product]
        instrument_uses: dict[uuid.UUID, InstrumentUse]
        agreements: dict[str, Agreement]
        agreed_versions: dict[int, AgreedVersion]
        closed: Closure | None

        TypeChosen: type[Aggregate.Event]
        GoalAdded: type[Aggregate.Event]
        GoalsReprioritised: type[Aggregate.Event]
        ActionAdded: type[Aggregate.Event]
        ActionCompleted: type[Aggregate.Event]
        ActionCancelled: type[Aggregate.Event]
        CompetenceAnalysisRecorded: type[Aggregate.Event]
        EvidenceAdded: type[Aggregate.Event]
        EvidenceWithdrawn: type[Aggregate.Event]
        PortfolioAssessed: type[Aggregate.Event]
        PortfolioStandardChosen: type[Aggregate.Event]
        EvidenceLinked: type[Aggregate.Event]
        PortfolioItemJudged: type[Aggregate.Event]
        CareerQuestionStated: type[Aggregate.Event]
        InsightRecorded: type[Aggregate.Event]
        DecisionRecorded: type[Aggregate.Event]
        SupportNeedsRecorded: type[Aggregate.Event]
        ProductRecorded: type[Aggregate.Event]
        ApplicationStatusChanged: type[Aggregate.Event]
        InstrumentUsed: type[Aggregate.Event]
        InstrumentInterpreted: type[Aggregate.Event]
        PartyAgreed: type[Aggregate.Event]
        Agreed: type[Aggregate.Event]
        Closed: type[Aggregate.Event]

        def _require_open(self) -> None: ...

        def _goal(self, goal_id: uuid.UUID) -> Goal: ...

        def _open_action(self, action_id: uuid.UUID) -> Action: ...

        def _change(
            self, event_class: type[Aggregate.Event], at: datetime, **kwargs: Any
        ) -> None: ...

        def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None: ...

        def content(self) -> dict[str, Any]: ...
