"""A referral's closed loop without a database: given a referral in some status, when a
command, then exactly one event and the new state, or a `ReferralError` that changes
nothing (no pending event, the same version, the same state).

    proposed ─send─▶ sent ─acknowledge─▶ acknowledged ─accept/decline─▶ accepted/declined
    accepted ─outcome─▶ outcome_reported;  declined/outcome_reported ─close─▶ closed
    proposed/sent/acknowledged/accepted ─withdraw─▶ withdrawn

Times are fixed; the working-day clock runs from Monday 10 March 2025.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.referral.domain import (
    AWAITING_ANSWER,
    CLOSABLE,
    OUTCOMES,
    SHARED,
    STATUSES,
    WITHDRAWABLE,
    ConsentReferrals,
    Outcome,
    Referral,
    ReferralError,
    Resumption,
    add_working_days,
)
from shared.vocabulary import DATA_CATEGORIES

MONDAY = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)  # the proposal
SENT_AT = MONDAY + timedelta(hours=1)  # sent the same Monday
STEP = timedelta(hours=2)  # between the steps that build a status
AT = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)  # the command under test
REFERRAL_ID = uuid.UUID("aaaaaaaa-0000-4000-8000-000000000001")
CASE_ID = uuid.UUID("cccccccc-0000-4000-8000-000000000002")
CLIENT_ID = uuid.UUID("dddddddd-0000-4000-8000-000000000003")
PARTNER_ID = uuid.UUID("bbbbbbbb-0000-4000-8000-000000000004")
CONSENT_ID = uuid.UUID("eeeeeeee-0000-4000-8000-000000000005")
REASON = "Debts stand in the way of any training plan."


# -- helpers ------------------------------------------------------------------------------------
def propose(**overrides: Any) -> Referral:
    fields: dict[str, Any] = {
        "referral_id": REFERRAL_ID,
        "case_id": CASE_ID,
        "client_id": CLIENT_ID,
        "organisation": "org-a",
        "partner_id": PARTNER_ID,
        "reason": REASON,
        "data_categories": ["identity", "contact"],
        "consent_id": CONSENT_ID,
        "actor": "counsellor-1",
        "at": MONDAY,
    }
    fields.update(overrides)
    return Referral.propose(**fields)


# How each status is reached from `proposed`: (command, its arguments) in order.
PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "proposed": [],
    "sent": [("send", {})],
    "acknowledged": [("send", {}), ("acknowledge", {})],
    "accepted": [("send", {}), ("accept", {})],
    "declined": [("send", {}), ("decline", {"reason": "No places for this profile."})],
    "outcome_reported": [
        ("send", {}),
        ("accept", {}),
        ("report_outcome", {"outcome": "completed", "notes": None}),
    ],
    "closed": [
        ("send", {}),
        ("decline", {"reason": "No places for this profile."}),
        ("close", {"note": None}),
    ],
    "withdrawn": [("send", {}), ("withdraw", {"reason": "The client moved away."})],
}
assert set(PATHS) == set(STATUSES)


def a_referral(status: str = "proposed") -> Referral:
    """A referral in `status`, its events collected (so none pending)."""
    referral = propose()
    at = SENT_AT
    for command, args in PATHS[status]:
        actor = "partner-user" if command in PARTNER_COMMANDS else "counsellor-1"
        getattr(referral, command)(actor=actor, at=at, **args)
        at += STEP
    assert referral.status == status
    referral.collect_events()
    return referral


def state(referral: Referral) -> dict[str, Any]:
    """Everything the referral holds but its pending events."""
    return copy.deepcopy({k: v for k, v in vars(referral).items() if k != "_pending_events"})


def refused(
    referral: Referral, command: Callable[[], Any], code: str, field: str | None = None
) -> ReferralError:
    """The command raises `code` (and `field`) and leaves the referral as it was."""
    before, version = state(referral), referral.version
    with pytest.raises(ReferralError) as raised:
        command()
    assert raised.value.code == code, raised.value.message
    assert raised.value.field == field
    assert raised.value.message
    assert referral.collect_events() == []
    assert referral.version == version
    assert state(referral) == before
    return raised.value


def only_event(aggregate: Referral | ConsentReferrals) -> Any:
    [event] = aggregate.collect_events()
    return event


PARTNER_COMMANDS = ("acknowledge", "accept", "decline", "report_outcome")

# command name → how the command under test is run on a referral at AT.
COMMANDS: dict[str, Callable[[Referral], Any]] = {
    "send": lambda r: r.send(actor="counsellor-1", at=AT),
    "withdraw": lambda r: r.withdraw(reason="Found help elsewhere.", actor="counsellor-1", at=AT),
    "close": lambda r: r.close(note="Loop closed.", actor="counsellor-1", at=AT),
    "record_resumption": lambda r: r.record_resumption(
        resumes=True, resume_on=date(2025, 4, 1), note=None, actor="counsellor-1", at=AT
    ),
    "acknowledge": lambda r: r.acknowledge(actor="partner-user", at=AT),
    "accept": lambda r: r.accept(actor="partner-user", at=AT),
    "decline": lambda r: r.decline(reason="Full.", actor="partner-user", at=AT),
    "report_outcome": lambda r: r.report_outcome(
        outcome="no_show", notes=None, actor="partner-user", at=AT
    ),
}

# -- every (status, command): the allowed ones ---------------------------------------------------
# (status, command) → (the one event, the status after). `record_resumption` keeps the status.
ALLOWED: dict[tuple[str, str], tuple[type, str]] = {
    ("proposed", "send"): (Referral.Sent, "sent"),
    ("proposed", "withdraw"): (Referral.Withdrawn, "withdrawn"),
    ("sent", "withdraw"): (Referral.Withdrawn, "withdrawn"),
    ("sent", "acknowledge"): (Referral.Acknowledged, "acknowledged"),
    ("sent", "accept"): (Referral.Accepted, "accepted"),
    ("sent", "decline"): (Referral.Declined, "declined"),
    ("sent", "record_resumption"): (Referral.ResumptionRecorded, "sent"),
    ("acknowledged", "withdraw"): (Referral.Withdrawn, "withdrawn"),
    ("acknowledged", "accept"): (Referral.Accepted, "accepted"),
    ("acknowledged", "decline"): (Referral.Declined, "declined"),
    ("acknowledged", "record_resumption"): (Referral.ResumptionRecorded, "acknowledged"),
    ("accepted", "withdraw"): (Referral.Withdrawn, "withdrawn"),
    ("accepted", "report_outcome"): (Referral.OutcomeReported, "outcome_reported"),
    ("accepted", "record_resumption"): (Referral.ResumptionRecorded, "accepted"),
    ("declined", "close"): (Referral.Closed, "closed"),
    ("declined", "record_resumption"): (Referral.ResumptionRecorded, "declined"),
    ("outcome_reported", "close"): (Referral.Closed, "closed"),
    ("outcome_reported", "record_resumption"): (
        Referral.ResumptionRecorded,
        "outcome_reported",
    ),
    ("closed", "record_resumption"): (Referral.ResumptionRecorded, "closed"),
    ("withdrawn", "record_resumption"): (Referral.ResumptionRecorded, "withdrawn"),
}
# Acknowledging an acknowledged referral is allowed but records nothing (see below).
NO_OP = {("acknowledged", "acknowledge")}
# The code each command refuses with in every other status.
REFUSAL = {
    "send": "not-proposed",
    "withdraw": "not-withdrawable",
    "close": "not-closable",
    "record_resumption": "not-sent",
    "acknowledge": "not-sent",
    "accept": "not-awaiting-answer",
    "decline": "not-awaiting-answer",
    "report_outcome": "not-accepted",
}
REFUSED = {
    (status, command): REFUSAL[command]
    for status in STATUSES
    for command in COMMANDS
    if (status, command) not in ALLOWED and (status, command) not in NO_OP
}


def test_the_tables_cover_every_status_and_command_once() -> None:
    pairs = {(s, c) for s in STATUSES for c in COMMANDS}
    assert set(ALLOWED) | NO_OP | set(REFUSED) == pairs
    assert not set(ALLOWED) & set(REFUSED) and not NO_OP & (set(ALLOWED) | set(REFUSED))
    # The module's own status groups say the same as the table.
    assert {s for s, c in ALLOWED if c == "withdraw"} == set(WITHDRAWABLE)
    assert {s for s, c in ALLOWED if c == "close"} == set(CLOSABLE)
    assert {s for s, c in ALLOWED if c == "accept"} == set(AWAITING_ANSWER)
    assert {s for s, c in ALLOWED if c == "decline"} == set(AWAITING_ANSWER)


@pytest.mark.parametrize(
    "status, command, event_type, after",
    [(s, c, e, a) for (s, c), (e, a) in ALLOWED.items()],
    ids=[f"{s}-{c}" for s, c in ALLOWED],
)
def test_an_allowed_command_records_exactly_its_event(
    status: str, command: str, event_type: type[Any], after: str
) -> None:
    referral = a_referral(status)
    version = referral.version
    COMMANDS[command](referral)
    event: Any = only_event(referral)
    assert type(event) is event_type
    assert event.originator_id == REFERRAL_ID
    assert event.originator_version == version + 1 == referral.version
    assert event.timestamp == AT and referral.modified_on == AT
    assert event.case_id == CASE_ID and event.client_id == CLIENT_ID
    assert event.actor == ("partner-user" if command in PARTNER_COMMANDS else "counsellor-1")
    if command in PARTNER_COMMANDS:
        assert event.partner_id == PARTNER_ID
    assert referral.status == after


@pytest.mark.parametrize("status, command, code", [(s, c, k) for (s, c), k in REFUSED.items()])
def test_a_disallowed_command_is_refused_and_changes_nothing(
    status: str, command: str, code: str
) -> None:
    referral = a_referral(status)
    refused(referral, lambda: COMMANDS[command](referral), code)


# -- the state each event leaves --------------------------------------------------------------
def test_proposing_keeps_the_facts_and_the_categories_in_canonical_order() -> None:
    referral = propose(data_categories=["plan", "identity", "contact"], reason="  Debts.  ")
    event = only_event(referral)
    assert isinstance(event, Referral.Proposed)
    assert event.originator_id == REFERRAL_ID and event.originator_version == 1
    assert event.timestamp == MONDAY and event.actor == "counsellor-1"
    assert event.organisation == "org-a" and event.consent_id == CONSENT_ID
    assert referral.status == "proposed" and referral.version == 1
    assert referral.reason == "Debts."
    assert referral.data_categories == ["identity", "contact", "plan"]
    assert referral.proposed_by == "counsellor-1"
    assert referral.sent_at is None and referral.closed_at is None
    assert referral.overdue is False and referral.consent_revoked is False
    assert referral.resumption is None


PROPOSALS = {
    "blank reason": ({"reason": "   "}, "reason"),
    "empty reason": ({"reason": ""}, "reason"),
    "no categories": ({"data_categories": []}, "data_categories"),
    "unknown category": ({"data_categories": ["identity", "medical"]}, "data_categories"),
}


@pytest.mark.parametrize("fields, field", PROPOSALS.values(), ids=PROPOSALS.keys())
def test_a_bad_proposal_is_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ReferralError) as raised:
        propose(**fields)
    assert raised.value.code == "invalid" and raised.value.field == field


def test_every_data_category_may_be_named() -> None:
    assert propose(data_categories=list(DATA_CATEGORIES)).data_categories == list(DATA_CATEGORIES)


def test_sending_records_when() -> None:
    referral = a_referral("proposed")
    referral.send(actor="counsellor-1", at=AT)
    assert referral.sent_at == AT and referral.status == "sent"


def test_acknowledging_records_when_and_again_is_a_no_op_returning_false() -> None:
    referral = a_referral("sent")
    assert referral.acknowledge(actor="partner-user", at=AT) is True
    assert isinstance(only_event(referral), Referral.Acknowledged)
    assert referral.acknowledged_at == AT
    before, version = state(referral), referral.version
    assert referral.acknowledge(actor="partner-user", at=AT + STEP) is False
    assert referral.collect_events() == []
    assert referral.version == version and state(referral) == before
    assert referral.acknowledged_at == AT


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_answer_without_acknowledgement_sets_acknowledged_at_too(answer: str) -> None:
    referral = a_referral("sent")
    COMMANDS[answer](referral)
    only_event(referral)
    assert referral.acknowledged_at == AT and referral.answered_at == AT


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_answer_after_acknowledgement_keeps_its_time(answer: str) -> None:
    referral = a_referral("acknowledged")
    acknowledged = referral.acknowledged_at
    assert acknowledged is not None and acknowledged < AT
    COMMANDS[answer](referral)
    only_event(referral)
    assert referral.acknowledged_at == acknowledged and referral.answered_at == AT


def test_declining_keeps_the_reason_and_needs_one() -> None:
    referral = a_referral("sent")
    refused(
        referral,
        lambda: referral.decline(reason="  ", actor="partner-user", at=AT),
        "invalid",
        "reason",
    )
    referral.decline(reason="  No places.  ", actor="partner-user", at=AT)
    event = only_event(referral)
    assert event.reason == "No places." and referral.decline_reason == "No places."


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_outcome_may_be_reported(outcome: str) -> None:
    referral = a_referral("accepted")
    referral.report_outcome(outcome=outcome, notes="  Went well. ", actor="partner-user", at=AT)
    event = only_event(referral)
    assert event.outcome == outcome and event.notes == "Went well."
    assert referral.outcome == Outcome(outcome=outcome, notes="Went well.", reported_at=AT)


@pytest.mark.parametrize("outcome", ["", "done", "COMPLETED", "closed"])
def test_an_unknown_outcome_is_refused(outcome: str) -> None:
    referral = a_referral("accepted")
    refused(
        referral,
        lambda: referral.report_outcome(outcome=outcome, notes=None, actor="p", at=AT),
        "invalid",
        "outcome",
    )


def test_blank_notes_are_none() -> None:
    referral = a_referral("accepted")
    referral.report_outcome(outcome="completed", notes="   ", actor="partner-user", at=AT)
    assert only_event(referral).notes is None and referral.outcome is not None
    assert referral.outcome.notes is None


@pytest.mark.parametrize("status", WITHDRAWABLE)
def test_withdrawing_is_allowed_until_an_outcome_and_keeps_the_reason(status: str) -> None:
    referral = a_referral(status)
    referral.withdraw(reason=" Found help elsewhere. ", actor="counsellor-1", at=AT)
    event = only_event(referral)
    assert event.reason == "Found help elsewhere."
    assert referral.status == "withdrawn" and referral.closed_at == AT
    assert referral.withdrawal_reason == "Found help elsewhere."


@pytest.mark.parametrize("status", ["outcome_reported", "closed", "withdrawn", "declined"])
def test_withdrawing_after_an_outcome_or_an_end_is_refused(status: str) -> None:
    referral = a_referral(status)
    refused(
        referral,
        lambda: referral.withdraw(reason="x", actor="counsellor-1", at=AT),
        "not-withdrawable",
    )


def test_withdrawing_needs_a_reason() -> None:
    referral = a_referral("sent")
    refused(
        referral,
        lambda: referral.withdraw(reason=" ", actor="counsellor-1", at=AT),
        "invalid",
        "reason",
    )


@pytest.mark.parametrize("status", CLOSABLE)
def test_closing_after_a_decline_or_an_outcome_records_the_note(status: str) -> None:
    referral = a_referral(status)
    referral.close(note="  Client is back with us. ", actor="counsellor-1", at=AT)
    event = only_event(referral)
    assert event.note == "Client is back with us."
    assert referral.status == "closed" and referral.closed_at == AT
    assert referral.closing_note == "Client is back with us."


def test_closing_without_a_note() -> None:
    referral = a_referral("declined")
    referral.close(note=None, actor="counsellor-1", at=AT)
    assert only_event(referral).note is None and referral.closing_note is None


# -- resumption ----------------------------------------------------------------------------------
def test_resumption_is_not_recorded_on_a_referral_never_sent() -> None:
    referral = a_referral("proposed")
    refused(
        referral,
        lambda: referral.record_resumption(
            resumes=False, resume_on=None, note=None, actor="counsellor-1", at=AT
        ),
        "not-sent",
    )


def test_resumption_is_not_recorded_on_a_proposal_withdrawn_before_sending() -> None:
    """Withdrawn while proposed, it was never sent either: nothing to resume from.

    Fails today: `record_resumption` checks `status == "proposed"`, not whether the
    referral was ever sent (`sent_at is None`)."""
    referral = propose()
    referral.withdraw(reason="Changed my mind.", actor="counsellor-1", at=SENT_AT)
    referral.collect_events()
    assert referral.sent_at is None
    refused(
        referral,
        lambda: referral.record_resumption(
            resumes=False, resume_on=None, note=None, actor="counsellor-1", at=AT
        ),
        "not-sent",
    )


def test_guidance_that_resumes_needs_its_date() -> None:
    referral = a_referral("closed")
    refused(
        referral,
        lambda: referral.record_resumption(
            resumes=True, resume_on=None, note=None, actor="counsellor-1", at=AT
        ),
        "invalid",
        "resume_on",
    )


def test_guidance_that_does_not_resume_refuses_a_date() -> None:
    referral = a_referral("closed")
    refused(
        referral,
        lambda: referral.record_resumption(
            resumes=False, resume_on=date(2025, 4, 1), note=None, actor="counsellor-1", at=AT
        ),
        "invalid",
        "resume_on",
    )


def test_guidance_does_not_resume_before_the_referral_was_sent() -> None:
    referral = a_referral("closed")
    day_before = SENT_AT.date() - timedelta(days=1)
    refused(
        referral,
        lambda: referral.record_resumption(
            resumes=True, resume_on=day_before, note=None, actor="counsellor-1", at=AT
        ),
        "invalid",
        "resume_on",
    )
    with pytest.raises(ReferralError) as error:
        referral.record_resumption(
            resumes=True, resume_on=day_before, note=None, actor="counsellor-1", at=AT
        )
    assert f"before the referral was sent on {SENT_AT.date().isoformat()}" in error.value.message
    # The day it was sent, or a day to come: recorded.
    for day in (SENT_AT.date(), AT.date() + timedelta(days=60)):
        referral.record_resumption(
            resumes=True, resume_on=day, note=None, actor="counsellor-1", at=AT
        )
        assert referral.resumption is not None and referral.resumption.resume_on == day


def test_resumption_recorded_again_the_latest_wins() -> None:
    referral = a_referral("closed")
    referral.record_resumption(
        resumes=True, resume_on=date(2025, 4, 1), note=" In April. ", actor="c-1", at=AT
    )
    first = only_event(referral)
    assert (first.resumes, first.resume_on, first.note) == (True, date(2025, 4, 1), "In April.")
    assert referral.resumption == Resumption(
        resumes=True, resume_on=date(2025, 4, 1), note="In April.", recorded_at=AT
    )
    later = AT + STEP
    referral.record_resumption(resumes=False, resume_on=None, note="  ", actor="c-2", at=later)
    second = only_event(referral)
    assert isinstance(second, Referral.ResumptionRecorded) and second.actor == "c-2"
    assert referral.resumption == Resumption(
        resumes=False, resume_on=None, note=None, recorded_at=later
    )
    assert referral.status == "closed"


# -- working days and the overdue mark ---------------------------------------------------------
WORKING_DAYS = {
    "none: the same day": (date(2025, 3, 10), 0, (), date(2025, 3, 10)),
    "none on a Saturday": (date(2025, 3, 15), 0, (), date(2025, 3, 15)),
    "Monday + 1": (date(2025, 3, 10), 1, (), date(2025, 3, 11)),
    "Monday + 5: next Monday": (date(2025, 3, 10), 5, (), date(2025, 3, 17)),
    "Friday + 1: Monday": (date(2025, 3, 14), 1, (), date(2025, 3, 17)),
    "Saturday + 1: Monday": (date(2025, 3, 15), 1, (), date(2025, 3, 17)),
    "Sunday + 1: Monday": (date(2025, 3, 16), 1, (), date(2025, 3, 17)),
    "Thursday + 2 over a weekend": (date(2025, 3, 13), 2, (), date(2025, 3, 17)),
    "a holiday is skipped": (date(2025, 3, 10), 1, (date(2025, 3, 11),), date(2025, 3, 12)),
    "a holiday on a weekend changes nothing": (
        date(2025, 3, 14),
        1,
        (date(2025, 3, 15),),
        date(2025, 3, 17),
    ),
    "a holiday on the start day changes nothing": (
        date(2025, 3, 10),
        1,
        (date(2025, 3, 10),),
        date(2025, 3, 11),
    ),
    "a holiday Monday after a weekend": (
        date(2025, 4, 18),
        1,
        (date(2025, 4, 21),),
        date(2025, 4, 22),
    ),
    "across a year end": (date(2025, 12, 31), 2, (), date(2026, 1, 2)),
    "across a year end with New Year": (
        date(2025, 12, 31),
        2,
        (date(2026, 1, 1),),
        date(2026, 1, 5),
    ),
    "Christmas to the New Year": (
        date(2025, 12, 24),
        5,
        (date(2025, 12, 25), date(2025, 12, 26), date(2026, 1, 1)),
        date(2026, 1, 5),
    ),
    "across a leap day": (date(2028, 2, 28), 2, (), date(2028, 3, 1)),
}


@pytest.mark.parametrize(
    "start, days, holidays, expected", WORKING_DAYS.values(), ids=WORKING_DAYS.keys()
)
def test_add_working_days(
    start: date, days: int, holidays: tuple[date, ...], expected: date
) -> None:
    assert add_working_days(start, days, holidays) == expected


def test_add_working_days_takes_any_iterable_of_holidays() -> None:
    holidays = iter([date(2025, 3, 11)])
    assert add_working_days(date(2025, 3, 10), 1, holidays) == date(2025, 3, 12)


def detect(referral: Referral, today: date, holidays: tuple[date, ...] = ()) -> bool:
    return referral.detect_overdue(
        today=today,
        working_days=5,
        holidays=holidays,
        actor="system:overdue",
        at=datetime.combine(today, datetime.min.time(), UTC),
    )


# Sent Monday 10 March 2025, 5 working days: due Monday 17 March.
DUE = date(2025, 3, 17)


@pytest.mark.parametrize("status", AWAITING_ANSWER)
def test_the_answer_is_due_five_working_days_after_sending(status: str) -> None:
    referral = a_referral(status)
    assert referral.answer_due_on(5) == DUE
    assert referral.answer_due_on(5, [date(2025, 3, 12)]) == DUE + timedelta(days=1)


@pytest.mark.parametrize("today", [date(2025, 3, 10), date(2025, 3, 14), DUE])
def test_not_overdue_before_or_on_the_due_day(today: date) -> None:
    referral = a_referral("sent")
    before = state(referral)
    assert detect(referral, today) is False
    assert referral.collect_events() == [] and state(referral) == before


@pytest.mark.parametrize("status", AWAITING_ANSWER)
def test_overdue_the_working_day_after_and_only_once(status: str) -> None:
    referral = a_referral(status)
    today = date(2025, 3, 18)
    assert detect(referral, today) is True
    event = only_event(referral)
    assert isinstance(event, Referral.BecameOverdue)
    assert event.due_on == DUE and event.partner_id == PARTNER_ID
    assert event.actor == "system:overdue"
    assert referral.overdue is True and referral.overdue_since == DUE
    assert referral.status == status  # a mark beside the status

    version = referral.version
    assert detect(referral, today + timedelta(days=7)) is False
    assert referral.collect_events() == [] and referral.version == version
    assert referral.overdue_since == DUE


def test_an_overdue_referral_may_still_be_answered_and_keeps_its_mark() -> None:
    referral = a_referral("sent")
    assert detect(referral, date(2025, 3, 20)) is True
    referral.accept(actor="partner-user", at=AT + timedelta(days=8))
    assert referral.status == "accepted" and referral.overdue is True


def test_a_holiday_pushes_the_due_date() -> None:
    referral = a_referral("sent")
    holidays = (date(2025, 3, 12),)
    assert detect(referral, date(2025, 3, 18), holidays) is False  # due on the 18th now
    assert detect(referral, date(2025, 3, 19), holidays) is True
    assert only_event(referral).due_on == date(2025, 3, 18)


def test_the_weekend_does_not_count() -> None:
    referral = propose()
    referral.send(actor="counsellor-1", at=datetime(2025, 3, 14, 16, 0, tzinfo=UTC))  # Friday
    referral.collect_events()
    # 5 working days from Friday: the next Friday (21st); overdue from Saturday.
    assert referral.answer_due_on(5) == date(2025, 3, 21)
    assert detect(referral, date(2025, 3, 21)) is False
    assert detect(referral, date(2025, 3, 22)) is True


@pytest.mark.parametrize("status", [s for s in STATUSES if s not in AWAITING_ANSWER])
def test_no_overdue_when_no_answer_is_awaited(status: str) -> None:
    referral = a_referral(status)
    before = state(referral)
    assert referral.answer_due_on(5) is None
    assert detect(referral, date(2026, 1, 1)) is False
    assert referral.collect_events() == [] and state(referral) == before


# -- consent revoked and sharing -------------------------------------------------------------
@pytest.mark.parametrize("status", [s for s in STATUSES if s not in ("withdrawn", "closed")])
def test_a_revoked_consent_marks_the_referral_once(status: str) -> None:
    referral = a_referral(status)
    other = uuid.uuid4()
    assert referral.revoke_consent(consent_id=other, actor="system:consent", at=AT) is True
    event = only_event(referral)
    assert isinstance(event, Referral.ConsentRevoked)
    assert event.consent_id == other and event.partner_id == PARTNER_ID
    assert referral.consent_revoked is True and referral.consent_revoked_at == AT
    assert referral.status == status and referral.shares_data is False

    version = referral.version
    assert referral.revoke_consent(consent_id=other, actor="s", at=AT + STEP) is False
    assert referral.collect_events() == [] and referral.version == version
    assert referral.consent_revoked_at == AT


@pytest.mark.parametrize("status", ["withdrawn", "closed"])
def test_a_revoked_consent_leaves_an_ended_referral_alone(status: str) -> None:
    referral = a_referral(status)
    before = state(referral)
    assert referral.revoke_consent(consent_id=CONSENT_ID, actor="s", at=AT) is False
    assert referral.collect_events() == [] and state(referral) == before


def test_a_proposal_whose_consent_was_revoked_is_not_sent() -> None:
    referral = a_referral("proposed")
    referral.revoke_consent(consent_id=CONSENT_ID, actor="s", at=AT)
    referral.collect_events()
    refused(referral, lambda: referral.send(actor="counsellor-1", at=AT), "consent-revoked")


@pytest.mark.parametrize("status", STATUSES)
def test_the_partner_reads_the_clients_data_only_while_shared(status: str) -> None:
    referral = a_referral(status)
    assert referral.shares_data is (status in SHARED)
    assert SHARED == ("sent", "acknowledged", "accepted", "outcome_reported")


# -- the consent's referrals index -----------------------------------------------------------
def test_the_index_id_follows_from_client_and_partner() -> None:
    one = ConsentReferrals.id_for(CLIENT_ID, PARTNER_ID)
    assert one == ConsentReferrals.id_for(CLIENT_ID, PARTNER_ID)
    assert one == uuid.UUID(str(one)) and one.version == 5
    assert one != ConsentReferrals.id_for(CLIENT_ID, uuid.uuid4())
    assert one != ConsentReferrals.id_for(uuid.uuid4(), PARTNER_ID)
    assert one != ConsentReferrals.id_for(PARTNER_ID, CLIENT_ID)  # the order matters


def test_the_index_starts_empty_and_attaches_referrals_in_order() -> None:
    index = ConsentReferrals.start(CLIENT_ID, PARTNER_ID, MONDAY)
    started = only_event(index)
    assert isinstance(started, ConsentReferrals.Started)
    assert index.id == ConsentReferrals.id_for(CLIENT_ID, PARTNER_ID)
    assert (index.client_id, index.partner_id, index.referral_ids) == (CLIENT_ID, PARTNER_ID, [])
    first, second = uuid.uuid4(), uuid.uuid4()
    index.attach(first, AT)
    index.attach(second, AT + STEP)
    events: list[Any] = list(index.collect_events())
    assert [type(e) for e in events] == [ConsentReferrals.Attached] * 2
    assert [e.referral_id for e in events] == [first, second]
    assert index.referral_ids == [first, second] and index.version == 3
