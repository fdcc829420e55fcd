"""Planning and follow-up together, over the real NATS: an agreed plan opens the case's
follow-up, the follow-up keeps its own view of the plan's actions, a to-do agreed in
aftercare becomes an action of the plan, redeliveries change nothing, and what follow-up
publishes carries every personal text sealed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from services.followup.domain import action_id_for_todo
from shared.privacy.sealing import open_sealed
from tests.conftest import stream_messages
from tests.scenarios import (
    an_agreed_plan,
    days,
    followup_events,
    fsend,
    get_followup,
    get_plan,
    plan_events,
    send,
)
from tests.support import bearer, envelope, eventually, messages_of_case, new_org


async def noted_in_followup(
    followup_api: httpx.AsyncClient, headers: dict[str, str], followup_id: str, action_id: str
) -> dict[str, Any]:
    """The follow-up once it has noted the plan action `action_id` and the plan's revision."""

    async def noted() -> dict[str, Any] | None:
        f = await get_followup(followup_api, followup_id, headers)
        known = {a["action_id"] for a in f["actions"]}
        return f if action_id in known and f["plan_status"] == "revised" else None

    found: dict[str, Any] = await eventually(noted, f"action {action_id} in the follow-up")
    return found


async def test_an_agreed_plan_opens_the_follow_up_and_a_redelivered_plan_agreed_opens_nothing(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    token: Any,
    js: Any,
) -> None:
    org = new_org()
    headers = bearer(token("counsellor", org=org, sub="counsellor-9"))
    agreed = await an_agreed_plan(api, planning_api, followup_api, headers)
    fid = agreed.followup_id
    before = await get_followup(followup_api, fid, headers)
    assert (before["status"], before["version"], before["counsellor"]) == (
        "open",
        1,
        "counsellor-9",
    )
    assert [c["due_on"] for c in before["checkins"]] == [days(14), days(91), days(182)]
    assert [a["action_id"] for a in before["actions"]] == [agreed.action_id]
    assert await followup_events(followup_app, fid) == 1

    [original] = [
        m
        for m in await messages_of_case(js, "GUIDANCE_PLANNING", agreed.case_id)
        if m.subject == "guidance.planning.PlanAgreed"
    ]
    consumer = followup_app.state.consumers["followup-plans"]
    duplicates = consumer.duplicates
    # Another Nats-Msg-Id, so that the stream keeps the copy and delivers it again.
    ack = await js.publish(
        "guidance.planning.PlanAgreed",
        original.data,
        headers={"Nats-Msg-Id": f"redelivery-{uuid.uuid4()}"},
    )
    assert not ack.duplicate

    async def seen_again() -> bool:
        return bool(consumer.duplicates > duplicates)

    await eventually(seen_again, "the redelivered PlanAgreed to be consumed")
    assert await get_followup(followup_api, fid, headers) == before
    assert await followup_events(followup_app, fid) == 1
    r = await followup_api.get(
        "/followup/v1/followups", params={"case_id": agreed.case_id}, headers=headers
    )
    assert [f["followup_id"] for f in r.json()] == [fid]
    rows = await followup_app.state.runtime.pool.fetchval(
        "SELECT count(*) FROM followup.followups_view WHERE case_id = $1",
        uuid.UUID(agreed.case_id),
    )
    assert rows == 1


