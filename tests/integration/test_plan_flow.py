"""Intake and planning together, over the real NATS: the plan follows the accepted case,
the case's phase follows the plan, a redelivered `CaseAccepted` creates nothing, and what
planning publishes keeps to the contract with every personal text sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from services.intake.consumers import PLAN_PHASE
from shared.messaging.envelope import CloudEvent, stream_name
from shared.messaging.event_consumer import EventConsumer
from shared.privacy.sealing import open_sealed
from tests.conftest import stream_messages
from tests.scenarios import (
    INTAKE,
    a_goal,
    agree_both,
    an_accepted_case,
    an_action,
    days,
    get_plan,
    plan_events,
    send,
    wait_for_plan,
)
from tests.scenarios import PLANNING as BASE
from tests.support import bearer, envelope, eventually, new_org

FEED_SOURCE = "planflowtest"
PLANNING_EVENTS = re.compile(r"^guidance\.planning\.[A-Za-z]+\.v[0-9]+$")


async def case_phase(api: httpx.AsyncClient, headers: dict[str, str], case_id: str) -> str:
    r = await api.get(f"{INTAKE}/cases/{case_id}", headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["phase"])


async def wait_for_phase(
    api: httpx.AsyncClient, headers: dict[str, str], case_id: str, phase: str
) -> None:
    async def reached() -> bool:
        return await case_phase(api, headers, case_id) == phase

    await eventually(reached, f"case {case_id} in phase {phase}")


# -- the case's phase follows the plan ------------------------------------------------------------
async def test_the_case_phase_follows_the_plan_to_synthesis_aftercare_and_back(
    api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    assert await case_phase(api, headers, case_id) == "deepening"

    plan = await wait_for_plan(planning_api, headers, case_id)
    plan_id = plan["plan_id"]
    assert plan["status"] == "draft"
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "combined"})
    assert await case_phase(api, headers, case_id) == "deepening"  # a type is not a goal yet

    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, a_goal(), 201))[
        "goal_id"
    ]
    await wait_for_phase(api, headers, case_id, "synthesis")

    await send(
        planning_api, "POST", f"/plans/{plan_id}/goals/{goal_id}/actions", headers, an_action(), 201
    )
    await agree_both(planning_api, headers, plan_id)
    await wait_for_phase(api, headers, case_id, "aftercare")

    out = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal_id}/actions",
        headers,
        an_action(description="Call the school's head of staff", owner="counsellor"),
        201,
    )
    assert out["status"] == "revised"
    await wait_for_phase(api, headers, case_id, "synthesis")

    await agree_both(planning_api, headers, plan_id)
    await wait_for_phase(api, headers, case_id, "aftercare")
    r = await api.get(f"{INTAKE}/cases/{case_id}", headers=headers)
    assert (r.json()["status"], r.json()["phase"]) == ("accepted", "aftercare")


async def test_a_plan_revised_and_agreed_again_at_once_leaves_the_case_in_aftercare(
    api: httpx.AsyncClient,
    intake_app: Any,
    planning_api: httpx.AsyncClient,
    token: Any,
    js: Any,
) -> None:
    """Revised and agreed again at once, through the real services: PlanRevised and
    PlanAgreed reach intake close together. (They are seldom fetched in one batch this way;
    the feed below makes sure of it.)"""
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "action"})
    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, a_goal(), 201))[
        "goal_id"
    ]
    await agree_both(planning_api, headers, plan_id)
    await wait_for_phase(api, headers, case_id, "aftercare")

    await send(
        planning_api, "POST", f"/plans/{plan_id}/goals/{goal_id}/actions", headers, an_action(), 201
    )
    await agree_both(planning_api, headers, plan_id)

    async def last_of(event_type: str) -> dict[str, Any] | None:
        try:
            msg = await js.get_last_msg("GUIDANCE_PLANNING", f"guidance.planning.{event_type}")
        except Exception:
            return None
        env = envelope(msg)
        return env if env["subject"] == case_id else None

    revised = await eventually(lambda: last_of("PlanRevised"), "PlanRevised published")
    agreed = await eventually(lambda: last_of("PlanAgreed"), "PlanAgreed published")
    assert revised["position"] < agreed["position"]
    recorder = intake_app.state.application.process_recorder
    positions = [revised["position"], agreed["position"]]

    async def both_taken_in() -> bool:
        done: set[int] = await asyncio.to_thread(recorder.tracked, "intake-plan-phase", positions)
        return done == set(positions)

    await eventually(both_taken_in, "intake to take in PlanRevised and PlanAgreed")
    assert await case_phase(api, headers, case_id) == "aftercare"


# What each of planning's events carries besides the plan (personal texts as erased).
PLAN_EVENT_DATA: dict[str, dict[str, Any]] = {
    "GoalAdded": {
        "goal_id": str(uuid.uuid4()),
        "title": "ERASED",
        "specific": "ERASED",
        "measure": "ERASED",
        "target_date": "2030-01-01",
        "competences": ["networking"],
        "priority": 1,
    },
    "PlanRevised": {"from_version": 1},
    "PlanAgreed": {"organisation": "feed", "version": 1, "actions": []},
}


def plan_event(event_type: str, case_id: str) -> dict[str, Any]:
    """A whole event of planning's contract for the case (intake validates it)."""
    return {
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor": "test",
        "plan_id": str(uuid.uuid4()),
        "case_id": case_id,
        "client_id": str(uuid.uuid4()),
        **PLAN_EVENT_DATA[event_type],
    }


