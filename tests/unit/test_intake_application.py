"""Intake's use cases and its reactions to other services' events, on the library's
in-memory persistence (a real key vault in memory: personal fields are sealed as in
production). A reaction is fed as its consumer feeds it: a CloudEvents envelope whose data
validates as the contract its `Reactions` names, the handler's aggregates then saved.

Not here (they read intake's SQL read models): the client and case lists, the retention
job, the export."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from services.intake.application import IntakeApplication
from services.intake.consumers import CASE_CLOSURE, CONFIRMATIONS, PLAN_PHASE, RESUMPTION
from services.intake.domain import Case, ClientErasure, IntakeError
from shared.contracts.followup import AftercareRequestedV1, FollowUpClosedV1
from shared.contracts.planning import GoalAddedV1, PlanAgreedV1, PlanRevisedV1
from shared.contracts.privacy import CONFIRMED
from shared.contracts.referral import GuidanceResumedV1
from shared.errors import NotFound, VersionConflict
from shared.messaging.envelope import CloudEvent
from shared.privacy import ERASED
from shared.vocabulary import COMPETENCES
from tests.reacting import NOW, deliver, envelope, events_of, sealed

ORG, ACTOR = "org-a", "c.jansen"


@pytest.fixture
def intake() -> Iterator[IntakeApplication]:
    app = IntakeApplication.in_memory()
    yield app
    app.close()


# -- set-ups -----------------------------------------------------------------------------------
def register(app: IntakeApplication, organisation: str = ORG) -> uuid.UUID:
    return app.register_client(
        organisation=organisation,
        actor=ACTOR,
        given_name="Lotte",
        family_name="Maes",
        birth_date=date(1990, 4, 2),
        email="lotte@example.org",
        preferred_language="nl",
    )


def consenting(app: IntakeApplication) -> uuid.UUID:
    """A registered client who gave the guidance consent a case needs."""
    client_id = register(app)
    app.record_consent(client_id, organisation=ORG, actor=ACTOR, purpose="guidance", granted=True)
    return client_id


def accepted_case(app: IntakeApplication, client_id: uuid.UUID) -> uuid.UUID:
    """A case opened, checked, assessed and accepted, as the API's commands do it."""
    case_id = app.open_case(
        client_id=client_id, organisation=ORG, actor=ACTOR, career_question="Which work next?"
    )

    def load() -> Case:
        return app.case(case_id, ORG)

    app.change(
        load, None, lambda c, at: c.check_entry(eligible=True, notes=None, actor=ACTOR, at=at)
    )
    app.change(
        load,
        None,
        lambda c, at: c.record_assessment(
            assessment_id=uuid.uuid4(),
            assessor="counsellor",
            scores=dict.fromkeys(COMPETENCES, 2),
            actor=ACTOR,
            at=at,
        ),
    )
    app.change(
        load, None, lambda c, at: c.decide(decision="accept", reason=None, actor=ACTOR, at=at)
    )
    assert app.case(case_id, ORG).status == "accepted"
    return case_id


# -- clients and consents ----------------------------------------------------------------------
def test_a_registered_client_is_read_back_by_its_organisation_with_its_details(
    intake: IntakeApplication,
) -> None:
    client = intake.client(register(intake), ORG)
    assert (client.given_name, client.family_name, client.email) == (
        "Lotte",
        "Maes",
        "lotte@example.org",
    )
    assert client.birth_date == date(1990, 4, 2) and client.preferred_language == "nl"
    assert client.registered_by == ACTOR and client.version == 1