async def test_plan_actions_completed_or_added_in_planning_show_in_the_follow_up(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    agreed = await an_agreed_plan(api, planning_api, followup_api, headers)
    fid = agreed.followup_id

    await send(
        planning_api,
        "POST",
        f"/plans/{agreed.plan_id}/actions/{agreed.action_id}/complete",
        headers,
    )

    async def completed() -> dict[str, Any] | None:
        f = await get_followup(followup_api, fid, headers)
        [action] = f["actions"]
        return f if action["status"] == "completed" else None

    f = await eventually(completed, "the completed action in the follow-up")
    assert f["actions"][0]["action_id"] == agreed.action_id

    added = (
        await send(
            planning_api,
            "POST",
            f"/plans/{agreed.plan_id}/goals/{agreed.goal_id}/actions",
            headers,
            {"description": "Visit an open day", "owner": "counsellor", "due_date": days(40)},
            201,
        )
    )["action_id"]

    async def seen() -> dict[str, Any] | None:
        f = await get_followup(followup_api, fid, headers)
        known = {a["action_id"]: a for a in f["actions"]}
        return f if added in known and f["plan_status"] == "revised" else None

    f = await eventually(seen, "the added action and the revision in the follow-up")
    new = next(a for a in f["actions"] if a["action_id"] == added)
    assert (new["goal_id"], new["owner"], new["due_date"], new["status"]) == (
        agreed.goal_id,
        "counsellor",
        days(40),
        "open",
    )


async def test_a_to_do_agreed_in_follow_up_becomes_a_plan_action_once_and_revises_the_plan(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    followup_api: httpx.AsyncClient,
    token: Any,
    js: Any,
) -> None:
    headers = bearer(token("counsellor", org=new_org()))
    agreed = await an_agreed_plan(api, planning_api, followup_api, headers)
    fid = agreed.followup_id
    text = f"Call the head of staff of the Atheneum {uuid.uuid4().hex[:8]}"

    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/todos",
        headers,
        {"goal_id": agreed.goal_id, "description": text, "owner": "client", "due_date": days(21)},
        201,
    )
    todo_id = out["id"]
    action_id = str(action_id_for_todo(uuid.UUID(todo_id)))
    f = await get_followup(followup_api, fid, headers)
    [todo] = f["todos"]
    assert (todo["todo_id"], todo["action_id"], todo["description"]) == (todo_id, action_id, text)

    async def in_the_plan() -> dict[str, Any] | None:
        plan = (await get_plan(planning_api, agreed.plan_id, headers)).json()
        actions = {a["action_id"]: a for g in plan["goals"] for a in g["actions"]}
        return plan if action_id in actions else None

    plan = await eventually(in_the_plan, "the to-do as an action of the plan")
    assert plan["status"] == "revised"
    [goal] = plan["goals"]
    new = next(a for a in goal["actions"] if a["action_id"] == action_id)
    assert (new["description"], new["owner"], new["due_date"], new["status"]) == (
        text,
        "client",
        days(21),
        "open",
    )
    assert [a["action_id"] for a in goal["actions"]] == [agreed.action_id, action_id]

    # The follow-up hears of the new action and the revision from planning in turn.
    f = await noted_in_followup(followup_api, headers, fid, action_id)
    assert next(a for a in f["actions"] if a["action_id"] == action_id)["goal_id"] == (
        agreed.goal_id
    )

    # A redelivered ToDoAgreed adds nothing.
    async def published() -> list[Any]:
        return [
            m
            for m in await messages_of_case(js, "GUIDANCE_FOLLOWUP", agreed.case_id)
            if m.subject == "guidance.followup.ToDoAgreed"
        ]

    [original] = await eventually(published, "ToDoAgreed on GUIDANCE_FOLLOWUP")
    before = (await get_plan(planning_api, agreed.plan_id, headers)).json()
    count = await plan_events(planning_app, agreed.plan_id)
    consumer = planning_app.state.consumers["planning-todos"]
    duplicates = consumer.duplicates
    ack = await js.publish(
        "guidance.followup.ToDoAgreed",
        original.data,
        headers={"Nats-Msg-Id": f"redelivery-{uuid.uuid4()}"},
    )
    assert not ack.duplicate

    async def seen_again() -> bool:
        return bool(consumer.duplicates > duplicates)

    await eventually(seen_again, "the redelivered ToDoAgreed to be consumed")
    assert (await get_plan(planning_api, agreed.plan_id, headers)).json() == before
    assert await plan_events(planning_app, agreed.plan_id) == count


