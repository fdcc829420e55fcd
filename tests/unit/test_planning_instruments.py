"""Instruments and their results in a plan, without a database (seed 003:
"beroepsoriëntatietest"; "Interpreteert de resultaten van verschillende instrumenten").

Given a plan with a goal, when an instrument's use is recorded, then it is kept with its
result (words, scores), the interpretation and the competences and goals it informs (a
record of the guidance: an agreed plan stays agreed); an interpretation may follow and
replace the former; bad input is refused naming the field and records nothing; the texts
and scores replay ERASED once the client's key is gone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.planning.domain import Plan, PlanningError, SmartPolicy
from shared.settings import DEFAULT_INSTRUMENTS, Settings

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CASE_ID = uuid.UUID("c0c0c0c0-1111-4222-8333-444444444444")
CLIENT_ID = uuid.UUID("a1a1a1a1-5555-4666-8777-888888888888")


def an_agreed_plan() -> tuple[Plan, uuid.UUID]:
    plan = Plan.create(
        case_id=CASE_ID,
        client_id=CLIENT_ID,
        organisation="org-a",
        gaps=[],
        scores={},
        actor="intake",
        at=NOW,
    )
    goal_id = uuid.uuid4()
    plan.choose_type(plan_type="reflection", actor="c-1", at=NOW)
    plan.add_goal(
        goal_id=goal_id,
        title="Choose a direction",
        specific="Pick two occupations in care to explore with job shadowing",
        measure="2 occupations chosen",
        target_date=TODAY + timedelta(days=60),
        competences=["work_exploration"],
        priority=1,
        policy=SmartPolicy(),
        actor="c-1",
        at=NOW,
    )
    for party in ("client", "counsellor"):
        plan.agree(party=party, actor="c-1", at=NOW)
    plan.collect_events()
    return plan, goal_id


def use(plan: Plan, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "use_id": uuid.uuid4(),
        "instrument": "riasec",
        "instrument_name": "RIASEC interest test (Holland codes)",
        "used_on": TODAY - timedelta(days=1),
        "result": "S-I-A",
        "scores": {"S": 38, "I": 31.5},
        "interpretation": None,
        "competences": ["quality_reflection"],
        "goal_ids": [],
        "actor": "c-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.record_instrument(**fields)
    return fields["use_id"]  # type: ignore[no-any-return]


def test_a_use_is_kept_and_interpreted_and_the_plan_stays_agreed() -> None:
    plan, goal_id = an_agreed_plan()
    revision = plan.revision

    use_id = use(plan, goal_ids=[goal_id])
    plan.interpret_instrument(
        use_id=use_id, interpretation="Points to care work", actor="c-1", at=NOW
    )
    plan.interpret_instrument(  # the same again: nothing
        use_id=use_id, interpretation="Points to care work", actor="c-1", at=NOW
    )

    names = [type(e).__name__ for e in plan.collect_events()]
    assert names == ["InstrumentUsed", "InstrumentInterpreted"]
    assert (plan.status, plan.revision) == ("agreed", revision)
    [kept] = plan.instruments_list()
    assert kept["use_id"] == use_id and kept["instrument"] == "riasec"
    assert kept["scores"] == {"S": 38, "I": 31.5}
    assert kept["interpretation"] == "Points to care work"
    assert kept["goal_ids"] == [goal_id] and kept["competences"] == ["quality_reflection"]
    assert "instruments" not in plan.content()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"used_on": TODAY + timedelta(days=1)}, "used_on"),
        ({"result": " ", "scores": None}, "result"),
        ({"result": None, "scores": {}}, "result"),
        ({"result": "a\x07b"}, "result"),
        ({"scores": {"S": "high"}}, "scores"),
        ({"scores": {"S": True}}, "scores"),
        ({"scores": {"": 1}}, "scores"),
        ({"scores": {f"s{i}": i for i in range(21)}}, "scores"),
        ({"competences": ["luck"]}, "competences"),
        ({"competences": ["networking", "networking"]}, "competences"),
        ({"goal_ids": [uuid.uuid4()]}, "goal_ids"),
    ],
)
def test_bad_input_is_refused_naming_its_field(overrides: dict[str, Any], field: str) -> None:
    plan, _ = an_agreed_plan()

    with pytest.raises(PlanningError) as refused:
        use(plan, **overrides)

    assert (refused.value.code, refused.value.field) == ("invalid", field)
    assert plan.collect_events() == []


def test_an_interpretation_needs_a_known_use_and_words() -> None:
    plan, _ = an_agreed_plan()
    use_id = use(plan)
    plan.collect_events()

    with pytest.raises(PlanningError) as refused:
        plan.interpret_instrument(use_id=uuid.uuid4(), interpretation="x", actor="c", at=NOW)
    assert (refused.value.code, refused.value.field) == ("not-found", "use_id")
    with pytest.raises(PlanningError) as refused:
        plan.interpret_instrument(use_id=use_id, interpretation=" ", actor="c", at=NOW)
    assert refused.value.field == "interpretation"
    assert plan.collect_events() == []


def test_a_use_of_an_erased_client_replays_as_erased() -> None:
    plan, _ = an_agreed_plan()
    use_id = use(plan, interpretation="First")
    plan.interpret_instrument(use_id=use_id, interpretation="Second", actor="c-1", at=NOW)
    used, interpreted = plan.collect_events()
    for name in ("result", "scores", "interpretation"):
        object.__setattr__(used, name, "ERASED")
    object.__setattr__(interpreted, "interpretation", "ERASED")
    again, _ = an_agreed_plan()
    used.mutate(again)
    interpreted.mutate(again)

    [kept] = again.instruments_list()
    assert (kept["result"], kept["scores"], kept["interpretation"]) == ("ERASED",) * 3
    assert kept["instrument"] == "riasec"


def test_the_agency_list_has_defaults_and_is_a_setting() -> None:
    assert {i.code for i in DEFAULT_INSTRUMENTS} >= {"riasec", "career-anchors"}
    settings = Settings(
        instruments=[{"code": "own-test", "name": "Our test", "kind": "aptitude"}]  # type: ignore[list-item]
    )
    assert [i.code for i in settings.instruments] == ["own-test"]
    with pytest.raises(ValueError):
        Settings(instruments=[{"code": "Bad Code", "name": "x", "kind": "other"}])  # type: ignore[list-item]
