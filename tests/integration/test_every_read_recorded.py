"""Every read of a client's personal data through the four services' GET routes is
recorded, detail and list alike, on the real stack (PostgreSQL and NATS).

`READS` names every GET route of the services' OpenAPI, each read by whom and what it
records: a resource (one entry per client shown in that service's access log, with the
reader, role, organisation, purpose and categories), or None for an answer that carries
no personal content (ids, statuses, dates, counts, the chain's own data). A route not in
the table fails the first test, so a new GET route must say whether it records. An
answer said to carry no personal content must not show any of the client's personal
values (name, e-mail address, career question, goal, action, contact notes, referral
reason), so a route that starts showing them without recording fails too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.scenarios import (
    CATEGORIES,
    FOLLOWUP,
    INTAKE,
    REFERRAL,
    a_goal,
    a_registered_partner,
    agree_both,
    an_accepted_case,
    an_action,
    eventually_followup,
    post_consent,
    proposal,
    send,
    wait_consent,
    wait_for_plan,
)
from tests.support import bearer, new_org

SERVICES = ("intake", "planning", "followup", "referral")
GIVEN, FAMILY = "Wendelien", "Verstraelen"
# The e-mail address and career question an accepted case's client gets.
EMAIL = "anna.peeters@example.org"
QUESTION = "Should I move from logistics?"
GOAL = "Visit three secondary schools with a chemistry department"
ACTION = "Ask the former lab manager for an introduction to a headteacher"
NOTES = "Reached her after the open day at the Sint-Jozef school"
REASON = "Rent arrears keep her from starting the teacher training"
COMPLAINT = "Waited four weeks for a first appointment"
INSIGHT = "Working with young people matters more to her than the pay"
# The client's personal values: an answer that shows one carries personal content.
PERSONAL = (GIVEN, FAMILY, EMAIL, QUESTION, GOAL, ACTION, NOTES, REASON, COMPLAINT, INSIGHT)


@dataclass(frozen=True)
class Read:
    """One read of a route: by whom (a caller of `World.callers`, `anyone`: no token),
    with which query, and what it records (None: nothing), with which purpose and
    categories (None: whatever the read opened, at least one)."""

    who: str
    resource: str | None = None
    categories: tuple[str, ...] | None = None
    purpose: str = "guidance"
    params: dict[str, str] = field(default_factory=dict)
    ok: tuple[int, ...] = (200,)
    # A path parameter filled with another of the world's ids (default: its own name's).
    use: dict[str, str] = field(default_factory=dict)


PROBE = (Read("anyone"),)
# Not ready (503) while another test's dead letter waits: no personal data either way.
READY = (Read("anyone", ok=(200, 503)),)
# A counsellor's read that records nothing.
NOTHING = (Read("counsellor"),)
AUDIT_ROUTES = {
    "/v1/audit/cases/{case_id}/events": (Read("auditor", "audit-events", purpose="audit"),),
    "/v1/audit/cases/{case_id}/state": (
        Read("auditor", "audit-state", ("case-state",), purpose="audit"),
    ),
    # The chain, its checkpoints and key: no client's data.
    "/v1/audit/verify": (Read("auditor"),),
    "/v1/audit/checkpoints": (Read("auditor"),),
    "/v1/audit/public-key": (Read("auditor"),),
    # Who read what: ids and words, no personal content (reading it is not recorded).
    "/v1/audit/access-log": (Read("auditor", params={"client_id": "{client_id}"}),),
    # A letter names its aggregate and the error, never its data.
    "/v1/admin/dead-letters": (Read("admin"),),
    "/healthz": PROBE,
    "/readyz": READY,
    "/metrics": PROBE,
}
PLAN = ("plan",)
FOLLOWUP_DATA = ("followup",)
BY_CASE = {"case_id": "{case_id}"}

# fmt: off
READS: dict[str, tuple[Read, ...]] = {
    **{f"/{s}{path}": reads for s in SERVICES for path, reads in AUDIT_ROUTES.items()},
    # intake
    "/intake/v1/clients": (
        Read("counsellor", "client-search", ("identity", "contact"), params={"q": FAMILY}),
    ),
    "/intake/v1/clients/{client_id}": (Read("counsellor", "client", ("identity", "contact")),),
    "/intake/v1/cases": (Read("counsellor", "case-list", ("identity", "career_question")),),
    "/intake/v1/cases/{case_id}": (
        Read("counsellor", "case", ("career_question", "assessments")),
    ),
    "/intake/v1/clients/{client_id}/export": (
        Read("counsellor", "export", purpose="access-request"),
    ),
    # Consents: purpose, partner, categories, who recorded them and when.
    "/intake/v1/clients/{client_id}/consents": NOTHING,
    "/intake/v1/clients/{client_id}/consents/history": NOTHING,
    # The receipt of another client's erasure: who asked, why, which service confirmed.
    "/intake/v1/clients/{client_id}/erasure": (
        Read("counsellor", use={"client_id": "erased_id"}),
    ),
    "/intake/v1/cases/{case_id}/legal-hold": NOTHING,
    # The hours budget: hours, state and programme (no reason, nothing personal).
    "/intake/v1/cases/{case_id}/budget": NOTHING,
    "/intake/v1/schemas/client-export.json": NOTHING,
    "/intake/v1/reports/caseload": (Read("team_lead"),),
    # The report to the funder and the objectives: counts, codes and targets, no client.
    "/intake/v1/reports/funder": (Read("team_lead"),),
    "/intake/v1/objectives": (Read("team_lead"),),
    "/intake/v1/rights-information/versions": (Read("counsellor"),),
    "/intake/v1/clients/{client_id}/complaints": (
        Read("counsellor", "complaint-list", ("complaints",)),
    ),
    "/intake/v1/complaints": (Read("team_lead"),),  # no text: ids, statuses, dates
    "/intake/v1/complaints/{complaint_id}": (Read("counsellor", "complaint", ("complaints",)),),
    "/intake/v1/reports/complaints": (Read("team_lead"),),
    # A group session: topic, when, where, case ids and attendance; no name, no note.
    "/intake/v1/groups": (Read("counsellor", params={"case_id": "{case_id}"}),),
    "/intake/v1/groups/{group_id}": NOTHING,
    "/intake/v1/cases/{case_id}/notes": (
        Read("counsellor", "session-notes", ("session_notes",)),
    ),
    "/intake/v1/cases/{case_id}/report": (
        Read("team_lead", "report", ("session_notes", "career_question")),
    ),
    "/intake/v1/cases/{case_id}/appointments": (
        Read("counsellor", "appointments", ("appointments",)),
    ),
    # A counsellor's day: case ids, kinds, times, channels, places; no client's name or text.
    "/intake/v1/appointments": (Read("counsellor", params={"from": "{from}", "to": "{to}"}),),
    "/intake/v1/counsellors/{counsellor}/calendar": (
        Read("team_lead", "calendar", ("appointments",)),
    ),
    "/intake/v1/cases/{case_id}/report/document": (
        Read("counsellor", "report-document", ("identity", "session_notes", "career_question")),
    ),
    # planning
    "/planning/v1/instruments": NOTHING,  # the agency's list: no personal data
    "/planning/v1/plans": (
        Read("counsellor", "plan-list", PLAN),
        Read("counsellor", "plan-list", PLAN, params=BY_CASE),
    ),
    "/planning/v1/plans/{plan_id}": (Read("counsellor", "plan", PLAN),),
    "/planning/v1/plans/{plan_id}/versions": (Read("counsellor", "plan-versions", PLAN),),
    "/planning/v1/plans/{plan_id}/versions/{version}": (
        Read("counsellor", "plan-version", PLAN),
    ),
    "/planning/v1/plans/{plan_id}/document": (
        Read("counsellor", "plan-document", ("identity", "career_question", "plan")),
    ),
    # ESCO (reference data, nobody's personal data): labels, URIs, kinds.
    "/planning/v1/esco/search": (Read("counsellor", params={"q": "first aid"}),),
    "/planning/v1/esco/concepts": (
        Read("counsellor", params={"uri": "http://data.europa.eu/esco/skill/0e47a0c3-a4e6-4841"}),
    ),
    # EVC standards (reference data, nobody's personal data): codes, titles, ESCO URIs.
    "/planning/v1/standards": (Read("counsellor"),),
    "/planning/v1/standards/{standard_id}": (Read("counsellor", ok=(200, 404)),),
    # follow-up
    "/followup/v1/followups": (
        Read("counsellor", "followup-list", FOLLOWUP_DATA),
        Read("counsellor", "followup-list", FOLLOWUP_DATA, params=BY_CASE),
    ),
    "/followup/v1/followups/{followup_id}": (Read("counsellor", "followup", FOLLOWUP_DATA),),
    # Check-ins due: ids, numbers and days.
    "/followup/v1/worklist": NOTHING,
    "/followup/v1/reports/outcomes": (Read("team_lead"),),
    # The retention rules, the anonymised archive's size and the purges: counts and days.
    "/followup/v1/retention": (Read("team_lead"),),
    # referral
    "/referral/v1/referrals/{referral_id}": (
        Read("counsellor", "referral", ("referrals",), purpose="referral"),
        Read("partner", "referral", ("referrals",), purpose="referral"),
    ),
    "/referral/v1/referrals/{referral_id}/packet": (
        Read("partner", "packet", tuple(CATEGORIES), purpose="referral"),
    ),
    "/referral/v1/referrals/{referral_id}/letter": (
        Read("counsellor", "letter", tuple(CATEGORIES), purpose="referral"),
    ),
    # A list line: ids, statuses, dates and the outcome's word, no reason or notes.
    "/referral/v1/referrals": (Read("counsellor"), Read("partner")),
    # The directory (organisations, not clients) and counts.
    "/referral/v1/partners": NOTHING,
    "/referral/v1/partners/{partner_id}": NOTHING,
    "/referral/v1/partners/{partner_id}/figures": (Read("team_lead"),),
    "/referral/v1/reports/network": (Read("team_lead"),),
    # The retention rules and the removed packets: ids, dates, rules.
    "/referral/v1/retention": (Read("team_lead"),),
}
# fmt: on
# Reads that name no case: of a client, or of a list (one read per client shown).
NO_CASE = (
    "client",
    "client-search",
    "case-list",
    "export",
    "plan-list",
    "followup-list",
    "complaint-list",
    "calendar",
)


@dataclass
class World:
    org: str
    ids: dict[str, str]
    callers: dict[str, dict[str, str]]
    subs: dict[str, tuple[str, str, str]]  # caller -> (sub, role, organisation)
    apps: dict[str, tuple[FastAPI, httpx.AsyncClient]]
    log_reader: dict[str, str]


@pytest.fixture(scope="module")
async def world(
    intake: tuple[FastAPI, httpx.AsyncClient],
    planning: tuple[FastAPI, httpx.AsyncClient],
    followup: tuple[FastAPI, httpx.AsyncClient],
    referral: tuple[FastAPI, httpx.AsyncClient],
    token: Any,
) -> World:
    """A client of a new organisation with an intake case, an agreed plan, a follow-up
    with a contact, and a referral sent to a partner; another client whose erasure was
    asked for; and who reads."""
    api, planning_api, followup_api, referral_api = intake[1], planning[1], followup[1], referral[1]
    org = new_org()
    subs = {
        **{role: (f"reads-{role}", role, org) for role in ("counsellor", "team_lead", "admin")},
        "auditor": ("reads-auditor", "auditor", "audit-office"),
        "partner": ("reads-partner", "partner", "partner-office"),
    }
    callers = {
        role: bearer(token(role, org=org, sub=f"reads-{role}"))
        for role in ("counsellor", "team_lead", "admin")
    }
    counsellor = callers["counsellor"]
    partner_id = await a_registered_partner(
        referral_api, callers["admin"], capacity=50, accepted_categories=CATEGORIES
    )
    callers["partner"] = bearer(
        token("partner", org="partner-office", sub="reads-partner", partner_id=partner_id)
    )
    callers["auditor"] = bearer(
        token("auditor", org="audit-office", sub="reads-auditor", audit_scope="*")
    )
    callers["anyone"] = {}

    client_id, case_id = await an_accepted_case(
        api, counsellor, given_name=GIVEN, family_name=FAMILY
    )
    plan_id = (await wait_for_plan(planning_api, counsellor, case_id))["plan_id"]
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", counsellor, {"plan_type": "action"})
    goal = await send(
        planning_api, "POST", f"/plans/{plan_id}/goals", counsellor, a_goal(title=GOAL), 201
    )
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/goals/{goal['goal_id']}/actions",
        counsellor,
        an_action(description=ACTION),
        201,
    )
    await agree_both(planning_api, counsellor, plan_id)
    followup_id = str((await eventually_followup(followup_api, counsellor, case_id))["followup_id"])
    r = await followup_api.post(
        f"{FOLLOWUP}/followups/{followup_id}/contacts",
        json={"channel": "phone", "reached": True, "notes": NOTES},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    await post_consent(
        api, counsellor, client_id, partner_id=partner_id, data_categories=CATEGORIES, granted=True
    )
    await wait_consent(referral[0].state.runtime.pool, client_id, partner_id, True)
    r = await referral_api.post(
        f"{REFERRAL}/referrals",
        json=proposal(case_id, partner_id, data_categories=CATEGORIES, reason=REASON),
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    referral_id = str(r.json()["referral_id"])
    r = await referral_api.post(f"{REFERRAL}/referrals/{referral_id}/send", headers=counsellor)
    assert r.status_code == 200, r.text

    r = await api.post(
        f"{INTAKE}/clients",
        json={
            "given_name": "Ruben",
            "family_name": "Maes",
            "birth_date": "1981-03-04",
            "email": "ruben.maes@example.org",
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    erased_id = str(r.json()["client_id"])
    r = await api.post(
        f"{INTAKE}/clients/{erased_id}/erasure",
        json={"reason": "Asked to."},
        headers=counsellor,
    )
    assert r.status_code == 202, r.text
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/complaints",
        json={"subject": COMPLAINT, "case_id": case_id},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    complaint_id = str(r.json()["complaint_id"])
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/sessions",
        json={
            "kind": "deepening",
            "held_at": "2026-01-05T10:00:00+01:00",
            "minutes": 60,
            "notes": {"insights": INSIGHT},
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    r = await api.post(f"{INTAKE}/cases/{case_id}/report", json={}, headers=counsellor)
    assert r.status_code == 201, r.text
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    r = await api.post(
        f"{INTAKE}/cases/{case_id}/appointments",
        json={"kind": "deepening", "starts_at": tomorrow.isoformat(), "channel": "phone"},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        f"{INTAKE}/groups",
        json={
            "topic": "Networking",
            "starts_at": "2026-01-06T10:00:00+01:00",
            "minutes": 90,
            "case_ids": [case_id],
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    group_id = str(r.json()["group_id"])
    r = await api.post(
        f"{INTAKE}/groups/{group_id}/held",
        json={"attendance": [{"case_id": case_id, "present": True, "insights": INSIGHT}]},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    ids = {
        "client_id": client_id,
        "case_id": case_id,
        "plan_id": plan_id,
        "version": "1",
        "followup_id": followup_id,
        "referral_id": referral_id,
        "partner_id": partner_id,
        "erased_id": erased_id,
        "complaint_id": complaint_id,
        "counsellor": subs["counsellor"][0],
        "from": (tomorrow - timedelta(hours=1)).isoformat(),
        "to": (tomorrow + timedelta(hours=1)).isoformat(),
        "standard_id": "mbo2-care",
        "group_id": group_id,
    }
    apps = {"intake": intake, "planning": planning, "followup": followup, "referral": referral}
    # Reads the organisation's access logs: every client of the organisation.
    log_reader = bearer(token("auditor", org="audit-office", sub="log-reader", audit_scope=[org]))
    return World(org, ids, callers, subs, apps, log_reader)


def filled(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    return template


async def access_log(w: World, service: str) -> tuple[int, list[dict[str, Any]]]:
    """The service's access log of the organisation's clients, newest first, once its
    audit trail covers everything stored: how many entries, and the newest ones."""
    app, client = w.apps[service]
    await app.state.audit.caught_up(timeout=10)
    r = await client.get(
        f"/{service}/v1/audit/access-log", params={"limit": 50}, headers=w.log_reader
    )
    assert r.status_code == 200, r.text
    return int(r.headers["x-total-count"]), r.json()


async def test_the_table_names_every_get_route_of_every_service(
    intake: tuple[FastAPI, httpx.AsyncClient],
    planning: tuple[FastAPI, httpx.AsyncClient],
    followup: tuple[FastAPI, httpx.AsyncClient],
    referral: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    routes = {
        path
        for app, _ in (intake, planning, followup, referral)
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations
    }

    assert routes - set(READS) == set(), "a GET route the table does not say whether it records"
    assert set(READS) - routes == set(), "a route in the table the services do not have"
    assert all(reads for reads in READS.values())


ROWS = [(path, i) for path, reads in READS.items() for i in range(len(reads))]


@pytest.mark.parametrize(("path", "i"), ROWS, ids=[f"{p}#{i}" for p, i in ROWS])
async def test_each_read_of_personal_data_is_in_the_access_log_and_no_other_read_is(
    path: str, i: int, world: World
) -> None:
    w, read = world, READS[path][i]
    service = path.split("/")[1]
    client = w.apps[service][1]
    before, _ = await access_log(w, service)
    ids = {**w.ids, **{name: w.ids[other] for name, other in read.use.items()}}
    params = {k: filled(v, ids) for k, v in read.params.items()}

    r = await client.get(filled(path, ids), params=params, headers=w.callers[read.who])

    assert r.status_code in read.ok, r.text
    after, entries = await access_log(w, service)
    if read.resource is None:
        shown = [value for value in PERSONAL if value in r.text]
        assert shown == [], f"{path} shows personal data {shown} but records no read"
        assert after == before, entries[: after - before]
        return
    # One read of the one client of the organisation it showed.
    assert after == before + 1, entries[: after - before]
    [entry] = entries[:1]
    sub, role, organisation = w.subs[read.who]
    assert entry["client_id"] == w.ids["client_id"]
    assert (entry["actor"], entry["role"], entry["organisation"]) == (sub, role, organisation)
    assert (entry["resource"], entry["purpose"]) == (read.resource, read.purpose)
    if read.categories is None:
        assert entry["categories"], entry
    else:
        assert entry["categories"] == list(read.categories), entry
    # A read of one case's data names the case.
    case = None if read.resource in NO_CASE else w.ids["case_id"]
    assert entry["case_id"] == case, entry
