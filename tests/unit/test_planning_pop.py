"""The richer POP, without a database: the plan's career question, insights with their
day, choices and decisions with their reasons, and support needs (kinds and words).

Given a plan, when a command, then events: each part is recorded, refused naming the
field at fault (a refused command records nothing), part of the content an agreement
keeps (so a change after an agreement revises the plan), and replays ERASED once the
client's key is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.planning.document import render
from services.planning.domain import SUPPORT_KINDS, Plan, PlanningError, SmartPolicy

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CASE_ID = uuid.UUID("c0c0c0c0-1111-4222-8333-444444444444")
CLIENT_ID = uuid.UUID("a1a1a1a1-5555-4666-8777-888888888888")


def a_plan() -> Plan:
    plan = Plan.create(
        case_id=CASE_ID,
        client_id=CLIENT_ID,
        organisation="org-a",
        gaps=["networking"],
        scores={},
        actor="intake",
        at=NOW,
    )
    plan.collect_events()
    return plan


def an_agreed_plan() -> Plan:
    plan = a_plan()
    plan.choose_type(plan_type="reflection", actor="c-1", at=NOW)
    plan.add_goal(
        goal_id=uuid.uuid4(),
        title="Become a teacher",
        specific="Apply for teaching vacancies in secondary schools in Ghent",
        measure="5 applications sent",
        target_date=TODAY + timedelta(days=90),
        competences=["work_exploration"],
        priority=1,
        policy=SmartPolicy(),
        actor="c-1",
        at=NOW,
    )
    for party in ("client", "counsellor"):
        plan.agree(party=party, actor="c-1", at=NOW)
    plan.collect_events()
    assert plan.status == "agreed"
    return plan


def insight(plan: Plan, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "insight_id": uuid.uuid4(),
        "text": "I like helping more than selling.",
        "dated": TODAY - timedelta(days=3),
        "actor": "c-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.record_insight(**fields)
    return fields["insight_id"]  # type: ignore[no-any-return]


def decision(plan: Plan, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "decision_id": uuid.uuid4(),
        "kind": "decision",
        "text": "Train as a care assistant.",
        "reasons": "The work trial went well.",
        "actor": "c-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.record_decision(**fields)
    return fields["decision_id"]  # type: ignore[no-any-return]


def needs(plan: Plan, kinds: list[str], notes: str | None = None) -> None:
    plan.record_support_needs(kinds=kinds, notes=notes, actor="c-1", at=NOW)


def replay(events: Sequence[Any]) -> Plan:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Plan)
    return aggregate


def test_each_part_is_recorded_and_is_part_of_the_content() -> None:
    plan = a_plan()
    plan.state_career_question(question="Which work suits me?", actor="c-1", at=NOW)
    first = insight(plan)
    chosen = decision(plan, kind="choice", text="Care, not retail", reasons="People")
    needs(plan, ["childcare", "language"], "Wednesdays")

    events = plan.collect_events()
    assert [type(e) for e in events] == [
        Plan.CareerQuestionStated,
        Plan.InsightRecorded,
        Plan.DecisionRecorded,
        Plan.SupportNeedsRecorded,
    ]
    assert plan.revision == 4
    content = plan.content()
    assert content["career_question"] == "Which work suits me?"
    assert [(i["insight_id"], i["date"]) for i in content["insights"]] == [
        (first, TODAY - timedelta(days=3))
    ]
    assert [(d["decision_id"], d["kind"], d["reasons"]) for d in content["decisions"]] == [
        (chosen, "choice", "People")
    ]
    # The kinds in the vocabulary's order, whatever the order given.
    assert content["support_needs"]["kinds"] == ["language", "childcare"]
    assert content["support_needs"]["notes"] == "Wednesdays"


def test_a_plan_before_the_richer_pop_has_empty_parts() -> None:
    content = a_plan().content()
    assert (content["career_question"], content["insights"], content["decisions"]) == (
        None,
        [],
        [],
    )
    assert content["support_needs"] is None


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda p: p.state_career_question(question="  ", actor="c", at=NOW), "question"),
        (lambda p: insight(p, text=" "), "text"),
        (lambda p: insight(p, dated=TODAY + timedelta(days=1)), "date"),
        (lambda p: decision(p, kind="wish"), "kind"),
        (lambda p: decision(p, reasons=""), "reasons"),
        (lambda p: decision(p, text="a\x00b"), "text"),
        (lambda p: needs(p, ["language", "tea"]), "kinds"),
        (lambda p: needs(p, ["language", "language"]), "kinds"),
        (lambda p: needs(p, ["other"]), "notes"),
    ],
)
def test_bad_input_is_refused_naming_the_field(command: Any, field: str) -> None:
    plan = a_plan()
    with pytest.raises(PlanningError) as refused:
        command(plan)
    assert (refused.value.code, refused.value.field) == ("invalid", field)
    assert plan.collect_events() == []


def test_the_same_question_or_needs_again_and_a_redelivery_change_nothing() -> None:
    plan = a_plan()
    plan.state_career_question(question="Q?", actor="c-1", at=NOW)
    needs(plan, ["mobility"], None)
    same = insight(plan)
    plan.collect_events()

    plan.state_career_question(question="Q?", actor="c-1", at=NOW)
    needs(plan, ["mobility"], None)
    insight(plan, insight_id=same)

    assert plan.collect_events() == []
    assert len(plan.insights) == 1


def test_every_kind_of_support_is_accepted() -> None:
    plan = a_plan()
    needs(plan, list(SUPPORT_KINDS), "Also a laptop")
    assert plan.support_needs is not None
    assert plan.support_needs.kinds == SUPPORT_KINDS


def test_a_change_after_agreement_revises_the_plan_and_the_version_keeps_the_former() -> None:
    plan = an_agreed_plan()
    decision(plan)
    events = plan.collect_events()
    assert [type(e) for e in events] == [Plan.Revised, Plan.DecisionRecorded]
    assert plan.status == "revised"
    assert plan.agreed_in_order()[0]["content"]["decisions"] == []


def test_a_closed_plan_refuses_the_new_parts() -> None:
    plan = a_plan()
    plan.close(reason=None, actor="c-1", at=NOW)
    plan.collect_events()
    for command in (
        lambda: plan.state_career_question(question="Q?", actor="c", at=NOW),
        lambda: insight(plan),
        lambda: decision(plan),
        lambda: needs(plan, ["language"]),
    ):
        with pytest.raises(PlanningError) as refused:
            command()
        assert refused.value.code == "plan-closed"
    assert plan.collect_events() == []


def test_the_parts_of_an_erased_client_replay_as_erased() -> None:
    # Once the client's key is gone each sealed field of a stored event reads ERASED,
    # the list of support kinds included: the plan still loads.
    plan = Plan.create(
        case_id=CASE_ID,
        client_id=CLIENT_ID,
        organisation="org-a",
        gaps=[],
        scores={},
        actor="intake",
        at=NOW,
    )
    plan.state_career_question(question="Q?", actor="c-1", at=NOW)
    insight(plan)
    decision(plan)
    needs(plan, ["language"], "Dutch")
    events = plan.collect_events()
    sealed = {1: ("question",), 2: ("text",), 3: ("text", "reasons"), 4: ("kinds", "notes")}
    for index, names in sealed.items():
        for name in names:
            object.__setattr__(events[index], name, "ERASED")

    content = replay(events).content()

    assert content["career_question"] == "ERASED"
    assert content["insights"][0]["text"] == "ERASED"
    assert (content["decisions"][0]["text"], content["decisions"][0]["reasons"]) == (
        "ERASED",
        "ERASED",
    )
    assert content["support_needs"]["kinds"] == "ERASED"
    assert content["support_needs"]["notes"] == "ERASED"


def test_the_printed_plan_shows_the_parts_escaped_and_omits_those_not_recorded() -> None:
    plan = a_plan()
    plan.state_career_question(question="Q?", actor="c-1", at=NOW)
    insight(plan, text="<script>alert(1)</script> helping")
    decision(plan, kind="choice", text="Care & cure", reasons="Because <b>")
    needs(plan, ["digital_skills", "other"], "A laptop")
    content = {**plan.content(), "status": plan.status, "gaps": [], "last_agreed": None}

    page = render(content, client_name=None, lang="fr", printed=TODAY, career_question="Q?")

    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; helping" in page
    assert "Care &amp; cure" in page and "Because &lt;b&gt;" in page
    assert "<h2>Réflexions et prises de conscience</h2>" in page
    assert "<strong>Choix</strong>" in page
    assert "<li>compétences numériques</li><li>autre</li>" in page
    assert "A laptop" in page
    bare = {**a_plan().content(), "status": "draft", "gaps": [], "last_agreed": None}
    empty = render(bare, client_name=None, lang="en", printed=TODAY)
    assert "Reflections and insights" not in empty and "Support I need" not in empty
