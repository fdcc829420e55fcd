"""Follow-up's HTTP API against the contract: the follow-up an agreed plan opens, the
worklist, contacts and the unreachable client, action checks, closing and reopening, and a
table of bad requests for every follow-up path that must each answer problem+json and
change nothing.

Follow-ups are opened by the follow-up service itself when planning publishes
`PlanAgreed` (over NATS), so every test starts in intake, in an organisation of its own,
agrees a plan in planning and waits for the follow-up.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.integration.test_planning_api import (
    Bad,
    a_goal,
    accepted_case,
    an_action,
    days,
    send,
    wait_for_plan,
    without,
)
from tests.support import INVALID, assert_problem, bearer, fill, new_org

FU = "/followup/v1"
WAIT_SECONDS = 10.0


# -- helpers ------------------------------------------------------------------------------------
@dataclass
class Agreed:
    """An agreed plan (one goal, one action) and the follow-up it opened."""

    client_id: str
    case_id: str
    plan_id: str
    goal_id: str
    action_id: str
    followup: dict[str, Any]

    @property
    def followup_id(self) -> str:
        return str(self.followup["followup_id"])


async def eventually_followup(
    followup_api: httpx.AsyncClient, headers: dict[str, str], case_id: str
) -> dict[str, Any]:
    """The case's follow-up, once the follow-up service has seen `PlanAgreed` (polled)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        r = await followup_api.get(f"{FU}/followups", params={"case_id": case_id}, headers=headers)
        assert r.status_code == 200, r.text
        if r.json():
            [found] = r.json()
            assert r.headers["x-total-count"] == "1"
            return dict(found)
        assert asyncio.get_running_loop().time() < deadline, f"no follow-up for case {case_id}"
        await asyncio.sleep(0.05)


async def agreed_followup(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    headers: dict[str, str],
    action: dict[str, Any] | None = None,
) -> Agreed:
    """An accepted case whose plan (one goal, one action) both parties agreed, and its
    follow-up."""
    client_id, case_id = await accepted_case(api, headers)
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "action"})
    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, a_goal(), 201))[
        "goal_id"
    ]
    action_id = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/goals/{goal_id}/actions",
            headers,
            action or an_action(),
            201,
        )
    )["action_id"]
    for party in ("client", "counsellor"):
        out = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", headers, {"party": party}
        )
    assert out["status"] == "agreed", out
    followup = await eventually_followup(followup_api, headers, case_id)
    return Agreed(client_id, case_id, plan_id, goal_id, action_id, followup)


