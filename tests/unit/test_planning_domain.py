"""Planning's domain rules, without a database: given a plan, when a command, then events.

Each test builds its "given" with commands, collects (and so clears) the pending
events, runs the command under test, and checks the new events or the `PlanningError`
(its stable `code`, the `field` at fault and, for a goal that is not SMART, the
failed criteria). A refused command records nothing.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.planning.domain import (
    EVIDENCE_KINDS,
    SMART,
    Agreement,
    Plan,
    PlanningError,
    Portfolio,
    SmartPolicy,
    plan_id_for,
    smart_failures,
)

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
LATER = NOW + timedelta(days=2)
ORG = "org-a"
CASE_ID = uuid.UUID("c0c0c0c0-1111-4222-8333-444444444444")
CLIENT_ID = uuid.UUID("a1a1a1a1-5555-4666-8777-888888888888")
POLICY = SmartPolicy()
SKILL = "http://data.europa.eu/esco/skill/0a0d6a4b-0d4b-4a4c-9c8d-1d2b3c4d5e6f"
OCCUPATION = "http://data.europa.eu/esco/occupation/1b2c3d4e-5f60-4718-893a-0b1c2d3e4f50"


# -- givens -------------------------------------------------------------------------------------
def create(**overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "case_id": CASE_ID,
        "client_id": CLIENT_ID,
        "organisation": ORG,
        "gaps": ["networking"],
        "scores": {"client": {"networking": 2}},
        "actor": "intake",
        "at": NOW,
    }
    fields.update(overrides)
    return Plan.create(**fields)


def a_plan() -> Plan:
    plan = create()
    plan.collect_events()
    return plan


def goal(**overrides: Any) -> dict[str, Any]:
    """The fields of a SMART goal, as both `smart_failures` and `add_goal` take them."""
    fields: dict[str, Any] = {
        "title": "Become a teacher",
        "specific": "Apply for teaching vacancies in secondary schools in Ghent",
        "measure": "5 applications sent",
        "target_date": TODAY + timedelta(days=90),
        "competences": ["work_exploration", "career_steering"],
    }
    fields.update(overrides)
    return fields


def smart(*, open_goals: int = 0, policy: SmartPolicy = POLICY, **overrides: Any) -> dict[str, str]:
    return smart_failures(**goal(**overrides), open_goals=open_goals, today=TODAY, policy=policy)


def add_goal(plan: Plan, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        **goal(),
        "goal_id": uuid.uuid4(),
        "priority": len(plan.ranking) + 1,
        "policy": POLICY,
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.add_goal(**fields)
    return fields["goal_id"]  # type: ignore[no-any-return]


def add_action(plan: Plan, goal_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "action_id": uuid.uuid4(),
        "goal_id": goal_id,
        "description": "Ask two teachers for an informational interview",
        "owner": "client",
        "due_date": TODAY + timedelta(days=14),
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    assert plan.add_action(**fields) is True
    return fields["action_id"]  # type: ignore[no-any-return]


def agree(plan: Plan, party: str, at: datetime = NOW) -> None:
    plan.agree(party=party, actor=f"{party}-1", at=at)


def analyse(plan: Plan, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "career_target": "Teacher of economics",
        "strengths": [{"label": "Planning", "esco_uri": SKILL}],
        "weaknesses": [{"label": "Didactics"}],
        "training_needs": [{"label": "Teacher training", "esco_uri": OCCUPATION}],
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.record_competence_analysis(**fields)


def add_evidence(plan: Plan, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "evidence_id": uuid.uuid4(),
        "title": "Forklift certificate",
        "kind": "certificate",
        "description": None,
        "dated": TODAY - timedelta(days=400),
        "document_hash": "sha256:ab12",
        "actor": "counsellor-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.add_evidence(**fields)
    return fields["evidence_id"]  # type: ignore[no-any-return]


def assess_portfolio(plan: Plan, advice: str = "continue") -> None:
    plan.assess_portfolio(
        standard="BK-0540-2",
        comparison="Covers planning, not coaching",
        advice=advice,
        actor="counsellor-1",
        at=NOW,
    )


def a_plan_with_goals(*titles: str) -> tuple[Plan, list[uuid.UUID]]:
    plan = a_plan()
    ids = [add_goal(plan, title=title) for title in titles]
    plan.collect_events()
    return plan, ids


def an_agreeable_plan() -> tuple[Plan, uuid.UUID, uuid.UUID]:
    """A draft plan with a type, two goals and one open action under the first."""
    plan, (first, _second) = a_plan_with_goals("Become a teacher", "Grow a network")
    plan.choose_type(plan_type="action", actor="counsellor-1", at=NOW)
    action_id = add_action(plan, first, description="Visit a school open day")
    plan.collect_events()
    return plan, first, action_id


def an_agreed_plan() -> tuple[Plan, uuid.UUID, uuid.UUID]:
    plan, first, action_id = an_agreeable_plan()
    agree(plan, "client")
    agree(plan, "counsellor")
    plan.collect_events()
    assert plan.status == "agreed"
    return plan, first, action_id


def titles(plan: Plan) -> list[tuple[int, str]]:
    return [(g["priority"], g["title"]) for g in plan.ranked_goals()]


def replay(events: list[Any]) -> Plan:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Plan)
    return aggregate


def refused(plan: Plan) -> None:
    """Assert that the refused command left no pending event behind."""
    assert plan.collect_events() == []


# -- plan ids and creation ---------------------------------------------------------------------
def test_a_plan_id_follows_from_its_case_id_and_from_nothing_else() -> None:
    other_case = uuid.UUID("d0d0d0d0-1111-4222-8333-444444444444")

    assert plan_id_for(CASE_ID) == plan_id_for(uuid.UUID(str(CASE_ID)))
    assert plan_id_for(CASE_ID) != plan_id_for(other_case)
    assert plan_id_for(CASE_ID) != CASE_ID
    assert plan_id_for(CASE_ID).version == 5


def test_creating_a_plan_uses_the_case_plan_id_and_starts_an_empty_draft() -> None:
    plan = create(gaps=["networking", "career_steering"])

    [event] = plan.collect_events()
    assert isinstance(event, Plan.Created)
    assert event.originator_id == plan.id == plan_id_for(CASE_ID)
    assert event.timestamp == NOW
    assert (event.case_id, event.client_id, event.organisation) == (CASE_ID, CLIENT_ID, ORG)
    assert event.actor == "intake"
    assert plan.suggested_focus == {
        "gaps": ["networking", "career_steering"],
        "scores": {"client": {"networking": 2}},
    }
    assert (plan.status, plan.revision, plan.plan_type) == ("draft", 0, None)
    assert (plan.goals, plan.ranking, plan.actions) == ({}, [], {})
    assert plan.portfolio == Portfolio()
    assert (plan.agreements, plan.agreed_versions) == ({}, {})


def test_two_plans_for_the_same_case_have_the_same_id() -> None:
    assert create().id == create(actor="redelivery").id


# -- SMART rules -------------------------------------------------------------------------------
def test_a_fully_smart_goal_has_no_failures() -> None:
    assert smart() == {}


@pytest.mark.parametrize(
    ("overrides", "criterion"),
    [
        ({"specific": "Apply for jobs"}, "specific"),
        ({"specific": "   "}, "specific"),
        (
            {
                "title": "Apply for teaching jobs in Ghent",
                "specific": "  apply for teaching   JOBS in ghent ",
            },
            "specific",
        ),
        ({"measure": ""}, "measurable"),
        ({"measure": "   "}, "measurable"),
        ({"measure": "better"}, "measurable"),
        ({"measure": "Better, more, good."}, "measurable"),
        ({"measure": "meer beter goed"}, "measurable"),
        ({"measure": "a contract"}, "measurable"),
        ({"target_date": TODAY + timedelta(days=6)}, "achievable"),
        ({"target_date": TODAY + timedelta(days=1)}, "achievable"),
        ({"competences": []}, "relevant"),
        ({"target_date": TODAY + timedelta(days=549)}, "time_bound"),
    ],
    ids=[
        "specific-3-words",
        "specific-blank",
        "specific-is-the-title",
        "measurable-empty",
        "measurable-blank",
        "measurable-vague-word",
        "measurable-only-vague-words",
        "measurable-only-vague-dutch-words",
        "measurable-2-words-no-number",
        "achievable-6-days-lead",
        "achievable-tomorrow",
        "relevant-no-competences",
        "time-bound-beyond-horizon",
    ],
)
def test_a_goal_failing_one_criterion_fails_only_that_one(
    overrides: dict[str, Any], criterion: str
) -> None:
    failures = smart(**overrides)
    assert list(failures) == [criterion]
    assert failures[criterion].endswith(".")


def test_too_many_open_goals_fail_achievable_alone() -> None:
    assert smart(open_goals=5) == {
        "achievable": "The plan already has 5 open goals; at most 5 are achievable at once."
    }
    assert smart(open_goals=4) == {}


def test_a_target_date_of_today_is_not_time_bound() -> None:
    no_lead = SmartPolicy(min_lead_days=0)

    assert smart(target_date=TODAY, policy=no_lead) == {
        "time_bound": "The target date must lie in the future."
    }
    assert set(smart(target_date=TODAY)) == {"achievable", "time_bound"}, (
        "with the default lead time it leaves no time for actions either"
    )


@pytest.mark.parametrize("policy", [POLICY, SmartPolicy(min_lead_days=0)], ids=["7", "0"])
def test_a_target_date_in_the_past_is_neither_time_bound_nor_achievable(
    policy: SmartPolicy,
) -> None:
    failures = smart(target_date=TODAY - timedelta(days=1), policy=policy)

    assert set(failures) == {"achievable", "time_bound"}
    assert failures["time_bound"] == "The target date must lie in the future."


@pytest.mark.parametrize(
    "measure",
    ["5", "3 applications", "one signed contract", "A signed employment contract"],
    ids=["a-number", "number-and-word", "three-words", "four-words"],
)
def test_a_measure_with_a_number_or_three_words_is_measurable(measure: str) -> None:
    assert smart(measure=measure) == {}


@pytest.mark.parametrize(
    "target_date",
    [TODAY + timedelta(days=7), TODAY + timedelta(days=548)],
    ids=["min-lead", "horizon"],
)
def test_the_limits_of_lead_time_and_horizon_are_inclusive(target_date: date) -> None:
    assert smart(target_date=target_date) == {}


def test_a_goal_failing_every_criterion_gets_a_sentence_for_each() -> None:
    failures = smart(
        title="Job",
        specific="Job",
        measure="better",
        target_date=TODAY - timedelta(days=3),
        competences=[],
    )

    assert list(failures) == list(SMART)
    assert failures == {
        "specific": (
            "Describe concretely what the client will do or reach, in at least 4 words, "
            "not only the title again."
        ),
        "measurable": (
            "Name an observable result (a number, a document, an event) that shows "
            "the goal is reached."
        ),
        "achievable": "The target date leaves less than 7 days for the actions.",
        "relevant": "Link the goal to at least one career competence.",
        "time_bound": "The target date must lie in the future.",
    }


def test_the_smart_limits_follow_the_policy() -> None:
    policy = SmartPolicy(max_open_goals=2, horizon_days=30, min_lead_days=14, min_specific_words=2)
    fits = {"specific": "Visit schools", "target_date": TODAY + timedelta(days=20)}

    assert smart(policy=policy, open_goals=1, **fits) == {}
    assert smart(policy=policy, open_goals=2, **fits) == {
        "achievable": "The plan already has 2 open goals; at most 2 are achievable at once."
    }
    assert smart(policy=policy, specific="Visit", target_date=TODAY + timedelta(days=20)) == {
        "specific": (
            "Describe concretely what the client will do or reach, in at least 2 words, "
            "not only the title again."
        )
    }
    assert smart(policy=policy, target_date=TODAY + timedelta(days=13)) == {
        "achievable": "The target date leaves less than 14 days for the actions."
    }
    assert smart(policy=policy, target_date=TODAY + timedelta(days=31)) == {
        "time_bound": "The target date lies beyond the plan's horizon of 30 days."
    }
    assert smart(target_date=TODAY + timedelta(days=31)) == {}, "the default horizon is wider"


# -- goals -------------------------------------------------------------------------------------
def test_adding_a_smart_goal_records_it_at_its_priority() -> None:
    plan = a_plan()
    goal_id = uuid.uuid4()

    add_goal(
        plan,
        goal_id=goal_id,
        title="  Become a teacher ",
        measure=" 5 applications sent ",
        competences=["work_exploration", "networking", "work_exploration"],
        priority=1,
    )

    [event] = plan.collect_events()
    assert isinstance(event, Plan.GoalAdded)
    assert (event.goal_id, event.priority, event.client_id) == (goal_id, 1, CLIENT_ID)
    assert (event.title, event.measure) == ("Become a teacher", "5 applications sent")
    assert event.competences == ["work_exploration", "networking"], "once each, in given order"
    assert event.target_date == date(2025, 6, 8)
    assert (event.actor, event.timestamp) == ("counsellor-1", NOW)
    assert plan.ranking == [goal_id]
    assert plan.revision == 1
    [ranked] = plan.ranked_goals()
    assert (ranked["goal_id"], ranked["priority"], ranked["actions"]) == (goal_id, 1, [])
    assert ranked["added_at"] == NOW


@pytest.mark.parametrize(
    ("overrides", "criteria"),
    [
        ({"specific": "Find a job"}, {"specific"}),
        ({"measure": "better"}, {"measurable"}),
        ({"target_date": TODAY + timedelta(days=3)}, {"achievable"}),
        ({"competences": []}, {"relevant"}),
        ({"target_date": TODAY + timedelta(days=600)}, {"time_bound"}),
        ({"target_date": TODAY}, {"achievable", "time_bound"}),
        (
            {"specific": "Teach", "measure": "more", "competences": []},
            {"specific", "measurable", "relevant"},
        ),
    ],
    ids=[
        "not-specific",
        "not-measurable",
        "not-achievable",
        "not-relevant",
        "not-time-bound",
        "due-today",
        "three-at-once",
    ],
)
def test_a_goal_that_is_not_smart_is_refused_naming_the_failed_criteria(
    overrides: dict[str, Any], criteria: set[str]
) -> None:
    plan, [existing] = a_plan_with_goals("Grow a network")

    with pytest.raises(PlanningError) as error:
        add_goal(plan, **overrides)

    assert (error.value.code, error.value.field) == ("not-smart", None)
    assert set(error.value.failures) == criteria
    assert all(sentence.endswith(".") for sentence in error.value.failures.values())
    refused(plan)
    assert (plan.ranking, plan.revision) == ([existing], 1)


def test_a_goal_beyond_the_policys_open_goals_is_not_achievable() -> None:
    plan, _ = a_plan_with_goals("One", "Two")

    with pytest.raises(PlanningError) as error:
        add_goal(plan, title="Three", policy=SmartPolicy(max_open_goals=2))

    assert error.value.code == "not-smart"
    assert error.value.failures == {
        "achievable": "The plan already has 2 open goals; at most 2 are achievable at once."
    }
    refused(plan)
    add_goal(plan, title="Three")
    assert len(plan.ranking) == 3, "the default policy allows five"


def test_the_sixth_goal_is_refused_under_the_default_policy() -> None:
    plan, _ = a_plan_with_goals("One", "Two", "Three", "Four", "Five")

    with pytest.raises(PlanningError) as error:
        add_goal(plan, title="Six")

    assert set(error.value.failures) == {"achievable"}
    refused(plan)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"competences": ["networking", "juggling"]}, "competences"),
        ({"title": "   "}, "title"),
    ],
    ids=["unknown-competence", "blank-title"],
)
def test_a_goal_needs_a_title_and_known_competences(overrides: dict[str, Any], field: str) -> None:
    plan = a_plan()

    with pytest.raises(PlanningError) as error:
        add_goal(plan, **overrides)

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(plan)
    assert plan.goals == {}


def test_adding_a_goal_again_under_its_id_changes_nothing() -> None:
    plan, [goal_id, _] = a_plan_with_goals("Become a teacher", "Grow a network")
    action_id = add_action(plan, goal_id)
    plan.collect_events()
    revision = plan.revision

    add_goal(plan, goal_id=goal_id, title="Become a teacher", priority=2)

    refused(plan)
    assert plan.revision == revision
    assert plan.ranking[0] == goal_id
    assert plan.goals[goal_id].actions == (action_id,), "the goal keeps its actions"


# -- priorities --------------------------------------------------------------------------------
def test_a_goal_added_at_a_priority_shifts_the_lower_ones_down() -> None:
    plan = a_plan()

    add_goal(plan, title="A", priority=1)
    add_goal(plan, title="B", priority=1)
    add_goal(plan, title="C", priority=2)
    add_goal(plan, title="D", priority=4)

    events = plan.collect_events()
    assert all(isinstance(e, Plan.GoalAdded) for e in events)
    assert [getattr(e, "priority", None) for e in events] == [1, 1, 2, 4]
    assert titles(plan) == [(1, "B"), (2, "C"), (3, "A"), (4, "D")]
    assert [plan.goals[g].title for g in plan.ranking] == ["B", "C", "A", "D"]


@pytest.mark.parametrize("priority", [0, -1, 4, 9], ids=["zero", "negative", "n-plus-2", "far"])
def test_a_priority_outside_1_to_n_plus_1_is_refused(priority: int) -> None:
    plan, ids = a_plan_with_goals("A", "B")

    with pytest.raises(PlanningError) as error:
        add_goal(plan, title="C", priority=priority)

    assert (error.value.code, error.value.field) == ("invalid", "priority")
    assert error.value.message == "The priority lies between 1 and 3."
    refused(plan)
    assert plan.ranking == ids


def test_reprioritising_with_a_permutation_reorders_the_goals() -> None:
    plan, [a, b, c] = a_plan_with_goals("A", "B", "C")

    plan.reprioritise(order=[c, a, b], actor="counsellor-1", at=LATER)

    [event] = plan.collect_events()
    assert isinstance(event, Plan.GoalsReprioritised)
    assert (event.order, event.actor, event.timestamp) == ([c, a, b], "counsellor-1", LATER)
    assert titles(plan) == [(1, "C"), (2, "A"), (3, "B")]
    assert plan.revision == 4


@pytest.mark.parametrize(
    "make_order",
    [
        lambda a, b, c: [a, b],
        lambda a, b, c: [a, b, c, uuid.uuid4()],
        lambda a, b, c: [a, b, uuid.uuid4()],
        lambda a, b, c: [a, a, c],
        lambda a, b, c: [a, b, c, a],
        lambda a, b, c: [],
    ],
    ids=["missing", "extra", "stranger", "duplicate-instead", "duplicate-extra", "empty"],
)
def test_reprioritising_must_name_every_goal_exactly_once(
    make_order: Callable[..., list[uuid.UUID]],
) -> None:
    plan, ids = a_plan_with_goals("A", "B", "C")

    with pytest.raises(PlanningError) as error:
        plan.reprioritise(order=make_order(*ids), actor="counsellor-1", at=NOW)

    assert (error.value.code, error.value.field) == ("invalid", "order")
    refused(plan)
    assert plan.ranking == ids


def test_reprioritising_to_the_same_order_changes_nothing() -> None:
    plan, ids = a_plan_with_goals("A", "B", "C")

    plan.reprioritise(order=list(ids), actor="counsellor-1", at=NOW)

    refused(plan)
    assert plan.revision == 3


# -- actions -----------------------------------------------------------------------------------
def test_adding_an_action_puts_it_under_its_goal() -> None:
    plan, [goal_id, _] = a_plan_with_goals("A", "B")
    action_id = uuid.uuid4()

    added = plan.add_action(
        action_id=action_id,
        goal_id=goal_id,
        description="  Visit a school open day ",
        owner="partner",
        due_date=TODAY + timedelta(days=10),
        actor="counsellor-1",
        at=NOW,
    )

    assert added is True
    [event] = plan.collect_events()
    assert isinstance(event, Plan.ActionAdded)
    assert (event.action_id, event.goal_id, event.owner) == (action_id, goal_id, "partner")
    assert (event.description, event.due_date) == ("Visit a school open day", date(2025, 3, 20))
    assert plan.actions[action_id].as_dict() == {
        "action_id": action_id,
        "goal_id": goal_id,
        "description": "Visit a school open day",
        "owner": "partner",
        "due_date": date(2025, 3, 20),
        "status": "open",
        "added_at": NOW,
        "closed_at": None,
    }
    assert [a["action_id"] for a in plan.ranked_goals()[0]["actions"]] == [action_id]
    assert plan.ranked_goals()[1]["actions"] == []


@pytest.mark.parametrize(
    "due_date",
    [TODAY, TODAY + timedelta(days=90)],
    ids=["today", "on-the-target-date"],
)
def test_an_action_may_be_due_from_today_up_to_the_goals_target_date(due_date: date) -> None:
    plan, [goal_id] = a_plan_with_goals("A")
    action_id = add_action(plan, goal_id, due_date=due_date)
    assert plan.actions[action_id].due_date == due_date


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"due_date": TODAY + timedelta(days=91)}, "due_date"),
        ({"due_date": TODAY - timedelta(days=1)}, "due_date"),
        ({"owner": "neighbour"}, "owner"),
        ({"description": "  "}, "description"),
    ],
    ids=["after-the-goal", "in-the-past", "unknown-owner", "no-description"],
)
def test_an_action_with_a_bad_due_date_owner_or_description_is_refused(
    overrides: dict[str, Any], field: str
) -> None:
    plan, [goal_id] = a_plan_with_goals("A")

    with pytest.raises(PlanningError) as error:
        plan.add_action(
            **{
                "action_id": uuid.uuid4(),
                "goal_id": goal_id,
                "description": "Call the school",
                "owner": "client",
                "due_date": TODAY + timedelta(days=7),
                "actor": "counsellor-1",
                "at": NOW,
                **overrides,
            }
        )

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(plan)
    assert plan.actions == {}


def test_adding_an_action_under_an_unknown_goal_is_not_found() -> None:
    plan, _ = a_plan_with_goals("A")

    with pytest.raises(PlanningError) as error:
        add_action(plan, uuid.uuid4())

    assert (error.value.code, error.value.field) == ("not-found", "goal_id")
    refused(plan)


def test_adding_an_action_again_under_its_id_returns_false_and_changes_nothing() -> None:
    plan, [goal_id] = a_plan_with_goals("A")
    action_id = add_action(plan, goal_id, description="Call the school")
    plan.collect_events()

    again = plan.add_action(
        action_id=action_id,
        goal_id=goal_id,
        description="Something else entirely",
        owner="counsellor",
        due_date=TODAY + timedelta(days=30),
        actor="counsellor-2",
        at=LATER,
    )

    assert again is False
    refused(plan)
    assert plan.actions[action_id].description == "Call the school"
    assert plan.goals[goal_id].actions == (action_id,)
    assert plan.revision == 2


def test_completing_an_action_closes_it() -> None:
    plan, [goal_id] = a_plan_with_goals("A")
    action_id = add_action(plan, goal_id)
    plan.collect_events()

    plan.complete_action(action_id=action_id, actor="client-1", at=LATER)

    [event] = plan.collect_events()
    assert isinstance(event, Plan.ActionCompleted)
    assert (event.action_id, event.actor, event.timestamp) == (action_id, "client-1", LATER)
    assert (plan.actions[action_id].status, plan.actions[action_id].closed_at) == (
        "completed",
        LATER,
    )
    assert plan.ranked_goals()[0]["actions"][0]["status"] == "completed"


def test_cancelling_an_action_closes_it_with_its_reason() -> None:
    plan, [goal_id] = a_plan_with_goals("A")
    action_id = add_action(plan, goal_id)
    plan.collect_events()

    plan.cancel_action(action_id=action_id, reason="School closed", actor="c-1", at=LATER)

    [event] = plan.collect_events()
    assert isinstance(event, Plan.ActionCancelled)
    assert (event.action_id, event.reason) == (action_id, "School closed")
    action = plan.actions[action_id]
    assert (action.status, action.closed_at, action.cancel_reason) == (
        "cancelled",
        LATER,
        "School closed",
    )


CLOSED = {"complete": "completed", "cancel": "cancelled"}


def close(plan: Plan, how: str, action_id: uuid.UUID) -> None:
    if how == "complete":
        plan.complete_action(action_id=action_id, actor="c-1", at=NOW)
    else:
        plan.cancel_action(action_id=action_id, reason=None, actor="c-1", at=NOW)


@pytest.mark.parametrize("first", ["complete", "cancel"])
@pytest.mark.parametrize("second", ["complete", "cancel"])
def test_a_closed_action_cannot_be_closed_again(first: str, second: str) -> None:
    plan, [goal_id] = a_plan_with_goals("A")
    action_id = add_action(plan, goal_id)
    close(plan, first, action_id)
    plan.collect_events()

    with pytest.raises(PlanningError) as error:
        close(plan, second, action_id)

    assert (error.value.code, error.value.field) == ("action-closed", "action_id")
    refused(plan)
    assert plan.actions[action_id].status == CLOSED[first]


@pytest.mark.parametrize("how", ["complete", "cancel"])
def test_closing_an_unknown_action_is_not_found(how: str) -> None:
    plan, _ = a_plan_with_goals("A")

    with pytest.raises(PlanningError) as error:
        close(plan, how, uuid.uuid4())

    assert (error.value.code, error.value.field) == ("not-found", "action_id")
    refused(plan)


# -- plan type ---------------------------------------------------------------------------------
def test_choosing_a_type_records_it() -> None:
    plan = a_plan()

    plan.choose_type(plan_type="combined", actor="counsellor-1", at=NOW)

    [event] = plan.collect_events()
    assert isinstance(event, Plan.TypeChosen)
    assert (event.plan_type, event.client_id) == ("combined", CLIENT_ID)
    assert (plan.plan_type, plan.revision) == ("combined", 1)


def test_an_unknown_type_is_refused() -> None:
    plan = a_plan()

    with pytest.raises(PlanningError) as error:
        plan.choose_type(plan_type="vacation", actor="counsellor-1", at=NOW)

    assert (error.value.code, error.value.field) == ("invalid", "plan_type")
    refused(plan)
    assert plan.plan_type is None


# -- agreement ---------------------------------------------------------------------------------
def test_agreeing_needs_at_least_one_goal() -> None:
    plan = a_plan()
    plan.choose_type(plan_type="action", actor="counsellor-1", at=NOW)
    plan.collect_events()

    with pytest.raises(PlanningError) as error:
        agree(plan, "client")

    assert error.value.code == "plan-incomplete"
    refused(plan)
    assert plan.agreements == {}


def test_agreeing_needs_a_chosen_type() -> None:
    plan, _ = a_plan_with_goals("A")

    with pytest.raises(PlanningError) as error:
        agree(plan, "counsellor")

    assert error.value.code == "plan-incomplete"
    refused(plan)
    assert plan.agreements == {}


def test_only_client_and_counsellor_agree() -> None:
    plan, _, _ = an_agreeable_plan()

    with pytest.raises(PlanningError) as error:
        agree(plan, "partner")

    assert (error.value.code, error.value.field) == ("invalid", "party")
    refused(plan)


def test_the_clients_agreement_alone_leaves_the_plan_a_draft() -> None:
    plan, _, _ = an_agreeable_plan()

    agree(plan, "client")

    [event] = plan.collect_events()
    assert isinstance(event, Plan.PartyAgreed)
    assert (event.party, event.revision, event.actor) == ("client", 4, "client-1")
    assert plan.status == "draft"
    assert plan.agreements == {"client": Agreement(revision=4, at=NOW, actor="client-1")}
    assert plan.agreed_versions == {}


def test_both_agreeing_to_the_same_revision_make_the_plan_agreed() -> None:
    plan, first, action_id = an_agreeable_plan()
    agree(plan, "client")
    plan.collect_events()

    agree(plan, "counsellor", at=LATER)

    party, agreed = plan.collect_events()
    assert isinstance(party, Plan.PartyAgreed)
    assert isinstance(agreed, Plan.Agreed)
    assert (agreed.revision, agreed.case_id, agreed.organisation) == (4, CASE_ID, ORG)
    assert (agreed.timestamp, agreed.actor) == (LATER, "counsellor-1")
    assert agreed.actions == [
        {
            "action_id": action_id,
            "goal_id": first,
            "owner": "client",
            "due_date": TODAY + timedelta(days=14),
            "status": "open",
        }
    ]
    content = agreed.content
    assert content["plan_type"] == "action"
    assert [
        (g["priority"], g["title"], [a["description"] for a in g["actions"]])
        for g in content["goals"]
    ] == [(1, "Become a teacher", ["Visit a school open day"]), (2, "Grow a network", [])]
    assert plan.status == "agreed"
    assert plan.revision == 4, "agreeing is no change of content"
    assert list(plan.agreed_versions) == [4]
    version = plan.agreed_versions[4]
    assert (version.revision, version.agreed_at, version.content) == (4, LATER, content)
    assert {p: a.revision for p, a in version.agreements.items()} == {
        "client": 4,
        "counsellor": 4,
    }


def test_agreeing_twice_to_the_same_revision_changes_nothing() -> None:
    plan, _, _ = an_agreeable_plan()
    agree(plan, "client")
    plan.collect_events()

    agree(plan, "client", at=LATER)
    refused(plan)
    assert plan.agreements["client"].at == NOW

    agree(plan, "counsellor")
    plan.collect_events()
    agree(plan, "counsellor", at=LATER)
    agree(plan, "client", at=LATER)
    refused(plan)
    assert (plan.status, list(plan.agreed_versions)) == ("agreed", [4])


def test_an_agreement_to_an_older_revision_does_not_count() -> None:
    plan, first, _ = an_agreeable_plan()
    agree(plan, "client")
    add_action(plan, first, description="Draft a CV")
    plan.collect_events()

    agree(plan, "counsellor")

    [event] = plan.collect_events()
    assert isinstance(event, Plan.PartyAgreed)
    assert event.revision == 5
    assert plan.status == "draft"
    assert plan.agreed_versions == {}


CHANGES: dict[str, Callable[[Plan, uuid.UUID, uuid.UUID], Any]] = {
    "add-goal": lambda plan, goal_id, action_id: add_goal(plan, title="Learn Dutch", priority=1),
    "add-action": lambda plan, goal_id, action_id: add_action(plan, goal_id),
    "complete-action": lambda plan, goal_id, action_id: close(plan, "complete", action_id),
    "cancel-action": lambda plan, goal_id, action_id: close(plan, "cancel", action_id),
    "choose-another-type": lambda plan, goal_id, action_id: plan.choose_type(
        plan_type="reflection", actor="c-1", at=NOW
    ),
    "reprioritise": lambda plan, goal_id, action_id: plan.reprioritise(
        order=list(reversed(plan.ranking)), actor="c-1", at=NOW
    ),
    "competence-analysis": lambda plan, goal_id, action_id: analyse(plan),
    "add-evidence": lambda plan, goal_id, action_id: add_evidence(plan),
}
CHANGE_EVENTS = {
    "add-goal": Plan.GoalAdded,
    "add-action": Plan.ActionAdded,
    "complete-action": Plan.ActionCompleted,
    "cancel-action": Plan.ActionCancelled,
    "choose-another-type": Plan.TypeChosen,
    "reprioritise": Plan.GoalsReprioritised,
    "competence-analysis": Plan.CompetenceAnalysisRecorded,
    "add-evidence": Plan.EvidenceAdded,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_after_agreement_revises_the_plan_and_needs_both_agreements_again(
    change: str,
) -> None:
    plan, goal_id, action_id = an_agreed_plan()
    agreed_content = copy.deepcopy(plan.agreed_versions[4].content)

    CHANGES[change](plan, goal_id, action_id)

    revised, changed = plan.collect_events()
    assert isinstance(revised, Plan.Revised)
    assert (revised.from_revision, revised.case_id, revised.client_id) == (4, CASE_ID, CLIENT_ID)
    assert isinstance(changed, CHANGE_EVENTS[change])
    assert (plan.status, plan.revision) == ("revised", 5)

    agree(plan, "client", at=LATER)
    [event] = plan.collect_events()
    assert isinstance(event, Plan.PartyAgreed), "the client's earlier agreement no longer counts"
    assert plan.status == "revised"

    agree(plan, "counsellor", at=LATER)
    _, agreed = plan.collect_events()
    assert isinstance(agreed, Plan.Agreed)
    assert agreed.revision == 5
    assert plan.status == "agreed"
    assert list(plan.agreed_versions) == [4, 5]
    assert plan.agreed_versions[4].content == agreed_content
    assert plan.agreed_versions[5].content == plan.content()
    assert plan.agreed_versions[5].content != agreed_content
    assert plan.agreed_versions[5].agreed_at == LATER


def test_agreed_versions_are_numbered_by_agreement_not_by_revision() -> None:
    plan, goal_id, _ = an_agreeable_plan()
    assert (plan.agreed_in_order(), plan.agreed_version(1)) == ([], None)
    agree(plan, "client")
    agree(plan, "counsellor")
    add_action(plan, goal_id, description="Draft a CV")
    add_action(plan, goal_id, description="Send the CV")
    agree(plan, "client", at=LATER)
    agree(plan, "counsellor", at=LATER)

    ordered = plan.agreed_in_order()
    assert [(v["version"], v["revision"]) for v in ordered] == [(1, 4), (2, 6)]
    assert [v["agreed_at"] for v in ordered] == [NOW, LATER]
    assert plan.agreed_version(1) == {"version": 1, **plan.agreed_versions[4].as_dict()}
    assert plan.agreed_version(2) == {"version": 2, **plan.agreed_versions[6].as_dict()}
    for missing in (0, 3, 4, 6, -1):
        assert plan.agreed_version(missing) is None, missing


def test_an_assessed_portfolio_after_agreement_revises_the_plan() -> None:
    plan, _, _ = an_agreeable_plan()
    add_evidence(plan)
    agree(plan, "client")
    agree(plan, "counsellor")
    plan.collect_events()

    assess_portfolio(plan, "stop")

    assert [type(e) for e in plan.collect_events()] == [Plan.Revised, Plan.PortfolioAssessed]
    assert (plan.status, plan.revision) == ("revised", 6)


def test_only_the_first_change_after_agreement_is_a_revision() -> None:
    plan, goal_id, action_id = an_agreed_plan()

    close(plan, "complete", action_id)
    add_action(plan, goal_id)
    plan.choose_type(plan_type="combined", actor="c-1", at=NOW)

    assert [type(e) for e in plan.collect_events()] == [
        Plan.Revised,
        Plan.ActionCompleted,
        Plan.ActionAdded,
        Plan.TypeChosen,
    ]
    assert (plan.status, plan.revision) == ("revised", 7)


def test_choosing_the_same_type_again_is_no_change() -> None:
    plan, _, _ = an_agreed_plan()

    plan.choose_type(plan_type="action", actor="c-1", at=LATER)

    refused(plan)
    assert (plan.status, plan.revision) == ("agreed", 4)


def test_an_agreed_version_keeps_its_content_when_the_plan_changes_later() -> None:
    plan, _, action_id = an_agreeable_plan()
    add_evidence(plan, title="Forklift certificate")
    analyse(plan, career_target="Teacher of economics")
    agree(plan, "client")
    plan.collect_events()
    agree(plan, "counsellor")
    _, agreed = plan.collect_events()
    assert isinstance(agreed, Plan.Agreed)
    snapshot = agreed.content

    close(plan, "complete", action_id)
    add_evidence(plan, title="Reference letter")
    assess_portfolio(plan, "continue")
    analyse(plan, career_target="Trainer in logistics")
    plan.reprioritise(order=list(reversed(plan.ranking)), actor="c-1", at=NOW)

    kept = plan.agreed_versions[6].content
    assert kept == snapshot
    assert [g["title"] for g in kept["goals"]] == ["Become a teacher", "Grow a network"]
    assert kept["goals"][0]["actions"][0]["status"] == "open"
    assert [e["title"] for e in kept["portfolio"]["evidence"]] == ["Forklift certificate"]
    assert kept["portfolio"]["assessment"] is None
    assert kept["competence_analysis"]["career_target"] == "Teacher of economics"
    assert [e.title for e in plan.portfolio.evidence] == [
        "Forklift certificate",
        "Reference letter",
    ]


# -- competence analysis ---------------------------------------------------------------------
def test_an_analysis_whose_client_was_erased_replays_with_its_items_erased() -> None:
    # Once the client's key is gone, each personal field of a stored event reads ERASED,
    # a list of items included: the plan still loads, and shows them so.
    plan = create()
    analyse(plan)
    events = plan.collect_events()
    for name in ("career_target", "strengths", "weaknesses", "training_needs"):
        object.__setattr__(events[-1], name, "ERASED")

    analysis = replay(events).competence_analysis_dict()

    assert analysis is not None
    assert [analysis[k] for k in ("career_target", "strengths", "training_needs")] == [
        "ERASED",
        "ERASED",
        "ERASED",
    ]


def test_a_competence_analysis_with_esco_uris_is_recorded() -> None:
    plan = a_plan()

    analyse(
        plan,
        strengths=[{"label": "Planning", "esco_uri": SKILL}, {"label": "Patience"}],
        weaknesses=[],
        training_needs=[{"label": "Teacher", "esco_uri": OCCUPATION}],
    )

    [event] = plan.collect_events()
    assert isinstance(event, Plan.CompetenceAnalysisRecorded)
    assert event.career_target == "Teacher of economics"
    assert event.strengths == [{"label": "Planning", "esco_uri": SKILL}, {"label": "Patience"}]
    assert plan.competence_analysis_dict() == {
        "career_target": "Teacher of economics",
        "career_target_uri": None,
        "strengths": [{"label": "Planning", "esco_uri": SKILL}, {"label": "Patience"}],
        "weaknesses": [],
        "training_needs": [{"label": "Teacher", "esco_uri": OCCUPATION}],
        "recorded_at": NOW,
        "actor": "counsellor-1",
    }
    assert plan.revision == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"strengths": [{"esco_uri": "https://data.europa.eu/esco/skill/0a0d6a4b"}]},
            "strengths.0.esco_uri",
        ),
        (
            {"strengths": [{"esco_uri": "http://data.europa.eu/esco/isco/C2330"}]},
            "strengths.0.esco_uri",
        ),
        (
            {"weaknesses": [{"esco_uri": OCCUPATION}, {"esco_uri": "planning"}]},
            "weaknesses.1.esco_uri",
        ),
        ({"weaknesses": [{"esco_uri": ""}]}, "weaknesses.0.esco_uri"),
        ({"training_needs": [{"esco_uri": SKILL + " "}]}, "training_needs.0.esco_uri"),
        (
            {"training_needs": [{"esco_uri": "http://data.europa.eu/esco/skill/"}]},
            "training_needs.0.esco_uri",
        ),
    ],
    ids=["https", "isco-group", "free-text", "empty", "trailing-space", "no-code"],
)
def test_an_esco_code_that_is_not_a_skill_or_occupation_uri_is_refused(
    overrides: dict[str, Any], field: str
) -> None:
    plan = a_plan()

    with pytest.raises(PlanningError) as error:
        analyse(plan, **overrides)

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(plan)
    assert plan.competence_analysis is None


# -- portfolio ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", EVIDENCE_KINDS)
def test_evidence_of_each_kind_is_added_to_the_portfolio(kind: str) -> None:
    plan = a_plan()
    evidence_id = add_evidence(plan, kind=kind, dated=TODAY)

    [event] = plan.collect_events()
    assert isinstance(event, Plan.EvidenceAdded)
    assert (event.evidence_id, event.kind, event.dated) == (evidence_id, kind, TODAY)
    assert plan.portfolio.as_dict() == {
        "evidence": [
            {
                "evidence_id": evidence_id,
                "title": "Forklift certificate",
                "kind": kind,
                "description": None,
                "dated": TODAY,
                "document_hash": "sha256:ab12",
                "added_at": NOW,
                "items": [],
                "esco_uris": [],
            }
        ],
        "assessment": None,
        "standard": None,
        "comparison": [],
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    # "date" is the API's name for the `dated` argument (services/planning/api/schemas.py)
    [({"kind": "selfie"}, "kind"), ({"dated": TODAY + timedelta(days=1)}, "date")],
    ids=["unknown-kind", "dated-ahead"],
)
def test_evidence_of_an_unknown_kind_or_dated_ahead_is_refused(
    overrides: dict[str, Any], field: str
) -> None:
    plan = a_plan()

    with pytest.raises(PlanningError) as error:
        add_evidence(plan, **overrides)

    assert (error.value.code, error.value.field) == ("invalid", field)
    refused(plan)
    assert plan.portfolio.evidence == ()


def test_assessing_an_empty_portfolio_is_refused() -> None:
    plan = a_plan()

    with pytest.raises(PlanningError) as error:
        assess_portfolio(plan)

    assert error.value.code == "portfolio-empty"
    refused(plan)
    assert plan.portfolio.assessment is None


def test_evidence_withdrawn_after_agreement_revises_the_plan_the_agreed_version_keeps_it() -> None:
    plan, _, _ = an_agreeable_plan()
    evidence_id = add_evidence(plan)
    agree(plan, "client")
    agree(plan, "counsellor")
    plan.collect_events()
    assert plan.status == "agreed"

    plan.withdraw_evidence(
        evidence_id=evidence_id, reason="Not the client's.", actor="counsellor-1", at=LATER
    )

    revised, withdrawn = plan.collect_events()
    assert isinstance(revised, Plan.Revised)
    assert isinstance(withdrawn, Plan.EvidenceWithdrawn)
    assert (withdrawn.client_id, withdrawn.case_id) == (CLIENT_ID, CASE_ID)
    assert plan.status == "revised"
    assert plan.content()["portfolio"]["evidence"] == []
    [agreed] = plan.agreed_versions.values()
    assert [e["evidence_id"] for e in agreed.content["portfolio"]["evidence"]] == [evidence_id]


def test_no_evidence_is_withdrawn_from_a_closed_plan() -> None:
    plan = a_plan()
    evidence_id = add_evidence(plan)
    plan.close(reason=None, actor="counsellor-1", at=NOW)
    plan.collect_events()

    with pytest.raises(PlanningError) as error:
        plan.withdraw_evidence(evidence_id=evidence_id, reason="Wrong.", actor="c-1", at=NOW)

    assert error.value.code == "plan-closed"
    refused(plan)
    assert len(plan.portfolio.evidence) == 1


@pytest.mark.parametrize("advice", ["continue", "stop"])
def test_a_portfolio_is_compared_with_a_standard_and_advised_on(advice: str) -> None:
    plan = a_plan()
    add_evidence(plan)
    plan.collect_events()

    assess_portfolio(plan, advice)

    [event] = plan.collect_events()
    assert isinstance(event, Plan.PortfolioAssessed)
    assert (event.standard, event.advice) == ("BK-0540-2", advice)
    assert plan.portfolio.assessment is not None
    assert plan.portfolio.assessment.as_dict() == {
        "standard": "BK-0540-2",
        "comparison": "Covers planning, not coaching",
        "advice": advice,
        "assessed_at": NOW,
        "actor": "counsellor-1",
    }


@pytest.mark.parametrize("advice", ["maybe", "Continue", ""])
def test_advice_is_continue_or_stop_only(advice: str) -> None:
    plan = a_plan()
    add_evidence(plan)
    plan.collect_events()

    with pytest.raises(PlanningError) as error:
        assess_portfolio(plan, advice)

    assert (error.value.code, error.value.field) == ("invalid", "advice")
    refused(plan)


# -- reconstruction --------------------------------------------------------------------------
def test_a_plan_rebuilt_from_its_events_has_the_same_state() -> None:
    plan = create()
    plan.choose_type(plan_type="combined", actor="c-1", at=NOW)
    a = add_goal(plan, title="A")
    b = add_goal(plan, title="B", priority=1)
    c = add_goal(plan, title="C", priority=2)
    plan.reprioritise(order=[a, c, b], actor="c-1", at=NOW)
    first = add_action(plan, a)
    second = add_action(plan, c, owner="counsellor")
    agree(plan, "client")
    agree(plan, "counsellor")
    close(plan, "complete", first)
    analyse(plan)
    add_evidence(plan)
    assess_portfolio(plan, "continue")
    agree(plan, "counsellor", at=LATER)
    agree(plan, "client", at=LATER)
    close(plan, "cancel", second)
    agree(plan, "client", at=LATER)

    events = plan.collect_events()
    assert isinstance(events[0], Plan.Created)
    rebuilt = events[0].mutate(None)
    assert rebuilt is not None
    for event in events[1:]:
        rebuilt = event.mutate(rebuilt)

    assert rebuilt.id == plan.id
    assert rebuilt.version == plan.version == len(events)
    assert titles(rebuilt) == titles(plan) == [(1, "A"), (2, "C"), (3, "B")]
    assert rebuilt.ranked_goals() == plan.ranked_goals()
    assert (rebuilt.status, rebuilt.revision) == (plan.status, plan.revision) == ("revised", 12)
    assert list(rebuilt.agreed_versions) == [7, 11]
    assert rebuilt.agreed_versions == plan.agreed_versions
    assert rebuilt.agreements == plan.agreements
    assert rebuilt.actions == plan.actions
    assert rebuilt.competence_analysis == plan.competence_analysis
    assert rebuilt.portfolio == plan.portfolio
    assert rebuilt.content() == plan.content()
    assert replay(events).agreed_versions == plan.agreed_versions


def test_a_closed_plan_refuses_every_change_and_keeps_its_agreed_versions() -> None:
    plan, _, _ = an_agreeable_plan()
    plan.agree(party="client", actor="c", at=NOW)
    plan.agree(party="counsellor", actor="c", at=NOW)
    agreed = dict(plan.agreed_versions)
    plan.collect_events()
    plan.close(reason="Guidance ended", actor="c", at=NOW)
    assert plan.status == "closed"
    assert [type(e).__name__ for e in plan.collect_events()] == ["Closed"]
    for attempt in (
        lambda: plan.choose_type(plan_type="reflection", actor="c", at=NOW),
        lambda: plan.agree(party="client", actor="c", at=NOW),
        lambda: plan.close(reason=None, actor="c", at=NOW),
        lambda: plan.complete_action(action_id=next(iter(plan.actions)), actor="c", at=NOW),
    ):
        with pytest.raises(PlanningError) as caught:
            attempt()
        assert caught.value.code == "plan-closed"
    assert plan.collect_events() == []
    assert plan.agreed_versions == agreed


def test_a_plan_keeps_the_cases_counsellor_and_one_created_before_names_none() -> None:
    assert create(counsellor="anna.c").counsellor == "anna.c"
    assert create().counsellor is None
    state: dict[str, Any] = {}
    Plan.Created.upcast_v1_v2(state)
    assert state == {"counsellor": None}