async def test_follow_up_events_on_nats_carry_every_personal_text_sealed(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    token: Any,
    js: Any,
) -> None:
    headers = bearer(token("counsellor", org=new_org(), sub="counsellor-5"))
    agreed = await an_agreed_plan(api, planning_api, followup_api, headers)
    fid = agreed.followup_id
    marker = uuid.uuid4().hex[:10]
    notes = f"Contact note {marker}"
    bottleneck = f"Action bottleneck {marker}"
    todo = f"To-do text {marker}"
    comments = f"Feedback comment {marker}"
    reason = f"Early close reason {marker}"

    base = f"/followups/{fid}"
    await fsend(
        followup_api,
        "POST",
        f"{base}/contacts",
        headers,
        {"channel": "phone", "reached": True, "notes": notes},
        201,
    )
    await fsend(
        followup_api,
        "POST",
        f"{base}/action-checks",
        headers,
        {"action_id": agreed.action_id, "status": "not_realised", "bottleneck": bottleneck},
        201,
    )
    out = await fsend(
        followup_api,
        "POST",
        f"{base}/todos",
        headers,
        {"goal_id": agreed.goal_id, "description": todo, "owner": "client", "due_date": days(9)},
        201,
    )
    todo_id = uuid.UUID(out["id"])
    # Planning's answer (the new action, the revision) comes back to this follow-up; let it
    # land first, or a command racing it is refused as a version conflict.
    await noted_in_followup(followup_api, headers, fid, str(action_id_for_todo(todo_id)))
    await fsend(
        followup_api, "POST", f"{base}/outcome", headers, {"outcome": "education", "on": days(0)}
    )
    out = await fsend(
        followup_api,
        "POST",
        f"{base}/feedback",
        headers,
        {
            "satisfaction": 5,
            "self_knowledge_improved": True,
            "confidence_improved": True,
            "comments": comments,
        },
        201,
    )
    assert out["status"] == "closed"
    await fsend(
        followup_api, "POST", f"{base}/aftercare-requests", headers, {"due_on": days(5)}, 201
    )
    await fsend(
        followup_api,
        "POST",
        f"{base}/close",
        headers,
        {"reason": "client_withdrew", "notes": reason},
    )

    expected = [
        "FollowUpOpened",
        "ContactRecorded",
        "ActionChecked",
        "BottleneckDetected",
        "ToDoAgreed",
        "OutcomeRecorded",
        "FeedbackGiven",
        "FollowUpClosed",
        "AftercareRequested",
        "FollowUpClosed",
    ]

    async def all_published() -> list[Any]:
        ours = await messages_of_case(js, "GUIDANCE_FOLLOWUP", agreed.case_id)
        return ours if len(ours) >= len(expected) else []

    ours = await eventually(all_published, "every follow-up event on GUIDANCE_FOLLOWUP")
    assert [m.subject.split(".")[2] for m in ours] == expected
    for m in ours:
        env = envelope(m)
        assert env["specversion"] == "1.0"
        assert env["source"] == "/guidance/followup"
        assert env["type"] == f"{m.subject}.v1"
        assert m.headers["Nats-Msg-Id"] == env["id"]
        data = env["data"]
        assert (data["followup_id"], data["case_id"], data["client_id"]) == (
            fid,
            agreed.case_id,
            agreed.client_id,
        )
        assert data["actor"] == "counsellor-5"

    service = followup_app.state.application
    by_type = {envelope(m)["type"].split(".")[2]: envelope(m) for m in ours}
    for kind, field, plain in (
        ("ContactRecorded", "notes", notes),
        ("ActionChecked", "bottleneck", bottleneck),
        ("ToDoAgreed", "description", todo),
        ("FeedbackGiven", "comments", comments),
        ("FollowUpClosed", "notes", reason),  # the last one: the explicit close
        ("FollowUpClosed", "reason", "client_withdrew"),
    ):
        env = by_type[kind]
        sealed = env["data"][field]
        assert set(sealed) == {"$sealed", "kid", "ct"}, (kind, sealed)
        assert (sealed["$sealed"], sealed["kid"]) == ("A256GCM", agreed.client_id)
        opened = open_sealed(service.vault, sealed, uuid.UUID(env["id"]), field)
        assert opened is not None
        assert service.sealing.transcoder.decode(opened)["v"] == plain
    assert by_type["FollowUpClosed"]["data"]["closed_by"] == "close"
    closures = [envelope(m)["data"] for m in ours if m.subject.endswith(".FollowUpClosed")]
    assert [(c["rule"], c["closed_by"]) for c in closures] == [
        ("outcome_and_feedback", "feedback"),
        ("early", "close"),
    ]
    assert by_type["OutcomeRecorded"]["data"]["outcome"] == "education"
    assert by_type["FeedbackGiven"]["data"]["satisfaction"] == 5

    for m in await stream_messages(js, "GUIDANCE_FOLLOWUP"):
        text = m.data.decode()
        for secret in (notes, bottleneck, todo, comments, reason, marker):
            assert secret not in text, (m.subject, secret)
        assert json.loads(text)["source"] == "/guidance/followup"