async def fsend(
    followup_api: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    r = await followup_api.request(method, FU + path, json=body, headers=headers)
    assert r.status_code == expect, (method, path, r.text)
    out = dict(r.json())
    if expect < 300:
        assert r.headers["etag"] == f'"{out["version"]}"'
    return out


async def get_followup(
    followup_api: httpx.AsyncClient, followup_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    r = await followup_api.get(f"{FU}/followups/{followup_id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return dict(r.json())


async def followup_events(app: Any, followup_id: str) -> int:
    return int(
        await app.state.runtime.pool.fetchval(
            "SELECT count(*) FROM followup.followup_events WHERE originator_id = $1",
            uuid.UUID(followup_id),
        )
    )


@pytest.fixture
def org() -> str:
    return new_org()


@pytest.fixture
def counsellor(token: Any, org: str) -> dict[str, str]:
    return bearer(token("counsellor", org=org, sub="counsellor-1"))


# -- the follow-up an agreed plan opens ---------------------------------------------------------
async def test_an_agreed_plan_opens_a_follow_up_with_three_check_ins_and_the_plan_actions(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    counsellor: dict[str, str],
    token: Any,
    org: str,
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    f = agreed.followup
    assert (f["case_id"], f["client_id"], f["organisation"]) == (
        agreed.case_id,
        agreed.client_id,
        org,
    )
    assert (f["status"], f["counsellor"], f["plan_status"]) == ("open", "counsellor-1", "agreed")
    assert f["version"] == 1 and f["outcome"] is None
    assert [(c["number"], c["due_on"], c["done"], c["requested"]) for c in f["checkins"]] == [
        (1, days(14), False, False),
        (2, days(91), False, False),
        (3, days(182), False, False),
    ]
    assert f["actions"] == [
        {
            "action_id": agreed.action_id,
            "goal_id": agreed.goal_id,
            "owner": "client",
            "due_date": days(30),
            "status": "open",
            "check": None,
        }
    ]
    assert (f["contacts"], f["bottlenecks"], f["todos"], f["closed"]) == ([], [], [], None)

    one = await get_followup(followup_api, agreed.followup_id, counsellor)
    assert one == f
    r = await followup_api.get(f"{FU}/followups/{agreed.followup_id}", headers=counsellor)
    assert r.headers["etag"] == '"1"'
    assert await followup_events(followup_app, agreed.followup_id) == 1

    # A team lead of the organisation reads it too; another organisation does not see it.
    lead = bearer(token("team_lead", org=org))
    assert (await get_followup(followup_api, agreed.followup_id, lead)) == f
    stranger = bearer(token("counsellor", org=new_org()))
    r = await followup_api.get(
        f"{FU}/followups", params={"case_id": agreed.case_id}, headers=stranger
    )
    assert r.status_code == 200 and r.json() == [] and r.headers["x-total-count"] == "0"
    r = await followup_api.get(f"{FU}/followups/{agreed.followup_id}", headers=stranger)
    assert_problem(r, 404, "not-found")


async def test_a_case_without_an_agreed_plan_has_no_follow_up(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    _, case_id = await accepted_case(api, counsellor)
    await wait_for_plan(planning_api, counsellor, case_id)
    r = await followup_api.get(f"{FU}/followups", params={"case_id": case_id}, headers=counsellor)
    assert r.status_code == 200 and r.json() == [] and r.headers["x-total-count"] == "0"


# -- the worklist -------------------------------------------------------------------------------
async def worklist(
    followup_api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> httpx.Response:
    r = await followup_api.get(f"{FU}/worklist", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert int(r.headers["x-total-count"]) >= len(r.json())
    return r


async def worklist_until(
    followup_api: httpx.AsyncClient, headers: dict[str, str], total: int, **params: Any
) -> httpx.Response:
    """The worklist once its read model shows `total` items (the projection follows)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        r = await worklist(followup_api, headers, **params)
        if int(r.headers["x-total-count"]) == total:
            return r
        assert asyncio.get_running_loop().time() < deadline, r.text
        await asyncio.sleep(0.05)


async def test_the_worklist_shows_the_own_organisation_due_check_ins_most_urgent_first(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    token: Any,
) -> None:
    org, other_org = new_org(), new_org()
    first = bearer(token("counsellor", org=org, sub="counsellor-a"))
    second = bearer(token("counsellor", org=org, sub="counsellor-b"))
    elsewhere = bearer(token("counsellor", org=other_org, sub="counsellor-a"))
    a = await agreed_followup(api, planning_api, followup_api, first)
    b = await agreed_followup(api, planning_api, followup_api, second)
    c = await agreed_followup(api, planning_api, followup_api, elsewhere)

    r = await worklist_until(followup_api, first, 4, due_before=days(100))
    items = r.json()
    assert [i["due_on"] for i in items] == [days(14), days(14), days(91), days(91)]
    assert {i["followup_id"] for i in items} == {a.followup_id, b.followup_id}
    assert {(i["followup_id"], i["case_id"], i["client_id"]) for i in items} == {
        (a.followup_id, a.case_id, a.client_id),
        (b.followup_id, b.case_id, b.client_id),
    }
    assert all(i["days_overdue"] == 0 for i in items)
    assert [i["number"] for i in items] == [1, 1, 2, 2]
    assert "link" not in r.headers

    # due_before is strict; a team lead sees the same list.
    r = await worklist(followup_api, first, due_before=days(14))
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")
    r = await worklist(followup_api, first, due_before=days(15))
    assert [i["due_on"] for i in r.json()] == [days(14), days(14)]
    lead = bearer(token("team_lead", org=org))
    assert (await worklist(followup_api, lead, due_before=days(100))).json() == items

    # The counsellor filter.
    r = await worklist(followup_api, first, due_before=days(100), counsellor="counsellor-b")
    assert r.headers["x-total-count"] == "2"
    assert {(i["followup_id"], i["counsellor"]) for i in r.json()} == {
        (b.followup_id, "counsellor-b")
    }
    r = await worklist(followup_api, first, due_before=days(400), counsellor="nobody")
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")

    # Paginated, with a link to the next page.
    r = await worklist(followup_api, first, due_before=days(100), limit=3)
    assert r.json() == items[:3] and r.headers["x-total-count"] == "4"
    assert 'rel="next"' in r.headers["link"] and "offset=3" in r.headers["link"]
    r = await worklist(followup_api, first, due_before=days(100), limit=3, offset=3)
    assert r.json() == items[3:] and "link" not in r.headers

    # Another organisation sees its own only; an organisation without follow-ups nothing.
    r = await worklist_until(followup_api, elsewhere, 3, due_before=days(400))
    assert {i["followup_id"] for i in r.json()} == {c.followup_id}
    nobody = bearer(token("counsellor", org=new_org()))
    r = await worklist(followup_api, nobody, due_before=days(400))
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")

    # A check-in done leaves the worklist.
    done = next(i for i in items if i["followup_id"] == a.followup_id and i["number"] == 1)
    await fsend(
        followup_api,
        "POST",
        f"/followups/{a.followup_id}/checkins/{done['checkin_id']}/complete",
        first,
    )
    r = await worklist(followup_api, first, due_before=days(100))
    assert done["checkin_id"] not in {i["checkin_id"] for i in r.json()}
    assert r.headers["x-total-count"] == "3"

    # Three weeks on, the default horizon (two weeks) holds the overdue check-in.
    service = followup_app.state.application
    real_clock = service.clock
    later = real_clock() + timedelta(days=21)
    service.clock = lambda: later
    try:
        r = await worklist(followup_api, second)
    finally:
        service.clock = real_clock
    overdue = [i for i in r.json() if i["followup_id"] == b.followup_id]
    assert [(i["number"], i["days_overdue"]) for i in overdue] == [(1, 7)]


# -- contacts -----------------------------------------------------------------------------------
async def test_three_failed_contacts_in_a_row_raise_an_unreachable_bottleneck(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    counsellor: dict[str, str],
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    path = f"/followups/{agreed.followup_id}/contacts"

    async def contact(channel: str, reached: bool, version: int, **extra: Any) -> None:
        out = await fsend(
            followup_api,
            "POST",
            path,
            counsellor,
            {"channel": channel, "reached": reached, **extra},
            201,
        )
        assert (out["version"], out["status"]) == (version, "open")
        assert uuid.UUID(out["id"])

    await contact("phone", False, 2, notes="No answer, left a voicemail")
    await contact("email", False, 3)
    await contact("meeting", True, 4, notes="Met at the library; doing well")  # resets
    await contact("phone", False, 5)
    await contact("video", False, 6)
    f = await get_followup(followup_api, agreed.followup_id, counsellor)
    assert f["bottlenecks"] == []
    await contact("phone", False, 8)  # the third in a row: the contact and a bottleneck

    f = await get_followup(followup_api, agreed.followup_id, counsellor)
    assert f["version"] == 8
    assert [(c["channel"], c["reached"]) for c in f["contacts"]] == [
        ("phone", False),
        ("email", False),
        ("meeting", True),
        ("phone", False),
        ("video", False),
        ("phone", False),
    ]
    assert f["contacts"][0]["notes"] == "No answer, left a voicemail"
    assert f["contacts"][1]["notes"] is None
    assert f["contacts"][0]["actor"] == "counsellor-1"
    [bottleneck] = f["bottlenecks"]
    assert bottleneck["kind"] == "unreachable"
    assert (bottleneck["action_id"], bottleneck["checkin_id"]) == (None, None)
    assert await followup_events(followup_app, agreed.followup_id) == 8

    await contact("email", False, 9)  # a fourth raises no second bottleneck
    f = await get_followup(followup_api, agreed.followup_id, counsellor)
    assert len(f["bottlenecks"]) == 1


# -- action checks ------------------------------------------------------------------------------
async def test_action_checks_record_realisation_and_a_bottleneck_text_raises_a_bottleneck(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    counsellor: dict[str, str],
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    path = f"/followups/{agreed.followup_id}/action-checks"

    r = await followup_api.post(
        FU + path, json={"action_id": str(uuid.uuid4()), "status": "realised"}, headers=counsellor
    )
    assert_problem(r, 404, "not-found")
    assert (await get_followup(followup_api, agreed.followup_id, counsellor))["version"] == 1
    assert await followup_events(followup_app, agreed.followup_id) == 1

    out = await fsend(
        followup_api,
        "POST",
        path,
        counsellor,
        {"action_id": agreed.action_id, "status": "realised"},
        201,
    )
    first = out["id"]
    assert out["version"] == 2
    f = await get_followup(followup_api, agreed.followup_id, counsellor)
    assert f["bottlenecks"] == []
    [check] = f["action_checks"]
    assert (check["check_id"], check["action_id"], check["status"], check["bottleneck"]) == (
        first,
        agreed.action_id,
        "realised",
        None,
    )

    text = "The school did not answer the request for an introduction"
    out = await fsend(
        followup_api,
        "POST",
        path,
        counsellor,
        {"action_id": agreed.action_id, "status": "partly", "bottleneck": text},
        201,
    )
    assert out["version"] == 4  # the check and its bottleneck
    f = await get_followup(followup_api, agreed.followup_id, counsellor)
    assert [c["status"] for c in f["action_checks"]] == ["realised", "partly"]
    [action] = f["actions"]
    assert (action["check"]["status"], action["check"]["bottleneck"]) == ("partly", text)
    [bottleneck] = f["bottlenecks"]
    assert (bottleneck["kind"], bottleneck["action_id"], bottleneck["description"]) == (
        "action",
        agreed.action_id,
        text,
    )
    assert await followup_events(followup_app, agreed.followup_id) == 4


async def listed_until(
    followup_api: httpx.AsyncClient, headers: dict[str, str], ids: set[str], **params: Any
) -> None:
    """The follow-up list with `params` once its read model shows just `ids`."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        r = await followup_api.get(f"{FU}/followups", params=params, headers=headers)
        assert r.status_code == 200, r.text
        shown = {f["followup_id"] for f in r.json()}
        if shown == ids and r.headers["x-total-count"] == str(len(ids)):
            return
        assert asyncio.get_running_loop().time() < deadline, (params, shown, ids)
        await asyncio.sleep(0.05)


async def test_the_list_filters_the_open_follow_ups_with_a_bottleneck(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    stuck = await agreed_followup(api, planning_api, followup_api, counsellor)
    going = await agreed_followup(api, planning_api, followup_api, counsellor)
    for agreed, bottleneck in ((stuck, "The school never answered"), (going, None)):
        await fsend(
            followup_api,
            "POST",
            f"/followups/{agreed.followup_id}/action-checks",
            counsellor,
            {"action_id": agreed.action_id, "status": "partly", "bottleneck": bottleneck},
            201,
        )
    both = {stuck.followup_id, going.followup_id}
    await listed_until(followup_api, counsellor, {stuck.followup_id}, with_bottleneck="true")
    await listed_until(followup_api, counsellor, {going.followup_id}, with_bottleneck="false")
    await listed_until(
        followup_api, counsellor, {stuck.followup_id}, status="open", with_bottleneck="true"
    )
    await listed_until(followup_api, counsellor, both, status="open")

    await fsend(
        followup_api,
        "POST",
        f"/followups/{stuck.followup_id}/close",
        counsellor,
        {"reason": "other"},
    )
    await listed_until(followup_api, counsellor, set(), status="open", with_bottleneck="true")
    await listed_until(
        followup_api, counsellor, {stuck.followup_id}, status="closed", with_bottleneck="true"
    )
    for bad in ({"status": "stuck"}, {"with_bottleneck": "perhaps"}):
        r = await followup_api.get(f"{FU}/followups", params=bad, headers=counsellor)
        assert_problem(r, 422, "validation-error")


# -- closing and reopening ----------------------------------------------------------------------
async def test_outcome_and_feedback_close_aftercare_reopens_and_an_early_close_takes_a_reason(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    counsellor: dict[str, str],
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    fid = agreed.followup_id
    first = agreed.followup["checkins"][0]["checkin_id"]

    out = await fsend(
        followup_api, "POST", f"/followups/{fid}/checkins/{first}/complete", counsellor
    )
    assert (out["version"], out["status"]) == (2, "open")
    r = await followup_api.post(
        f"{FU}/followups/{fid}/checkins/{first}/complete", headers=counsellor
    )
    assert_problem(r, 409, "checkin-done")
    f = await get_followup(followup_api, fid, counsellor)
    assert [c["done"] for c in f["checkins"]] == [True, False, False]
    assert f["checkins"][0]["done_at"] is not None

    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/outcome",
        counsellor,
        {"outcome": "employed", "on": days(0)},
    )
    assert (out["version"], out["status"]) == (3, "open")
    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/feedback",
        counsellor,
        {
            "satisfaction": 4,
            "self_knowledge_improved": True,
            "confidence_improved": False,
            "comments": "The network goal helped most",
        },
        201,
    )
    # feedback, then closed: the answer says so, and which command closed it
    assert (out["version"], out["status"], out["closed_by"], out["closure_reason"]) == (
        5,
        "closed",
        "feedback",
        "completed",
    )
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["status"], f["closed_by"], f["closure_reason"]) == ("closed", "feedback", "completed")
    assert f["closed_at"] == f["closed"]["at"] and f["closed_at"] is not None
    assert (f["outcome"]["outcome"], f["outcome"]["on"]) == ("employed", days(0))
    assert f["feedback"]["satisfaction"] == 4
    assert (f["feedback"]["self_knowledge_improved"], f["feedback"]["confidence_improved"]) == (
        True,
        False,
    )
    assert f["feedback"]["comments"] == "The network goal helped most"
    assert (f["closed"]["rule"], f["closed"]["reason"]) == ("outcome_and_feedback", "completed")

    # A closed follow-up takes no contact.
    r = await followup_api.post(
        f"{FU}/followups/{fid}/contacts",
        json={"channel": "phone", "reached": True},
        headers=counsellor,
    )
    assert_problem(r, 409, "followup-closed")
    assert (await get_followup(followup_api, fid, counsellor)) == f
    assert await followup_events(followup_app, fid) == 5

    # The client asks for aftercare: a new check-in, and the follow-up reopens.
    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/aftercare-requests",
        counsellor,
        {"due_on": days(7)},
        201,
    )
    assert (out["version"], out["status"], out["closed_by"]) == (6, "open", None)
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["status"], f["closed"], f["closed_at"], f["closure_reason"]) == (
        "open",
        None,
        None,
        None,
    )
    assert [(c["number"], c["due_on"], c["requested"], c["done"]) for c in f["checkins"]] == [
        (1, days(14), False, True),
        (2, days(91), False, False),
        (3, days(182), False, False),
        (4, days(7), True, False),
    ]
    assert f["checkins"][3]["checkin_id"] == out["id"]
    await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/contacts",
        counsellor,
        {"channel": "phone", "reached": True},
        201,
    )
    r = await worklist_until(followup_api, counsellor, 1, due_before=days(15))
    assert [(i["followup_id"], i["number"], i["due_on"]) for i in r.json()] == [(fid, 4, days(7))]

    # Closed explicitly, with a reason and notes.
    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/close",
        counsellor,
        {"reason": "client_withdrew", "notes": "The client moved abroad"},
    )
    assert (out["version"], out["status"], out["closed_by"], out["closure_reason"]) == (
        8,
        "closed",
        "close",
        "client_withdrew",
    )
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["status"], f["closed"]["rule"], f["closed"]["reason"], f["closed"]["notes"]) == (
        "closed",
        "early",
        "client_withdrew",
        "The client moved abroad",
    )
    assert (f["closed_by"], f["closure_reason"], f["closed"]["actor"]) == (
        "close",
        "client_withdrew",
        f["counsellor"],
    )
    # Closing twice: refused like any command on a closed follow-up.
    r = await followup_api.post(
        f"{FU}/followups/{fid}/close", json={"reason": "other"}, headers=counsellor
    )
    assert_problem(r, 409, "followup-closed")
    r = await followup_api.post(
        f"{FU}/followups/{fid}/contacts",
        json={"channel": "email", "reached": False},
        headers=counsellor,
    )
    body = assert_problem(r, 409, "followup-closed")
    assert body["type"].endswith("followup-closed")
    assert await followup_events(followup_app, fid) == 8
    r = await worklist(followup_api, counsellor, due_before=days(400))
    assert fid not in {i["followup_id"] for i in r.json()}


async def test_the_last_check_in_done_closes_the_follow_up(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    fid = agreed.followup_id
    last = agreed.followup["checkins"][2]["checkin_id"]
    out = await fsend(
        followup_api, "POST", f"/followups/{fid}/checkins/{last}/complete", counsellor
    )
    assert (out["version"], out["status"], out["closed_by"]) == (3, "closed", "checkin")
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["closed"]["rule"], f["closed"]["reason"]) == ("last_checkin", "completed")


async def test_if_match_with_the_current_version_lets_a_command_through(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{agreed.followup_id}/contacts",
        {**counsellor, "If-Match": '"1"'},
        {"channel": "video", "reached": True},
        201,
    )
    assert out["version"] == 2


# -- bad requests: every path answers a problem and changes nothing ------------------------------
P_LIST = "/followups?case_id={case}"
P_ONE = "/followups/{fu}"
P_WORK = "/worklist"
P_REPORT = f"/reports/outcomes?from={days(-30)}&to={days(0)}"
P_CONTACT = "/followups/{fu}/contacts"
P_CHECK = "/followups/{fu}/action-checks"
P_CHECKIN = "/followups/{fu}/checkins/{checkin}/complete"
P_OUTCOME = "/followups/{fu}/outcome"
P_FEEDBACK = "/followups/{fu}/feedback"
P_TODO = "/followups/{fu}/todos"
P_CLOSE = "/followups/{fu}/close"
P_AFTERCARE = "/followups/{fu}/aftercare-requests"
CONTACT = {"channel": "phone", "reached": False, "notes": "Secret note about Anna"}
CHECK = {"action_id": "{action}", "status": "partly"}
OUTCOME = {"outcome": "employed", "on": days(0)}
FEEDBACK = {"satisfaction": 4, "self_knowledge_improved": True, "confidence_improved": True}
TODO = {
    "goal_id": "{goal}",
    "description": "Call the head of staff",
    "owner": "client",
    "due_date": days(20),
}
CLOSE = {"reason": "client_withdrew", "notes": "The client moved abroad"}
AFTERCARE = {"due_on": days(10)}


def command_rows(name: str, path: str, body: Any) -> dict[str, Bad]:
    """The rows every command shares: version, organisation, existence, state, token, roles."""
    tail = path.removeprefix("/followups/{fu}")
    return {
        f"{name}/stale-if-match": Bad("POST", path, 409, "version-conflict", body, if_match='"2"'),
        f"{name}/future-if-match": Bad(
            "POST", path, 409, "version-conflict", body, if_match='W/"99"'
        ),
        f"{name}/malformed-if-match": Bad(
            "POST", path, 422, INVALID, body, if_match="latest", fields=("If-Match",)
        ),
        f"{name}/unknown-followup": Bad(
            "POST", "/followups/{missing}" + tail, 404, "not-found", body
        ),
        f"{name}/a-case-id": Bad("POST", "/followups/{case}" + tail, 404, "not-found", body),
        f"{name}/other-org": Bad("POST", "/followups/{other}" + tail, 404, "not-found", body),
        f"{name}/closed": Bad("POST", "/followups/{closed}" + tail, 409, "followup-closed", body),
        f"{name}/no-token": Bad("POST", path, 401, "unauthorized", body, who="none"),
        f"{name}/garbage-token": Bad("POST", path, 401, "unauthorized", body, who="garbage"),
        f"{name}/auditor": Bad("POST", path, 403, "forbidden", body, who="auditor"),
        f"{name}/partner": Bad("POST", path, 403, "forbidden", body, who="partner"),
        f"{name}/team-lead": Bad("POST", path, 403, "forbidden", body, who="team_lead"),
    }


def body_rows(name: str, path: str, body: dict[str, Any], extra: str) -> dict[str, Bad]:
    """Rows every command with a body shares: none, unknown field, not JSON, not an object."""
    return {
        f"{name}/no-body": Bad("POST", path, 422, INVALID),
        f"{name}/unknown-field": Bad(
            "POST", path, 422, INVALID, body={**body, extra: 1}, fields=(extra,)
        ),
        f"{name}/invalid-json": Bad("POST", path, 422, INVALID, raw='{"x": nope}'),
        f"{name}/json-array": Bad("POST", path, 422, INVALID, body=[body]),
    }


def read_rows(name: str, path: str, *, missing: str, other: str) -> dict[str, Bad]:
    return {
        f"{name}/unknown-followup": Bad("GET", missing, 404, "not-found"),
        f"{name}/other-org": Bad("GET", other, 404, "not-found"),
        f"{name}/no-token": Bad("GET", path, 401, "unauthorized", who="none"),
        f"{name}/auditor": Bad("GET", path, 403, "forbidden", who="auditor"),
        f"{name}/partner": Bad("GET", path, 403, "forbidden", who="partner"),
    }


BAD: dict[str, Bad] = {
    # GET /followups?case_id=
    "list/no-token": Bad("GET", P_LIST, 401, "unauthorized", who="none"),
    "list/garbage-token": Bad("GET", P_LIST, 401, "unauthorized", who="garbage"),
    "list/auditor": Bad("GET", P_LIST, 403, "forbidden", who="auditor"),
    "list/partner": Bad("GET", P_LIST, 403, "forbidden", who="partner"),
    "list/bad-counsellor": Bad(
        "GET", "/followups?counsellor=", 422, INVALID, fields=("counsellor",)
    ),
    "list/case-not-a-uuid": Bad("GET", "/followups?case_id=42", 422, INVALID, fields=("case_id",)),
    # GET /followups/{id}
    **read_rows("followup", P_ONE, missing="/followups/{missing}", other="/followups/{other}"),
    "followup/a-case-id": Bad("GET", "/followups/{case}", 404, "not-found"),
    "followup/not-a-uuid": Bad(
        "GET", "/followups/my-followup", 422, INVALID, fields=("followup_id",)
    ),
    # GET /worklist
    "worklist/no-token": Bad("GET", P_WORK, 401, "unauthorized", who="none"),
    "worklist/auditor": Bad("GET", P_WORK, 403, "forbidden", who="auditor"),
    "worklist/partner": Bad("GET", P_WORK, 403, "forbidden", who="partner"),
    "worklist/due-before-not-a-date": Bad(
        "GET", "/worklist?due_before=soon", 422, INVALID, fields=("due_before",)
    ),
    "worklist/limit-0": Bad("GET", "/worklist?limit=0", 422, INVALID, fields=("limit",)),
    "worklist/limit-too-big": Bad("GET", "/worklist?limit=1000", 422, INVALID, fields=("limit",)),
    "worklist/negative-offset": Bad("GET", "/worklist?offset=-1", 422, INVALID, fields=("offset",)),
    # GET /reports/outcomes?from=&to= (team lead)
    "report/no-token": Bad("GET", P_REPORT, 401, "unauthorized", who="none"),
    "report/counsellor": Bad("GET", P_REPORT, 403, "forbidden"),
    "report/auditor": Bad("GET", P_REPORT, 403, "forbidden", who="auditor"),
    "report/partner": Bad("GET", P_REPORT, 403, "forbidden", who="partner"),
    "report/from-without-offset": Bad(
        "GET",
        "/reports/outcomes?from=2026-01-01T00:00:00",
        422,
        INVALID,
        fields=("from",),
        who="team_lead",
    ),
    "report/to-not-a-date": Bad(
        "GET",
        f"/reports/outcomes?from={days(-30)}&to=today",
        422,
        INVALID,
        fields=("to",),
        who="team_lead",
    ),
    "report/to-before-from": Bad(
        "GET",
        f"/reports/outcomes?from={days(0)}&to={days(-30)}",
        422,
        INVALID,
        fields=("from",),
        who="team_lead",
    ),
    # POST /followups/{id}/contacts
    "contact/empty": Bad("POST", P_CONTACT, 422, INVALID, body={}, fields=("channel", "reached")),
    "contact/missing-reached": Bad(
        "POST", P_CONTACT, 422, INVALID, body=without(CONTACT, "reached"), fields=("reached",)
    ),
    "contact/unknown-channel": Bad(
        "POST", P_CONTACT, 422, INVALID, body={**CONTACT, "channel": "fax"}, fields=("channel",)
    ),
    "contact/reached-not-a-bool": Bad(
        "POST", P_CONTACT, 422, INVALID, body={**CONTACT, "reached": "yes"}, fields=("reached",)
    ),
    "contact/reached-a-number": Bad(
        "POST", P_CONTACT, 422, INVALID, body={**CONTACT, "reached": 1}, fields=("reached",)
    ),
    "contact/notes-not-a-string": Bad(
        "POST", P_CONTACT, 422, INVALID, body={**CONTACT, "notes": 5}, fields=("notes",)
    ),
    "contact/notes-too-long": Bad(
        "POST", P_CONTACT, 422, INVALID, body={**CONTACT, "notes": "x" * 4001}, fields=("notes",)
    ),
    **body_rows("contact", P_CONTACT, CONTACT, "duration"),
    **command_rows("contact", P_CONTACT, CONTACT),
    # POST /followups/{id}/action-checks
    "check/empty": Bad("POST", P_CHECK, 422, INVALID, body={}, fields=("action_id", "status")),
    "check/action-not-a-uuid": Bad(
        "POST", P_CHECK, 422, INVALID, body={**CHECK, "action_id": "7"}, fields=("action_id",)
    ),
    "check/unknown-status": Bad(
        "POST", P_CHECK, 422, INVALID, body={**CHECK, "status": "done"}, fields=("status",)
    ),
    "check/bottleneck-not-a-string": Bad(
        "POST", P_CHECK, 422, INVALID, body={**CHECK, "bottleneck": ["x"]}, fields=("bottleneck",)
    ),
    "check/unknown-action": Bad(
        "POST", P_CHECK, 404, "not-found", body={**CHECK, "action_id": "{missing}"}
    ),
    "check/a-goal-id": Bad(
        "POST", P_CHECK, 404, "not-found", body={**CHECK, "action_id": "{goal}"}
    ),
    **body_rows("check", P_CHECK, CHECK, "score"),
    **command_rows("check", P_CHECK, CHECK),
    # POST /followups/{id}/checkins/{checkin_id}/complete
    "checkin/unknown-checkin": Bad(
        "POST", "/followups/{fu}/checkins/{missing}/complete", 404, "not-found"
    ),
    "checkin/not-a-uuid": Bad(
        "POST", "/followups/{fu}/checkins/first/complete", 422, INVALID, fields=("checkin_id",)
    ),
    "checkin/already-done": Bad(
        "POST", "/followups/{fu}/checkins/{done_checkin}/complete", 409, "checkin-done"
    ),
    **command_rows("checkin", P_CHECKIN, None),
    # POST /followups/{id}/outcome
    "outcome/empty": Bad("POST", P_OUTCOME, 422, INVALID, body={}, fields=("outcome", "on")),
    "outcome/unknown-outcome": Bad(
        "POST", P_OUTCOME, 422, INVALID, body={**OUTCOME, "outcome": "retired"}, fields=("outcome",)
    ),
    "outcome/on-in-the-future": Bad(
        "POST", P_OUTCOME, 422, INVALID, body={**OUTCOME, "on": days(1)}, fields=("on",)
    ),
    "outcome/on-not-a-date": Bad(
        "POST", P_OUTCOME, 422, INVALID, body={**OUTCOME, "on": "yesterday"}, fields=("on",)
    ),
    "outcome/outcome-not-a-string": Bad(
        "POST", P_OUTCOME, 422, INVALID, body={**OUTCOME, "outcome": 1}, fields=("outcome",)
    ),
    **body_rows("outcome", P_OUTCOME, OUTCOME, "employer"),
    **command_rows("outcome", P_OUTCOME, OUTCOME),
    # POST /followups/{id}/feedback
    "feedback/empty": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body={},
        fields=("satisfaction", "self_knowledge_improved", "confidence_improved"),
    ),
    "feedback/satisfaction-0": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body={**FEEDBACK, "satisfaction": 0},
        fields=("satisfaction",),
    ),
    "feedback/satisfaction-6": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body={**FEEDBACK, "satisfaction": 6},
        fields=("satisfaction",),
    ),
    "feedback/satisfaction-a-string": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body={**FEEDBACK, "satisfaction": "4"},
        fields=("satisfaction",),
    ),
    "feedback/satisfaction-a-fraction": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body={**FEEDBACK, "satisfaction": 3.5},
        fields=("satisfaction",),
    ),
    "feedback/improved-not-a-bool": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body={**FEEDBACK, "self_knowledge_improved": "yes"},
        fields=("self_knowledge_improved",),
    ),
    "feedback/missing-confidence": Bad(
        "POST",
        P_FEEDBACK,
        422,
        INVALID,
        body=without(FEEDBACK, "confidence_improved"),
        fields=("confidence_improved",),
    ),
    "feedback/comments-not-a-string": Bad(
        "POST", P_FEEDBACK, 422, INVALID, body={**FEEDBACK, "comments": 3}, fields=("comments",)
    ),
    **body_rows("feedback", P_FEEDBACK, FEEDBACK, "nps"),
    **command_rows("feedback", P_FEEDBACK, FEEDBACK),
    # POST /followups/{id}/todos
    "todo/empty": Bad(
        "POST",
        P_TODO,
        422,
        INVALID,
        body={},
        fields=("goal_id", "description", "owner", "due_date"),
    ),
    "todo/goal-not-a-uuid": Bad(
        "POST", P_TODO, 422, INVALID, body={**TODO, "goal_id": "1"}, fields=("goal_id",)
    ),
    "todo/empty-description": Bad(
        "POST", P_TODO, 422, INVALID, body={**TODO, "description": ""}, fields=("description",)
    ),
    "todo/blank-description": Bad(
        "POST", P_TODO, 422, INVALID, body={**TODO, "description": "   "}, fields=("description",)
    ),
    "todo/unknown-owner": Bad(
        "POST", P_TODO, 422, INVALID, body={**TODO, "owner": "employer"}, fields=("owner",)
    ),
    "todo/due-in-the-past": Bad(
        "POST", P_TODO, 422, INVALID, body={**TODO, "due_date": days(-1)}, fields=("due_date",)
    ),
    "todo/due-not-a-date": Bad(
        "POST", P_TODO, 422, INVALID, body={**TODO, "due_date": "2026-13-01"}, fields=("due_date",)
    ),
    **body_rows("todo", P_TODO, TODO, "priority"),
    **command_rows("todo", P_TODO, TODO),
    # POST /followups/{id}/close
    "close/empty": Bad("POST", P_CLOSE, 422, INVALID, body={}, fields=("reason",)),
    "close/empty-reason": Bad(
        "POST", P_CLOSE, 422, INVALID, body={"reason": ""}, fields=("reason",)
    ),
    "close/blank-reason": Bad(
        "POST", P_CLOSE, 422, INVALID, body={"reason": "  "}, fields=("reason",)
    ),
    "close/reason-not-a-string": Bad(
        "POST", P_CLOSE, 422, INVALID, body={"reason": True}, fields=("reason",)
    ),
    "close/reason-free-text": Bad(
        "POST", P_CLOSE, 422, INVALID, body={"reason": "Moved abroad"}, fields=("reason",)
    ),
    "close/notes-not-a-string": Bad(
        "POST", P_CLOSE, 422, INVALID, body={**CLOSE, "notes": 3}, fields=("notes",)
    ),
    **body_rows("close", P_CLOSE, CLOSE, "rule"),
    **command_rows("close", P_CLOSE, CLOSE),
    # POST /followups/{id}/aftercare-requests
    "aftercare/empty": Bad("POST", P_AFTERCARE, 422, INVALID, body={}, fields=("due_on",)),
    "aftercare/due-in-the-past": Bad(
        "POST", P_AFTERCARE, 422, INVALID, body={"due_on": days(-1)}, fields=("due_on",)
    ),
    "aftercare/due-not-a-date": Bad(
        "POST", P_AFTERCARE, 422, INVALID, body={"due_on": 20260101}, fields=("due_on",)
    ),
    **body_rows("aftercare", P_AFTERCARE, AFTERCARE, "reason"),
    **{
        name: bad
        for name, bad in command_rows("aftercare", P_AFTERCARE, AFTERCARE).items()
        if not name.endswith("/closed")  # aftercare reopens a closed follow-up
    },
}


