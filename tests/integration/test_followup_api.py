"""Follow-up's HTTP API against the contract: the follow-up an agreed plan opens, the
worklist, contacts and the unreachable client, action checks, closing and reopening (the table of
bad requests: `test_followup_bad_requests.py`).

Follow-ups are opened by the follow-up service itself when planning publishes
`PlanAgreed` (over NATS), so every test starts in intake, in an organisation of its own,
agrees a plan in planning and waits for the follow-up.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from shared.settings import Settings
from tests.counters import WORKLIST_DUE
from tests.scenarios import FOLLOWUP as FU
from tests.scenarios import (
    FOLLOWUP_WAIT_SECONDS,
    an_accepted_case,
    an_agreed_plan,
    days,
    followup_events,
    fsend,
    get_followup,
    wait_for_plan,
)
from tests.support import assert_problem, bearer, new_org


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
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
    _, case_id = await an_accepted_case(api, counsellor)
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
    deadline = asyncio.get_running_loop().time() + FOLLOWUP_WAIT_SECONDS
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
    a = await an_agreed_plan(api, planning_api, followup_api, first)
    b = await an_agreed_plan(api, planning_api, followup_api, second)
    c = await an_agreed_plan(api, planning_api, followup_api, elsewhere)

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
    assert 'rel="next"' in r.headers["link"] and "cursor=" in r.headers["link"]
    nxt = r.headers["link"].split(">")[0].lstrip("<")
    r = await followup_api.get(nxt, headers=first)
    assert r.json() == items[3:] and "link" not in r.headers
    r = await worklist(followup_api, first, due_before=days(100), limit=1, offset=1)
    assert r.json() == items[1:2] and "offset=2" in r.headers["link"]
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


async def test_the_worklist_totals_counted_as_check_ins_change_equal_a_recount(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
    settings: Settings,
) -> None:
    """The worklist's total comes from counters kept as check-ins change (triggers on
    `checkins_view`), not from counting up to 10,000 of them: after a check-in is done and
    a follow-up closed, the total is right, and the counters equal a count of the
    check-ins for every organisation the session's tests made."""
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="counsellor-a"))
    kept = await an_agreed_plan(api, planning_api, followup_api, anna)
    closing = await an_agreed_plan(api, planning_api, followup_api, anna)
    r = await worklist_until(followup_api, anna, 4, due_before=days(100))
    first = next(i for i in r.json() if i["followup_id"] == kept.followup_id)
    await fsend(
        followup_api,
        "POST",
        f"/followups/{kept.followup_id}/checkins/{first['checkin_id']}/complete",
        anna,
    )
    await fsend(
        followup_api,
        "POST",
        f"/followups/{closing.followup_id}/close",
        anna,
        {"reason": "client_withdrew", "notes": "The client moved abroad"},
    )
    r = await worklist_until(followup_api, anna, 1, due_before=days(100))
    assert [(i["followup_id"], i["number"]) for i in r.json()] == [(kept.followup_id, 2)]
    async with await psycopg.AsyncConnection.connect(settings.pg.dsn()) as conn:
        counted, recounted = [await (await conn.execute(sql)).fetchall() for sql in WORKLIST_DUE]
    assert counted == recounted
    mine = [(row[1], row[2].isoformat(), row[3]) for row in counted if row[0] == org]
    # The kept follow-up's later check-ins (the first done); none of the closed one.
    assert mine == [("counsellor-a", days(91), 1), ("counsellor-a", days(182), 1)]


# -- contacts -----------------------------------------------------------------------------------
async def test_three_failed_contacts_in_a_row_raise_an_unreachable_bottleneck(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    counsellor: dict[str, str],
) -> None:
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
    deadline = asyncio.get_running_loop().time() + FOLLOWUP_WAIT_SECONDS
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
    stuck = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    going = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
    # Its check-ins still undone (2 and 3) leave the worklist while it is closed.
    r = await worklist(followup_api, counsellor, due_before=days(400))
    assert fid not in {i["followup_id"] for i in r.json()}

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
    # Reopened, its earlier check-ins still undone are on the worklist again.
    r = await worklist(followup_api, counsellor, due_before=days(400))
    assert [(i["number"], i["due_on"]) for i in r.json() if i["followup_id"] == fid] == [
        (4, days(7)),
        (2, days(91)),
        (3, days(182)),
    ]

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
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    out = await fsend(
        followup_api,
        "POST",
        f"/followups/{agreed.followup_id}/contacts",
        {**counsellor, "If-Match": '"1"'},
        {"channel": "video", "reached": True},
        201,
    )
    assert out["version"] == 2
