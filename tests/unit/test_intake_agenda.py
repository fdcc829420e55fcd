"""A case's appointments and the agency's rhythm, pure domain: the dates the rhythm
proposes (weekly, then every two weeks; weekends skipped), and the state rules of an
appointment (planned ahead, moved, cancelled with a reason, missed, held as a session).

Not here (HTTP, the projection, the calendar feed, recorded reads):
tests/integration/test_appointments.py."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.intake.domain import Case, Client, IntakeError, propose

ORG, ACTOR = "org-a", "c.jansen"
# A Monday, 09:00 UTC.
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def a_case(at: datetime = MONDAY - timedelta(days=7)) -> Case:
    client = Client.register(
        client_id=uuid.uuid4(),
        organisation=ORG,
        given_name="Lotte",
        family_name="Maes",
        birth_date=date(1990, 4, 2),
        email="lotte@example.org",
        phone=None,
        preferred_language="nl",
        actor=ACTOR,
        at=at,
    )
    client.grant_consent(
        consent_id=uuid.uuid4(),
        purpose="guidance",
        partner_id=None,
        data_categories=[],
        actor=ACTOR,
        at=at,
    )
    return Case.open(
        case_id=uuid.uuid4(),
        client=client,
        organisation=ORG,
        career_question="Which work next?",
        hours_budget=12.0,
        actor=ACTOR,
        at=at,
    )


def plan(case: Case, starts_at: datetime, *, at: datetime = MONDAY, **given: object) -> uuid.UUID:
    appointment_id = uuid.uuid4()
    args: dict[str, object] = {
        "kind": "intake",
        "minutes": 60,
        "channel": "in_person",
        "place": "Office Gent, room 2",
        **given,
    }
    case.plan_appointment(
        appointment_id=appointment_id,
        starts_at=starts_at,
        actor=ACTOR,
        at=at,
        **args,  # type: ignore[arg-type]
    )
    return appointment_id


def code_of(excinfo: pytest.ExceptionInfo[IntakeError]) -> tuple[str, str | None]:
    return excinfo.value.code, excinfo.value.field


# -- the rhythm -------------------------------------------------------------------------------
def test_the_rhythm_proposes_weekly_then_every_two_weeks_after_the_last_meeting() -> None:
    first = MONDAY + timedelta(hours=1)
    got = propose([7, 7, 7, 14], [first], now=MONDAY, count=5)
    assert [(d - first).days for d in got] == [7, 14, 21, 35, 49]


def test_without_meetings_the_first_date_falls_one_interval_from_today_at_ten() -> None:
    [got] = propose([7, 14], [], now=MONDAY, count=1)
    assert got == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def test_a_date_on_a_weekend_moves_to_the_monday_and_past_ones_are_skipped() -> None:
    saturday = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    # 1 day after Saturday is Sunday -> Monday; the old ones before `now` are passed over.
    got = propose([1], [saturday - timedelta(days=30)], now=saturday, count=2)
    assert all(d.weekday() < 5 and d > saturday for d in got)
    assert got[0] == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_proposal_keeps_the_last_meetings_time_to_the_quarter_within_office_hours() -> None:
    brussels = ZoneInfo("Europe/Brussels")
    # A session recorded at 08:39:17 Brussels time: the next one at 08:45 a week on.
    held = datetime(2026, 3, 2, 8, 39, 17, tzinfo=brussels).astimezone(UTC)
    [got] = propose([7], [held], now=held, count=1, zone=brussels)
    assert got.astimezone(brussels) == datetime(2026, 3, 9, 8, 45, tzinfo=brussels)
    # One recorded in the evening (19:05): the next one at ten in the morning.
    late = datetime(2026, 3, 2, 19, 5, tzinfo=brussels).astimezone(UTC)
    [got] = propose([7], [late], now=late, count=1, zone=brussels)
    assert got.astimezone(brussels) == datetime(2026, 3, 9, 10, 0, tzinfo=brussels)
    assert (got.second, got.microsecond) == (0, 0)


def test_the_rhythm_counts_the_sessions_held_and_the_appointments_planned() -> None:
    case = a_case()
    case.hold_session(
        session_id=uuid.uuid4(),
        kind="intake",
        held_at=MONDAY - timedelta(days=1),
        minutes=60,
        actor=ACTOR,
        at=MONDAY,
    )
    planned = plan(case, MONDAY + timedelta(days=7))
    assert case.meetings() == [MONDAY - timedelta(days=1), MONDAY + timedelta(days=7)]
    case.cancel_appointment(
        appointment_id=planned, by="client", reason="Ill.", actor=ACTOR, at=MONDAY
    )
    assert case.meetings() == [MONDAY - timedelta(days=1)]


def test_a_rhythm_without_intervals_is_refused() -> None:
    with pytest.raises(ValueError):
        propose([], [], now=MONDAY)


# -- the state rules ----------------------------------------------------------------------------
def test_an_appointment_is_planned_ahead_with_a_place_in_person() -> None:
    case = a_case()
    with pytest.raises(IntakeError) as e:
        plan(case, MONDAY - timedelta(minutes=1))
    assert code_of(e) == ("invalid", "starts_at")
    with pytest.raises(IntakeError) as e:
        plan(case, MONDAY + timedelta(days=1), place=None)
    assert code_of(e) == ("invalid", "place")
    with pytest.raises(IntakeError) as e:
        plan(case, MONDAY + timedelta(days=1), channel="pigeon")
    assert code_of(e) == ("invalid", "channel")
    with pytest.raises(IntakeError) as e:
        plan(case, MONDAY + timedelta(days=1), minutes=0)
    assert code_of(e) == ("invalid", "minutes")
    by_phone = plan(case, MONDAY + timedelta(days=1), channel="phone", place=None)
    assert case.appointments[by_phone].status == "planned"
    assert case.appointments[by_phone].counsellor == ACTOR


def test_two_planned_appointments_of_a_case_do_not_overlap() -> None:
    case = a_case()
    plan(case, MONDAY + timedelta(days=1))
    with pytest.raises(IntakeError) as e:
        plan(case, MONDAY + timedelta(days=1, minutes=30))
    assert code_of(e) == ("appointment-overlaps", "starts_at")
    plan(case, MONDAY + timedelta(days=1, minutes=60))


def test_rescheduling_moves_it_and_keeps_what_is_not_given() -> None:
    case = a_case()
    appointment = plan(case, MONDAY + timedelta(days=1))
    case.reschedule_appointment(
        appointment_id=appointment,
        starts_at=MONDAY + timedelta(days=2),
        minutes=None,
        channel=None,
        place=None,
        actor=ACTOR,
        at=MONDAY,
    )
    moved = case.appointments[appointment]
    assert (moved.starts_at, moved.minutes, moved.place, moved.reschedules) == (
        MONDAY + timedelta(days=2),
        60,
        "Office Gent, room 2",
        1,
    )
    case.reschedule_appointment(
        appointment_id=appointment,
        starts_at=MONDAY + timedelta(days=3),
        minutes=45,
        channel="video",
        place=None,
        actor=ACTOR,
        at=MONDAY,
    )
    assert (case.appointments[appointment].channel, case.appointments[appointment].place) == (
        "video",
        None,
    )


def test_a_cancellation_needs_a_reason_and_ends_the_changes() -> None:
    case = a_case()
    appointment = plan(case, MONDAY + timedelta(days=1))
    with pytest.raises(IntakeError) as e:
        case.cancel_appointment(
            appointment_id=appointment, by="client", reason="  ", actor=ACTOR, at=MONDAY
        )
    assert code_of(e) == ("invalid", "reason")
    case.cancel_appointment(
        appointment_id=appointment, by="agency", reason="Counsellor ill.", actor=ACTOR, at=MONDAY
    )
    cancelled = case.appointments[appointment]
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "agency")
    with pytest.raises(IntakeError) as e:
        case.reschedule_appointment(
            appointment_id=appointment,
            starts_at=MONDAY + timedelta(days=2),
            minutes=None,
            channel=None,
            place=None,
            actor=ACTOR,
            at=MONDAY,
        )
    assert code_of(e) == ("appointment-not-planned", None)


def test_a_no_show_is_counted_and_only_once_the_appointment_began() -> None:
    case = a_case()
    appointment = plan(case, MONDAY + timedelta(hours=1))
    with pytest.raises(IntakeError) as e:
        case.mark_missed(appointment_id=appointment, actor=ACTOR, at=MONDAY)
    assert code_of(e) == ("appointment-ahead", None)
    case.mark_missed(appointment_id=appointment, actor=ACTOR, at=MONDAY + timedelta(hours=2))
    assert (case.appointments[appointment].status, case.no_shows) == ("missed", 1)
    with pytest.raises(IntakeError) as e:
        case.mark_missed(appointment_id=appointment, actor=ACTOR, at=MONDAY + timedelta(hours=2))
    assert code_of(e) == ("appointment-not-planned", None)


def test_holding_an_appointment_records_its_session_against_the_budget() -> None:
    case = a_case()
    appointment = plan(case, MONDAY + timedelta(hours=1), kind="deepening")
    session_id = uuid.uuid4()
    later = MONDAY + timedelta(hours=3)
    case.hold_appointment(
        appointment_id=appointment, session_id=session_id, minutes=None, actor=ACTOR, at=later
    )
    [session] = case.sessions
    assert (session.session_id, session.kind, session.held_at, session.minutes) == (
        session_id,
        "deepening",
        MONDAY + timedelta(hours=1),
        60,
    )
    held = case.appointments[appointment]
    assert (held.status, held.session_id, case.minutes_used) == ("held", session_id, 60)
    topics = [type(e).__name__ for e in case.collect_events()][-2:]
    assert topics == ["SessionHeld", "AppointmentHeld"]


def test_an_appointment_not_yet_begun_is_not_held_and_an_unknown_one_is_not_found() -> None:
    case = a_case()
    appointment = plan(case, MONDAY + timedelta(hours=1))
    with pytest.raises(IntakeError) as e:
        case.hold_appointment(
            appointment_id=appointment,
            session_id=uuid.uuid4(),
            minutes=None,
            actor=ACTOR,
            at=MONDAY,
        )
    assert code_of(e) == ("appointment-ahead", None)
    with pytest.raises(IntakeError) as e:
        case.mark_missed(appointment_id=uuid.uuid4(), actor=ACTOR, at=MONDAY)
    assert e.value.code == "not-found"


def test_an_ended_case_plans_no_appointment() -> None:
    case = a_case()
    case.decide(decision="decline", reason=None, actor=ACTOR, at=MONDAY)
    with pytest.raises(IntakeError) as e:
        plan(case, MONDAY + timedelta(days=1))
    assert e.value.code == "case-decided"


# -- when the case ends or changes hands ------------------------------------------------------
def test_a_handover_moves_the_planned_appointments_to_the_new_counsellor() -> None:
    case = a_case()
    planned = plan(case, MONDAY + timedelta(days=7))
    cancelled = plan(case, MONDAY + timedelta(days=14))
    case.cancel_appointment(
        appointment_id=cancelled, by="client", reason="Ill.", actor=ACTOR, at=MONDAY
    )
    assert case.reassign(counsellor="c-bart", reason="Leave.", actor="lead-1", at=MONDAY)
    assert case.appointments[planned].counsellor == "c-bart"
    assert case.appointments[cancelled].counsellor == ACTOR


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (
            lambda c: c.close_file(
                reason="client_withdrew", summary="Moved away.", actor=ACTOR, at=MONDAY
            ),
            "The case's file was closed.",
        ),
        (
            lambda c: c.decide(decision="decline", reason="Not for us.", actor=ACTOR, at=MONDAY),
            "The case was declined.",
        ),
        (
            lambda c: c.decide(decision="refer_out", reason="Elsewhere.", actor=ACTOR, at=MONDAY),
            "The case was referred out.",
        ),
    ],
)
def test_when_the_case_ends_the_agency_cancels_its_planned_appointments(
    end: Any, reason: str
) -> None:
    case = a_case()
    first = plan(case, MONDAY + timedelta(days=7))
    second = plan(case, MONDAY + timedelta(days=14))
    end(case)
    for appointment_id in (first, second):
        found = case.appointments[appointment_id]
        assert (found.status, found.cancelled_by, found.cancel_reason) == (
            "cancelled",
            "agency",
            reason,
        )
    assert case.meetings() == []