class PlanFeed:
    """Planning's events for intake's reactions on a stream of this module's own, so a test
    decides what arrives together and in which order: `feed(case_id, *(type, offset))`
    publishes them all first, then lets a consumer with intake's reactions take them in
    (in one fetched batch) and stop. Positions lie beyond any real one of planning's log."""

    def __init__(self, js: Any, intake: Any) -> None:
        self.js = js
        self.base = 2**62 + uuid.uuid4().int % 2**40
        contracts = {c.event_type: c for c in PLAN_PHASE.handlers}

        def react(event: CloudEvent) -> Any:
            contract = contracts[event.event_type]
            return PLAN_PHASE.handlers[contract](intake, contract.model_validate(event.data), event)

        self.consumer = EventConsumer(
            f"phase-feed-{uuid.uuid4().hex[:6]}",
            js,
            intake,
            FEED_SOURCE,
            {t: react for t in contracts},
            poll_seconds=0.2,
        )

    async def __call__(self, case_id: str, *events: tuple[str, int]) -> None:
        for event_type, offset in events:
            env = CloudEvent(
                id=uuid.uuid4(),
                source=f"/guidance/{FEED_SOURCE}",
                type=f"guidance.{FEED_SOURCE}.{event_type}.v1",
                subject=case_id,
                time=datetime.now(UTC),
                position=self.base + offset,
                data=plan_event(event_type, case_id),
            )
            await self.js.publish(f"guidance.{FEED_SOURCE}.{event_type}", env.to_bytes())
        consumer = self.consumer
        target = consumer.applied + consumer.duplicates + len(events)
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:

            async def taken_in() -> bool:
                assert not task.done(), task
                return consumer.applied + consumer.duplicates >= target

            await eventually(taken_in, "the fed plan events to be consumed")
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def feed(js: Any, intake_app: Any) -> AsyncIterator[PlanFeed]:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(stream_name(FEED_SOURCE))
    await js.add_stream(
        StreamConfig(name=stream_name(FEED_SOURCE), subjects=[f"guidance.{FEED_SOURCE}.>"])
    )
    yield PlanFeed(js, intake_app.state.application)
    await js.delete_stream(stream_name(FEED_SOURCE))


