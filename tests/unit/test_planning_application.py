"""Planning's use cases and its reactions to other services' events, on the library's
in-memory persistence (a real key vault in memory: personal fields are sealed as in
production). A reaction is fed as its consumer feeds it (`tests/reacting.py`): a
CloudEvents envelope whose data validates as the contract its `Reactions` names, the
handler's aggregates then saved. The commands run on the plan as the API's routes run
them: `app.change(load, If-Match, command)`.

Not here (they read planning's SQL read models): the plan lists and queries of
`api/queries.py`, the client's printed plan (`document.py`, from the copies of intake's
clients and cases), the export, the read models `planning-clients` and `planning-cases`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest

from services.planning.application import PlanningApplication
from services.planning.consumers import REACTIONS
from services.planning.domain import Plan, PlanningError, plan_id_for
from shared.auth import Principal
from shared.contracts.followup import ToDoAgreedV1
from shared.contracts.intake import CaseAcceptedV1
from shared.errors import NotFound, VersionConflict
from shared.messaging.envelope import CloudEvent
from shared.privacy import ERASED
from shared.settings import Settings
from tests.reacting import NOW, deliver, envelope, events_of, sealed

ORG, ACTOR = "org-a", "c.jansen"
TODAY = NOW.date()
CASES, TODOS = REACTIONS
COUNSELLOR = Principal(sub=ACTOR, org=ORG, roles=frozenset({"counsellor"}))


def planning_app(settings: Settings | None = None) -> PlanningApplication:
    """Planning in memory, its clock stopped at NOW (dates in the tests are relative to it)."""
    app = PlanningApplication.in_memory(settings)
    app.clock = lambda: NOW
    return app


@pytest.fixture
def planning() -> Iterator[PlanningApplication]:
    app = planning_app()
    yield app
    app.close()


# -- set-ups -----------------------------------------------------------------------------------
def accepted(
    case_id: uuid.UUID, client_id: uuid.UUID, position: int = 1, organisation: str = ORG
) -> CloudEvent:
    """Intake's CaseAccepted (no personal field: its reason is left out)."""
    acceptance = CaseAcceptedV1(
        occurred_at=NOW,
        actor="t.lead",
        case_id=case_id,
        client_id=client_id,
        organisation=organisation,
        gaps=["networking", "career_steering"],
        scores={"client": {"networking": 1}, "counsellor": {"networking": 2}},
        counsellor=ACTOR,
    )
    return envelope(acceptance, position)


def a_draft_plan(app: PlanningApplication) -> Plan:
    """The plan intake's acceptance of a new case created."""
    case_id, client_id = uuid.uuid4(), uuid.uuid4()
    deliver(app, CASES, accepted(case_id, client_id))
    return app.plan(plan_id_for(case_id), ORG)


def run(
    app: PlanningApplication,
    plan_id: uuid.UUID,
    command: Callable[[Plan, datetime], object],
    version: int | None = None,
) -> Plan:
    """A command on the plan as a route runs it (`version`: the request's If-Match)."""
    _, plan = app.change(lambda: app.plan_for(plan_id, COUNSELLOR), version, command)
    return plan


def with_goal(app: PlanningApplication, plan_id: uuid.UUID, *, days: int = 90) -> uuid.UUID:
    goal_id = uuid.uuid4()
    run(
        app,
        plan_id,
        lambda plan, at: plan.add_goal(
            goal_id=goal_id,
            title="Become a teacher",
            specific="Apply for teaching vacancies in secondary schools in Ghent",
            measure="5 applications sent",
            target_date=TODAY + timedelta(days=days),
            competences=["work_exploration"],
            priority=1,
            policy=app.policy,
            actor=ACTOR,
            at=at,
        ),
    )
    return goal_id


def agreed(app: PlanningApplication, plan_id: uuid.UUID) -> Plan:
    """The plan given a type and agreed by both parties."""
    run(app, plan_id, lambda p, at: p.choose_type(plan_type="action", actor=ACTOR, at=at))
    run(app, plan_id, lambda p, at: p.agree(party="client", actor="client", at=at))
    plan = run(app, plan_id, lambda p, at: p.agree(party="counsellor", actor=ACTOR, at=at))
    assert plan.status == "agreed"
    return plan


