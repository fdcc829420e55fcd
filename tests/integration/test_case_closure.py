"""Follow-up's closure, over the real NATS: feedback that closes the follow-up says so in
its answer, an explicit close records its reason, and the intake case follows: `closed`
(with when and why, listed under `?status=closed`, refusing more intake work) once
follow-up closes the aftercare, accepted again when the client asks for aftercare; a
redelivered closure changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from tests.scenarios import an_agreed_plan, days, fsend, get_followup
from tests.support import assert_problem, eventually, messages_of_case

INTAKE = "/intake/v1"


async def case_when(
    api: httpx.AsyncClient, headers: dict[str, str], case_id: str, status: str
) -> dict[str, Any]:
    """The intake case once it has the status `status` (polled: intake hears of the
    follow-up's closure over NATS)."""

    async def reached() -> dict[str, Any] | None:
        r = await api.get(f"{INTAKE}/cases/{case_id}", headers=headers)
        assert r.status_code == 200, r.text
        return dict(r.json()) if r.json()["status"] == status else None

    found: dict[str, Any] = await eventually(reached, f"case {case_id} {status}")
    return found


async def listed(api: httpx.AsyncClient, headers: dict[str, str], status: str) -> set[str]:
    r = await api.get(f"{INTAKE}/cases", params={"status": status}, headers=headers)
    assert r.status_code == 200, r.text
    return {c["case_id"] for c in r.json()}


async def listed_when(
    api: httpx.AsyncClient, headers: dict[str, str], status: str, case_id: str, present: bool
) -> None:
    async def check() -> bool:
        return (case_id in await listed(api, headers, status)) == present

    await eventually(check, f"case {case_id} {'in' if present else 'not in'} ?status={status}")


async def case_events(intake_app: Any, case_id: str) -> int:
    return int(
        await intake_app.state.runtime.pool.fetchval(
            "SELECT count(*) FROM intake.intake_events WHERE originator_id = $1",
            uuid.UUID(case_id),
        )
    )


async def test_feedback_that_closes_the_follow_up_says_so_and_the_intake_case_closes(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    intake_app: Any,
    counsellor: dict[str, str],
) -> None:
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    fid, case_id = agreed.followup_id, agreed.case_id
    await case_when(api, counsellor, case_id, "accepted")
    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/outcome",
        counsellor,
        {"outcome": "education", "on": days(0)},
    )
    assert (out["status"], out["closed_by"], out["closure_reason"]) == ("open", None, None)

    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/feedback",
        counsellor,
        {"satisfaction": 5, "self_knowledge_improved": True, "confidence_improved": True},
        201,
    )

    assert (out["status"], out["closed_by"], out["closure_reason"]) == (
        "closed",
        "feedback",
        "completed",
    )
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["status"], f["closed_by"], f["closure_reason"]) == ("closed", "feedback", "completed")
    case = await case_when(api, counsellor, case_id, "closed")
    assert case["phase"] == "closed"
    assert datetime.fromisoformat(case["closed_at"]) == datetime.fromisoformat(f["closed_at"])
    assert case["closure"]["followup_id"] == fid
    assert (case["closure"]["reason"], case["closure"]["closed_by"]) == ("completed", "feedback")
    await listed_when(api, counsellor, "closed", case_id, True)
    assert case_id not in await listed(api, counsellor, "accepted")

    # Retention counts from the same closure, as before.
    closed_at = await eventually(
        lambda: intake_app.state.runtime.pool.fetchval(
            "SELECT closed_at FROM intake.case_closures WHERE case_id = $1", uuid.UUID(case_id)
        ),
        "the closure in retention's read model",
    )
    assert closed_at == datetime.fromisoformat(f["closed_at"])

    # A closed case takes no more intake work, and nothing is recorded.
    count = await case_events(intake_app, case_id)
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/sessions",
        json={"kind": "aftercare", "held_at": f["closed_at"], "minutes": 30},
        headers=counsellor,
    )
    body = assert_problem(r, 409, "case-decided")
    assert "closed" in body["detail"]
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/decision", json={"decision": "decline"}, headers=counsellor
    )
    assert_problem(r, 409, "case-decided")
    assert await case_events(intake_app, case_id) == count


async def test_an_explicit_close_closes_the_case_once_and_requested_aftercare_reopens_it(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    fid, case_id = agreed.followup_id, agreed.case_id

    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/close",
        counsellor,
        {"reason": "unreachable", "notes": "No answer since spring"},
    )
    assert (out["status"], out["closed_by"], out["closure_reason"]) == (
        "closed",
        "close",
        "unreachable",
    )
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["closed"]["actor"], f["closed"]["notes"]) == (
        "counsellor-1",
        "No answer since spring",
    )
    r = await followup_api.post(
        f"/followup/v1/followups/{fid}/close", json={"reason": "other"}, headers=counsellor
    )
    assert_problem(r, 409, "followup-closed")
    assert (await get_followup(followup_api, fid, counsellor)) == f

    case = await case_when(api, counsellor, case_id, "closed")
    assert (case["closure"]["reason"], case["closure"]["rule"], case["closure"]["closed_by"]) == (
        "unreachable",
        "early",
        "close",
    )
    assert "No answer" not in str(case)  # the notes stay in follow-up, sealed
    await listed_when(api, counsellor, "closed", case_id, True)

    # The client asks for aftercare: the follow-up reopens, and so does the case.
    await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/aftercare-requests",
        counsellor,
        {"due_on": days(7)},
        201,
    )
    case = await case_when(api, counsellor, case_id, "accepted")
    assert (case["phase"], case["closed_at"], case["closure"]) == ("aftercare", None, None)
    await listed_when(api, counsellor, "closed", case_id, False)


async def test_a_redelivered_closure_closes_the_case_once(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    intake_app: Any,
    counsellor: dict[str, str],
    js: Any,
) -> None:
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    fid, case_id = agreed.followup_id, agreed.case_id
    await fsend(followup_api, "POST", f"/followups/{fid}/close", counsellor, {"reason": "other"})
    before = await case_when(api, counsellor, case_id, "closed")
    count = await case_events(intake_app, case_id)

    async def published() -> list[Any]:
        return [
            m
            for m in await messages_of_case(js, "GUIDANCE_FOLLOWUP", case_id)
            if m.subject == "guidance.followup.FollowUpClosed"
        ]

    [original] = await eventually(published, "FollowUpClosed on GUIDANCE_FOLLOWUP")
    consumer = intake_app.state.runtime.consumers["intake-case-closure"]
    duplicates = consumer.duplicates
    # Another Nats-Msg-Id, so that the stream keeps the copy and delivers it again.
    ack = await js.publish(
        "guidance.followup.FollowUpClosed",
        original.data,
        headers={"Nats-Msg-Id": f"redelivery-{uuid.uuid4()}"},
    )
    assert not ack.duplicate

    async def seen_again() -> bool:
        return bool(consumer.duplicates > duplicates)

    await eventually(seen_again, "the redelivered FollowUpClosed to be consumed")
    r = await api.get(f"{INTAKE}/cases/{case_id}", headers=counsellor)
    assert r.json() == before
    assert await case_events(intake_app, case_id) == count
