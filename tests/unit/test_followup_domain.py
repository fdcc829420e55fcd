"""Follow-up's domain rules, without a database: given a follow-up, when a command, then events.

Each test builds its "given" with commands, collects (and so clears) the pending
events, runs the command under test, and checks the new events or the `FollowUpError`
(its stable `code` and the `field` at fault). A refused command records nothing. Time
is injected: `today` and `at` are passed in, never read from a clock.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.followup.domain import (
    CLOSURE_REASONS,
    DEFAULT_CHECKIN_OFFSETS_DAYS,
    FollowUp,
    FollowUpError,
    action_id_for_todo,
    check_day_in_case_history,
    checkin_id_for,
    followup_id_for,
    schedule_checkins,
)

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
AGREED_ON = NOW.date()
ORG = "org-a"
CASE_ID = uuid.UUID("c0c0c0c0-1111-4222-8333-444444444444")
CLIENT_ID = uuid.UUID("a1a1a1a1-5555-4666-8777-888888888888")
GOAL_ID = uuid.UUID("90a190a1-1111-4222-8333-444444444444")
FIRST = uuid.UUID("ac000001-1111-4222-8333-444444444444")
SECOND = uuid.UUID("ac000002-1111-4222-8333-444444444444")


# -- givens -------------------------------------------------------------------------------------
def plan_action(action_id: uuid.UUID, due_date: date, status: str = "open") -> dict[str, Any]:
    return {
        "action_id": action_id,
        "goal_id": GOAL_ID,
        "owner": "client",
        "due_date": due_date,
        "status": status,
    }


def open_followup(**overrides: Any) -> FollowUp:
    fields: dict[str, Any] = {
        "case_id": CASE_ID,
        "client_id": CLIENT_ID,
        "organisation": ORG,
        "counsellor": "counsellor-1",
        "agreed_on": AGREED_ON,
        "plan_version": 4,
        "actions": [
            plan_action(FIRST, AGREED_ON + timedelta(days=30)),
            plan_action(SECOND, AGREED_ON + timedelta(days=60)),
        ],
        "at": NOW,
    }
    fields.update(overrides)
    return FollowUp.open(**fields)


def a_followup(**overrides: Any) -> FollowUp:
    followup = open_followup(**overrides)
    followup.collect_events()
    return followup


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)


def contact(followup: FollowUp, reached: bool, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "contact_id": uuid.uuid4(),
        "channel": "phone",
        "reached": reached,
        "notes": None,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    followup.record_contact(**fields)
    return fields["contact_id"]  # type: ignore[no-any-return]


def check(followup: FollowUp, action_id: uuid.UUID, status: str, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "check_id": uuid.uuid4(),
        "action_id": action_id,
        "status": status,
        "bottleneck": None,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    followup.check_action(**fields)
    return fields["check_id"]  # type: ignore[no-any-return]


def detect(followup: FollowUp, today: date, grace: int = 7, **overrides: Any) -> list[str]:
    fields: dict[str, Any] = {
        "today": today,
        "checkin_grace_days": grace,
        "actor": "overdue-job",
        "at": at(today),
    }
    fields.update(overrides)
    return followup.detect_overdue(**fields)


def outcome(followup: FollowUp, value: str = "employed", on: date = AGREED_ON) -> None:
    followup.record_outcome(outcome=value, on=on, actor="counsellor-1", at=NOW)


def feedback(followup: FollowUp, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "satisfaction": 4,
        "self_knowledge_improved": True,
        "confidence_improved": False,
        "comments": None,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    followup.give_feedback(**fields)


def complete(followup: FollowUp, number: int) -> None:
    followup.complete_checkin(
        checkin_id=followup.checkins[number - 1].checkin_id, actor="counsellor-1", at=NOW
    )


def names(events: Sequence[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def refuses(code: str, field: str | None, attempt: Any, followup: FollowUp) -> None:
    with pytest.raises(FollowUpError) as caught:
        attempt()
    assert (caught.value.code, caught.value.field) == (code, field)
    assert followup.collect_events() == [], "a refused command records nothing"


# -- ids and scheduling -------------------------------------------------------------------------
def test_ids_follow_from_their_source_and_from_nothing_else() -> None:
    todo = uuid.uuid4()

    assert followup_id_for(CASE_ID) == followup_id_for(uuid.UUID(str(CASE_ID)))
    assert followup_id_for(CASE_ID) != followup_id_for(uuid.uuid4())
    assert followup_id_for(CASE_ID).version == 5
    assert action_id_for_todo(todo) == action_id_for_todo(uuid.UUID(str(todo)))
    assert action_id_for_todo(todo) not in (todo, action_id_for_todo(uuid.uuid4()))
    fid = followup_id_for(CASE_ID)
    assert checkin_id_for(fid, 1) == checkin_id_for(fid, 1) != checkin_id_for(fid, 2)


def test_the_default_schedule_is_two_weeks_three_months_and_six_months() -> None:
    assert DEFAULT_CHECKIN_OFFSETS_DAYS == (14, 91, 182)
    assert schedule_checkins(date(2025, 3, 10)) == [
        date(2025, 3, 24),
        date(2025, 6, 9),
        date(2025, 9, 8),
    ]


def test_the_schedule_follows_configured_offsets_earliest_first_once_each() -> None:
    assert schedule_checkins(date(2025, 1, 31), [30, 7, 30, 1]) == [
        date(2025, 2, 1),
        date(2025, 2, 7),
        date(2025, 3, 2),
    ]


@pytest.mark.parametrize(
    "offsets", [[], [0], [-14], [14, 0], [1.5], [True]], ids=["none", "0", "neg", "mix", "f", "b"]
)
def test_a_schedule_needs_whole_positive_offsets(offsets: list[Any]) -> None:
    with pytest.raises(FollowUpError) as caught:
        schedule_checkins(AGREED_ON, offsets)
    assert (caught.value.code, caught.value.field) == ("invalid", "offsets_days")


# -- opening ------------------------------------------------------------------------------------
def test_opening_from_plan_agreed_schedules_check_ins_and_keeps_the_plan_actions() -> None:
    followup = open_followup(offsets_days=[7, 28])

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.Opened)
    assert event.originator_id == followup.id == followup_id_for(CASE_ID)
    assert (event.case_id, event.client_id, event.organisation) == (CASE_ID, CLIENT_ID, ORG)
    assert (event.actor, event.timestamp, event.plan_version) == ("counsellor-1", NOW, 4)
    assert (followup.status, followup.counsellor, followup.plan_status) == (
        "open",
        "counsellor-1",
        "agreed",
    )
    assert [(c.number, c.due_on, c.done) for c in followup.checkins] == [
        (1, date(2025, 3, 17), False),
        (2, date(2025, 4, 7), False),
    ]
    assert followup.checkins[0].checkin_id == checkin_id_for(followup.id, 1)
    assert followup.actions[FIRST] == {**plan_action(FIRST, date(2025, 4, 9)), "check": None}
    assert list(followup.actions) == [FIRST, SECOND]


def test_a_redelivered_plan_agreed_opens_the_same_follow_up() -> None:
    assert open_followup().id == open_followup(counsellor="someone-else").id


def test_opening_refuses_an_unknown_action_status() -> None:
    with pytest.raises(FollowUpError) as caught:
        open_followup(actions=[plan_action(FIRST, AGREED_ON, status="done")])
    assert (caught.value.code, caught.value.field) == ("invalid", "actions.0")


# -- planning's facts, noted idempotently -------------------------------------------------------
def test_noting_an_added_action_twice_adds_it_once() -> None:
    followup = a_followup()
    new = uuid.uuid4()
    fields: dict[str, Any] = {
        "action_id": new,
        "goal_id": GOAL_ID,
        "owner": "partner",
        "due_date": date(2025, 5, 1),
        "actor": "planning",
        "at": NOW,
    }

    assert followup.note_action_added(**fields) is True
    assert followup.note_action_added(**{**fields, "due_date": date(2026, 1, 1)}) is False

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.PlanActionAdded)
    assert (event.action_id, event.owner, event.due_date) == (new, "partner", date(2025, 5, 1))
    assert followup.actions[new]["status"] == "open"
    assert followup.actions[new]["due_date"] == date(2025, 5, 1)


def test_noting_completed_and_cancelled_actions_twice_changes_nothing_more() -> None:
    followup = a_followup()

    assert followup.note_action_completed(action_id=FIRST, actor="planning", at=NOW) is True
    assert followup.note_action_completed(action_id=FIRST, actor="planning", at=NOW) is False
    assert followup.note_action_cancelled(action_id=SECOND, actor="planning", at=NOW) is True
    assert followup.note_action_cancelled(action_id=SECOND, actor="planning", at=NOW) is False
    assert followup.note_action_cancelled(action_id=FIRST, actor="planning", at=NOW) is False
    assert followup.note_action_completed(action_id=uuid.uuid4(), actor="p", at=NOW) is False

    assert names(followup.collect_events()) == ["PlanActionCompleted", "PlanActionCancelled"]
    assert (followup.actions[FIRST]["status"], followup.actions[SECOND]["status"]) == (
        "completed",
        "cancelled",
    )


def test_noting_a_revision_and_a_new_agreement_follows_the_plan_version_once() -> None:
    followup = a_followup()
    third = uuid.uuid4()

    assert followup.note_plan_revised(from_version=4, actor="planning", at=NOW) is True
    assert followup.note_plan_revised(from_version=4, actor="planning", at=NOW) is False
    assert followup.plan_status == "revised"
    agreed: dict[str, Any] = {
        "plan_version": 6,
        "actions": [
            plan_action(FIRST, date(2025, 4, 9), "completed"),
            plan_action(third, date(2025, 5, 9)),
        ],
        "actor": "client-1",
        "at": NOW,
    }
    assert followup.note_plan_agreed(**agreed) is True
    assert followup.note_plan_agreed(**agreed) is False
    assert followup.note_plan_revised(from_version=4, actor="planning", at=NOW) is False, "stale"

    assert names(followup.collect_events()) == ["PlanRevised", "PlanReagreed"]
    assert (followup.plan_version, followup.plan_status) == (6, "agreed")
    assert followup.actions[FIRST]["status"] == "completed"
    assert followup.actions[third]["status"] == "open"
    assert SECOND in followup.actions, "an action the message leaves out is kept"


# -- check-ins ----------------------------------------------------------------------------------
def test_completing_a_check_in_marks_it_done_with_who_and_when() -> None:
    followup = a_followup()

    complete(followup, 1)

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.CheckInDone)
    assert (event.checkin_id, event.due_on) == (
        checkin_id_for(followup.id, 1),
        date(2025, 3, 24),
    )
    first = followup.checkins[0]
    assert (first.done, first.done_at, first.done_by) == (True, NOW, "counsellor-1")
    assert [c.number for c in followup.open_checkins()] == [2, 3]
    assert followup.status == "open"


def test_a_check_in_is_done_once_and_must_exist() -> None:
    followup = a_followup()
    complete(followup, 1)
    followup.collect_events()

    refuses("checkin-done", "checkin_id", lambda: complete(followup, 1), followup)
    refuses(
        "not-found",
        "checkin_id",
        lambda: followup.complete_checkin(checkin_id=uuid.uuid4(), actor="c", at=NOW),
        followup,
    )


# -- contacts -----------------------------------------------------------------------------------
def test_three_failed_contacts_in_a_row_raise_one_unreachable_bottleneck() -> None:
    followup = a_followup()
    contact(followup, False)
    contact(followup, False)
    assert names(followup.collect_events()) == ["ContactRecorded", "ContactRecorded"]

    third = contact(followup, False, channel="email")

    recorded, bottleneck = followup.collect_events()
    assert isinstance(recorded, FollowUp.ContactRecorded)
    assert isinstance(bottleneck, FollowUp.BottleneckDetected)
    assert (bottleneck.kind, bottleneck.key) == ("unreachable", f"unreachable:{third}")
    assert (bottleneck.action_id, bottleneck.checkin_id) == (None, None)
    assert followup.failed_contacts == 3
    contact(followup, False)
    assert names(followup.collect_events()) == ["ContactRecorded"], "one per streak"


def test_a_reached_contact_resets_the_count_of_failed_attempts() -> None:
    followup = a_followup()
    contact(followup, False)
    contact(followup, False)
    contact(followup, True, channel="meeting", notes="  Found a course  ")
    contact(followup, False)
    contact(followup, False)

    events = followup.collect_events()
    assert "BottleneckDetected" not in names(events)
    assert followup.failed_contacts == 2
    assert followup.contacts[2].notes == "Found a course"
    contact(followup, False)
    assert names(followup.collect_events()) == ["ContactRecorded", "BottleneckDetected"]


def test_a_redelivered_contact_is_recorded_once() -> None:
    followup = a_followup()
    contact_id = contact(followup, False)

    contact(followup, False, contact_id=contact_id)

    assert names(followup.collect_events()) == ["ContactRecorded"]
    assert followup.failed_contacts == 1


def test_a_contact_needs_a_known_channel_and_a_yes_or_no() -> None:
    followup = a_followup()

    refuses("invalid", "channel", lambda: contact(followup, True, channel="fax"), followup)
    refuses("invalid", "reached", lambda: contact(followup, reached="yes"), followup)  # type: ignore[arg-type]


# -- action checks ------------------------------------------------------------------------------
def test_an_action_check_without_bottleneck_records_only_the_check() -> None:
    followup = a_followup()

    check_id = check(followup, FIRST, "partly", bottleneck="   ")

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.ActionChecked)
    assert (event.check_id, event.action_id, event.status, event.bottleneck) == (
        check_id,
        FIRST,
        "partly",
        None,
    )
    assert followup.actions[FIRST]["check"]["status"] == "partly"


def test_a_bottleneck_text_raises_a_bottleneck_linked_to_the_action() -> None:
    followup = a_followup()

    check_id = check(followup, SECOND, "not_realised", bottleneck=" No childcare ")

    checked, bottleneck = followup.collect_events()
    assert isinstance(checked, FollowUp.ActionChecked)
    assert isinstance(bottleneck, FollowUp.BottleneckDetected)
    assert (bottleneck.kind, bottleneck.action_id, bottleneck.description) == (
        "action",
        SECOND,
        "No childcare",
    )
    assert bottleneck.key == f"action-check:{check_id}"
    check(followup, SECOND, "not_realised", bottleneck="No childcare", check_id=check_id)
    assert followup.collect_events() == [], "a redelivered check records nothing"


def test_an_action_check_needs_a_known_open_action_and_a_known_status() -> None:
    followup = a_followup()
    followup.note_action_cancelled(action_id=SECOND, actor="planning", at=NOW)
    followup.collect_events()

    refuses("not-found", "action_id", lambda: check(followup, uuid.uuid4(), "partly"), followup)
    refuses("action-cancelled", "action_id", lambda: check(followup, SECOND, "partly"), followup)
    refuses("invalid", "status", lambda: check(followup, FIRST, "done"), followup)


# -- bottlenecks by time ------------------------------------------------------------------------
def test_a_check_in_is_overdue_only_more_than_the_grace_days_after_its_due_date() -> None:
    followup = a_followup(actions=[])
    first_due = followup.checkins[0].due_on

    assert detect(followup, first_due + timedelta(days=7), grace=7) == []
    assert followup.collect_events() == []

    raised = detect(followup, first_due + timedelta(days=8), grace=7)

    first_id = followup.checkins[0].checkin_id
    assert raised == [f"checkin-overdue:{first_id}"]
    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.BottleneckDetected)
    assert (event.kind, event.checkin_id, event.action_id) == ("checkin_overdue", first_id, None)
    assert (event.actor, event.timestamp) == ("overdue-job", at(first_due + timedelta(days=8)))


def test_running_the_overdue_job_twice_raises_each_bottleneck_once() -> None:
    followup = a_followup()
    today = date(2025, 12, 31)  # everything is overdue

    first_run = detect(followup, today)
    second_run = detect(followup, today + timedelta(days=30))

    assert len(first_run) == 5, "three check-ins and two actions"
    assert second_run == []
    assert len(followup.collect_events()) == 5
    assert set(followup.bottlenecks) == set(first_run)


def test_a_done_check_in_is_never_overdue() -> None:
    followup = a_followup(actions=[])
    complete(followup, 1)
    followup.collect_events()

    raised = detect(followup, date(2025, 6, 9))

    assert raised == [], "check-in 1 is long past due but done; check-in 2 is due today"


@pytest.mark.parametrize(
    "settle",
    [
        lambda f: f.note_action_completed(action_id=FIRST, actor="planning", at=NOW),
        lambda f: f.note_action_cancelled(action_id=FIRST, actor="planning", at=NOW),
        lambda f: check(f, FIRST, "realised"),
    ],
    ids=["completed", "cancelled", "checked-realised"],
)
def test_a_settled_action_is_never_overdue(settle: Any) -> None:
    followup = a_followup(offsets_days=[365])
    settle(followup)
    followup.collect_events()

    raised = detect(followup, date(2025, 6, 1))

    assert raised == [f"action-overdue:{SECOND}"]


def test_an_action_checked_partly_or_not_realised_still_becomes_overdue() -> None:
    followup = a_followup(offsets_days=[365])
    check(followup, FIRST, "partly")
    check(followup, SECOND, "not_realised")
    followup.collect_events()

    assert detect(followup, date(2025, 4, 9)) == [], "due today is not past due"
    raised = detect(followup, date(2025, 5, 10))

    assert raised == [f"action-overdue:{FIRST}", f"action-overdue:{SECOND}"]
    events: list[Any] = list(followup.collect_events())
    assert [(e.kind, e.action_id) for e in events] == [
        ("action_overdue", FIRST),
        ("action_overdue", SECOND),
    ]


def test_action_grace_days_move_the_overdue_boundary() -> None:
    followup = a_followup(offsets_days=[365])

    assert detect(followup, date(2025, 4, 12), action_grace_days=3) == []
    assert detect(followup, date(2025, 4, 13), action_grace_days=3) == [f"action-overdue:{FIRST}"]


def test_a_closed_follow_up_raises_no_overdue_bottleneck() -> None:
    followup = a_followup()
    followup.close(reason="client_withdrew", actor="counsellor-1", at=NOW)
    followup.collect_events()

    assert detect(followup, date(2026, 1, 1)) == []
    assert followup.collect_events() == []


def test_negative_grace_days_are_refused() -> None:
    followup = a_followup()

    refuses("invalid", "checkin_grace_days", lambda: detect(followup, NOW.date(), -1), followup)
    refuses(
        "invalid",
        "action_grace_days",
        lambda: detect(followup, NOW.date(), action_grace_days=-1),
        followup,
    )


# -- new to-dos ---------------------------------------------------------------------------------
def test_agreeing_a_to_do_publishes_it_with_the_action_id_planning_will_use() -> None:
    followup = a_followup()
    todo_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "todo_id": todo_id,
        "goal_id": GOAL_ID,
        "description": " Call the training centre ",
        "owner": "client",
        "due_date": date(2025, 4, 1),
        "actor": "counsellor-1",
        "at": NOW,
    }

    assert followup.agree_todo(**fields) is True
    assert followup.agree_todo(**fields) is False

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.ToDoAgreed)
    assert (event.todo_id, event.action_id) == (todo_id, action_id_for_todo(todo_id))
    assert (event.organisation, event.goal_id, event.description) == (
        ORG,
        GOAL_ID,
        "Call the training centre",
    )
    assert event.action_id not in followup.actions, "it becomes an action when planning adds it"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": "  "}, "description"),
        ({"owner": "employer"}, "owner"),
        ({"due_date": date(2025, 3, 9)}, "due_date"),
    ],
    ids=["blank", "owner", "past"],
)
def test_a_to_do_needs_a_description_a_known_owner_and_a_due_date_ahead(
    overrides: dict[str, Any], field: str
) -> None:
    followup = a_followup()
    fields: dict[str, Any] = {
        "todo_id": uuid.uuid4(),
        "goal_id": GOAL_ID,
        "description": "Call the training centre",
        "owner": "client",
        "due_date": NOW.date(),
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)

    refuses("invalid", field, lambda: followup.agree_todo(**fields), followup)


# -- outcome and feedback -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda f: outcome(f, "retired"), "outcome"),
        (lambda f: outcome(f, on=date(2025, 3, 11)), "on"),
        (lambda f: feedback(f, satisfaction=0), "satisfaction"),
        (lambda f: feedback(f, satisfaction=6), "satisfaction"),
        (lambda f: feedback(f, satisfaction=True), "satisfaction"),
        (lambda f: feedback(f, satisfaction="5"), "satisfaction"),
        (lambda f: feedback(f, self_knowledge_improved=None), "self_knowledge_improved"),
        (lambda f: feedback(f, confidence_improved="yes"), "confidence_improved"),
        (lambda f: f.close(reason="  ", actor="c", at=NOW), "reason"),
        (lambda f: f.close(reason="Moved abroad", actor="c", at=NOW), "reason"),
        (
            lambda f: f.request_aftercare(due_on=date(2025, 3, 9), actor="c", at=NOW),
            "due_on",
        ),
    ],
    ids=[
        "outcome",
        "outcome-future",
        "sat-0",
        "sat-6",
        "sat-bool",
        "sat-str",
        "self-knowledge",
        "confidence",
        "close-reason-blank",
        "close-reason-free-text",
        "aftercare-past",
    ],
)
def test_bad_input_is_refused_with_its_field(call: Any, field: str) -> None:
    followup = a_followup()

    refuses("invalid", field, lambda: call(followup), followup)


def test_an_outcome_of_today_is_recorded() -> None:
    followup = a_followup()

    outcome(followup, "self_employed", on=NOW.date())

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.OutcomeRecorded)
    assert (event.outcome, event.on) == ("self_employed", NOW.date())
    assert followup.outcome is not None
    assert followup.outcome["outcome"] == "self_employed"
    assert followup.status == "open", "without feedback it stays open"


ACCEPTED_ON = AGREED_ON - timedelta(days=20)


def test_an_outcome_before_the_case_was_accepted_is_refused_naming_on() -> None:
    followup = a_followup()

    def record() -> None:
        followup.record_outcome(
            outcome="employed",
            on=ACCEPTED_ON - timedelta(days=1),
            actor="counsellor-1",
            at=NOW,
            accepted_on=ACCEPTED_ON,
        )

    refuses("invalid", "on", record, followup)
    with pytest.raises(FollowUpError) as error:
        record()
    assert f"before the case was accepted on {ACCEPTED_ON.isoformat()}" in error.value.message
    assert followup.outcome is None


def test_an_outcome_on_the_day_of_acceptance_or_before_the_plan_is_recorded() -> None:
    followup = a_followup()

    followup.record_outcome(
        outcome="employed", on=ACCEPTED_ON, actor="c", at=NOW, accepted_on=ACCEPTED_ON
    )

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.OutcomeRecorded) and event.on == ACCEPTED_ON


def test_an_outcome_whose_acceptance_is_not_known_yet_is_checked_against_today_only() -> None:
    followup = a_followup()

    followup.record_outcome(outcome="none", on=date(2001, 1, 1), actor="c", at=NOW)
    assert followup.outcome is not None
    followup.collect_events()
    refuses(
        "invalid",
        "on",
        lambda: followup.record_outcome(
            outcome="none", on=NOW.date() + timedelta(days=1), actor="c", at=NOW
        ),
        followup,
    )


@pytest.mark.parametrize(
    ("day", "accepted_on", "today", "refused"),
    [
        (date(2026, 1, 9), date(2026, 1, 10), date(2026, 2, 1), True),
        (date(2026, 1, 10), date(2026, 1, 10), date(2026, 2, 1), False),
        (date(2026, 2, 1), date(2026, 1, 10), date(2026, 2, 1), False),
        (date(2026, 2, 2), date(2026, 1, 10), date(2026, 2, 1), True),
        (date(2026, 2, 2), None, date(2026, 2, 1), True),
        (date(1990, 1, 1), None, date(2026, 2, 1), False),
    ],
)
def test_a_day_of_the_case_lies_between_its_acceptance_and_today(
    day: date, accepted_on: date | None, today: date, refused: bool
) -> None:
    if refused:
        with pytest.raises(FollowUpError) as error:
            check_day_in_case_history("on", day, accepted_on=accepted_on, today=today)
        assert (error.value.code, error.value.field) == ("invalid", "on")
    else:
        check_day_in_case_history("on", day, accepted_on=accepted_on, today=today)


# -- closing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("outcome_first", [True, False], ids=["outcome-first", "feedback-first"])
def test_outcome_and_feedback_together_close_the_follow_up(outcome_first: bool) -> None:
    followup = a_followup()

    if outcome_first:
        outcome(followup)
        assert names(followup.collect_events()) == ["OutcomeRecorded"]
        feedback(followup, comments=" Very helpful ")
    else:
        feedback(followup)
        assert names(followup.collect_events()) == ["FeedbackGiven"]
        outcome(followup)

    *_, closed = followup.collect_events()
    assert isinstance(closed, FollowUp.FollowUpClosed)
    assert (closed.reason, closed.rule) == ("completed", "outcome_and_feedback")
    # The command that closed it says so.
    assert closed.closed_by == ("feedback" if outcome_first else "outcome")
    assert followup.status == "closed"
    assert followup.closed is not None
    assert followup.closed["rule"] == "outcome_and_feedback"
    assert followup.closed["closed_by"] == closed.closed_by


def test_the_last_check_in_done_closes_the_follow_up_even_with_earlier_ones_open() -> None:
    followup = a_followup()
    complete(followup, 2)
    assert names(followup.collect_events()) == ["CheckInDone"]

    complete(followup, 3)

    done, closed = followup.collect_events()
    assert isinstance(done, FollowUp.CheckInDone)
    assert isinstance(closed, FollowUp.FollowUpClosed)
    assert (closed.reason, closed.rule, closed.closed_by) == (
        "completed",
        "last_checkin",
        "checkin",
    )
    assert followup.status == "closed"


@pytest.mark.parametrize("reason", CLOSURE_REASONS)
def test_a_follow_up_closes_explicitly_with_a_reason_and_notes(reason: str) -> None:
    followup = a_followup()

    followup.close(reason=reason, notes=" Client moved abroad ", actor="counsellor-1", at=NOW)

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.FollowUpClosed)
    assert (event.reason, event.notes, event.rule, event.closed_by, event.actor) == (
        reason,
        "Client moved abroad",
        "early",
        "close",
        "counsellor-1",
    )
    assert followup.status == "closed"
    assert followup.closed is not None
    assert (followup.closed["reason"], followup.closed["at"]) == (reason, NOW)


def test_an_explicit_close_needs_no_notes() -> None:
    followup = a_followup()

    followup.close(reason="unreachable", notes="  ", actor="c", at=NOW)

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.FollowUpClosed)
    assert (event.reason, event.notes) == ("unreachable", None)


def test_a_closure_recorded_before_reasons_were_codes_reads_with_no_notes() -> None:
    state = {"rule": "early", "reason": "Moved abroad"}
    FollowUp.FollowUpClosed.upcast_v1_v2(state)
    assert (state["notes"], state["closed_by"]) == (None, "close")
    state = {"rule": "outcome_and_feedback", "reason": "completed"}
    FollowUp.FollowUpClosed.upcast_v1_v2(state)
    assert (state["notes"], state["closed_by"]) == (None, None)


def test_a_closed_follow_up_refuses_every_change() -> None:
    followup = a_followup()
    followup.close(reason="other", actor="c", at=NOW)
    followup.collect_events()

    for attempt in (
        lambda: complete(followup, 1),
        lambda: contact(followup, True),
        lambda: check(followup, FIRST, "realised"),
        lambda: outcome(followup),
        lambda: feedback(followup),
        lambda: followup.close(reason="completed", actor="c", at=NOW),
        lambda: followup.agree_todo(
            todo_id=uuid.uuid4(),
            goal_id=GOAL_ID,
            description="Call",
            owner="client",
            due_date=date(2025, 4, 1),
            actor="c",
            at=NOW,
        ),
    ):
        refuses("followup-closed", None, attempt, followup)


def test_the_clients_request_for_aftercare_reopens_a_closed_follow_up_with_a_new_check_in() -> None:
    followup = a_followup()
    outcome(followup)
    feedback(followup)
    followup.collect_events()
    assert followup.status == "closed"

    new_id = followup.request_aftercare(due_on=date(2025, 4, 15), actor="client-1", at=NOW)

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.AftercareRequested)
    assert (event.checkin_id, event.due_on, event.reopened) == (new_id, date(2025, 4, 15), True)
    assert new_id == checkin_id_for(followup.id, 4)
    assert (followup.status, followup.closed) == ("open", None)
    assert followup.checkins[-1].requested is True
    contact(followup, True)
    assert names(followup.collect_events()) == ["ContactRecorded"], "it takes changes again"
    assert len(followup.closures) == 1


def test_aftercare_on_an_open_follow_up_adds_a_check_in_without_reopening() -> None:
    followup = a_followup()

    followup.request_aftercare(due_on=date(2025, 3, 20), actor="client-1", at=NOW)

    [event] = followup.collect_events()
    assert isinstance(event, FollowUp.AftercareRequested)
    assert event.reopened is False
    assert followup.open_checkins()[0].due_on == date(2025, 3, 20)


def test_noting_planning_facts_still_works_on_a_closed_follow_up() -> None:
    followup = a_followup()
    followup.close(reason="other", actor="c", at=NOW)
    followup.collect_events()

    assert followup.note_action_completed(action_id=FIRST, actor="planning", at=NOW) is True
    assert followup.actions[FIRST]["status"] == "completed"


# -- rebuilding ---------------------------------------------------------------------------------
def test_rebuilding_from_the_events_gives_the_same_follow_up() -> None:
    followup = open_followup()
    followup.note_action_added(
        action_id=uuid.uuid4(),
        goal_id=GOAL_ID,
        owner="counsellor",
        due_date=date(2025, 5, 1),
        actor="planning",
        at=NOW,
    )
    followup.note_plan_revised(from_version=4, actor="planning", at=NOW)
    followup.note_action_completed(action_id=FIRST, actor="planning", at=NOW)
    for _ in range(3):
        contact(followup, False)
    check(followup, SECOND, "not_realised", bottleneck="No transport")
    followup.agree_todo(
        todo_id=uuid.uuid4(),
        goal_id=GOAL_ID,
        description="Ask for a bus pass",
        owner="client",
        due_date=date(2025, 4, 1),
        actor="counsellor-1",
        at=NOW,
    )
    detect(followup, date(2025, 4, 10))
    complete(followup, 1)
    outcome(followup)
    feedback(followup)
    followup.request_aftercare(due_on=date(2025, 5, 1), actor="client-1", at=NOW)

    events = followup.collect_events()
    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)

    assert isinstance(rebuilt, FollowUp)
    assert rebuilt.id == followup.id
    assert rebuilt.version == followup.version == len(events)
    for attribute in (
        "status",
        "plan_version",
        "plan_status",
        "actions",
        "checkins",
        "contacts",
        "failed_contacts",
        "action_checks",
        "bottlenecks",
        "todos",
        "outcome",
        "feedback",
        "closed",
        "closures",
    ):
        assert getattr(rebuilt, attribute) == getattr(followup, attribute), attribute
    assert len(rebuilt.bottlenecks) == 3, "unreachable, the action's text, check-in 1 overdue"


def test_a_follow_up_reopened_by_aftercare_closes_again_when_its_new_check_in_is_done() -> None:
    followup = a_followup()
    for checkin in list(followup.checkins):
        followup.complete_checkin(checkin_id=checkin.checkin_id, actor="c", at=NOW)
    assert followup.status == "closed"
    # The client asks for aftercare sooner than the last scheduled check-in was due.
    new = followup.request_aftercare(due_on=AGREED_ON + timedelta(days=20), actor="c", at=NOW)
    assert followup.status == "open"
    followup.complete_checkin(checkin_id=new, actor="c", at=NOW)
    assert followup.status == "closed"
    assert followup.closed is not None and followup.closed["rule"] == "last_checkin"


@pytest.mark.parametrize(
    "prepare",
    [
        lambda f: None,
        lambda f: complete(f, 1),
        lambda f: f.note_action_completed(action_id=FIRST, actor="planning", at=NOW),
        lambda f: check(f, SECOND, "realised"),
        lambda f: detect(f, f.checkins[0].due_on + timedelta(days=8)),
    ],
    ids=["as-opened", "first-check-in-done", "action-completed", "realised", "one-raised"],
)
@pytest.mark.parametrize("grace", [0, 7])
def test_overdue_from_is_the_first_day_the_job_would_raise_something(
    prepare: Any, grace: int
) -> None:
    """The overdue job looks at a follow-up again only from `overdue_from` on (or when it
    changes): before that day a run raises nothing, on it a run raises something."""
    followup = a_followup()
    prepare(followup)
    followup.collect_events()
    first = followup.overdue_from(checkin_grace_days=grace)
    assert first is not None
    for day in (first - timedelta(days=30), first - timedelta(days=1), first):
        trial = copy.deepcopy(followup)
        raised = detect(trial, day, grace=grace)
        assert bool(raised) == (day == first), (day, first, raised)


def test_nothing_left_to_raise_and_a_closed_follow_up_have_no_overdue_day() -> None:
    followup = a_followup()
    assert followup.overdue_from(checkin_grace_days=7) is not None
    assert len(detect(followup, date(2030, 1, 1))) == 5
    assert followup.overdue_from(checkin_grace_days=7) is None

    closed = a_followup()
    closed.close(reason="client_withdrew", actor="counsellor-1", at=NOW)
    assert closed.overdue_from(checkin_grace_days=7) is None
