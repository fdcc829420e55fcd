"""Follow-up's use cases and its reactions to planning's events, on the library's
in-memory persistence (a real key vault in memory: personal fields are sealed as in
production). A reaction is fed as its consumer feeds it (`tests/reacting.py`): a
CloudEvents envelope whose data validates as the contract `PLANS` names, the handler's
aggregates then saved. The commands run on the follow-up as the API's routes run them:
`app.change(load, If-Match, command)`.

Not here (they read follow-up's SQL read models): the lists, the statistics and the
report (`queries.py`), the acceptance date an outcome is checked against (the route reads
it from `followup.accepted_cases`; here it is given), the overdue job (it walks
`followups_view`), the export, and the read models `followup-cases`,
`followup-statistics` and the erasure's deletions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

import pytest

from services.followup.application import FollowUpApplication
from services.followup.consumers import PLANS
from services.followup.domain import FollowUp, action_id_for_todo, followup_id_for
from shared.contracts.planning import (
    ActionAddedV1,
    ActionCancelledV1,
    ActionCompletedV1,
    AgreedAction,
    PlanAgreedV1,
    PlanRevisedV1,
)
from shared.errors import NotFound, VersionConflict
from shared.messaging.envelope import CloudEvent
from shared.privacy import ERASED
from shared.settings import Settings
from tests.reacting import NOW, deliver, envelope, events_of, sealed

ORG, ACTOR = "org-a", "c.jansen"
TODAY = NOW.date()


def followup_app(settings: Settings | None = None) -> FollowUpApplication:
    """Follow-up in memory, its clock stopped at NOW (dates in the tests are relative to it)."""
    app = FollowUpApplication.in_memory(settings)
    app.clock = lambda: NOW
    return app


@pytest.fixture
def followup() -> Iterator[FollowUpApplication]:
    app = followup_app()
    yield app
    app.close()


# -- set-ups -----------------------------------------------------------------------------------
class Case:
    """A case of ORG whose plan planning publishes news of (ids, and the plan's goal)."""

    def __init__(self) -> None:
        self.case_id, self.client_id = uuid.uuid4(), uuid.uuid4()
        self.plan_id, self.goal_id = uuid.uuid4(), uuid.uuid4()

    def ids(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "case_id": self.case_id, "client_id": self.client_id}

    def action(
        self, status: Literal["open", "completed", "cancelled"] = "open", days: int = 30
    ) -> AgreedAction:
        return AgreedAction(
            action_id=uuid.uuid4(),
            goal_id=self.goal_id,
            owner="client",
            due_date=TODAY + timedelta(days=days),
            status=status,
        )

    def agreed(
        self, actions: list[AgreedAction], *, version: int = 1, position: int = 1
    ) -> CloudEvent:
        agreement = PlanAgreedV1(
            occurred_at=NOW,
            actor=ACTOR,
            organisation=ORG,
            version=version,
            actions=actions,
            **self.ids(),
        )
        return envelope(agreement, position)

    def action_added(self, app: FollowUpApplication, position: int) -> tuple[CloudEvent, uuid.UUID]:
        event_id, action_id = uuid.uuid4(), uuid.uuid4()
        added = ActionAddedV1(
            occurred_at=NOW,
            actor=ACTOR,
            action_id=action_id,
            goal_id=self.goal_id,
            description=sealed(app, self.client_id, event_id, "description", "Visit a school"),
            owner="counsellor",
            due_date=TODAY + timedelta(days=20),
            **self.ids(),
        )
        return envelope(added, position, event_id), action_id

    def completed(self, action_id: uuid.UUID, position: int) -> CloudEvent:
        done = ActionCompletedV1(occurred_at=NOW, actor=ACTOR, action_id=action_id, **self.ids())
        return envelope(done, position)

    def cancelled(self, action_id: uuid.UUID, position: int) -> CloudEvent:
        cancelled = ActionCancelledV1(
            occurred_at=NOW, actor=ACTOR, action_id=action_id, reason=None, **self.ids()
        )
        return envelope(cancelled, position)

    def revised(self, from_version: int, position: int) -> CloudEvent:
        revised = PlanRevisedV1(
            occurred_at=NOW, actor=ACTOR, from_version=from_version, **self.ids()
        )
        return envelope(revised, position)


def opened(app: FollowUpApplication, *actions: AgreedAction) -> tuple[Case, FollowUp]:
    """A case whose plan was agreed (with these actions): its follow-up opened."""
    case = Case()
    deliver(app, PLANS, case.agreed(list(actions)))
    return case, app.followup(followup_id_for(case.case_id), ORG)


def run(
    app: FollowUpApplication,
    followup_id: uuid.UUID,
    command: Callable[[FollowUp, datetime], object],
    version: int | None = None,
) -> FollowUp:
    """A command on the follow-up as a route runs it (`version`: the request's If-Match)."""
    _, found = app.change(lambda: app.followup(followup_id, ORG), version, command)
    return found


def statuses(app: FollowUpApplication, case: Case) -> dict[uuid.UUID, str]:
    found = app.existing(case.case_id)
    assert found is not None
    return {action_id: a["status"] for action_id, a in found.actions.items()}


# -- planning's agreed plan opens the follow-up ------------------------------------------------
def test_an_agreed_plan_opens_the_cases_follow_up_with_its_actions_and_check_ins(
    followup: FollowUpApplication,
) -> None:
    case = Case()
    first, done = case.action(), case.action(status="completed")
    event = case.agreed([first, done], version=3)
    opened_now = deliver(followup, PLANS, event)
    assert [f.id for f in opened_now] == [followup_id_for(case.case_id)]
    found = followup.followup(followup_id_for(case.case_id), ORG)
    assert (found.case_id, found.client_id, found.organisation, found.counsellor) == (
        case.case_id,
        case.client_id,
        ORG,
        ACTOR,
    )
    assert (found.status, found.plan_status, found.plan_version, found.agreed_on) == (
        "open",
        "agreed",
        3,
        TODAY,
    )
    assert statuses(followup, case) == {first.action_id: "open", done.action_id: "completed"}
    assert [(c.number, c.due_on) for c in found.checkins] == [
        (1, TODAY + timedelta(days=14)),
        (2, TODAY + timedelta(days=91)),
        (3, TODAY + timedelta(days=182)),
    ]
    assert deliver(followup, PLANS, event) == []
    assert events_of(followup, found.id) == ["FollowUp.Opened"]


def test_the_check_ins_of_a_new_follow_up_follow_the_settings() -> None:
    app = followup_app(Settings(followup_checkin_offsets_days=[30, 7]))
    try:
        _, found = opened(app)
        assert [c.due_on for c in found.checkins] == [
            TODAY + timedelta(days=7),
            TODAY + timedelta(days=30),
        ]
    finally:
        app.close()


def test_a_newer_agreement_notes_its_version_and_actions_and_an_older_one_changes_nothing(
    followup: FollowUpApplication,
) -> None:
    case = Case()
    first = case.action()
    deliver(followup, PLANS, case.agreed([first], version=1, position=1))
    completed = first.model_copy(update={"status": "completed"})
    added = case.action(days=40)
    newer = case.agreed([completed, added], version=2, position=5)
    assert deliver(followup, PLANS, newer)
    found = followup.existing(case.case_id)
    assert found is not None and (found.plan_version, found.plan_status) == (2, "agreed")
    assert statuses(followup, case) == {first.action_id: "completed", added.action_id: "open"}
    version = found.version
    assert deliver(followup, PLANS, newer) == []
    assert deliver(followup, PLANS, case.agreed([first], version=1, position=1)) == []
    found = followup.existing(case.case_id)
    assert found is not None and found.version == version and found.plan_version == 2


# -- the plan's later news ---------------------------------------------------------------------
def test_an_action_added_to_the_agreed_plan_joins_the_follow_up_once(
    followup: FollowUpApplication,
) -> None:
    case, found = opened(followup)
    event, action_id = case.action_added(followup, position=2)
    assert deliver(followup, PLANS, event)
    after = followup.existing(case.case_id)
    assert after is not None
    assert after.actions[action_id] == {
        "action_id": action_id,
        "goal_id": case.goal_id,
        "owner": "counsellor",
        "due_date": TODAY + timedelta(days=20),
        "status": "open",
        "check": None,
    }
    assert deliver(followup, PLANS, event) == []
    assert events_of(followup, found.id) == ["FollowUp.Opened", "FollowUp.PlanActionAdded"]


def test_a_completed_action_is_noted_once_and_its_later_cancellation_changes_nothing(
    followup: FollowUpApplication,
) -> None:
    action = Case().action()
    case, found = opened(followup, action)
    event = case.completed(action.action_id, position=2)
    assert deliver(followup, PLANS, event)
    assert statuses(followup, case) == {action.action_id: "completed"}
    assert deliver(followup, PLANS, event) == []
    assert deliver(followup, PLANS, case.cancelled(action.action_id, position=3)) == []
    assert statuses(followup, case) == {action.action_id: "completed"}
    assert events_of(followup, found.id) == ["FollowUp.Opened", "FollowUp.PlanActionCompleted"]


def test_a_cancelled_action_is_noted_once_and_news_of_an_unknown_action_changes_nothing(
    followup: FollowUpApplication,
) -> None:
    action = Case().action()
    case, found = opened(followup, action)
    event = case.cancelled(action.action_id, position=2)
    assert deliver(followup, PLANS, event)
    assert statuses(followup, case) == {action.action_id: "cancelled"}
    assert deliver(followup, PLANS, event) == []
    assert deliver(followup, PLANS, case.completed(action.action_id, position=3)) == []
    unknown = uuid.uuid4()
    assert deliver(followup, PLANS, case.completed(unknown, position=4)) == []
    assert deliver(followup, PLANS, case.cancelled(unknown, position=5)) == []
    assert events_of(followup, found.id) == ["FollowUp.Opened", "FollowUp.PlanActionCancelled"]


def test_a_revised_plan_is_noted_once_and_an_older_revision_does_not_undo_a_newer_agreement(
    followup: FollowUpApplication,
) -> None:
    case, found = opened(followup)
    event = case.revised(from_version=1, position=2)
    assert deliver(followup, PLANS, event)
    after = followup.existing(case.case_id)
    assert after is not None and (after.plan_status, after.plan_version) == ("revised", 1)
    assert deliver(followup, PLANS, event) == []
    deliver(followup, PLANS, case.agreed([], version=2, position=3))
    assert deliver(followup, PLANS, event) == []
    after = followup.existing(case.case_id)
    assert after is not None and (after.plan_status, after.plan_version) == ("agreed", 2)
    assert events_of(followup, found.id) == [
        "FollowUp.Opened",
        "FollowUp.PlanRevised",
        "FollowUp.PlanReagreed",
    ]


def test_plan_news_of_a_case_without_an_agreed_plan_changes_nothing(
    followup: FollowUpApplication,
) -> None:
    case = Case()
    added, action_id = case.action_added(followup, position=1)
    for event in (
        added,
        case.completed(action_id, position=2),
        case.cancelled(action_id, position=3),
        case.revised(from_version=1, position=4),
    ):
        assert deliver(followup, PLANS, event) == []
    assert followup.existing(case.case_id) is None


# -- finding a follow-up -----------------------------------------------------------------------
def test_a_follow_up_is_found_by_its_organisation_only_and_reads_as_absent_elsewhere(
    followup: FollowUpApplication,
) -> None:
    case, found = opened(followup)
    with pytest.raises(NotFound) as elsewhere:
        followup.followup(found.id, "org-b")
    with pytest.raises(NotFound) as absent:
        followup.followup(found.id, "org-c")
    assert str(elsewhere.value) == str(absent.value) == f"No follow-up {found.id}."
    missing = uuid.uuid4()
    with pytest.raises(NotFound) as never:
        followup.followup(missing, ORG)
    assert str(never.value) == f"No follow-up {missing}."
    assert followup.followup_for_case(case.case_id, "org-b") is None
    assert followup.followup_for_case(uuid.uuid4(), ORG) is None
    for_case = followup.followup_for_case(case.case_id, ORG)
    assert for_case is not None and for_case.id == found.id
    # What reactions use: the case's follow-up, whatever its organisation.
    existing = followup.existing(case.case_id)
    assert existing is not None and existing.organisation == ORG
    assert followup.existing(uuid.uuid4()) is None


# -- commands on the follow-up, as the routes run them -------------------------------------------
def test_contact_notes_are_stored_sealed_and_read_ERASED_once_the_clients_key_is_gone(
    followup: FollowUpApplication,
) -> None:
    case, found = opened(followup)
    contact_id = uuid.uuid4()
    run(
        followup,
        found.id,
        lambda f, at: f.record_contact(
            contact_id=contact_id,
            channel="phone",
            reached=True,
            notes="Started at the school",
            actor=ACTOR,
            at=at,
        ),
    )
    assert followup.followup(found.id, ORG).contacts[0].notes == "Started at the school"
    stored = list(followup.recorder.select_events(found.id))[-1]
    assert b"Started at the school" not in stored.state and b"$sealed" in stored.state
    followup.vault.destroy(case.client_id, by="system", reason="erasure")
    contact = followup.followup(found.id, ORG).contacts[0]
    assert (contact.notes, contact.channel, contact.reached) == (ERASED, "phone", True)


def test_an_agreed_todo_is_stored_sealed_under_the_action_id_planning_will_give_it(
    followup: FollowUpApplication,
) -> None:
    case, found = opened(followup)
    todo_id = uuid.uuid4()
    after = run(
        followup,
        found.id,
        lambda f, at: f.agree_todo(
            todo_id=todo_id,
            goal_id=case.goal_id,
            description="Call the job centre",
            owner="client",
            due_date=TODAY + timedelta(days=10),
            actor=ACTOR,
            at=at,
        ),
    )
    todo = after.todos[todo_id]
    assert (todo["action_id"], todo["description"]) == (
        action_id_for_todo(todo_id),
        "Call the job centre",
    )
    stored = list(followup.recorder.select_events(found.id))[-1]
    assert b"Call the job centre" not in stored.state
    assert events_of(followup, found.id)[-1] == "FollowUp.ToDoAgreed"


def test_a_command_at_a_stale_version_is_refused_and_changes_nothing(
    followup: FollowUpApplication,
) -> None:
    _, found = opened(followup)

    def outcome(f: FollowUp, at: datetime) -> None:
        f.record_outcome(outcome="employed", on=TODAY, actor=ACTOR, at=at, accepted_on=None)

    with pytest.raises(VersionConflict):
        run(followup, found.id, outcome, version=found.version + 1)
    assert followup.followup(found.id, ORG).outcome is None
    assert run(followup, found.id, outcome, version=found.version).outcome is not None


def test_outcome_and_feedback_close_the_follow_up_and_aftercare_reopens_it(
    followup: FollowUpApplication,
) -> None:
    _, found = opened(followup)
    run(
        followup,
        found.id,
        lambda f, at: f.record_outcome(
            outcome="employed",
            on=TODAY - timedelta(days=3),
            actor=ACTOR,
            at=at,
            accepted_on=TODAY - timedelta(days=60),
        ),
    )
    closed = run(
        followup,
        found.id,
        lambda f, at: f.give_feedback(
            satisfaction=4,
            self_knowledge_improved=True,
            confidence_improved=False,
            comments="Helpful",
            actor="client",
            at=at,
        ),
    )
    assert closed.status == "closed" and closed.closed is not None
    assert (closed.closed["rule"], closed.closed["closed_by"], closed.closed["reason"]) == (
        "outcome_and_feedback",
        "feedback",
        "completed",
    )
    checkin_id, reopened = followup.change(
        lambda: followup.followup(found.id, ORG),
        None,
        lambda f, at: f.request_aftercare(due_on=TODAY + timedelta(days=5), actor="client", at=at),
    )
    loaded = followup.followup(found.id, ORG)
    assert loaded.status == "open" and loaded.closed is None
    assert loaded.checkins[-1].checkin_id == checkin_id and loaded.checkins[-1].requested
    assert events_of(followup, found.id)[-3:] == [
        "FollowUp.FeedbackGiven",
        "FollowUp.FollowUpClosed",
        "FollowUp.AftercareRequested",
    ]
    assert reopened.version == loaded.version
