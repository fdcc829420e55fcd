"""The organisation's objectives (#16 item 12): what the team lead aims for, measured in the
report to the funder.

One `Objectives` aggregate per organisation (its id derived from the organisation): each
objective a metric from a fixed list (`METRICS`), a target, the period it holds for and
optionally the programme it is about; set and withdrawn by a team lead. Nothing personal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.domain import Aggregate

from services.intake.domain.errors import IntakeError

NAMESPACE = uuid.UUID("5b0f6a52-6d4e-4f0c-9a57-3f7c0b3d9e12")


@dataclass(frozen=True)
class Metric:
    """What an objective measures: its unit, the targets it takes, and whether a value at
    or above the target meets it (`at_least`) or at or below (a number of days)."""

    unit: str  # "percent", "score", "days", "clients"
    lowest: float
    highest: float
    at_least: bool = True


# The fixed list of metrics (their meaning: `services/intake/funder.metric_value`).
METRICS: dict[str, Metric] = {
    "plans_agreed_within_6_weeks": Metric("percent", 0, 100),
    "plans_agreed_within_budget": Metric("percent", 0, 100),
    "job_or_study_outcome": Metric("percent", 0, 100),
    "satisfaction_average": Metric("score", 1, 5),
    "median_days_to_outcome": Metric("days", 0, 3650, at_least=False),
    "clients_started": Metric("clients", 0, 100_000),
}


def objectives_id(organisation: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"objectives:{organisation}")


@dataclass(frozen=True)
class Objective:
    objective_id: uuid.UUID
    metric: str
    target: float
    starts_on: date
    ends_on: date
    programme: str | None
    set_by: str


def check_objective(metric: str, target: float, starts_on: date, ends_on: date) -> None:
    """A known metric, a target in its range, a period that ends on or after its start."""
    if metric not in METRICS:
        raise IntakeError("invalid", f"Unknown metric {metric!r}.", "metric")
    m = METRICS[metric]
    if not m.lowest <= target <= m.highest:
        raise IntakeError(
            "invalid", f"The target of {metric} lies from {m.lowest} to {m.highest}.", "target"
        )
    if ends_on < starts_on:
        raise IntakeError("invalid", "The period ends before it starts.", "ends_on")


class Objectives(Aggregate):
    """The objectives of one organisation."""

    class Started(Aggregate.Created):
        organisation: str

    class ObjectiveSet(Aggregate.Event):
        objective_id: uuid.UUID
        metric: str
        target: float
        starts_on: date
        ends_on: date
        programme: str | None
        actor: str

        def apply(self, aggregate: Objectives) -> None:
            aggregate.current[self.objective_id] = Objective(
                self.objective_id,
                self.metric,
                self.target,
                self.starts_on,
                self.ends_on,
                self.programme,
                self.actor,
            )

    class ObjectiveWithdrawn(Aggregate.Event):
        objective_id: uuid.UUID
        actor: str

        def apply(self, aggregate: Objectives) -> None:
            aggregate.current.pop(self.objective_id, None)

    @classmethod
    def start(cls, organisation: str, at: datetime) -> Objectives:
        return cls._create(
            cls.Started, id=objectives_id(organisation), timestamp=at, organisation=organisation
        )

    def __init__(self, organisation: str) -> None:
        self.organisation = organisation
        self.current: dict[uuid.UUID, Objective] = {}

    def set_objective(
        self,
        *,
        objective_id: uuid.UUID,
        metric: str,
        target: float,
        starts_on: date,
        ends_on: date,
        programme: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        check_objective(metric, target, starts_on, ends_on)
        self.trigger_event(
            self.ObjectiveSet,
            timestamp=at,
            objective_id=objective_id,
            metric=metric,
            target=float(target),
            starts_on=starts_on,
            ends_on=ends_on,
            programme=programme,
            actor=actor,
        )

    def withdraw(self, objective_id: uuid.UUID, actor: str, at: datetime) -> None:
        if objective_id not in self.current:
            raise IntakeError("not-found", f"No objective {objective_id}.", "objective_id")
        self.trigger_event(
            self.ObjectiveWithdrawn, timestamp=at, objective_id=objective_id, actor=actor
        )

    def listed(self) -> list[Objective]:
        """The objectives in force or to come, by period then metric."""
        return sorted(self.current.values(), key=lambda o: (o.starts_on, o.metric, o.ends_on))