def todo(
    app: PlanningApplication,
    plan: Plan,
    goal_id: uuid.UUID,
    *,
    position: int = 1,
    description: str | None = "Call the job centre",
    due_date: date = TODAY + timedelta(days=30),
) -> tuple[CloudEvent, uuid.UUID]:
    """Follow-up's ToDoAgreed with its description sealed (None: as published for an
    erased client); the envelope and the action id it names."""
    event_id, action_id = uuid.uuid4(), uuid.uuid4()
    agreed_todo = ToDoAgreedV1(
        occurred_at=NOW,
        actor=ACTOR,
        followup_id=uuid.uuid4(),
        case_id=plan.case_id,
        client_id=plan.client_id,
        organisation=ORG,
        todo_id=uuid.uuid4(),
        action_id=action_id,
        goal_id=goal_id,
        description=ERASED
        if description is None
        else sealed(app, plan.client_id, event_id, "description", description),
        owner="client",
        due_date=due_date,
    )
    return envelope(agreed_todo, position, event_id), action_id


# -- intake's accepted case creates its plan ---------------------------------------------------
def test_an_accepted_case_creates_its_draft_plan_with_the_gaps_as_suggested_focus(
    planning: PlanningApplication,
) -> None:
    case_id, client_id = uuid.uuid4(), uuid.uuid4()
    created = deliver(planning, CASES, accepted(case_id, client_id))
    assert [a.id for a in created] == [plan_id_for(case_id)]
    plan = planning.plan(plan_id_for(case_id), ORG)
    assert (plan.case_id, plan.client_id, plan.organisation) == (case_id, client_id, ORG)
    assert (plan.status, plan.revision, plan.counsellor, plan.created_by) == (
        "draft",
        0,
        ACTOR,
        "t.lead",
    )
    assert plan.suggested_focus == {
        "gaps": ["networking", "career_steering"],
        "scores": {"client": {"networking": 1}, "counsellor": {"networking": 2}},
    }
    assert events_of(planning, plan.id) == ["Plan.Created"]


def test_a_redelivered_or_repeated_acceptance_creates_no_second_plan(
    planning: PlanningApplication,
) -> None:
    case_id, client_id = uuid.uuid4(), uuid.uuid4()
    event = accepted(case_id, client_id)
    deliver(planning, CASES, event)
    assert deliver(planning, CASES, event) == []
    # Another acceptance of the same case, later in the log: the plan it has stays.
    assert deliver(planning, CASES, accepted(case_id, client_id, position=9)) == []
    assert events_of(planning, plan_id_for(case_id)) == ["Plan.Created"]


# -- finding a plan ----------------------------------------------------------------------------
def test_a_plan_is_found_by_its_organisation_only(planning: PlanningApplication) -> None:
    case_id, client_id = uuid.uuid4(), uuid.uuid4()
    deliver(planning, CASES, accepted(case_id, client_id, organisation="org-b"))
    plan_id = plan_id_for(case_id)
    assert planning.plan(plan_id, "org-b").case_id == case_id
    with pytest.raises(NotFound):
        planning.plan(plan_id, ORG)
    with pytest.raises(NotFound):
        planning.plan_for(plan_id, COUNSELLOR)
    assert planning.plan_for_case(case_id, ORG) is None
    assert planning.plan_for_case(case_id, "org-b") is not None
    assert planning.plan_for_case(uuid.uuid4(), "org-b") is None
    with pytest.raises(NotFound):
        planning.plan(uuid.uuid4(), ORG)


# -- commands on the plan, as the routes run them -----------------------------------------------
def test_a_goal_is_stored_with_its_texts_sealed_and_read_back_whole(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id)
    loaded = planning.plan(plan.id, ORG)
    assert loaded.ranking == [goal_id] and loaded.revision == 1
    assert loaded.goals[goal_id].title == "Become a teacher"
    stored = list(planning.recorder.select_events(plan.id))[-1]
    assert b"Become a teacher" not in stored.state and b"$sealed" in stored.state


def test_the_smart_policy_follows_the_settings(planning: PlanningApplication) -> None:
    narrow = planning_app(Settings(plan_max_open_goals=1))
    try:
        assert narrow.policy.max_open_goals == 1
        plan = a_draft_plan(narrow)
        with_goal(narrow, plan.id)
        with pytest.raises(PlanningError) as refused:
            with_goal(narrow, plan.id, days=120)
        assert refused.value.code == "not-smart"
        assert len(narrow.plan(plan.id, ORG).goals) == 1
    finally:
        narrow.close()
    # The default policy lets the second goal in.
    plan = a_draft_plan(planning)
    with_goal(planning, plan.id)
    with_goal(planning, plan.id, days=120)
    assert len(planning.plan(plan.id, ORG).goals) == 2


