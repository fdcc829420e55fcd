"""Follow-up's bad requests: a table of bad requests for every follow-up path, each to answer
problem+json and change nothing.

The rows share one world (`Worlds`: built once, rebuilt after a row that fails): the
follow-up an agreed plan opened, in an organisation of its own, a closed follow-up and another
organisation's.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from tests.bad_requests import (
    Bad,
    Worlds,
    bad_request,
    body_rows,
    caller,
    command_rows,
    read_rows,
    without,
)
from tests.scenarios import FOLLOWUP as FU
from tests.scenarios import (
    an_agreed_plan,
    days,
    followup_events,
    fsend,
    get_followup,
)
from tests.support import INVALID, assert_problem, bearer, new_org

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


def followup_command_rows(name: str, path: str, body: Any) -> dict[str, Bad]:
    """A command on the world's follow-up (at version 3): the rows every command shares, and
    the closed follow-up that refuses it."""
    tail = path.removeprefix("/followups/{fu}")
    return {
        **command_rows(
            name,
            "POST",
            path,
            body,
            stale='"2"',
            absent={
                "unknown-followup": "/followups/{missing}" + tail,
                "a-case-id": "/followups/{case}" + tail,
                "other-org": "/followups/{other}" + tail,
            },
            refused=("auditor", "partner", "team_lead"),
        ),
        f"{name}/closed": Bad("POST", "/followups/{closed}" + tail, 409, "followup-closed", body),
    }


def followup_body_rows(name: str, path: str, body: dict[str, Any], extra: str) -> dict[str, Bad]:
    """No body, and the rows every command with a body shares."""
    return {
        f"{name}/no-body": Bad("POST", path, 422, INVALID),
        **body_rows(name, path, body, unknown={extra: 1}, broken='{"x": nope}'),
    }


def followup_read_rows(name: str, path: str, *, missing: str, other: str) -> dict[str, Bad]:
    return read_rows(
        name,
        path,
        absent={"unknown-followup": missing, "other-org": other},
        refused=("auditor", "partner"),
    )


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
    **followup_read_rows(
        "followup", P_ONE, missing="/followups/{missing}", other="/followups/{other}"
    ),
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
    # GET /retention (team lead or auditor): the statistics' retention rules and receipts
    "retention/no-token": Bad("GET", "/retention", 401, "unauthorized", who="none"),
    "retention/counsellor": Bad("GET", "/retention", 403, "forbidden"),
    "retention/partner": Bad("GET", "/retention", 403, "forbidden", who="partner"),
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
    **followup_body_rows("contact", P_CONTACT, CONTACT, "duration"),
    **followup_command_rows("contact", P_CONTACT, CONTACT),
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
    **followup_body_rows("check", P_CHECK, CHECK, "score"),
    **followup_command_rows("check", P_CHECK, CHECK),
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
    **followup_command_rows("checkin", P_CHECKIN, None),
    # POST /followups/{id}/outcome
    "outcome/empty": Bad("POST", P_OUTCOME, 422, INVALID, body={}, fields=("outcome", "on")),
    "outcome/unknown-contract": Bad(
        "POST",
        P_OUTCOME,
        422,
        INVALID,
        body={**OUTCOME, "contract": "zero_hours"},
        fields=("contract",),
    ),
    "outcome/contract-without-a-job": Bad(
        "POST",
        P_OUTCOME,
        422,
        INVALID,
        body={"outcome": "volunteering", "contract": "permanent", "on": days(0)},
        fields=("contract",),
    ),
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
    **followup_body_rows("outcome", P_OUTCOME, OUTCOME, "employer"),
    **followup_command_rows("outcome", P_OUTCOME, OUTCOME),
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
    **followup_body_rows("feedback", P_FEEDBACK, FEEDBACK, "nps"),
    **followup_command_rows("feedback", P_FEEDBACK, FEEDBACK),
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
    **followup_body_rows("todo", P_TODO, TODO, "priority"),
    **followup_command_rows("todo", P_TODO, TODO),
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
    **followup_body_rows("close", P_CLOSE, CLOSE, "rule"),
    **followup_command_rows("close", P_CLOSE, CLOSE),
    # POST /followups/{id}/aftercare-requests
    "aftercare/empty": Bad("POST", P_AFTERCARE, 422, INVALID, body={}, fields=("due_on",)),
    "aftercare/due-in-the-past": Bad(
        "POST", P_AFTERCARE, 422, INVALID, body={"due_on": days(-1)}, fields=("due_on",)
    ),
    "aftercare/due-not-a-date": Bad(
        "POST", P_AFTERCARE, 422, INVALID, body={"due_on": 20260101}, fields=("due_on",)
    ),
    **followup_body_rows("aftercare", P_AFTERCARE, AFTERCARE, "reason"),
    **{
        name: bad
        for name, bad in followup_command_rows("aftercare", P_AFTERCARE, AFTERCARE).items()
        if not name.endswith("/closed")  # aftercare reopens a closed follow-up
    },
}


@dataclass
class World:
    """One organisation's follow-up at version 3 (check-in 1 done, one reached contact), a
    closed follow-up of the same organisation and another organisation's follow-up."""

    org: str
    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
) -> World:
    org = new_org()
    h = bearer(token("counsellor", org=org))
    agreed = await an_agreed_plan(api, planning_api, followup_api, h)
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
    closed = await an_agreed_plan(api, planning_api, followup_api, h)
    await fsend(
        followup_api, "POST", f"/followups/{closed.followup_id}/close", h, {"reason": "other"}
    )
    ids["closed"] = closed.followup_id
    other = bearer(token("counsellor", org=new_org()))
    ids["other"] = (await an_agreed_plan(api, planning_api, followup_api, other)).followup_id
    return World(org, h, ids)


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


@pytest.fixture(scope="module")
def worlds() -> Worlds[World]:
    return Worlds()


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad,
    worlds: Worlds[World],
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    followup_app: Any,
    token: Any,
) -> None:
    build = partial(build_world, api, planning_api, followup_api, token)
    async with worlds.use("followup", build) as world:
        before = await snapshot(followup_api, followup_app, world)
        assert before["fu"]["version"] == 3 and before["etag:fu"] == '"3"'
        assert before["events:fu"] == 3

        r = await bad_request(
            followup_api,
            FU,
            bad,
            caller(bad.who, "counsellor", world.headers, world.org, token),
            world.ids,
        )

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
    from services.followup.api import ROUTERS

    def shape(path: str) -> str:
        path = path.split("?")[0]
        return re.sub(
            r"\{[a-z_0-9]+\}|(?<=/followups/)my-followup|(?<=/checkins/)first", "{}", path
        )

    routes = {
        (method, shape(getattr(route, "path", "")))
        for router in ROUTERS
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
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
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
