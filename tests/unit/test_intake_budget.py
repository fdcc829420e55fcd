"""The hours budget's rules (#16 item 3), without a database: its state at the warning
share and at the end, the budget an acceptance sets (programme, default, other hours with
a reason), a session refused past it, a team lead's extra hours, aftercare check-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.domain import Case, Client, IntakeError
from services.intake.domain.case_budget import budget_of, budget_state, resolve_budget
from shared.vocabulary import COMPETENCES

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
PROGRAMMES = {"vdab-loopbaancheque": 8.0, "esf-restart": 20.0}


def an_accepted_case(budget: tuple[str | None, float, str | None]) -> Case:
    client = Client.register(
        client_id=uuid.uuid4(),
        organisation="org-a",
        given_name="Anna",
        family_name="Peeters",
        birth_date=date(1990, 5, 17),
        email="anna@example.org",
        phone=None,
        preferred_language="nl",
        actor="counsellor-1",
        at=NOW,
    )
    client.grant_consent(
        consent_id=uuid.uuid4(),
        purpose="guidance",
        partner_id=None,
        data_categories=[],
        actor="counsellor-1",
        at=NOW,
    )
    case = Case.open(
        case_id=uuid.uuid4(),
        client=client,
        organisation="org-a",
        career_question="Teaching?",
        hours_budget=12.0,
        actor="counsellor-1",
        at=NOW,
    )
    case.check_entry(eligible=True, notes=None, actor="counsellor-1", at=NOW)
    case.record_assessment(
        assessment_id=uuid.uuid4(),
        assessor="client",
        scores=dict.fromkeys(COMPETENCES, 3),
        actor="counsellor-1",
        at=NOW,
    )
    case.decide(decision="accept", reason=None, actor="counsellor-1", at=NOW, budget=budget)
    case.collect_events()
    return case


def hold(case: Case, minutes: int) -> None:
    case.hold_session(
        session_id=uuid.uuid4(),
        kind="deepening",
        held_at=NOW - timedelta(hours=1),
        minutes=minutes,
        actor="counsellor-1",
        at=NOW,
    )


@pytest.mark.parametrize(
    ("used", "state"),
    [(0, "ok"), (7.9, "ok"), (8, "warning"), (9.99, "warning"), (10, "exhausted"), (10.5, "over")],
)
def test_the_state_warns_from_the_share_used_and_ends_at_the_budget(
    used: float, state: str
) -> None:
    assert budget_state(10, used, 0.8) == state


def test_the_budget_shows_hours_used_and_left_never_below_zero() -> None:
    budget = budget_of(2, 150, 0.8, "esf-restart")
    assert (budget.hours, budget.used, budget.left, budget.state) == (2, 2.5, 0, "over")
    assert budget.programme == "esf-restart"


def test_an_acceptance_takes_the_programmes_hours_or_the_default() -> None:
    assert resolve_budget(PROGRAMMES, 12, programme="esf-restart", hours=None, reason=None) == (
        "esf-restart",
        20.0,
        None,
    )
    assert resolve_budget(PROGRAMMES, 12, programme=None, hours=None, reason=None) == (
        None,
        12.0,
        None,
    )
    # The programme's own hours need no reason.
    assert resolve_budget(PROGRAMMES, 12, programme="esf-restart", hours=20, reason=None)[2] is None


@pytest.mark.parametrize(
    ("programme", "hours", "reason", "field"),
    [
        ("unknown", None, None, "programme"),
        ("esf-restart", 30, None, "budget_reason"),
        (None, 6, "  ", "budget_reason"),
        (None, 900, "long", "hours_budget"),
    ],
)
def test_an_unknown_programme_or_other_hours_without_a_reason_are_refused(
    programme: str | None, hours: float | None, reason: str | None, field: str
) -> None:
    with pytest.raises(IntakeError) as error:
        resolve_budget(PROGRAMMES, 12, programme=programme, hours=hours, reason=reason)
    assert (error.value.code, error.value.field) == ("invalid", field)


def test_other_hours_with_a_reason_are_set_at_acceptance() -> None:
    budget = resolve_budget(PROGRAMMES, 12, programme="esf-restart", hours=25, reason=" Two ")
    case = an_accepted_case(budget)
    assert (case.programme, case.hours_budget, case.budget_reason) == ("esf-restart", 25, "Two")


def test_a_session_past_the_budget_is_refused_until_a_team_lead_approves_more() -> None:
    case = an_accepted_case(("vdab-loopbaancheque", 8.0, None))
    hold(case, 7 * 60)
    assert case.budget(0.8).state == "warning"

    with pytest.raises(IntakeError) as error:
        hold(case, 2 * 60)
    assert (error.value.code, error.value.field) == ("over-budget", "minutes")
    assert "budget" in error.value.message and "team lead" in error.value.message
    case.collect_events()

    hold(case, 60)  # exactly the budget
    assert case.budget(0.8).state == "exhausted"
    case.approve_extra_hours(extra_hours=3, reason="Two more sessions.", actor="lead-1", at=NOW)
    hold(case, 3 * 60)
    events = case.collect_events()
    assert [type(e) for e in events] == [Case.SessionHeld, Case.BudgetExtended, Case.SessionHeld]
    budget = case.budget(0.8)
    assert (budget.hours, budget.used, budget.left, budget.state) == (11, 11, 0, "exhausted")
    assert case.budget_extensions[0].actor == "lead-1"


@pytest.mark.parametrize(
    ("hours", "reason", "field"), [(0, "why", "extra_hours"), (2, " ", "reason")]
)
def test_extra_hours_need_a_positive_number_and_a_reason(
    hours: float, reason: str, field: str
) -> None:
    case = an_accepted_case((None, 12.0, None))
    with pytest.raises(IntakeError) as error:
        case.approve_extra_hours(extra_hours=hours, reason=reason, actor="lead-1", at=NOW)
    assert error.value.field == field
    assert case.collect_events() == []


def test_an_aftercare_check_in_counts_once() -> None:
    case = an_accepted_case((None, 12.0, None))
    checkin = uuid.uuid4()
    assert case.count_aftercare_contact(contact_id=checkin, minutes=30, source_position=5, at=NOW)
    assert not case.count_aftercare_contact(
        contact_id=checkin, minutes=30, source_position=6, at=NOW
    )
    assert (case.minutes_used, case.aftercare_minutes) == (30, 30)
    assert len(case.collect_events()) == 1
