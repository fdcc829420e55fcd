"""The report to the funder and the organisation's objectives, over the real PG and NATS:
a case through plan, outcome and feedback (follow-up's events heard by intake), another
accepted on a programme with a session; the figures per programme, the objectives'
progress, the programme filter, a withdrawn objective, another organisation's nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.scenarios import (
    CLIENT_SCORES,
    COUNSELLOR_SCORES,
    PAST_SESSION,
    an_agreed_plan,
    an_open_case,
    days,
    fsend,
    post_case,
)
from tests.support import bearer, eventually, new_org

INTAKE = "/intake/v1"


async def test_the_funder_report_and_the_objectives(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    token: Any,
) -> None:
    org = new_org()
    counsellor = bearer(token("counsellor", org=org, sub="c-funder"))
    lead = bearer(token("team_lead", org=org, sub="lead-funder"))
    # One case with other hours: its plan agreed (no hours used yet), an outcome and feedback.
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    fid = agreed.followup_id
    await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/outcome",
        counsellor,
        {"outcome": "employed", "on": days(0), "contract": "permanent"},
    )
    await fsend(
        followup_api,
        "POST",
        f"/followups/{fid}/feedback",
        counsellor,
        {"satisfaction": 4, "self_knowledge_improved": True, "confidence_improved": False},
        201,
    )
    # Another on the short-track programme, with an hour's session.
    short = await an_open_case(api, counsellor)
    await post_case(api, counsellor, short, "entry-check", {"eligible": True}, 200)
    for assessor, scores in (("client", CLIENT_SCORES), ("counsellor", COUNSELLOR_SCORES)):
        body = {"assessor": assessor, "scores": scores}
        await post_case(api, counsellor, short, "assessments", body, 201)
    accept = {"decision": "accept", "programme": "short-track"}
    await post_case(api, counsellor, short, "decision", accept, 200)
    session = {"kind": "deepening", "held_at": PAST_SESSION, "minutes": 60}
    await post_case(api, counsellor, short, "sessions", session, 201)
    # Objectives: half the clients with a job or study; two clients on short-track.
    year = {"starts_on": days(-30), "ends_on": days(30)}
    ids = []
    for body in (
        {"metric": "job_or_study_outcome", "target": 50, **year},
        {"metric": "clients_started", "target": 2, "programme": "short-track", **year},
        {"metric": "satisfaction_average", "target": 4.5, **year},
    ):
        r = await api.post(f"{INTAKE}/objectives", json=body, headers=lead)
        assert r.status_code == 201, r.text
        ids.append(r.json()["objective_id"])
    r = await api.post(f"{INTAKE}/objectives/{ids[2]}/withdrawal", headers=lead)
    assert r.status_code == 200, r.text
    r = await api.get(f"{INTAKE}/objectives", headers=lead)
    assert r.status_code == 200, r.text
    # By the start of their period, then metric.
    assert [o["objective_id"] for o in r.json()["objectives"]] == [ids[1], ids[0]]
    assert r.json()["version"] == 5  # started with the first, two more, one withdrawn

    period = {"from": days(-1), "to": days(0)}

    async def report() -> dict[str, Any] | None:
        r = await api.get(f"{INTAKE}/reports/funder", params=period, headers=lead)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        total = found["total"]
        heard = total["outcomes"] == {"employed": 1} and total["feedback_given"] == 1
        counted = total["hours_used"] == 1.0 and total["plans_agreed"] == 1
        return found if heard and counted else None

    found = await eventually(report, "the report with the outcome, feedback and session")

    assert found["programme"] is None
    assert found["total"] == {
        "clients_started": 2,
        "cases_started": 2,
        "hours_used": 1.0,
        "plans_agreed": 1,
        "plans_agreed_within_budget": 1,
        "share_plans_within_budget": 1.0,
        "outcomes": {"employed": 1},
        "median_days_to_outcome": 0.0,
        "feedback_given": 1,
        "satisfaction_average": 4.0,
    }
    assert [(p["programme"], p["clients_started"]) for p in found["programmes"]] == [
        ("other", 1),
        ("short-track", 1),
    ]
    progress = [(o["metric"], o["value"], o["met"], o["progress"]) for o in found["objectives"]]
    assert progress == [
        ("clients_started", 1.0, False, 0.5),
        ("job_or_study_outcome", 50.0, True, 1.0),
    ]
    # One programme: its figures and its objectives only.
    r = await api.get(
        f"{INTAKE}/reports/funder", params={**period, "programme": "short-track"}, headers=lead
    )
    assert r.status_code == 200, r.text
    one = r.json()
    assert (one["total"]["clients_started"], one["total"]["hours_used"]) == (1, 1.0)
    assert [o["metric"] for o in one["objectives"]] == ["clients_started"]
    # A period before any of it; another organisation's team lead: nothing.
    r = await api.get(
        f"{INTAKE}/reports/funder", params={"from": "2020-01-01", "to": "2020-12-31"}, headers=lead
    )
    assert (r.json()["total"]["cases_started"], r.json()["objectives"]) == (0, [])
    other = bearer(token("team_lead", org=new_org(), sub="lead-other"))
    r = await api.get(f"{INTAKE}/reports/funder", params=period, headers=other)
    assert (r.json()["total"]["cases_started"], r.json()["programmes"]) == (0, [])
    r = await api.get(f"{INTAKE}/objectives", headers=other)
    assert r.json() == {"objectives": [], "version": 0}
