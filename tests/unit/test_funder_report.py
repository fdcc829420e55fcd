"""The report to the funder's figures and the objectives' progress (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.intake.domain import IntakeError, Objectives
from services.intake.funder import days_to_outcome, metric_value, progress, report

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def case(
    *,
    client: int,
    programme: str | None = "jobs",
    accepted: date = date(2026, 1, 5),
    minutes: int = 0,
    agreed: date | None = None,
    within: bool | None = None,
    outcome: str | None = None,
    outcome_on: date | None = None,
    satisfaction: int | None = None,
) -> dict[str, object]:
    return {
        "client_id": uuid.UUID(int=client),
        "programme": programme,
        "accepted_at": datetime.combine(accepted, datetime.min.time(), UTC),
        "minutes_used": minutes,
        "plan_agreed_at": None
        if agreed is None
        else datetime.combine(agreed, datetime.min.time(), UTC),
        "plan_within_budget": within,
        "outcome": outcome,
        "outcome_on": outcome_on,
        "satisfaction": satisfaction,
    }


CASES = [
    case(
        client=1,
        minutes=300,
        agreed=date(2026, 2, 1),
        within=True,
        outcome="employed",
        outcome_on=date(2026, 3, 6),
        satisfaction=5,
    ),
    case(
        client=2,
        minutes=600,
        agreed=date(2026, 3, 1),
        within=False,
        outcome="education",
        outcome_on=date(2026, 2, 4),
        satisfaction=3,
    ),
    case(
        client=2,
        programme=None,
        minutes=90,
        outcome="still_searching",
        outcome_on=date(2026, 1, 25),
    ),
    case(client=3, programme="study"),
]


def test_the_figures_per_programme_and_in_total() -> None:
    found = report(CASES)
    total = found["total"]
    assert total == {
        "clients_started": 3,
        "cases_started": 4,
        "hours_used": 16.5,
        "plans_agreed": 2,
        "plans_agreed_within_budget": 1,
        "share_plans_within_budget": 0.5,
        "outcomes": {"education": 1, "employed": 1, "still_searching": 1},
        "median_days_to_outcome": 30.0,  # 60, 30, 20 days
        "feedback_given": 2,
        "satisfaction_average": 4.0,
    }
    assert [p["programme"] for p in found["programmes"]] == ["jobs", "other", "study"]
    jobs = found["programmes"][0]
    assert (jobs["clients_started"], jobs["hours_used"], jobs["median_days_to_outcome"]) == (
        2,
        15.0,
        45.0,
    )
    assert found["programmes"][2]["share_plans_within_budget"] is None


def test_nothing_to_report() -> None:
    found = report([])
    assert found["programmes"] == []
    assert found["total"]["median_days_to_outcome"] is None
    assert found["total"]["satisfaction_average"] is None


def test_days_to_outcome_from_acceptance_never_negative() -> None:
    early = case(client=9, accepted=date(2026, 2, 1), outcome="other", outcome_on=date(2026, 1, 1))
    assert days_to_outcome(early) == 0
    assert days_to_outcome(case(client=9)) is None


def test_the_metrics_of_the_objectives() -> None:
    # Plans within 6 weeks: case 1 (27 days) of 4 cases started.
    assert metric_value("plans_agreed_within_6_weeks", CASES) == 25.0
    assert metric_value("plans_agreed_within_budget", CASES) == 50.0
    assert metric_value("job_or_study_outcome", CASES) == 50.0
    assert metric_value("satisfaction_average", CASES) == 4.0
    assert metric_value("median_days_to_outcome", CASES) == 30.0
    assert metric_value("clients_started", CASES) == 3.0
    assert metric_value("plans_agreed_within_budget", []) is None
    with pytest.raises(ValueError):
        metric_value("happiness", CASES)


@pytest.mark.parametrize(
    ("value", "target", "at_least", "expected"),
    [
        (None, 80, True, (None, 0.0)),
        (40.0, 80, True, (False, 0.5)),
        (85.0, 80, True, (True, 1.0)),
        (0.0, 0, True, (True, 1.0)),
        (60.0, 30, False, (False, 0.5)),
        (20.0, 30, False, (True, 1.0)),
    ],
)
def test_progress_to_a_target(
    value: float | None, target: float, at_least: bool, expected: tuple[bool | None, float]
) -> None:
    assert progress(value, target, at_least) == expected


def test_objectives_are_set_checked_and_withdrawn() -> None:
    objectives = Objectives.start("org-1", AT)
    first = uuid.uuid4()
    objectives.set_objective(
        objective_id=first,
        metric="job_or_study_outcome",
        target=50,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        programme=None,
        actor="lead",
        at=AT,
    )
    assert [o.metric for o in objectives.listed()] == ["job_or_study_outcome"]
    for metric, target, ends, field in [
        ("happiness", 1, date(2026, 12, 31), "metric"),
        ("plans_agreed_within_budget", 120, date(2026, 12, 31), "target"),
        ("satisfaction_average", 0, date(2026, 12, 31), "target"),
        ("clients_started", 10, date(2025, 12, 31), "ends_on"),
    ]:
        with pytest.raises(IntakeError) as refused:
            objectives.set_objective(
                objective_id=uuid.uuid4(),
                metric=metric,
                target=target,
                starts_on=date(2026, 1, 1),
                ends_on=ends,
                programme=None,
                actor="lead",
                at=AT,
            )
        assert refused.value.field == field
    objectives.withdraw(first, "lead", AT)
    assert objectives.listed() == []
    with pytest.raises(IntakeError):
        objectives.withdraw(first, "lead", AT)
