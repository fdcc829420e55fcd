"""Group sessions on the library's in-memory persistence (a real key vault in memory):
planned with cases of the organisation, held in one save with every participant's case
(a `group` session in the hours used and the client's own sealed notes, or the absence),
refused when a participant's part cannot be recorded (nothing saved), and one client's
erasure leaving the group and the other participant as they were.

Not here (HTTP, the read model, the export): tests/integration/test_group_sessions.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.application import IntakeApplication
from services.intake.domain import Case, GroupSession, IntakeError
from services.intake.domain.group import session_id_for
from shared.privacy import ERASED

ORG, ACTOR = "org-a", "c.jansen"


@pytest.fixture
def intake() -> Iterator[IntakeApplication]:
    app = IntakeApplication.in_memory()
    yield app
    app.close()


def a_case(app: IntakeApplication, name: str, org: str = ORG) -> uuid.UUID:
    client_id = app.register_client(
        organisation=org,
        actor=ACTOR,
        given_name=name,
        family_name="Maes",
        birth_date=date(1990, 4, 2),
        email=f"{name.lower()}@example.org",
    )
    app.record_consent(client_id, organisation=org, actor=ACTOR, purpose="guidance", granted=True)
    return app.open_case(
        client_id=client_id, organisation=org, actor=ACTOR, career_question="Which work next?"
    )


def planned(app: IntakeApplication, *case_ids: uuid.UUID) -> GroupSession:
    return app.plan_group(
        organisation=ORG,
        actor=ACTOR,
        topic="Writing a CV",
        starts_at=datetime.now(UTC) - timedelta(hours=2),
        minutes=90,
        place="Room 2",
        case_ids=list(case_ids),
    )


def test_holding_records_each_participants_own_part_on_their_case(
    intake: IntakeApplication,
) -> None:
    a, b, c = a_case(intake, "Lotte"), a_case(intake, "Bram"), a_case(intake, "Chris")
    group = planned(intake, a, b, c)
    held = intake.hold_group(
        group.id,
        organisation=ORG,
        actor=ACTOR,
        held_at=None,
        minutes=None,
        present={a: {"insights": "Lotte's insight"}, b: {}},
    )
    assert held.status == "held" and held.minutes == 90
    assert [(x.case_id, x.present) for x in held.attendance] == [(a, True), (b, True), (c, False)]

    case_a, case_b, case_c = (intake.case(x, ORG) for x in (a, b, c))
    assert [s.kind for s in case_a.sessions] == ["group"]
    assert case_a.minutes_used == 90 and case_c.minutes_used == 0
    assert case_a.notes_of(session_id_for(group.id, a)).insights == "Lotte's insight"  # type: ignore[union-attr]
    assert case_b.session_notes == {} and case_c.sessions == []
    assert [g.present for g in case_c.group_sessions] == [False]
    assert session_id_for(group.id, a) != session_id_for(group.id, b)

    # The notes are sealed on the client's own case, the group holds case ids only.
    erasure = intake.erasure(case_a.client_id, ORG)
    assert erasure is not None
    intake.request_erasure(case_a.client_id, organisation=ORG, reason="Asked.", actor=ACTOR)
    again = intake.case(a, ORG)
    assert again.notes_of(session_id_for(group.id, a)).insights == ERASED  # type: ignore[union-attr]
    assert intake.group(group.id, ORG).participants == [a, b, c]
    assert intake.case(b, ORG).group_sessions[0].topic == "Writing a CV"


def test_a_part_that_cannot_be_recorded_saves_nothing(intake: IntakeApplication) -> None:
    a, b = a_case(intake, "Lotte"), a_case(intake, "Bram")
    group = planned(intake, a, b)

    def decline(case: Case, at: datetime) -> None:
        case.decide(decision="decline", reason=None, actor=ACTOR, at=at)

    intake.change(lambda: intake.case(b, ORG), None, decline)
    with pytest.raises(IntakeError) as refused:
        intake.hold_group(
            group.id, organisation=ORG, actor=ACTOR, held_at=None, minutes=None, present={a: {}}
        )
    assert refused.value.field == "attendance" and str(b) in refused.value.message
    assert intake.group(group.id, ORG).status == "planned"
    assert intake.case(a, ORG).sessions == []


def test_planning_refuses_what_a_group_cannot_hold(intake: IntakeApplication) -> None:
    elsewhere = a_case(intake, "Ann", org="org-b")
    with pytest.raises(IntakeError) as e:
        planned(intake, elsewhere)
    assert e.value.field == "case_id"
    group = planned(intake)
    at = datetime.now(UTC)
    with pytest.raises(IntakeError) as e:
        group.hold(held_at=at, minutes=60, present=[], actor=ACTOR, at=at)
    assert e.value.field == "attendance"
    a = a_case(intake, "Lotte")
    assert group.add_participant(case_id=a, actor=ACTOR, at=at) is True
    assert group.add_participant(case_id=a, actor=ACTOR, at=at) is False
    with pytest.raises(IntakeError) as e:
        group.hold(held_at=at + timedelta(hours=1), minutes=60, present=[a], actor=ACTOR, at=at)
    assert e.value.field == "held_at"
    with pytest.raises(IntakeError) as e:
        group.hold(held_at=at, minutes=0, present=[a], actor=ACTOR, at=at)
    assert e.value.field == "minutes"
    group.cancel(actor=ACTOR, at=at)
    with pytest.raises(IntakeError) as e:
        group.add_participant(case_id=uuid.uuid4(), actor=ACTOR, at=at)
    assert e.value.code == "group-not-planned"
