"""A follow-up's state as the modules of its commands see it (`checks.py`, `closing.py`):
the attributes its events set, its event classes and the helpers of `FollowUp` they call."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from services.followup.domain.values import ActionCheck, Bottleneck, CheckIn, Contact


class FollowUpState:
    """Declarations only (for the type checker): `FollowUp` defines them all."""

    if TYPE_CHECKING:
        case_id: uuid.UUID
        client_id: uuid.UUID
        organisation: str
        counsellor: str
        agreed_on: date
        plan_version: int
        plan_status: str
        status: str
        actions: dict[uuid.UUID, dict[str, Any]]
        checkins: list[CheckIn]
        contacts: list[Contact]
        failed_contacts: int
        action_checks: dict[uuid.UUID, ActionCheck]
        bottlenecks: dict[str, Bottleneck]
        todos: dict[uuid.UUID, dict[str, Any]]
        outcome: dict[str, Any] | None
        feedback: dict[str, Any] | None
        closed: dict[str, Any] | None
        closures: list[dict[str, Any]]

        BottleneckDetected: type[Aggregate.Event]
        CheckInDone: type[Aggregate.Event]
        ContactRecorded: type[Aggregate.Event]
        ActionChecked: type[Aggregate.Event]
        ToDoAgreed: type[Aggregate.Event]
        OutcomeRecorded: type[Aggregate.Event]
        FeedbackGiven: type[Aggregate.Event]
        FollowUpClosed: type[Aggregate.Event]
        AftercareRequested: type[Aggregate.Event]

        @property
        def id(self) -> uuid.UUID: ...

        def _require_open(self) -> None: ...

        def _checkin(self, checkin_id: uuid.UUID) -> CheckIn: ...

        def _action(self, action_id: uuid.UUID) -> dict[str, Any]: ...

        def _trigger(
            self, event_class: type[Aggregate.Event], at: datetime, **kwargs: Any
        ) -> None: ...

        def _close_completed(self, rule: str, closed_by: str, actor: str, at: datetime) -> None: ...
