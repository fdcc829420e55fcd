"""What a plan's actions produce, without a database (seed 002: "draw up a skills-based
CV", "write a job application"), and the outcome's new codes in the follow-up.

Given a plan with an action, when a product is recorded, then it is kept under its action
(a record of work done: an agreed plan stays agreed); an application names its employer and
job and moves on by its statuses; bad input is refused naming the field and records nothing;
a stored product replays ERASED once the client's key is gone; the printed plan lists the
products, escaped. A job outcome may name its contract; an outcome recorded before contracts
replays with none.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.followup.domain import FollowUp, FollowUpError
from services.planning.document import render
from services.planning.domain import APPLICATION_STATUSES, Plan, PlanningError, SmartPolicy
from shared.vocabulary import CONTRACT_TYPES, GUIDANCE_OUTCOMES

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CASE_ID = uuid.UUID("c0c0c0c0-1111-4222-8333-444444444444")
CLIENT_ID = uuid.UUID("a1a1a1a1-5555-4666-8777-888888888888")


def a_plan_with_an_action() -> tuple[Plan, uuid.UUID]:
    plan = Plan.create(
        case_id=CASE_ID,
        client_id=CLIENT_ID,
        organisation="org-a",
        gaps=[],
        scores={},
        actor="intake",
        at=NOW,
    )
    goal_id, action_id = uuid.uuid4(), uuid.uuid4()
    plan.choose_type(plan_type="action", actor="c-1", at=NOW)
    plan.add_goal(
        goal_id=goal_id,
        title="Find work in care",
        specific="Apply for care assistant jobs in residential care homes in Ghent",
        measure="5 applications sent",
        target_date=TODAY + timedelta(days=90),
        competences=["career_steering"],
        priority=1,
        policy=SmartPolicy(),
        actor="c-1",
        at=NOW,
    )
    plan.add_action(
        action_id=action_id,
        goal_id=goal_id,
        description="Draw up a skills-based CV and apply",
        owner="client",
        due_date=TODAY + timedelta(days=30),
        actor="c-1",
        at=NOW,
    )
    for party in ("client", "counsellor"):
        plan.agree(party=party, actor="c-1", at=NOW)
    plan.collect_events()
    return plan, action_id


def product(plan: Plan, action_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "product_id": uuid.uuid4(),
        "action_id": action_id,
        "kind": "application",
        "title": "Application as care assistant",
        "dated": TODAY - timedelta(days=2),
        "document_hash": None,
        "notes": None,
        "employer": "De Linde",
        "position": "Care assistant",
        "sent_on": TODAY - timedelta(days=1),
        "actor": "c-1",
        "at": NOW,
    }
    fields.update(overrides)
    plan.record_product(**fields)
    return fields["product_id"]  # type: ignore[no-any-return]


def test_a_skills_cv_and_an_application_are_kept_under_their_action_and_the_plan_stays_agreed() -> (
    None
):
    plan, action_id = a_plan_with_an_action()
    revision = plan.revision

    cv = product(
        plan,
        action_id,
        kind="skills_cv",
        title="Skills-based CV",
        employer=None,
        position=None,
        sent_on=None,
        notes="Care, planning, listening",
    )
    application = product(plan, action_id)

    events = plan.collect_events()
    assert [type(e).__name__ for e in events] == ["ProductRecorded", "ProductRecorded"]
    assert (plan.status, plan.revision) == ("agreed", revision), "no new revision"
    listed = plan.products_list()
    assert [p["product_id"] for p in listed] == [cv, application]
    assert listed[0]["application"] is None and listed[0]["notes"] == "Care, planning, listening"
    sent = listed[1]["application"]
    assert (sent["employer"], sent["position"], sent["status"]) == (
        "De Linde",
        "Care assistant",
        "sent",
    )
    assert sent["sent_on"] == TODAY - timedelta(days=1)
    assert "products" not in plan.content(), "not part of what both agreed to"


def test_an_application_moves_on_by_its_statuses_with_the_answer() -> None:
    plan, action_id = a_plan_with_an_action()
    draft = product(plan, action_id, sent_on=None)
    assert plan.products[draft].status == "draft"

    for status, day, answer in (
        ("sent", TODAY - timedelta(days=1), None),
        ("interview", TODAY, "Invited for Thursday"),
        ("interview", TODAY, "A second round"),
        ("offer", TODAY, "Offered a fixed-term contract"),
    ):
        plan.record_application_status(
            product_id=draft, status=status, on=day, answer=answer, actor="c-1", at=NOW
        )
    # The same step again (a redelivery) changes nothing.
    plan.record_application_status(
        product_id=draft,
        status="offer",
        on=TODAY,
        answer="Offered a fixed-term contract",
        actor="c-1",
        at=NOW,
    )

    steps = plan.products_list()[0]["application"]["steps"]
    assert [s["status"] for s in steps] == ["draft", "sent", "interview", "interview", "offer"]
    assert steps[2]["answer"] == "Invited for Thursday"
    assert plan.products[draft].sent_on == TODAY - timedelta(days=1)
    assert set(APPLICATION_STATUSES) >= {s["status"] for s in steps}


def refuses(plan: Plan, code: str, field: str, attempt: Any) -> None:
    with pytest.raises(PlanningError) as refused:
        attempt()
    assert (refused.value.code, refused.value.field) == (code, field)
    assert plan.collect_events() == [], "a refused command records nothing"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"kind": "diploma"}, "invalid", "kind"),
        ({"title": "  "}, "invalid", "title"),
        ({"title": "a\x07b"}, "invalid", "title"),
        ({"dated": TODAY + timedelta(days=1)}, "invalid", "date"),
        ({"employer": None}, "invalid", "employer"),
        ({"position": " "}, "invalid", "position"),
        ({"sent_on": TODAY + timedelta(days=1)}, "invalid", "sent_on"),
        ({"kind": "cv", "sent_on": None, "position": None}, "invalid", "employer"),
        ({"kind": "cv", "employer": None, "position": None}, "invalid", "sent_on"),
        ({"unknown_action": True}, "not-found", "action_id"),
    ],
)
def test_a_bad_product_is_refused_naming_its_field(
    overrides: dict[str, Any], code: str, field: str
) -> None:
    plan, action_id = a_plan_with_an_action()
    if overrides.pop("unknown_action", False):
        action_id = uuid.uuid4()

    refuses(plan, code, field, lambda: product(plan, action_id, **overrides))


def test_a_cancelled_action_produces_nothing_and_a_closed_plan_takes_no_product() -> None:
    plan, action_id = a_plan_with_an_action()
    plan.cancel_action(action_id=action_id, reason=None, actor="c-1", at=NOW)
    plan.collect_events()

    refuses(plan, "action-closed", "action_id", lambda: product(plan, action_id))

    plan, action_id = a_plan_with_an_action()
    plan.close(reason=None, actor="c-1", at=NOW)
    plan.collect_events()
    with pytest.raises(PlanningError) as refused:
        product(plan, action_id)
    assert refused.value.code == "plan-closed"


@pytest.mark.parametrize(
    ("status", "on", "field"),
    [
        ("sent", TODAY, "status"),  # already sent
        ("hired", TODAY, "status"),
        ("interview", TODAY + timedelta(days=1), "on"),
        ("interview", TODAY - timedelta(days=5), "on"),  # before it was sent
    ],
)
def test_a_status_an_application_cannot_take_is_refused(status: str, on: date, field: str) -> None:
    plan, action_id = a_plan_with_an_action()
    sent = product(plan, action_id)
    plan.collect_events()

    refuses(
        plan,
        "invalid",
        field,
        lambda: plan.record_application_status(
            product_id=sent, status=status, on=on, answer=None, actor="c-1", at=NOW
        ),
    )


def test_only_an_application_has_a_status_and_a_rejection_ends_it() -> None:
    plan, action_id = a_plan_with_an_action()
    cv = product(plan, action_id, kind="cv", employer=None, position=None, sent_on=None)
    sent = product(plan, action_id)
    plan.record_application_status(
        product_id=sent, status="rejected", on=TODAY, answer=None, actor="c-1", at=NOW
    )
    plan.collect_events()

    def status_of(product_id: uuid.UUID, status: str) -> Any:
        return lambda: plan.record_application_status(
            product_id=product_id, status=status, on=TODAY, answer=None, actor="c-1", at=NOW
        )

    refuses(plan, "invalid", "product_id", status_of(cv, "sent"))
    refuses(plan, "invalid", "status", status_of(sent, "interview"))
    refuses(plan, "not-found", "product_id", status_of(uuid.uuid4(), "sent"))


def test_a_product_of_an_erased_client_replays_as_erased() -> None:
    plan, action_id = a_plan_with_an_action()
    product_id = product(plan, action_id, notes="Notes")
    plan.record_application_status(
        product_id=product_id, status="interview", on=TODAY, answer="Yes", actor="c-1", at=NOW
    )
    events = plan.collect_events()
    for name in ("title", "notes", "employer", "position"):
        object.__setattr__(events[0], name, "ERASED")
    object.__setattr__(events[1], "answer", "ERASED")
    again, _ = a_plan_with_an_action()
    for event in events:
        event.mutate(again)

    [kept] = again.products_list()
    assert (kept["title"], kept["notes"]) == ("ERASED", "ERASED")
    application = kept["application"]
    assert (application["employer"], application["position"]) == ("ERASED", "ERASED")
    assert application["steps"][-1]["answer"] == "ERASED"


def test_the_printed_plan_lists_the_products_escaped() -> None:
    plan, action_id = a_plan_with_an_action()
    product(plan, action_id, employer="<b>Linde</b>", title="Application <i>")
    page = render(
        {
            **plan.content(),
            "status": plan.status,
            "gaps": [],
            "last_agreed": None,
            "products": plan.products_list(),
        },
        client_name=None,
        lang="nl",
        printed=TODAY,
    )

    assert "Wat ik maakte en verstuurde" in page
    assert "Sollicitatie" in page and "verstuurd" in page
    assert "&lt;b&gt;Linde&lt;/b&gt;" in page and "<b>Linde" not in page
    assert "Application &lt;i&gt;" in page


# -- the outcome's codes ------------------------------------------------------------------
def a_followup() -> FollowUp:
    followup = FollowUp.open(
        case_id=CASE_ID,
        client_id=CLIENT_ID,
        organisation="org-a",
        counsellor="c-1",
        agreed_on=TODAY - timedelta(days=30),
        plan_version=4,
        actions=[],
        at=NOW - timedelta(days=30),
    )
    followup.collect_events()
    return followup


def test_the_outcomes_include_volunteering_and_still_searching_and_a_job_names_its_contract() -> (
    None
):
    assert {"volunteering", "still_searching"} <= set(GUIDANCE_OUTCOMES)
    followup = a_followup()

    followup.record_outcome(
        outcome="employed", contract="fixed_term", on=TODAY, actor="c-1", at=NOW
    )

    [event] = followup.collect_events()
    assert (event.outcome, event.contract) == ("employed", "fixed_term")
    assert followup.outcome is not None and followup.outcome["contract"] == "fixed_term"
    assert "fixed_term" in CONTRACT_TYPES


@pytest.mark.parametrize(
    ("outcome", "contract"), [("employed", "zero_hours"), ("still_searching", "permanent")]
)
def test_a_contract_is_one_of_the_kinds_and_only_a_jobs(outcome: str, contract: str) -> None:
    followup = a_followup()

    with pytest.raises(FollowUpError) as refused:
        followup.record_outcome(outcome=outcome, contract=contract, on=TODAY, actor="c-1", at=NOW)

    assert refused.value.field == "contract"
    assert followup.collect_events() == []


def test_an_outcome_recorded_before_contracts_replays_with_none() -> None:
    state: dict[str, Any] = {"outcome": "employed", "on": TODAY}

    FollowUp.OutcomeRecorded.upcast_v1_v2(state)

    assert state["contract"] is None
    assert FollowUp.OutcomeRecorded.class_version == 2