@dataclass
class World:
    """One organisation's follow-up at version 3 (check-in 1 done, one reached contact),
    and when a row needs them a closed follow-up of the same organisation and another
    organisation's follow-up."""

    org: str
    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
    bad: Bad,
) -> World:
    org = new_org()
    h = bearer(token("counsellor", org=org))
    agreed = await agreed_followup(api, planning_api, followup_api, h)
    fid = agreed.followup_id
    checkins = [c["checkin_id"] for c in agreed.followup["checkins"]]
    await fsend(followup_api, "POST", f"/followups/{fid}/checkins/{checkins[0]}/complete", h)
    await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/contacts",
        h,
        {"channel": "phone", "reached": True},
        201,
    )
    ids = {
        "fu": fid,
        "case": agreed.case_id,
        "goal": agreed.goal_id,
        "action": agreed.action_id,
        "checkin": checkins[1],
        "done_checkin": checkins[0],
        "missing": str(uuid.uuid4()),
    }
    text = repr(bad)
    if "{closed}" in text:
        closed = await agreed_followup(api, planning_api, followup_api, h)
        await fsend(
            followup_api, "POST", f"/followups/{closed.followup_id}/close", h, {"reason": "other"}
        )
        ids["closed"] = closed.followup_id
    if "{other}" in text:
        other = bearer(token("counsellor", org=new_org()))
        ids["other"] = (await agreed_followup(api, planning_api, followup_api, other)).followup_id
    return World(org, h, ids)