def test_a_granted_consent_then_its_withdrawal_keep_one_consent_id_in_the_history(
    intake: IntakeApplication,
) -> None:
    client_id, partner = register(intake), uuid.uuid4()
    granted_id, version = intake.record_consent(
        client_id,
        organisation=ORG,
        actor=ACTOR,
        purpose="referral",
        granted=True,
        partner_id=partner,
        data_categories=["contact", "identity"],
    )
    assert version == 2
    assert intake.client(client_id, ORG).has_consent("referral", partner)
    withdrawn_id, version = intake.record_consent(
        client_id,
        organisation=ORG,
        actor=ACTOR,
        purpose="referral",
        granted=False,
        partner_id=partner,
        expected_version=2,
    )
    assert version == 3 and withdrawn_id == granted_id
    client = intake.client(client_id, ORG)
    assert not client.has_consent("referral", partner)
    assert [(c.granted, c.data_categories) for c in client.consent_history] == [
        (True, ["contact", "identity"]),
        (False, ["contact", "identity"]),
    ]


def test_a_consent_at_a_stale_version_is_refused_and_changes_nothing(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    with pytest.raises(VersionConflict):
        intake.record_consent(
            client_id,
            organisation=ORG,
            actor=ACTOR,
            purpose="statistics",
            granted=True,
            expected_version=7,
        )
    assert intake.client(client_id, ORG).version == 1


def test_a_withdrawal_naming_data_categories_is_refused_before_anything_is_saved(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    with pytest.raises(IntakeError) as refused:
        intake.record_consent(
            client_id,
            organisation=ORG,
            actor=ACTOR,
            purpose="referral",
            granted=False,
            partner_id=uuid.uuid4(),
            data_categories=["contact"],
        )
    assert refused.value.field == "data_categories"
    assert intake.client(client_id, ORG).version == 1


def test_another_organisation_can_neither_consent_for_nor_open_a_case_of_the_client(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    with pytest.raises(NotFound):
        intake.record_consent(
            client_id, organisation="org-b", actor=ACTOR, purpose="guidance", granted=True
        )
    with pytest.raises(NotFound):
        intake.open_case(
            client_id=client_id, organisation="org-b", actor=ACTOR, career_question="?"
        )
    assert intake.client(client_id, ORG).version == 1


# -- cases ---------------------------------------------------------------------------------
def test_an_opened_case_is_open_in_intake_with_the_default_hours_budget(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = intake.open_case(
        client_id=client_id, organisation=ORG, actor=ACTOR, career_question="Which work next?"
    )
    case = intake.case(case_id, ORG)
    assert (case.client_id, case.status, case.phase) == (client_id, "open", "intake")
    assert case.career_question == "Which work next?" and case.opened_by == ACTOR
    assert case.hours_budget == intake.settings.hours_budget_default
    with pytest.raises(NotFound):
        intake.case(case_id, "org-b")
    stored = list(intake.recorder.select_events(case_id))
    assert b"Which work next?" not in stored[0].state


def test_a_case_is_not_opened_for_a_client_without_a_guidance_consent(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    with pytest.raises(IntakeError) as refused:
        intake.open_case(client_id=client_id, organisation=ORG, actor=ACTOR, career_question="?")
    assert refused.value.code == "consent-required"


# -- legal holds and erasure -------------------------------------------------------------------
def test_a_legal_hold_refuses_the_erasure_records_the_refusal_and_keeps_the_key(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    record = intake.set_legal_hold(
        case_id, organisation=ORG, hold=True, reason="court order", actor=ACTOR
    )
    assert list(record.holds) == [case_id]
    with pytest.raises(IntakeError) as refused:
        intake.request_erasure(client_id, organisation=ORG, reason="asked", actor=ACTOR)
    assert refused.value.code == "legal-hold"
    record = intake.erasure(client_id, ORG)
    assert record.status == "refused" and record.refusals[0].held_cases == [case_id]
    assert intake.vault.key_for(client_id) is not None
    assert intake.client(client_id, ORG).given_name == "Lotte"


def test_once_the_hold_is_lifted_the_erasure_is_recorded_and_the_client_is_gone(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    intake.set_legal_hold(case_id, organisation=ORG, hold=True, reason="court order", actor=ACTOR)
    intake.set_legal_hold(case_id, organisation=ORG, hold=False, reason=None, actor=ACTOR)
    record = intake.request_erasure(client_id, organisation=ORG, reason="asked", actor=ACTOR)
    assert record.status == "pending" and record.requested is not None
    assert record.requested.key_id == client_id
    assert intake.vault.key_for(client_id) is None
    with pytest.raises(NotFound):
        intake.client(client_id, ORG)
    assert intake.repository.get(client_id).given_name == ERASED
    # Asking again changes nothing.
    version = intake.erasure(client_id, ORG).version
    intake.request_erasure(client_id, organisation=ORG, reason="again", actor=ACTOR)
    assert intake.erasure(client_id, ORG).version == version


def test_the_four_confirmations_complete_the_erasure_and_a_redelivered_one_changes_nothing(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    intake.request_erasure(client_id, organisation=ORG, reason="asked", actor=ACTOR)
    erasure_id = ClientErasure.id_for(client_id)
    by_source = {r.name.removeprefix("intake-erasure-"): r for r in CONFIRMATIONS}
    assert set(by_source) == set(CONFIRMED)
    for position, (service, contract) in enumerate(CONFIRMED.items(), start=1):
        confirmation = contract.model_validate(
            {
                "occurred_at": NOW,
                "actor": "system",
                "erasure_id": erasure_id,
                "client_id": client_id,
                "rows_dropped": 3,
            }
        )
        event = envelope(confirmation, position, uuid.uuid4())
        assert deliver(intake, by_source[service], event)
        assert deliver(intake, by_source[service], event) == []
        status = "completed" if position == len(CONFIRMED) else "pending"
        assert intake.erasure(client_id, ORG).status == status
    record = intake.erasure(client_id, ORG)
    assert record.status == "completed" and set(record.confirmed) == set(CONFIRMED)
    assert events_of(intake, erasure_id).count("ClientErasure.Completed") == 1


def test_a_confirmation_without_a_requested_erasure_is_ignored(intake: IntakeApplication) -> None:
    client_id = consenting(intake)
    confirmation = CONFIRMED["planning"].model_validate(
        {
            "occurred_at": NOW,
            "actor": "system",
            "erasure_id": uuid.uuid4(),
            "client_id": client_id,
            "rows_dropped": 0,
        }
    )
    planning = next(r for r in CONFIRMATIONS if r.name == "intake-erasure-planning")
    assert deliver(intake, planning, envelope(confirmation, 1, uuid.uuid4())) == []
    assert intake.erasure(client_id, ORG).status == "none"


# -- planning: the case's phase follows its plan -----------------------------------------------
def goal_added(
    app: IntakeApplication, case_id: uuid.UUID, client_id: uuid.UUID, position: int
) -> CloudEvent:
    event_id = uuid.uuid4()
    goal = GoalAddedV1(
        occurred_at=NOW,
        actor=ACTOR,
        plan_id=uuid.uuid4(),
        case_id=case_id,
        client_id=client_id,
        goal_id=uuid.uuid4(),
        title=sealed(app, client_id, event_id, "title", "Find work"),
        specific=sealed(app, client_id, event_id, "specific", "In care"),
        measure=sealed(app, client_id, event_id, "measure", "A contract"),
        target_date=date(2027, 3, 1),
        competences=["networking"],
        priority=1,
    )
    return envelope(goal, position, event_id)


def plan_agreed(case_id: uuid.UUID, client_id: uuid.UUID, position: int) -> CloudEvent:
    agreed = PlanAgreedV1(
        occurred_at=NOW,
        actor=ACTOR,
        plan_id=uuid.uuid4(),
        case_id=case_id,
        client_id=client_id,
        organisation=ORG,
        version=2,
        actions=[],
    )
    return envelope(agreed, position, uuid.uuid4())


def test_a_goal_moves_the_case_to_synthesis_and_its_redelivery_changes_nothing(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    event = goal_added(intake, case_id, client_id, position=10)
    assert deliver(intake, PLAN_PHASE, event)
    case = intake.case(case_id, ORG)
    assert (case.phase, case.plan_position) == ("synthesis", 10)
    version = case.version
    assert deliver(intake, PLAN_PHASE, event) == []
    assert intake.case(case_id, ORG).version == version
    assert events_of(intake, case_id)[-1] == "Case.PhaseChanged"


def test_an_agreed_plan_moves_the_case_to_aftercare_and_older_news_does_not_undo_it(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    deliver(intake, PLAN_PHASE, goal_added(intake, case_id, client_id, position=10))
    assert deliver(intake, PLAN_PHASE, plan_agreed(case_id, client_id, position=12))
    assert intake.case(case_id, ORG).phase == "aftercare"
    late = goal_added(intake, case_id, client_id, position=11)
    assert deliver(intake, PLAN_PHASE, late) == []
    case = intake.case(case_id, ORG)
    assert (case.phase, case.plan_position) == ("aftercare", 12)


def test_a_revised_plan_brings_the_case_back_to_synthesis(intake: IntakeApplication) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    deliver(intake, PLAN_PHASE, plan_agreed(case_id, client_id, position=5))
    revised = PlanRevisedV1(
        occurred_at=NOW,
        actor=ACTOR,
        plan_id=uuid.uuid4(),
        case_id=case_id,
        client_id=client_id,
        from_version=2,
    )
    assert deliver(intake, PLAN_PHASE, envelope(revised, 6, uuid.uuid4()))
    assert intake.case(case_id, ORG).phase == "synthesis"


def test_news_in_the_same_phase_only_notes_its_position(intake: IntakeApplication) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    deliver(intake, PLAN_PHASE, goal_added(intake, case_id, client_id, position=3))
    assert deliver(intake, PLAN_PHASE, goal_added(intake, case_id, client_id, position=4))
    case = intake.case(case_id, ORG)
    assert (case.phase, case.plan_position) == ("synthesis", 4)
    assert events_of(intake, case_id)[-1] == "Case.PlanPositionNoted"


def test_plan_news_of_a_case_not_accepted_or_unknown_changes_nothing(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = intake.open_case(
        client_id=client_id, organisation=ORG, actor=ACTOR, career_question="Which work next?"
    )
    assert deliver(intake, PLAN_PHASE, plan_agreed(case_id, client_id, position=1)) == []
    assert intake.case(case_id, ORG).phase == "intake"
    assert deliver(intake, PLAN_PHASE, plan_agreed(uuid.uuid4(), client_id, position=2)) == []


# -- referral: whether guidance resumes --------------------------------------------------------
def resumed(
    case_id: uuid.UUID, client_id: uuid.UUID, position: int, *, resumes: bool = True
) -> CloudEvent:
    news = GuidanceResumedV1(
        occurred_at=NOW,
        actor=ACTOR,
        referral_id=uuid.uuid4(),
        case_id=case_id,
        client_id=client_id,
        resumes=resumes,
        resume_on=date(2027, 1, 4) if resumes else None,
    )
    return envelope(news, position, uuid.uuid4())


def test_a_resumption_is_noted_on_the_case_once_and_older_news_does_not_replace_it(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    event = resumed(case_id, client_id, position=7)
    assert deliver(intake, RESUMPTION, event)
    case = intake.case(case_id, ORG)
    assert case.resumed and case.resumption is not None
    assert case.resumption.resume_on == date(2027, 1, 4)
    assert str(case.resumption.referral_id) == event.data["referral_id"]
    version = case.version
    assert deliver(intake, RESUMPTION, event) == []
    assert deliver(intake, RESUMPTION, resumed(case_id, client_id, 6, resumes=False)) == []
    assert intake.case(case_id, ORG).version == version and intake.case(case_id, ORG).resumed
    assert deliver(intake, RESUMPTION, resumed(case_id, client_id, 8, resumes=False))
    assert not intake.case(case_id, ORG).resumed


def test_a_resumption_of_an_unknown_case_changes_nothing(intake: IntakeApplication) -> None:
    assert deliver(intake, RESUMPTION, resumed(uuid.uuid4(), uuid.uuid4(), 1)) == []


# -- follow-up: the case closes with its aftercare, and is accepted again -----------------------
def closed(
    app: IntakeApplication,
    case_id: uuid.UUID,
    client_id: uuid.UUID,
    position: int,
    reason: str | None = "completed",
) -> CloudEvent:
    """FollowUpClosed with its reason sealed (None: the reason of an erased client)."""
    event_id = uuid.uuid4()
    closure = FollowUpClosedV1(
        occurred_at=NOW,
        actor=ACTOR,
        followup_id=uuid.uuid4(),
        case_id=case_id,
        client_id=client_id,
        rule="early",
        closed_by="close",
        reason=ERASED if reason is None else sealed(app, client_id, event_id, "reason", reason),
    )
    return envelope(closure, position, event_id)


def aftercare(
    case_id: uuid.UUID, client_id: uuid.UUID, position: int, reopened: bool
) -> CloudEvent:
    requested = AftercareRequestedV1(
        occurred_at=NOW,
        actor="client",
        followup_id=uuid.uuid4(),
        case_id=case_id,
        client_id=client_id,
        checkin_id=uuid.uuid4(),
        due_on=date(2027, 2, 1),
        reopened=reopened,
    )
    return envelope(requested, position, uuid.uuid4())


def test_follow_ups_closure_closes_the_case_with_its_opened_reason_once(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    event = closed(intake, case_id, client_id, position=20, reason="client_withdrew")
    assert deliver(intake, CASE_CLOSURE, event)
    case = intake.case(case_id, ORG)
    assert (case.status, case.phase) == ("closed", "closed")
    assert case.closure is not None
    assert (case.closure.reason, case.closure.rule, case.closure.closed_by) == (
        "client_withdrew",
        "early",
        "close",
    )
    assert case.closure.closed_at == NOW
    version = case.version
    assert deliver(intake, CASE_CLOSURE, event) == []
    assert intake.case(case_id, ORG).version == version


def test_a_closure_whose_reason_cannot_be_read_as_a_code_reads_other(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    erased, free_text = accepted_case(intake, client_id), accepted_case(intake, client_id)
    deliver(intake, CASE_CLOSURE, closed(intake, erased, client_id, 1, reason=None))
    deliver(intake, CASE_CLOSURE, closed(intake, free_text, client_id, 2, reason="She moved"))
    for case_id in (erased, free_text):
        closure = intake.case(case_id, ORG).closure
        assert closure is not None and closure.reason == "other"


def test_aftercare_that_reopened_the_follow_up_accepts_the_case_again_in_aftercare(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    deliver(intake, CASE_CLOSURE, closed(intake, case_id, client_id, position=20))
    assert deliver(intake, CASE_CLOSURE, aftercare(case_id, client_id, 19, reopened=True)) == []
    assert intake.case(case_id, ORG).status == "closed"
    event = aftercare(case_id, client_id, 21, reopened=True)
    assert deliver(intake, CASE_CLOSURE, event)
    case = intake.case(case_id, ORG)
    assert (case.status, case.phase, case.closure) == ("accepted", "aftercare", None)
    assert deliver(intake, CASE_CLOSURE, event) == []
    # The older closure, redelivered now, does not close it again.
    assert deliver(intake, CASE_CLOSURE, closed(intake, case_id, client_id, position=20)) == []
    assert intake.case(case_id, ORG).status == "accepted"


def test_aftercare_that_did_not_reopen_the_follow_up_changes_nothing(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = accepted_case(intake, client_id)
    deliver(intake, CASE_CLOSURE, closed(intake, case_id, client_id, position=5))
    assert deliver(intake, CASE_CLOSURE, aftercare(case_id, client_id, 6, reopened=False)) == []
    assert intake.case(case_id, ORG).status == "closed"


def test_a_closure_of_a_case_that_was_never_accepted_changes_nothing(
    intake: IntakeApplication,
) -> None:
    client_id = consenting(intake)
    case_id = intake.open_case(
        client_id=client_id, organisation=ORG, actor=ACTOR, career_question="Which work next?"
    )
    assert deliver(intake, CASE_CLOSURE, closed(intake, case_id, client_id, position=3)) == []
    assert intake.case(case_id, ORG).status == "open"
