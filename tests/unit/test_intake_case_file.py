"""A case's file (#16 item 4), without a database: closing it with a summary and a reason
its status allows, and a team lead handing it to another counsellor."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.intake.domain import Case, Client, IntakeError, Reassignment
from shared.vocabulary import COMPETENCES

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
ORG = "org-a"


def a_case(status: str = "open", keep: bool = False) -> Case:
    """A case of a consenting client, opened by counsellor-1, decided as `status` asks."""
    client = Client.register(
        client_id=uuid.uuid4(),
        organisation=ORG,
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
        organisation=ORG,
        career_question="Which work next?",
        hours_budget=12.0,
        actor="counsellor-1",
        at=NOW,
    )
    decision = {"accepted": "accept", "referred_out": "refer_out", "declined": "decline"}
    if status in decision:
        case.check_entry(eligible=True, notes=None, actor="counsellor-1", at=NOW)
        case.record_assessment(
            assessment_id=uuid.uuid4(),
            assessor="client",
            scores=dict.fromkeys(COMPETENCES, 3),
            actor="counsellor-1",
            at=NOW,
        )
        case.decide(decision=decision[status], reason=None, actor="counsellor-1", at=NOW)
    if not keep:
        case.collect_events()
    return case


def replay(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("open", "client_withdrew"),
        ("accepted", "client_withdrew"),
        ("accepted", "referred_out"),
        ("referred_out", "referred_out"),
        ("declined", "declined"),
    ],
)
def test_the_file_closes_with_a_summary_and_a_reason_its_status_allows(
    status: str, reason: str
) -> None:
    case = a_case(status)
    case.close_file(reason=reason, summary="  Found work; goals met. ", actor="c-2", at=NOW)
    [event] = case.collect_events()
    assert isinstance(event, Case.FileClosed)
    assert (case.status, case.phase) == ("closed", "closed")
    assert case.closure is not None
    assert (case.closure.reason, case.closure.summary, case.closure.actor) == (
        reason,
        "Found work; goals met.",
        "c-2",
    )
    assert (case.closure.followup_id, case.closure.rule, case.closure.closed_by) == (
        None,
        "file",
        "counsellor",
    )
    with pytest.raises(IntakeError) as refused:
        case.close_file(reason=reason, summary="again", actor="c-2", at=NOW)
    assert refused.value.code == "case-decided"
    with pytest.raises(IntakeError) as closed:
        case.hold_session(
            session_id=uuid.uuid4(), kind="intake", held_at=NOW, minutes=30, actor="c", at=NOW
        )
    assert "its file was closed" in str(closed.value)
    assert case.collect_events() == []


@pytest.mark.parametrize(
    ("status", "reason", "summary", "field"),
    [
        ("open", "declined", "x", "reason"),
        ("open", "referred_out", "x", "reason"),
        ("accepted", "declined", "x", "reason"),
        ("declined", "client_withdrew", "x", "reason"),
        ("accepted", "finished", "x", "reason"),
        ("accepted", "client_withdrew", "   ", "summary"),
        ("accepted", "client_withdrew", "a\x00b", "summary"),
    ],
)
def test_a_closure_its_status_does_not_allow_or_without_summary_is_refused(
    status: str, reason: str, summary: str, field: str
) -> None:
    case = a_case(status)
    with pytest.raises(IntakeError) as refused:
        case.close_file(reason=reason, summary=summary, actor="c-1", at=NOW)
    assert (refused.value.code, refused.value.field) == ("invalid", field)
    assert case.collect_events() == [] and case.status == status


def test_a_file_closed_by_its_counsellor_is_not_reopened_by_follow_up() -> None:
    case = a_case("accepted")
    case.close_file(reason="client_withdrew", summary="Moved abroad.", actor="c-1", at=NOW)
    case.collect_events()
    assert not case.note_followup_reopened(followup_id=uuid.uuid4(), source_position=9, at=NOW)
    assert not case.note_followup_closed(
        followup_id=uuid.uuid4(),
        reason="completed",
        rule="early",
        closed_by="close",
        closed_at=NOW,
        source_position=10,
        at=NOW,
    )
    assert case.collect_events() == [] and case.status == "closed"


def test_a_team_lead_hands_the_case_to_another_counsellor_and_acceptance_names_them() -> None:
    case = a_case("open")
    history: list[Any] = []
    assert case.reassign(counsellor=" counsellor-2 ", reason="Sick leave.", actor="lead", at=NOW)
    [event] = case.collect_events()
    assert isinstance(event, Case.Reassigned)
    assert case.counsellor == "counsellor-2" and case.opened_by == "counsellor-1"
    assert case.reassignments == [
        Reassignment(
            counsellor="counsellor-2",
            previous="counsellor-1",
            reason="Sick leave.",
            reassigned_at=NOW,
            actor="lead",
        )
    ]
    history.append(event)
    # Handing it to its own counsellor changes nothing.
    assert not case.reassign(counsellor="counsellor-2", reason="again", actor="lead", at=NOW)
    assert case.collect_events() == []
    case.check_entry(eligible=True, notes=None, actor="counsellor-2", at=NOW)
    case.record_assessment(
        assessment_id=uuid.uuid4(),
        assessor="client",
        scores=dict.fromkeys(COMPETENCES, 3),
        actor="counsellor-2",
        at=NOW,
    )
    case.decide(decision="accept", reason=None, actor="counsellor-2", at=NOW)
    accepted = case.collect_events()[-1]
    assert isinstance(accepted, Case.Accepted) and accepted.counsellor == "counsellor-2"


@pytest.mark.parametrize(
    ("counsellor", "reason", "field"),
    [(" ", "why", "counsellor"), ("c-2", " ", "reason"), ("c\n2", "why", "counsellor")],
)
def test_a_handover_names_a_counsellor_and_why(counsellor: str, reason: str, field: str) -> None:
    case = a_case("accepted")
    with pytest.raises(IntakeError) as refused:
        case.reassign(counsellor=counsellor, reason=reason, actor="lead", at=NOW)
    assert (refused.value.code, refused.value.field) == ("invalid", field)
    assert case.collect_events() == []


@pytest.mark.parametrize("status", ["referred_out", "declined"])
def test_an_ended_case_is_not_handed_over(status: str) -> None:
    case = a_case(status)
    with pytest.raises(IntakeError) as refused:
        case.reassign(counsellor="c-2", reason="why", actor="lead", at=NOW)
    assert refused.value.code == "case-decided"
    assert case.collect_events() == [] and case.counsellor == "counsellor-1"


def test_a_case_rebuilt_from_its_events_keeps_its_counsellor_and_closure() -> None:
    case = a_case("accepted", keep=True)
    case.reassign(counsellor="c-2", reason="Leaves.", actor="lead", at=NOW)
    case.close_file(reason="referred_out", summary="To the VDAB.", actor="c-2", at=NOW)
    rebuilt = replay(case.collect_events())
    assert (rebuilt.counsellor, rebuilt.status) == ("c-2", "closed")
    assert rebuilt.closure == case.closure and rebuilt.reassignments == case.reassignments