def caller(who: str, world: World, token: Any) -> dict[str, str]:
    if who == "counsellor":
        return world.headers
    if who == "none":
        return {}
    if who == "garbage":
        return {"Authorization": "Bearer not.a.jwt"}
    if who == "partner":
        return bearer(token("partner", org=world.org, partner_id=uuid.uuid4()))
    return bearer(token(who, org=world.org))


async def snapshot(followup_api: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    """Everything a failed request must leave as it was."""
    state: dict[str, Any] = {}
    for name in ("fu", "closed"):
        if name in world.ids:
            r = await followup_api.get(f"{FU}/followups/{world.ids[name]}", headers=world.headers)
            assert r.status_code == 200, r.text
            state[name] = r.json()
            state[f"etag:{name}"] = r.headers["etag"]
            state[f"events:{name}"] = await followup_events(app, world.ids[name])
    if "other" in world.ids:
        state["events:other"] = await followup_events(app, world.ids["other"])
    return state


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad,
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    token: Any,
) -> None:
    world = await build_world(api, planning_api, followup_api, token, bad)
    before = await snapshot(followup_api, followup_app, world)
    assert before["fu"]["version"] == 3 and before["etag:fu"] == '"3"'
    assert before["events:fu"] == 3

    headers = dict(caller(bad.who, world, token))
    if bad.if_match is not None:
        headers["If-Match"] = bad.if_match
    kwargs: dict[str, Any] = {"headers": headers}
    if bad.raw is not None:
        kwargs["content"] = bad.raw.encode()
        headers["Content-Type"] = "application/json"
    elif bad.body is not None:
        kwargs["json"] = fill(bad.body, world.ids)
    r = await followup_api.request(bad.method, FU + fill(bad.path, world.ids), **kwargs)

    body = assert_problem(r, bad.status, bad.code, bad.fields)
    for secret in ("Anna", "Peeters", "Secret note", "head of staff", "moved abroad"):
        assert secret not in body["detail"]
    assert await snapshot(followup_api, followup_app, world) == before