async def test_fed_plan_events_move_the_phase_and_redeliveries_or_late_news_change_nothing(
    api: httpx.AsyncClient, token: Any, feed: PlanFeed
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    await feed(case_id, ("GoalAdded", 1))
    assert await case_phase(api, headers, case_id) == "synthesis"
    await feed(case_id, ("PlanAgreed", 2))
    assert await case_phase(api, headers, case_id) == "aftercare"
    await feed(case_id, ("GoalAdded", 1), ("PlanAgreed", 2))  # again: nothing changes
    assert await case_phase(api, headers, case_id) == "aftercare"
    await feed(case_id, ("PlanRevised", 3))
    assert await case_phase(api, headers, case_id) == "synthesis"
    await feed(case_id, ("PlanRevised", 3))  # a redelivery: nothing changes
    await feed(case_id, ("PlanAgreed", 0))  # older than the revision: late news, ignored
    assert await case_phase(api, headers, case_id) == "synthesis"


async def test_a_revision_and_a_new_agreement_in_one_fetched_batch_end_in_aftercare(
    api: httpx.AsyncClient, token: Any, feed: PlanFeed
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    await feed(case_id, ("GoalAdded", 1), ("PlanAgreed", 2))
    assert await case_phase(api, headers, case_id) == "aftercare"

    await feed(case_id, ("PlanRevised", 3), ("PlanAgreed", 4))

    assert await case_phase(api, headers, case_id) == "aftercare"


async def test_a_revision_arriving_after_the_newer_agreement_changes_nothing(
    api: httpx.AsyncClient, token: Any, feed: PlanFeed
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    await feed(case_id, ("GoalAdded", 1))
    await feed(case_id, ("PlanAgreed", 2))
    assert await case_phase(api, headers, case_id) == "aftercare"

    # Revised (3) and agreed again (4), but 3 is redelivered late, after 4.
    await feed(case_id, ("PlanAgreed", 4))
    await feed(case_id, ("PlanRevised", 3))

    assert await case_phase(api, headers, case_id) == "aftercare"


# -- redelivery -----------------------------------------------------------------------------------
async def test_a_redelivered_case_accepted_creates_no_second_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    token: Any,
    js: Any,
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    plan = await wait_for_plan(planning_api, headers, case_id)
    plan_id = plan["plan_id"]
    before = (await get_plan(planning_api, plan_id, headers)).json()
    count = await plan_events(planning_app, plan_id)
    assert (before["version"], count) == (1, 1)

    accepted = [
        m
        for m in await stream_messages(js, "GUIDANCE_INTAKE")
        if m.subject == "guidance.intake.CaseAccepted" and envelope(m)["subject"] == case_id
    ]
    assert len(accepted) == 1, accepted
    [original] = accepted
    assert original.headers["Nats-Msg-Id"] == envelope(original)["id"]

    consumer = planning_app.state.consumers["planning-case-accepted"]
    duplicates = consumer.duplicates
    # Another Nats-Msg-Id, so that the stream keeps the copy and delivers it again.
    ack = await js.publish(
        "guidance.intake.CaseAccepted",
        original.data,
        headers={"Nats-Msg-Id": f"redelivery-{uuid.uuid4()}"},
    )
    assert not ack.duplicate

    async def seen_again() -> bool:
        return bool(consumer.duplicates > duplicates)

    await eventually(seen_again, "the redelivery to be consumed")
    after = (await get_plan(planning_api, plan_id, headers)).json()
    assert after == before
    assert await plan_events(planning_app, plan_id) == count
    r = await planning_api.get(f"{BASE}/plans", params={"case_id": case_id}, headers=headers)
    assert [p["plan_id"] for p in r.json()] == [plan_id]
    rows = await planning_app.state.runtime.pool.fetchval(
        "SELECT count(*) FROM planning.plans_view WHERE case_id = $1", uuid.UUID(case_id)
    )
    assert rows == 1


async def test_case_accepted_again_under_a_new_id_still_creates_no_second_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    token: Any,
    js: Any,
) -> None:
    """Not a redelivery of the same message but the same fact anew (another event id and log
    position): the plan's id follows from the case's, so there is still one plan."""
    headers = bearer(token("counsellor", org=new_org()))
    _, case_id = await an_accepted_case(api, headers)
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    before = (await get_plan(planning_api, plan_id, headers)).json()

    [original] = [
        m
        for m in await stream_messages(js, "GUIDANCE_INTAKE")
        if m.subject == "guidance.intake.CaseAccepted" and envelope(m)["subject"] == case_id
    ]
    again = envelope(original)
    again["id"] = str(uuid.uuid4())
    # A position far beyond anything intake's log will reach, so no real event is shadowed.
    again["position"] = 2**62 + uuid.uuid4().int % 2**40
    again["data"]["gaps"] = ["work_exploration"]
    consumer = planning_app.state.consumers["planning-case-accepted"]
    applied = consumer.applied
    await js.publish(
        "guidance.intake.CaseAccepted",
        json.dumps(again).encode(),
        headers={"Nats-Msg-Id": again["id"]},
    )

    async def taken_in() -> bool:
        return bool(consumer.applied > applied)

    await eventually(taken_in, "the second CaseAccepted to be consumed")
    assert (await get_plan(planning_api, plan_id, headers)).json() == before
    assert await plan_events(planning_app, plan_id) == 1


# -- what planning publishes ----------------------------------------------------------------------
async def test_published_plan_events_keep_the_contract_and_seal_every_text(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    token: Any,
    js: Any,
) -> None:
    org = new_org()
    headers = bearer(token("counsellor", org=org, sub="counsellor-7"))
    client_id, case_id = await an_accepted_case(api, headers)
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    marker = uuid.uuid4().hex[:10]
    title = f"Goal title {marker}"
    specific = f"Specific description of the goal {marker}"
    measure = f"3 interviews {marker}"
    descriptions = [f"First action {marker}", f"Second action {marker}", f"Third action {marker}"]
    reason = f"Cancel reason {marker}"

    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "action"})
    goal = a_goal(title=title, specific=specific, measure=measure)
    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, goal, 201))[
        "goal_id"
    ]
    goal2 = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals",
            headers,
            a_goal(title=f"Second goal {marker}", priority=2),
            201,
        )
    )["goal_id"]
    action_ids = []
    for description, owner, due in zip(
        descriptions,
        ("client", "counsellor", "partner"),
        (days(10), days(20), days(30)),
        strict=True,
    ):
        out = await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals/{goal_id}/actions",
            headers,
            an_action(description=description, owner=owner, due_date=due),
            201,
        )
        action_ids.append(out["action_id"])
    await send(planning_api, "POST", f"/plans/{plan_id}/actions/{action_ids[0]}/complete", headers)
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/actions/{action_ids[1]}/cancel",
        headers,
        {"reason": reason},
    )
    await send(
        planning_api, "PUT", f"/plans/{plan_id}/priorities", headers, {"order": [goal2, goal_id]}
    )
    agreed = await agree_both(planning_api, headers, plan_id)
    await send(
        planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "combined"}
    )  # after the agreement: PlanRevised

    async def revised_published() -> bool:
        try:
            last = await js.get_last_msg("GUIDANCE_PLANNING", "guidance.planning.PlanRevised")
        except Exception:
            return False
        return bool(envelope(last)["subject"] == case_id)

    await eventually(revised_published, "PlanRevised on GUIDANCE_PLANNING")
    everything = await stream_messages(js, "GUIDANCE_PLANNING")
    ours = [m for m in everything if envelope(m)["subject"] == case_id]
    types = [envelope(m)["type"] for m in ours]
    assert types == [
        "guidance.planning.PlanCreated.v1",
        "guidance.planning.PlanTypeChosen.v1",
        "guidance.planning.GoalAdded.v1",
        "guidance.planning.GoalAdded.v1",
        "guidance.planning.ActionAdded.v1",
        "guidance.planning.ActionAdded.v1",
        "guidance.planning.ActionAdded.v1",
        "guidance.planning.ActionCompleted.v1",
        "guidance.planning.ActionCancelled.v1",
        "guidance.planning.GoalsReprioritised.v1",
        "guidance.planning.PlanAgreed.v1",
        "guidance.planning.PlanRevised.v1",
        "guidance.planning.PlanTypeChosen.v1",
    ]

    for m in ours:
        env = envelope(m)
        assert env["specversion"] == "1.0"
        assert env["source"] == "/guidance/planning"
        assert PLANNING_EVENTS.match(env["type"]), env["type"]
        assert m.subject == "guidance.planning." + env["type"].split(".")[2]
        assert m.headers["Nats-Msg-Id"] == env["id"]
        assert uuid.UUID(env["id"])
        assert env["datacontenttype"] == "application/json"
        assert env["time"].endswith(("Z", "+00:00"))
        data = env["data"]
        assert (data["plan_id"], data["case_id"], data["client_id"]) == (
            plan_id,
            case_id,
            client_id,
        )
        assert data["actor"] == "counsellor-7"
    by_type = {envelope(m)["type"].split(".")[2]: envelope(m) for m in ours}
    assert by_type["PlanCreated"]["data"]["organisation"] == org
    assert by_type["PlanCreated"]["data"]["gaps"] == ["quality_reflection", "networking"]
    assert by_type["GoalsReprioritised"]["data"]["order"] == [goal2, goal_id]
    assert by_type["ActionCompleted"]["data"]["action_id"] == action_ids[0]
    assert by_type["ActionCancelled"]["data"]["action_id"] == action_ids[1]

    plan_agreed = by_type["PlanAgreed"]["data"]
    assert plan_agreed["version"] == agreed["revision"]
    assert plan_agreed["organisation"] == org
    assert isinstance(plan_agreed["actions"], list)
    for a in plan_agreed["actions"]:
        assert set(a) == {"action_id", "goal_id", "owner", "due_date", "status"}, a
    assert sorted(
        (a["action_id"], a["goal_id"], a["owner"], a["due_date"], a["status"])
        for a in plan_agreed["actions"]
    ) == sorted(
        [
            (action_ids[0], goal_id, "client", days(10), "completed"),
            (action_ids[1], goal_id, "counsellor", days(20), "cancelled"),
            (action_ids[2], goal_id, "partner", days(30), "open"),
        ]
    )
    assert by_type["PlanRevised"]["data"]["from_version"] == agreed["revision"]

    # Personal texts travel sealed with the client's key, and open to what was written.
    goal_added = next(
        envelope(m)
        for m in ours
        if envelope(m)["data"].get("goal_id") == goal_id
        and envelope(m)["type"] == "guidance.planning.GoalAdded.v1"
    )
    assert goal_added["data"]["target_date"] == days(90)
    assert goal_added["data"]["competences"] == ["networking"]
    assert goal_added["data"]["priority"] == 1
    planning = planning_app.state.application
    for name, plain in (("title", title), ("specific", specific), ("measure", measure)):
        sealed = goal_added["data"][name]
        assert set(sealed) == {"$sealed", "kid", "ct"}, sealed
        assert (sealed["$sealed"], sealed["kid"]) == ("A256GCM", client_id)
        opened = open_sealed(planning.vault, sealed, uuid.UUID(goal_added["id"]), name)
        assert opened is not None
        assert planning.sealing.transcoder.decode(opened)["v"] == plain
    assert by_type["ActionCancelled"]["data"]["reason"]["$sealed"] == "A256GCM"

    secrets = [title, specific, measure, *descriptions, reason, marker]
    for m in everything:
        text = m.data.decode()
        for secret in secrets:
            assert secret not in text, (m.subject, secret)
