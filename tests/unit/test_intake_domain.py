"""Intake's domain rules, without a database: given a state, when a command, then events.

Each test builds its "given" with commands, collects (and so clears) the pending
events, runs the command under test, and checks the new events or the `IntakeError`
(its stable `code` and the `field` at fault). A refused command records nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.intake.domain import Case, Client, Closure, Decision, EntryCheck, IntakeError
from shared.vocabulary import COMPETENCES

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
ORG = "org-a"
PARTNER = uuid.UUID("11111111-2222-4333-8444-555555555555")
OTHER_PARTNER = uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")
ALL_THREES = dict.fromkeys(COMPETENCES, 3)


# -- givens -------------------------------------------------------------------------------------
def register(**overrides: Any) -> Client:
    fields: dict[str, Any] = {
        "client_id": uuid.uuid4(),
        "organisation": ORG,
        "given_name": "Anna",
        "family_name": "Peeters",
        "birth_date": date(1990, 5, 17),
        "email": "anna@example.org",
        "phone": "+32 470 12 34 56",
        "preferred_language": "nl",
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    return Client.register(**fields)


def a_client(**overrides: Any) -> Client:
    client = register(**overrides)
    client.collect_events()
    return client


def grant(client: Client, purpose: str = "guidance", **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "consent_id": uuid.uuid4(),
        "purpose": purpose,
        "partner_id": None,
        "data_categories": [],
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    client.grant_consent(**fields)


def withdraw(client: Client, purpose: str = "guidance", **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "consent_id": uuid.uuid4(),
        "purpose": purpose,
        "partner_id": None,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    client.withdraw_consent(**fields)


def a_consenting_client(**overrides: Any) -> Client:
    client = a_client(**overrides)
    grant(client, "guidance")
    client.collect_events()
    return client


def open_case(client: Client, **overrides: Any) -> Case:
    fields: dict[str, Any] = {
        "case_id": uuid.uuid4(),
        "client": client,
        "organisation": ORG,
        "career_question": "Should I move from logistics into teaching?",
        "hours_budget": 12.0,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    return Case.open(**fields)


def an_open_case() -> Case:
    case = open_case(a_consenting_client())
    case.collect_events()
    return case


def assess(case: Case, assessor: str = "client", scores: dict[str, Any] | None = None) -> None:
    case.record_assessment(
        assessment_id=uuid.uuid4(),
        assessor=assessor,
        scores=dict(ALL_THREES if scores is None else scores),
        actor="counsellor-1",
        at=NOW,
    )


def hold(case: Case, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "session_id": uuid.uuid4(),
        "kind": "intake",
        "held_at": NOW - timedelta(hours=1),
        "minutes": 60,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    case.hold_session(**fields)


def a_ready_case() -> Case:
    """An open case with a passed entry check and one assessment (all threes)."""
    case = an_open_case()
    case.check_entry(eligible=True, notes=None, actor="counsellor-1", at=NOW)
    assess(case)
    case.collect_events()
    return case


def decide(case: Case, decision: str, reason: str | None = None) -> None:
    case.decide(decision=decision, reason=reason, actor="counsellor-2", at=NOW)


def replay(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def refused(aggregate: Client | Case) -> None:
    """Assert that the refused command left no pending event behind."""
    assert aggregate.collect_events() == []


# -- client registration ---------------------------------------------------------------------
def test_registering_a_client_records_who_and_the_personal_fields() -> None:
    client_id = uuid.uuid4()
    client = register(client_id=client_id, given_name="  Anna ", family_name=" Peeters")

    [event] = client.collect_events()
    assert isinstance(event, Client.Registered)
    assert event.originator_id == client_id
    assert event.originator_version == 1
    assert event.timestamp == NOW
    assert (event.given_name, event.family_name) == ("Anna", "Peeters")
    assert event.birth_date == date(1990, 5, 17)
    assert event.email == "anna@example.org"
    assert event.organisation == ORG
    assert event.actor == "counsellor-1"
    assert client.consents == {}
    assert client.consent_history == []


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("given_name", {"given_name": ""}),
        ("given_name", {"given_name": "   "}),
        ("family_name", {"family_name": "\t"}),
        ("birth_date", {"birth_date": NOW.date()}),
        ("birth_date", {"birth_date": NOW.date() + timedelta(days=1)}),
    ],
    ids=["empty-given-name", "blank-given-name", "blank-family-name", "born-today", "unborn"],
)
def test_registering_needs_names_and_a_birth_date_in_the_past(
    field: str, overrides: dict[str, Any]
) -> None:
    with pytest.raises(IntakeError) as error:
        register(**overrides)
    assert error.value.code == "invalid"
    assert error.value.field == field


def test_a_birth_date_of_yesterday_is_in_the_past() -> None:
    client = register(birth_date=NOW.date() - timedelta(days=1))
    assert client.birth_date == date(2025, 3, 9)


# -- consents --------------------------------------------------------------------------------
def test_granting_a_guidance_consent_makes_it_current() -> None:
    client = a_client()
    consent_id = uuid.uuid4()

    grant(client, "guidance", consent_id=consent_id)

    [event] = client.collect_events()
    assert isinstance(event, Client.ConsentGranted)
    assert (event.consent_id, event.purpose, event.partner_id) == (consent_id, "guidance", None)
    assert event.data_categories == []
    assert event.organisation == ORG
    assert client.has_consent("guidance")
    assert not client.has_consent("statistics")
    assert client.consents["guidance:"].granted_at == NOW
    assert client.consents["guidance:"].withdrawn_at is None


def test_a_referral_consent_names_its_partner_and_categories_once_each_sorted() -> None:
    client = a_client()

    grant(
        client,
        "referral",
        partner_id=PARTNER,
        data_categories=["plan", "identity", "plan", "assessments"],
    )

    [event] = client.collect_events()
    assert event.partner_id == PARTNER
    assert event.data_categories == ["assessments", "identity", "plan"]
    assert client.has_consent("referral", PARTNER)
    assert not client.has_consent("referral", OTHER_PARTNER)
    assert not client.has_consent("referral")


@pytest.mark.parametrize(
    ("purpose", "overrides", "field"),
    [
        ("referral", {"partner_id": None, "data_categories": ["identity"]}, "partner_id"),
        ("referral", {"partner_id": PARTNER, "data_categories": []}, "data_categories"),
        ("referral", {"partner_id": PARTNER, "data_categories": ["salary"]}, "data_categories"),
        ("guidance", {"partner_id": PARTNER}, "partner_id"),
        ("guidance", {"data_categories": ["identity"]}, "data_categories"),
        ("statistics", {"partner_id": PARTNER}, "partner_id"),
        ("statistics", {"data_categories": ["contact"]}, "data_categories"),
        ("marketing", {}, "purpose"),
    ],
    ids=[
        "referral-without-partner",
        "referral-without-categories",
        "referral-unknown-category",
        "guidance-with-partner",
        "guidance-with-categories",
        "statistics-with-partner",
        "statistics-with-categories",
        "unknown-purpose",
    ],
)
def test_a_consent_has_the_shape_of_its_purpose(
    purpose: str, overrides: dict[str, Any], field: str
) -> None:
    client = a_client()

    with pytest.raises(IntakeError) as error:
        grant(client, purpose, **overrides)

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(client)
    assert client.consents == {}
    assert client.consent_history == []


def test_withdrawing_a_consent_keeps_its_grant_in_the_history() -> None:
    client = a_client()
    consent_id = uuid.uuid4()
    grant(
        client,
        "referral",
        consent_id=consent_id,
        partner_id=PARTNER,
        data_categories=["identity", "contact"],
    )
    client.collect_events()
    later = NOW + timedelta(days=3)

    withdraw(client, "referral", partner_id=PARTNER, at=later, actor="counsellor-2")

    [event] = client.collect_events()
    assert isinstance(event, Client.ConsentWithdrawn)
    assert event.consent_id == consent_id, "a withdrawal names the consent it withdraws"
    assert event.data_categories == ["contact", "identity"]
    current = client.consents[f"referral:{PARTNER}"]
    assert current.granted is False
    assert current.granted_at == NOW
    assert current.withdrawn_at == later
    assert not client.has_consent("referral", PARTNER)
    assert [(h.granted, h.at, h.actor) for h in client.consent_history] == [
        (True, NOW, "counsellor-1"),
        (False, later, "counsellor-2"),
    ]
    assert {h.consent_id for h in client.consent_history} == {consent_id}


def test_withdrawing_without_a_grant_records_a_refusal() -> None:
    client = a_client()
    refusal_id = uuid.uuid4()

    withdraw(client, "statistics", consent_id=refusal_id)

    [event] = client.collect_events()
    assert isinstance(event, Client.ConsentWithdrawn)
    assert (event.consent_id, event.purpose, event.data_categories) == (
        refusal_id,
        "statistics",
        [],
    )
    assert client.consents["statistics:"].granted is False
    assert client.consents["statistics:"].granted_at is None
    assert not client.has_consent("statistics")
    assert [h.granted for h in client.consent_history] == [False]


def test_withdrawing_a_referral_consent_names_the_partner() -> None:
    client = a_client()
    grant(client, "referral", partner_id=PARTNER, data_categories=["identity"])
    client.collect_events()

    with pytest.raises(IntakeError) as error:
        withdraw(client, "referral", partner_id=None)

    assert (error.value.code, error.value.field) == ("invalid", "partner_id")
    refused(client)
    assert client.has_consent("referral", PARTNER)


def test_granting_again_after_a_withdrawal_restores_the_consent() -> None:
    client = a_consenting_client()
    withdraw(client)
    grant(client)

    events = client.collect_events()
    assert [type(e) for e in events] == [Client.ConsentWithdrawn, Client.ConsentGranted]
    assert client.has_consent("guidance")
    assert [h.granted for h in client.consent_history] == [True, False, True]


def test_a_client_rebuilt_from_its_events_has_the_same_consents() -> None:
    client = register()
    grant(client, "guidance")
    grant(client, "referral", partner_id=PARTNER, data_categories=["plan"])
    withdraw(client, "guidance")

    rebuilt = replay(client.collect_events())

    assert rebuilt.version == client.version == 4
    assert rebuilt.consents == client.consents
    assert rebuilt.consent_history == client.consent_history
    assert not rebuilt.has_consent("guidance")
    assert rebuilt.has_consent("referral", PARTNER)


# -- opening a case --------------------------------------------------------------------------
def test_opening_a_case_needs_a_granted_guidance_consent() -> None:
    client = a_consenting_client()
    case_id = uuid.uuid4()

    case = open_case(client, case_id=case_id, career_question="  Teaching?  ")

    [event] = case.collect_events()
    assert isinstance(event, Case.Opened)
    assert event.originator_id == case_id
    assert event.client_id == client.id
    assert event.career_question == "Teaching?"
    assert event.hours_budget == 12.0
    assert (case.status, case.phase, case.hours_used) == ("open", "intake", 0)


@pytest.mark.parametrize(
    "consents",
    [
        [],
        [("grant", "statistics", {})],
        [("grant", "referral", {"partner_id": PARTNER, "data_categories": ["identity"]})],
        [("grant", "guidance", {}), ("withdraw", "guidance", {})],
        [("withdraw", "guidance", {})],
    ],
    ids=["none", "statistics-only", "referral-only", "guidance-withdrawn", "guidance-refused"],
)
def test_opening_a_case_without_a_guidance_consent_is_refused(
    consents: list[tuple[str, str, dict[str, Any]]],
) -> None:
    client = a_client()
    for action, purpose, extra in consents:
        (grant if action == "grant" else withdraw)(client, purpose, **extra)

    with pytest.raises(IntakeError) as error:
        open_case(client)

    assert error.value.code == "consent-required"
    assert error.value.field == "client_id"


def test_opening_a_case_for_another_organisations_client_reads_as_not_found() -> None:
    client = a_consenting_client(organisation="org-b")

    with pytest.raises(IntakeError) as error:
        open_case(client, organisation=ORG)

    assert (error.value.code, error.value.field) == ("not-found", "client_id")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"career_question": "   "}, "career_question"),
        ({"hours_budget": 0}, "hours_budget"),
        ({"hours_budget": -4.0}, "hours_budget"),
    ],
    ids=["blank-question", "no-budget", "negative-budget"],
)
def test_a_case_needs_a_career_question_and_a_positive_budget(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(IntakeError) as error:
        open_case(a_consenting_client(), **overrides)
    assert (error.value.code, error.value.field) == ("invalid", field)


# -- entry check -----------------------------------------------------------------------------
def test_the_entry_check_is_recorded_with_its_notes() -> None:
    case = an_open_case()

    case.check_entry(eligible=False, notes="Not a career question", actor="c-9", at=NOW)

    [event] = case.collect_events()
    assert isinstance(event, Case.EntryChecked)
    assert (event.eligible, event.notes, event.actor) == (False, "Not a career question", "c-9")
    assert case.entry_check == EntryCheck(
        eligible=False, notes="Not a career question", checked_at=NOW, actor="c-9"
    )


def test_a_later_entry_check_replaces_the_earlier_one() -> None:
    case = an_open_case()
    case.check_entry(eligible=False, notes=None, actor="c-1", at=NOW)
    case.check_entry(eligible=True, notes="Question clarified", actor="c-1", at=NOW)

    assert case.entry_check is not None
    assert case.entry_check.eligible is True
    assert len(case.collect_events()) == 2


# -- assessments and gaps --------------------------------------------------------------------
def test_an_assessment_scores_all_five_competences() -> None:
    case = an_open_case()
    scores = {
        "quality_reflection": 1,
        "motive_reflection": 2,
        "work_exploration": 3,
        "career_steering": 4,
        "networking": 3,
    }
    assessment_id = uuid.uuid4()

    case.record_assessment(
        assessment_id=assessment_id,
        assessor="counsellor",
        scores=dict(reversed(scores.items())),
        actor="c-1",
        at=NOW,
    )

    [event] = case.collect_events()
    assert isinstance(event, Case.AssessmentRecorded)
    assert event.assessment_id == assessment_id
    assert event.assessor == "counsellor"
    assert event.scores == scores
    assert list(event.scores) == list(COMPETENCES), "scores are kept in the canonical order"


@pytest.mark.parametrize(
    ("assessor", "scores", "field"),
    [
        ("client", {k: v for k, v in ALL_THREES.items() if k != "networking"}, "scores.networking"),
        ("client", {}, "scores.quality_reflection"),
        ("client", {**ALL_THREES, "happiness": 3}, "scores.happiness"),
        ("client", {**ALL_THREES, "career_steering": 0}, "scores.career_steering"),
        ("client", {**ALL_THREES, "work_exploration": 5}, "scores.work_exploration"),
        ("client", {**ALL_THREES, "motive_reflection": -1}, "scores.motive_reflection"),
        ("mother", ALL_THREES, "assessor"),
    ],
    ids=[
        "missing-competence",
        "no-scores",
        "unknown-competence",
        "score-0",
        "score-5",
        "score-negative",
        "unknown-assessor",
    ],
)
def test_an_assessment_with_a_bad_score_is_refused(
    assessor: str, scores: dict[str, int], field: str
) -> None:
    case = an_open_case()

    with pytest.raises(IntakeError) as error:
        assess(case, assessor, scores)

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(case)
    assert case.assessments == []


@pytest.mark.parametrize("score", [1, 4])
def test_scores_at_the_ends_of_the_scale_are_accepted(score: int) -> None:
    case = an_open_case()
    assess(case, "client", {**ALL_THREES, "networking": score})
    assert case.latest_scores["client"]["networking"] == score


def test_a_gap_is_a_competence_scored_1_or_2_in_either_view() -> None:
    case = an_open_case()
    assess(case, "client", {**ALL_THREES, "networking": 2, "career_steering": 4})
    assess(case, "counsellor", {**ALL_THREES, "quality_reflection": 1, "networking": 3})

    assert case.gaps == ["quality_reflection", "networking"]


def test_only_the_latest_assessment_of_each_assessor_counts_for_gaps() -> None:
    case = an_open_case()
    assess(case, "client", {**ALL_THREES, "work_exploration": 1, "networking": 2})
    assess(case, "counsellor", {**ALL_THREES, "motive_reflection": 2})
    assess(case, "client", {**ALL_THREES, "networking": 2})

    assert case.gaps == ["motive_reflection", "networking"]
    assert case.latest_scores == {
        "client": {**ALL_THREES, "networking": 2},
        "counsellor": {**ALL_THREES, "motive_reflection": 2},
    }
    assert len(case.assessments) == 3, "every assessment stays in the file"


def test_a_case_without_low_scores_has_no_gaps() -> None:
    case = an_open_case()
    assert case.gaps == []
    assess(case, "client", {**ALL_THREES, "networking": 4})
    assert case.gaps == []


# -- sessions and hours ----------------------------------------------------------------------
def test_sessions_count_against_the_hours_budget() -> None:
    case = an_open_case()
    session_id = uuid.uuid4()
    held_at = NOW - timedelta(days=2)

    hold(case, session_id=session_id, kind="intake", held_at=held_at, minutes=45)
    hold(case, kind="deepening", minutes=50)

    first, second = case.collect_events()
    assert isinstance(first, Case.SessionHeld)
    assert (first.session_id, first.kind, first.held_at, first.minutes) == (
        session_id,
        "intake",
        held_at,
        45,
    )
    assert second.kind == "deepening"
    assert case.minutes_used == 95
    assert case.hours_used == 1.58


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "coffee"}, "kind"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": 601}, "minutes"),
        ({"minutes": -30}, "minutes"),
        ({"held_at": NOW + timedelta(minutes=1)}, "held_at"),
    ],
    ids=["unknown-kind", "zero-minutes", "601-minutes", "negative-minutes", "in-the-future"],
)
def test_a_session_with_a_bad_kind_length_or_time_is_refused(
    overrides: dict[str, Any], field: str
) -> None:
    case = an_open_case()

    with pytest.raises(IntakeError) as error:
        hold(case, **overrides)

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(case)
    assert case.hours_used == 0


@pytest.mark.parametrize("minutes", [1, 600])
def test_a_session_lasts_from_1_to_600_minutes(minutes: int) -> None:
    case = an_open_case()
    hold(case, minutes=minutes, held_at=NOW)
    assert case.minutes_used == minutes


# -- decisions -------------------------------------------------------------------------------
def test_accepting_needs_a_passed_entry_check() -> None:
    case = an_open_case()
    assess(case)
    case.collect_events()

    with pytest.raises(IntakeError) as error:
        decide(case, "accept")

    assert (error.value.code, error.value.field) == ("case-not-ready", "decision")
    refused(case)
    assert case.status == "open"


def test_accepting_after_a_failed_entry_check_is_refused() -> None:
    case = an_open_case()
    case.check_entry(eligible=False, notes=None, actor="c-1", at=NOW)
    assess(case)
    case.collect_events()

    with pytest.raises(IntakeError) as error:
        decide(case, "accept")

    assert error.value.code == "case-not-ready"
    refused(case)


def test_accepting_needs_at_least_one_assessment() -> None:
    case = an_open_case()
    case.check_entry(eligible=True, notes=None, actor="c-1", at=NOW)
    case.collect_events()

    with pytest.raises(IntakeError) as error:
        decide(case, "accept")

    assert (error.value.code, error.value.field) == ("case-not-ready", "decision")
    refused(case)
    assert (case.status, case.phase) == ("open", "intake")


def test_accepting_moves_the_case_to_deepening_carrying_gaps_and_latest_scores() -> None:
    case = an_open_case()
    case.check_entry(eligible=True, notes=None, actor="c-1", at=NOW)
    assess(case, "client", {**ALL_THREES, "networking": 1})
    assess(case, "client", {**ALL_THREES, "networking": 2, "quality_reflection": 4})
    assess(case, "counsellor", {**ALL_THREES, "work_exploration": 2})
    case.collect_events()

    decide(case, "accept", reason="Clear question, motivated")

    [event] = case.collect_events()
    assert isinstance(event, Case.Accepted)
    assert event.gaps == ["work_exploration", "networking"]
    assert event.scores == {
        "client": {**ALL_THREES, "networking": 2, "quality_reflection": 4},
        "counsellor": {**ALL_THREES, "work_exploration": 2},
    }
    assert event.client_id == case.client_id
    assert event.organisation == ORG
    assert (event.reason, event.actor) == ("Clear question, motivated", "counsellor-2")
    assert (case.status, case.phase) == ("accepted", "deepening")
    assert case.decision == Decision(
        decision="accept", reason="Clear question, motivated", decided_at=NOW, actor="counsellor-2"
    )


@pytest.mark.parametrize(
    ("decision", "event_type", "status"),
    [("refer_out", Case.ReferredOut, "referred_out"), ("decline", Case.Declined, "declined")],
)
def test_referring_out_or_declining_closes_the_case_without_preconditions(
    decision: str, event_type: type, status: str
) -> None:
    case = an_open_case()

    decide(case, decision, reason="Needs a psychologist first")

    [event] = case.collect_events()
    assert isinstance(event, event_type)
    assert event.reason == "Needs a psychologist first"
    assert (case.status, case.phase) == (status, "closed")
    assert case.decision is not None
    assert case.decision.decision == decision


def test_an_unknown_decision_is_refused() -> None:
    case = a_ready_case()
    with pytest.raises(IntakeError) as error:
        decide(case, "postpone")
    assert (error.value.code, error.value.field) == ("invalid", "decision")
    refused(case)


@pytest.mark.parametrize("first", ["accept", "refer_out", "decline"])
@pytest.mark.parametrize("second", ["accept", "refer_out", "decline"])
def test_a_case_is_decided_only_once(first: str, second: str) -> None:
    case = a_ready_case()
    decide(case, first)
    case.collect_events()
    status = case.status

    with pytest.raises(IntakeError) as error:
        decide(case, second)

    assert error.value.code == "case-decided"
    refused(case)
    assert case.status == status


@pytest.mark.parametrize("decision", ["refer_out", "decline"])
def test_a_closed_case_takes_no_more_intake_work(decision: str) -> None:
    case = a_ready_case()
    decide(case, decision)
    case.collect_events()

    for command in (
        lambda: case.check_entry(eligible=True, notes=None, actor="c-1", at=NOW),
        lambda: assess(case),
        lambda: hold(case),
    ):
        with pytest.raises(IntakeError) as error:
            command()
        assert error.value.code == "case-decided"
    refused(case)


def test_an_accepted_case_still_records_sessions_and_assessments_but_no_entry_check() -> None:
    case = a_ready_case()
    decide(case, "accept")
    case.collect_events()

    hold(case, kind="deepening", minutes=90)
    assess(case, "client", {**ALL_THREES, "networking": 1})
    assert [type(e) for e in case.collect_events()] == [
        Case.SessionHeld,
        Case.AssessmentRecorded,
    ]
    assert case.hours_used == 1.5
    assert case.gaps == ["networking"]

    with pytest.raises(IntakeError) as error:
        case.check_entry(eligible=False, notes=None, actor="c-1", at=NOW)
    assert error.value.code == "case-decided"


def test_a_case_rebuilt_from_its_events_has_the_same_state() -> None:
    case = open_case(a_consenting_client())
    case.check_entry(eligible=True, notes="ok", actor="c-1", at=NOW)
    assess(case, "client", {**ALL_THREES, "networking": 2})
    hold(case, minutes=75)
    decide(case, "accept")

    rebuilt = replay(case.collect_events())

    assert rebuilt.version == case.version == 5
    assert (rebuilt.status, rebuilt.phase) == ("accepted", "deepening")
    assert rebuilt.entry_check == case.entry_check
    assert rebuilt.assessments == case.assessments
    assert rebuilt.sessions == case.sessions
    assert rebuilt.gaps == ["networking"]
    assert rebuilt.hours_used == 1.25
    assert rebuilt.decision == case.decision


def an_accepted_case() -> Case:
    case = a_ready_case()
    case.decide(decision="accept", reason=None, actor="c", at=NOW)
    case.collect_events()
    return case


def test_the_phase_follows_the_plan_and_older_news_changes_nothing() -> None:
    case = an_accepted_case()
    assert case.follow_plan(
        phase="synthesis", cause="planning.GoalAdded", source_position=5, at=NOW
    )
    assert case.follow_plan(
        phase="aftercare", cause="planning.PlanAgreed", source_position=9, at=NOW
    )
    assert case.phase == "aftercare"
    # A revision older than the agreement arrives late: nothing happens.
    assert not case.follow_plan(
        phase="synthesis", cause="planning.PlanRevised", source_position=7, at=NOW
    )
    assert case.phase == "aftercare"
    assert [type(e).__name__ for e in case.collect_events()] == ["PhaseChanged", "PhaseChanged"]


def test_news_that_keeps_the_phase_still_moves_the_position_on() -> None:
    case = an_accepted_case()
    case.follow_plan(phase="aftercare", cause="planning.PlanAgreed", source_position=8, at=NOW)
    assert case.follow_plan(
        phase="aftercare", cause="planning.PlanAgreed", source_position=12, at=NOW
    )
    assert case.plan_position == 12
    assert not case.follow_plan(
        phase="synthesis", cause="planning.PlanRevised", source_position=10, at=NOW
    )
    assert case.phase == "aftercare"
    events = case.collect_events()
    assert [type(e).__name__ for e in events] == ["PhaseChanged", "PlanPositionNoted"]


def test_a_case_not_accepted_does_not_follow_a_plan() -> None:
    case = a_ready_case()
    assert not case.follow_plan(
        phase="synthesis", cause="planning.GoalAdded", source_position=1, at=NOW
    )
    assert case.phase == "intake"
    with pytest.raises(IntakeError):
        an_accepted_case().follow_plan(phase="closed", cause="x", source_position=2, at=NOW)


# -- the case follows its follow-up's closure ---------------------------------------------------
FOLLOWUP = uuid.UUID("0f0f0f0f-1111-4222-8333-444444444444")
CLOSED_AT = NOW - timedelta(minutes=5)


def note_closed(case: Case, position: int, **overrides: Any) -> bool:
    fields: dict[str, Any] = {
        "followup_id": FOLLOWUP,
        "reason": "completed",
        "rule": "outcome_and_feedback",
        "closed_by": "feedback",
        "closed_at": CLOSED_AT,
        "source_position": position,
        "at": NOW,
    }
    fields.update(overrides)
    return case.note_followup_closed(**fields)


def test_follow_up_closing_the_aftercare_closes_the_case_with_when_and_why() -> None:
    case = open_case(a_consenting_client())
    case.check_entry(eligible=True, notes=None, actor="c-1", at=NOW)
    assess(case)
    decide(case, "accept")
    case.follow_plan(phase="aftercare", cause="planning.PlanAgreed", source_position=3, at=NOW)
    history = list(case.collect_events())

    assert note_closed(case, 7, reason="client_withdrew", rule="early", closed_by="close")

    [event] = case.collect_events()
    assert isinstance(event, Case.Closed)
    assert (case.status, case.phase) == ("closed", "closed")
    assert case.closure == Closure(
        followup_id=FOLLOWUP,
        reason="client_withdrew",
        rule="early",
        closed_by="close",
        closed_at=CLOSED_AT,
    )
    rebuilt = replay([*history, event])
    assert (rebuilt.status, rebuilt.closure) == ("closed", case.closure)


def test_the_same_or_older_closure_news_changes_nothing() -> None:
    case = an_accepted_case()
    assert note_closed(case, 7)
    case.collect_events()

    assert not note_closed(case, 7)  # redelivered
    assert not note_closed(case, 5)  # older
    refused(case)
    assert case.closure is not None and case.closure.closed_by == "feedback"


def test_a_case_not_accepted_is_not_closed_by_follow_up() -> None:
    for case in (a_ready_case(), an_open_case()):
        assert not note_closed(case, 4)
        assert case.status == "open"
        refused(case)
    declined = a_ready_case()
    decide(declined, "decline")
    declined.collect_events()
    assert not note_closed(declined, 4)
    assert declined.status == "declined"


def test_aftercare_requested_on_a_closed_follow_up_reopens_the_case_and_older_news_waits() -> None:
    case = an_accepted_case()
    note_closed(case, 7)
    case.collect_events()

    # A reopening older than the closure changes nothing.
    assert not case.note_followup_reopened(followup_id=FOLLOWUP, source_position=6, at=NOW)
    assert case.note_followup_reopened(followup_id=FOLLOWUP, source_position=9, at=NOW)
    [event] = case.collect_events()
    assert isinstance(event, Case.Reopened)
    assert (case.status, case.phase, case.closure) == ("accepted", "aftercare", None)
    # The closure from before the reopening arrives again: still open.
    assert not note_closed(case, 7)
    assert not case.note_followup_reopened(followup_id=FOLLOWUP, source_position=10, at=NOW)
    # A later closure closes it again.
    assert note_closed(case, 11, closed_by="checkin", rule="last_checkin")
    assert case.status == "closed"


def test_a_case_closed_by_follow_up_takes_no_more_intake_work() -> None:
    case = an_accepted_case()
    note_closed(case, 7)
    case.collect_events()

    for command in (
        lambda: case.check_entry(eligible=True, notes=None, actor="c-1", at=NOW),
        lambda: assess(case),
        lambda: hold(case, kind="aftercare"),
        lambda: decide(case, "decline"),
    ):
        with pytest.raises(IntakeError) as error:
            command()
        assert error.value.code == "case-decided"
        assert "closed" in error.value.message
    refused(case)
    # Planning's news does not move a closed case's phase either.
    assert not case.follow_plan(
        phase="synthesis", cause="planning.PlanRevised", source_position=20, at=NOW
    )
    assert case.phase == "closed"


def test_an_acceptance_names_the_cases_counsellor_who_opened_it_not_who_decided() -> None:
    case = a_ready_case()  # opened by counsellor-1

    decide(case, "accept")  # by counsellor-2

    [accepted] = case.collect_events()
    assert isinstance(accepted, Case.Accepted)
    assert (accepted.actor, accepted.counsellor) == ("counsellor-2", "counsellor-1")


def test_an_acceptance_stored_before_it_named_the_counsellor_names_none() -> None:
    state: dict[str, Any] = {"actor": "counsellor-2"}
    Case.Accepted.upcast_v1_v2(state)
    assert state == {"actor": "counsellor-2", "counsellor": None}
    Case.Accepted.upcast_v2_v3(state)  # and no budget: the case keeps the one opened with
    assert (state["programme"], state["hours_budget"], state["budget_reason"]) == (None,) * 3
    assert Case.Accepted.class_version == 3