async def test_an_unknown_path_under_a_followup_is_a_problem_too(
    followup_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    r = await followup_api.get(f"{FU}/followups/{uuid.uuid4()}/nonsense", headers=counsellor)
    assert_problem(r, 404, "not-found")
    r = await followup_api.delete(f"{FU}/followups/{uuid.uuid4()}/contacts", headers=counsellor)
    assert_problem(r, 405, "method-not-allowed")


def test_the_bad_request_table_covers_every_followup_path() -> None:
    from services.followup.api import router

    def shape(path: str) -> str:
        path = path.split("?")[0]
        return re.sub(
            r"\{[a-z_0-9]+\}|(?<=/followups/)my-followup|(?<=/checkins/)first", "{}", path
        )

    routes = {
        (method, shape(getattr(route, "path", "")))
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    rows = {(bad.method, shape(bad.path)) for bad in BAD.values()}
    assert routes <= rows, routes - rows


async def test_a_follow_up_reopened_after_its_last_check_in_closes_again_with_the_new_one(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    agreed = await agreed_followup(api, planning_api, followup_api, counsellor)
    fid = agreed.followup_id
    for checkin in agreed.followup["checkins"]:
        out = await fsend(
            followup_api,
            "POST",
            f"/followups/{fid}/checkins/{checkin['checkin_id']}/complete",
            counsellor,
        )
    assert out["status"] == "closed"

    new = await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/aftercare-requests",
        counsellor,
        {"due_on": days(30)},
        201,
    )
    assert new["status"] == "open"
    out = await fsend(
        followup_api, "POST", f"/followups/{fid}/checkins/{new['id']}/complete", counsellor
    )
    assert out["status"] == "closed"
    f = await get_followup(followup_api, fid, counsellor)
    assert (f["closed"]["rule"], len(f["checkins"])) == ("last_checkin", 4)
