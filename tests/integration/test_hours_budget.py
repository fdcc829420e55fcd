"""The hours budget per case (#16 item 3) on the real PostgreSQL and NATS: set at
acceptance from the programme (or other hours with a reason), its state in the case, the
list and `.../budget`, a session past it refused (409 `over-budget`) until a team lead
approves extra hours, and an aftercare check-in done (follow-up, over NATS) counting too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.scenarios import (
    CLIENT_SCORES,
    a_guidance_consent,
    a_registered_client,
    an_agreed_plan,
    an_open_case,
    fsend,
    post_case,
)
from tests.support import assert_problem, bearer, eventually

INTAKE = "/intake/v1"


def a_session(minutes: int) -> dict[str, Any]:
    held = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return {"kind": "deepening", "held_at": held, "minutes": minutes}


async def get_case(api: httpx.AsyncClient, headers: dict[str, str], case_id: str) -> Any:
    r = await api.get(f"{INTAKE}/cases/{case_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_budget_comes_from_the_programme_and_going_over_needs_a_team_lead(
    api: httpx.AsyncClient, counsellor: dict[str, str], token: Any, org: str
) -> None:
    client_id = await a_registered_client(api, counsellor)
    await a_guidance_consent(api, counsellor, client_id)
    case_id = await an_open_case(api, counsellor, client_id)
    await post_case(api, counsellor, case_id, "entry-check", {"eligible": True}, 200)
    await post_case(
        api,
        counsellor,
        case_id,
        "assessments",
        {"assessor": "client", "scores": CLIENT_SCORES},
        201,
    )

    # An unknown programme, or other hours without a reason: 422 naming the field.
    for body, field in (
        ({"programme": "nope"}, "programme"),
        ({"programme": "short-track", "hours_budget": 4}, "budget_reason"),
        ({"hours_budget": -1}, "hours_budget"),
    ):
        r = await api.post(
            f"{INTAKE}/cases/{case_id}/decision",
            json={"decision": "accept", **body},
            headers=counsellor,
        )
        assert_problem(r, 422, "validation-error", (field,))
    assert (await get_case(api, counsellor, case_id))["status"] == "open"

    await post_case(
        api,
        counsellor,
        case_id,
        "decision",
        {"decision": "accept", "programme": "short-track"},
        200,
    )
    case = await get_case(api, counsellor, case_id)
    assert case["budget"] == {
        "hours": 2.0,
        "used": 0.0,
        "left": 2.0,
        "state": "ok",
        "programme": "short-track",
        "reason": None,
        "aftercare_hours": 0.0,
        "extensions": [],
    }

    # 100 of 120 minutes: a warning, in the case, the list and the budget alone.
    await post_case(api, counsellor, case_id, "sessions", a_session(100), 201)
    r = await api.get(f"{INTAKE}/cases/{case_id}/budget", headers=counsellor)
    assert r.json() == {
        "hours": 2.0,
        "used": 1.67,
        "left": 0.33,
        "state": "warning",
        "programme": "short-track",
    }
    r = await api.get(f"{INTAKE}/cases", params={"client_id": client_id}, headers=counsellor)
    assert [c["budget"]["state"] for c in r.json()] == ["warning"]

    # A session past the budget: 409 naming it, nothing recorded.
    version = (await get_case(api, counsellor, case_id))["version"]
    r = await api.post(f"{INTAKE}/cases/{case_id}/sessions", json=a_session(30), headers=counsellor)
    problem = assert_problem(r, 409, "over-budget")
    assert "budget" in problem["detail"] and "team lead" in problem["detail"]
    assert (await get_case(api, counsellor, case_id))["version"] == version

    # Only a team lead approves extra hours (with a reason); then the session fits.
    extra = {"extra_hours": 1, "reason": "One more session to finish the plan."}
    r = await api.post(f"{INTAKE}/cases/{case_id}/budget/approvals", json=extra, headers=counsellor)
    assert r.status_code == 403, r.text
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/budget/approvals", json={"extra_hours": 1}, headers=lead
    )
    assert_problem(r, 422, "validation-error", ("reason",))
    await post_case(api, lead, case_id, "budget/approvals", extra, 200)
    await post_case(api, counsellor, case_id, "sessions", a_session(30), 201)
    budget = (await get_case(api, lead, case_id))["budget"]
    assert (budget["hours"], budget["used"], budget["state"]) == (3.0, 2.17, "ok")
    assert [(e["extra_hours"], e["reason"], e["actor"]) for e in budget["extensions"]] == [
        (1.0, extra["reason"], "lead-1")
    ]

    # Another organisation's team lead finds no such case.
    other = bearer(token("team_lead", org="org-elsewhere", sub="lead-9"))
    r = await api.post(f"{INTAKE}/cases/{case_id}/budget/approvals", json=extra, headers=other)
    assert r.status_code == 404, r.text


async def test_an_aftercare_check_in_done_counts_against_the_budget(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    counsellor: dict[str, str],
) -> None:
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    first = agreed.followup["checkins"][0]["checkin_id"]
    path = f"/followups/{agreed.followup_id}/checkins/{first}/complete"
    await fsend(followup_api, "POST", path, counsellor)

    async def counted() -> Any:
        budget = (await get_case(api, counsellor, agreed.case_id))["budget"]
        return budget if budget["aftercare_hours"] == 0.5 else None

    budget = await eventually(counted, "the check-in's half hour on the case")
    assert (budget["hours"], budget["used"], budget["programme"]) == (12.0, 0.5, None)
