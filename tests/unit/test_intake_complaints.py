"""Intake's rights and duties and complaints, on the library's in-memory persistence (a
real key vault in memory): the client informed of their rights and duties, a complaint's
way from received to answered (or withdrawn), its deadline and when it is overdue, its
text sealed and erased with the client.

Not here (they read intake's SQL read models): the team lead's list and figures, the
export; see tests/integration/test_complaints.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.application import IntakeApplication
from services.intake.domain import Complaint, IntakeError
from shared.errors import NotFound
from shared.privacy import ERASED

ORG, ACTOR, LEAD = "org-a", "c.jansen", "t.lead"
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def intake() -> Iterator[IntakeApplication]:
    app = IntakeApplication.in_memory()
    yield app
    app.close()


def register(app: IntakeApplication, organisation: str = ORG) -> uuid.UUID:
    return app.register_client(
        organisation=organisation,
        actor=ACTOR,
        given_name="Lotte",
        family_name="Maes",
        birth_date=date(1990, 4, 2),
        email="lotte@example.org",
    )


def a_complaint(subject: str = "Two appointments cancelled.") -> Complaint:
    return Complaint.register(
        complaint_id=uuid.uuid4(),
        organisation=ORG,
        client_id=uuid.uuid4(),
        case_id=None,
        subject=subject,
        answer_within_days=30,
        actor=ACTOR,
        at=AT,
    )


# -- rights and duties -------------------------------------------------------------------------
def test_informing_the_client_records_version_language_when_and_who(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    assert intake.client(client_id, ORG).informed_of_rights is None
    intake.change(
        lambda: intake.client(client_id, ORG),
        1,
        lambda c, at: c.inform_of_rights(
            version="2026-01", language="fr", versions=("2026-01",), actor=ACTOR, at=at
        ),
    )
    informed = intake.client(client_id, ORG).informed_of_rights
    assert informed is not None
    assert (informed.version, informed.language, informed.actor) == ("2026-01", "fr", ACTOR)


@pytest.mark.parametrize(
    ("version", "language", "field"),
    [("2025-07", "nl", "version"), ("2026-01", "de", "language")],
)
def test_an_unknown_version_or_language_is_refused_naming_the_field(
    intake: IntakeApplication, version: str, language: str, field: str
) -> None:
    client = intake.client(register(intake), ORG)
    with pytest.raises(IntakeError) as refused:
        client.inform_of_rights(
            version=version, language=language, versions=("2026-01",), actor=ACTOR, at=AT
        )
    assert refused.value.field == field


# -- a complaint's way -------------------------------------------------------------------------
def test_the_deadline_is_fixed_at_registration_and_an_open_complaint_is_overdue_after_it() -> None:
    complaint = a_complaint()
    assert complaint.status == "received"
    assert complaint.deadline == date(2026, 4, 1)
    assert not complaint.overdue(date(2026, 4, 1))
    assert complaint.overdue(date(2026, 4, 2))
    complaint.give_answer(
        answer="We apologise.", answered_on=date(2026, 4, 2), actor=LEAD, at=AT + timedelta(31)
    )
    assert not complaint.overdue(date(2026, 5, 1))


def test_received_then_in_handling_then_answered_and_nothing_after() -> None:
    complaint = a_complaint()
    complaint.assign(team_lead=LEAD, actor=LEAD, at=AT)
    complaint.start_handling(actor=LEAD, at=AT)
    assert (complaint.status, complaint.assigned_to) == ("in_handling", LEAD)
    complaint.give_answer(answer="Sorry.", answered_on=AT.date(), actor=LEAD, at=AT)
    assert complaint.status == "answered" and complaint.answer is not None
    assert complaint.answer.text == "Sorry." and complaint.answer.actor == LEAD
    late: list[Callable[[], None]] = [
        lambda: complaint.withdraw(actor=ACTOR, at=AT),
        lambda: complaint.assign(team_lead="other", actor=LEAD, at=AT),
        lambda: complaint.give_answer(answer="x", answered_on=AT.date(), actor=LEAD, at=AT),
    ]
    for command in late:
        with pytest.raises(IntakeError) as refused:
            command()
        assert refused.value.code == "complaint-closed"


def test_a_withdrawn_complaint_is_closed_and_not_overdue() -> None:
    complaint = a_complaint()
    complaint.withdraw(actor=ACTOR, at=AT)
    assert complaint.status == "withdrawn" and not complaint.overdue(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("answer", "answered_on", "field"),
    [
        ("  ", AT.date(), "answer"),
        ("Fine.", AT.date() + timedelta(days=1), "answered_on"),
        ("Fine.", AT.date() - timedelta(days=1), "answered_on"),
    ],
)
def test_a_bad_answer_is_refused_naming_the_field(
    answer: str, answered_on: date, field: str
) -> None:
    with pytest.raises(IntakeError) as refused:
        a_complaint().give_answer(answer=answer, answered_on=answered_on, actor=LEAD, at=AT)
    assert refused.value.field == field


def test_a_blank_subject_is_refused() -> None:
    with pytest.raises(IntakeError) as refused:
        a_complaint(" \n ")
    assert refused.value.field == "subject"


# -- the application ---------------------------------------------------------------------------
def test_a_complaint_is_registered_with_the_configured_deadline_and_its_text_sealed(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    complaint = intake.register_complaint(
        client_id=client_id, organisation=ORG, actor=ACTOR, subject="Rude on the phone."
    )
    days = intake.settings.complaint_answer_days
    assert complaint.deadline == complaint.created_on.date() + timedelta(days=days)
    intake.change(
        lambda: intake.complaint(complaint.id, ORG),
        1,
        lambda c, at: c.give_answer(
            answer="We spoke to them.", answered_on=at.date(), actor=LEAD, at=at
        ),
    )
    stored = b"".join(e.state for e in intake.recorder.select_events(complaint.id))
    assert b"Rude on the phone." not in stored and b"We spoke to them." not in stored
    loaded = intake.complaint(complaint.id, ORG)
    assert loaded.subject == "Rude on the phone." and loaded.answer is not None
    with pytest.raises(NotFound):
        intake.complaint(complaint.id, "org-b")


def test_a_complaint_about_another_clients_case_is_refused_naming_the_case(
    intake: IntakeApplication,
) -> None:
    client_id, other = register(intake), register(intake)
    intake.record_consent(other, organisation=ORG, actor=ACTOR, purpose="guidance", granted=True)
    case_id = intake.open_case(
        client_id=other, organisation=ORG, actor=ACTOR, career_question="What next?"
    )
    with pytest.raises(IntakeError) as refused:
        intake.register_complaint(
            client_id=client_id, organisation=ORG, actor=ACTOR, subject="x", case_id=case_id
        )
    assert refused.value.field == "case_id"
    with pytest.raises(IntakeError) as unknown:
        intake.register_complaint(
            client_id=client_id, organisation=ORG, actor=ACTOR, subject="x", case_id=uuid.uuid4()
        )
    assert unknown.value.field == "case_id"


def test_an_erased_clients_complaint_reads_erased(intake: IntakeApplication) -> None:
    client_id = register(intake)
    complaint = intake.register_complaint(
        client_id=client_id, organisation=ORG, actor=ACTOR, subject="Too slow."
    )
    intake.request_erasure(client_id, organisation=ORG, reason="asked", actor=ACTOR)
    loaded = intake.complaint(complaint.id, ORG)
    assert loaded.subject == ERASED and loaded.status == "received"