def test_a_command_at_a_stale_version_is_refused_and_changes_nothing(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    with pytest.raises(VersionConflict):
        run(
            planning,
            plan.id,
            lambda p, at: p.choose_type(plan_type="action", actor=ACTOR, at=at),
            version=plan.version + 1,
        )
    assert planning.plan(plan.id, ORG).plan_type is None
    changed = run(
        planning,
        plan.id,
        lambda p, at: p.choose_type(plan_type="action", actor=ACTOR, at=at),
        version=plan.version,
    )
    assert changed.plan_type == "action" and changed.version == plan.version + 1


def test_both_agreements_to_one_revision_agree_the_plan_and_keep_that_version(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id)
    agreed(planning, plan.id)
    loaded = planning.plan(plan.id, ORG)
    assert [v["version"] for v in loaded.agreed_in_order()] == [1]
    first = loaded.agreed_version(1)
    assert first is not None and first["content"]["goals"][0]["goal_id"] == goal_id
    assert events_of(planning, plan.id)[-2:] == ["Plan.PartyAgreed", "Plan.Agreed"]


# -- follow-up's to-dos become actions ---------------------------------------------------------
def test_a_todo_agreed_in_follow_up_becomes_an_action_of_its_goal_with_its_description(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id)
    event, action_id = todo(planning, plan, goal_id)
    assert [a.id for a in deliver(planning, TODOS, event)] == [plan.id]
    loaded = planning.plan(plan.id, ORG)
    action = loaded.actions[action_id]
    assert (action.goal_id, action.description, action.owner, action.due_date) == (
        goal_id,
        "Call the job centre",
        "client",
        TODAY + timedelta(days=30),
    )
    assert loaded.goals[goal_id].actions == (action_id,)
    assert loaded.status == "draft"
    stored = list(planning.recorder.select_events(plan.id))[-1]
    assert b"Call the job centre" not in stored.state


def test_a_todo_on_an_agreed_plan_makes_it_revised_and_its_redelivery_changes_nothing(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id)
    agreed(planning, plan.id)
    event, action_id = todo(planning, plan, goal_id, position=4)
    deliver(planning, TODOS, event)
    loaded = planning.plan(plan.id, ORG)
    assert loaded.status == "revised" and action_id in loaded.actions
    assert events_of(planning, plan.id)[-2:] == ["Plan.Revised", "Plan.ActionAdded"]
    version = loaded.version
    assert deliver(planning, TODOS, event) == []
    assert planning.plan(plan.id, ORG).version == version


def test_a_todo_of_an_erased_client_is_added_with_its_description_erased(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id)
    published_erased, erased_action = todo(planning, plan, goal_id, description=None)
    deliver(planning, TODOS, published_erased)
    assert planning.plan(plan.id, ORG).actions[erased_action].description == ERASED
    # Sealed while the key existed, opened after it was destroyed.
    sealed_before, later_action = todo(planning, plan, goal_id, position=2)
    planning.vault.destroy(plan.client_id, by="system", reason="erasure")
    deliver(planning, TODOS, sealed_before)
    assert planning.repository.get(plan.id).actions[later_action].description == ERASED


def test_a_todo_that_does_not_fit_the_plan_stays_with_the_follow_up(
    planning: PlanningApplication,
) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id, days=60)
    version = planning.plan(plan.id, ORG).version
    unknown_goal, _ = todo(planning, plan, uuid.uuid4())
    after_the_goal, _ = todo(planning, plan, goal_id, due_date=TODAY + timedelta(days=61))
    in_the_past, _ = todo(planning, plan, goal_id, due_date=TODAY - timedelta(days=1))
    for event in (unknown_goal, after_the_goal, in_the_past):
        assert deliver(planning, TODOS, event) == []
    assert planning.plan(plan.id, ORG).version == version
    closed = run(planning, plan.id, lambda p, at: p.close(reason=None, actor=ACTOR, at=at))
    fitting, _ = todo(planning, plan, goal_id)
    assert deliver(planning, TODOS, fitting) == []
    assert planning.plan(plan.id, ORG).version == closed.version


def test_a_todo_of_a_case_without_a_plan_changes_nothing(planning: PlanningApplication) -> None:
    plan = a_draft_plan(planning)
    goal_id = with_goal(planning, plan.id)
    event, _ = todo(planning, plan, goal_id)
    other = event.model_copy(update={"data": {**event.data, "case_id": str(uuid.uuid4())}})
    assert deliver(planning, TODOS, other) == []
    assert planning.plan(plan.id, ORG).actions == {}
