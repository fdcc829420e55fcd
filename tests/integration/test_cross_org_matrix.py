"""Who may read and change what across organisations, as one matrix on the real stack.

The cast: each role of organisation A (the owner of everything below) and of another
organisation B; auditors with an explicit `audit_scope` of [A] and of `*` (a supervisory
authority); the directory administrator of the network; partner P_A (registered by A's
admin) and partner P_B (registered by B's admin). The objects: A's client with an agreed
plan, its follow-up and a referral (so every service holds events of the case), a second
client of A to erase, and partner P_A.

For each path `MATRIX` gives the status each caller gets. A refused caller gets exactly
what the same path on an object that does not exist gets (the id masked), and its answer
names no other object of A (no id, no count).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.audit.chain import AuditTrail
from tests.scenarios import (
    INTAKE,
    REFERRAL,
    a_registered_partner,
    an_agreed_plan,
    post_consent,
    proposal,
    wait_consent,
)
from tests.support import assert_problem, bearer, eventually, new_org

CATEGORIES = ["identity", "contact", "career_question"]
SERVICES = ("intake", "planning", "followup", "referral")
CALLERS = (
    "counsellor@A", "counsellor@B",
    "team_lead@A", "team_lead@B",
    "auditor@A", "auditor@B",
    "auditor[A]@A", "auditor[A]@B",
    "auditor[*]@A", "auditor[*]@B",
    "admin@A", "admin@B",
    "directory_admin@A", "directory_admin@B",
    "partner@A", "partner@B",
)  # fmt: skip

# An audit view of A's case: A's auditors and admins, and whoever's scope names A.
AUDIT = (403, 403, 403, 403, 200, 404, 200, 200, 200, 200, 200, 404, 403, 403, 403, 403)
# Chain-wide, no personal data: every auditor and admin.
CHAIN = (403, 403, 403, 403, 200, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403)
# Administering partner P_A: its owner's admins and the directory administrators.
PARTNER_ADMIN = (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 404, 200, 200, 403, 403)

# The own organisation's staff; another organisation's reads as absent.
STAFF_READ = (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403)
# A counsellor's change: the own organisation's counsellor; another's reads as absent.
COUNSELLOR_CHANGE = (
    200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403,
)  # fmt: skip

# fmt: off
# `{case}`, `{client}`, `{plan}`, `{followup}`: A's case, its client, plan and follow-up;
# `{erasable}`: another client of A; `{erased}`: a third, whose erasure A requested;
# `{pa}`: P_A; `{complaint}`: a complaint of A's client; `{action}`: the plan's action,
# `{product}`: a job application it produced, `{evidence}`: a piece of evidence in its
# portfolio (the plan's id is the one at stake); `{group}`:
# A's group session (A's case takes part); `{objective}`: an objective of A.
MATRIX: dict[str, tuple[int, ...]] = {
    **{f"GET /{s}/v1/audit/cases/{{case}}/events": AUDIT for s in SERVICES},
    **{f"GET /{s}/v1/audit/cases/{{case}}/state": AUDIT for s in SERVICES},
    **{f"GET /{s}/v1/audit/access-log?client_id={{client}}": AUDIT for s in SERVICES},
    "GET /intake/v1/audit/checkpoints": CHAIN,
    "GET /referral/v1/audit/public-key": CHAIN,
    #    c_A  c_B  t_A  t_B  a_A  a_B  [A]A [A]B [*]A [*]B ad_A ad_B da_A da_B p_A  p_B
    "PATCH /referral/v1/partners/{pa}": PARTNER_ADMIN,
    "POST /referral/v1/partners/{pa}/deactivate": PARTNER_ADMIN,
    "POST /referral/v1/partners/{pa}/reactivate": PARTNER_ADMIN,
    "PUT /referral/v1/partners/{pa}/capacity":
        (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 404, 200, 200, 200, 404),
    "GET /referral/v1/partners/{pa}":  # a partner reads its own entry
        (200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 200, 200, 200, 200, 200, 404),
    "GET /intake/v1/clients/{client}":
        (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/cases/{case}":
        (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/clients/{client}/export":
        (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "POST /intake/v1/clients/{erasable}/erasure":
        (202, 404, 202, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/cases/{case}/legal-hold":
        (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "PUT /intake/v1/cases/{case}/legal-hold":
        (403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "DELETE /intake/v1/cases/{case}/legal-hold":
        (403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "POST /intake/v1/cases/{case}/reassignment":
        (403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/cases/{case}/budget":
        (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "POST /intake/v1/cases/{case}/budget/approvals":
        (403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/clients/{erased}/erasure": STAFF_READ,
    "GET /intake/v1/complaints/{complaint}": STAFF_READ,
    "GET /intake/v1/clients/{client}/complaints": STAFF_READ,
    "POST /intake/v1/complaints/{complaint}/assignment":
        (200, 404, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/cases/{case}/notes": STAFF_READ,
    "GET /intake/v1/cases/{case}/appointments": STAFF_READ,
    "POST /intake/v1/cases/{case}/appointments":
        (201, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    # A counsellor's own feed, any of the organisation's for a team lead (B's team lead
    # reads B's appointments of that name: none).
    "GET /intake/v1/counsellors/counsellor@A-user/calendar":
        (200, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /intake/v1/cases/{case}/report": STAFF_READ,
    "GET /intake/v1/cases/{case}/report/document": STAFF_READ,
    "PUT /intake/v1/cases/{case}/report":
        (200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "GET /planning/v1/plans/{plan}": STAFF_READ,
    "GET /planning/v1/plans/{plan}/versions": STAFF_READ,
    "GET /planning/v1/plans/{plan}/versions/1": STAFF_READ,
    "POST /planning/v1/plans/{plan}/actions/{action}/products": (201, *COUNSELLOR_CHANGE[1:]),
    "PUT /planning/v1/plans/{plan}/products/{product}/status": COUNSELLOR_CHANGE,
    "POST /planning/v1/plans/{plan}/instruments": (201, *COUNSELLOR_CHANGE[1:]),
    "POST /planning/v1/plans/{plan}/portfolio/evidence/{evidence}/withdrawal": COUNSELLOR_CHANGE,
    "GET /followup/v1/followups/{followup}": STAFF_READ,
    "GET /intake/v1/groups/{group}": STAFF_READ,
    "POST /intake/v1/groups/{group}/participants":  # A's case takes part already: no change
        (200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    # A's objective: withdrawn by A's team lead; B's has no such objective.
    "POST /intake/v1/objectives/{objective}/withdrawal":
        (403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
}
# fmt: on
BODIES: dict[str, dict[str, Any]] = {
    "PATCH": {"description": "Debt counselling, in Dutch and French."},
    "PUT /referral/v1/partners/{pa}/capacity": {"open_places": 7},
    "POST /intake/v1/clients/{erasable}/erasure": {"reason": "The client asked to be forgotten."},
    "PUT /intake/v1/cases/{case}/legal-hold": {"reason": "A court asked to keep the file."},
    "POST /intake/v1/complaints/{complaint}/assignment": {"team_lead": "lead-a"},
    "POST /intake/v1/cases/{case}/appointments": {
        "kind": "deepening",
        "starts_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "channel": "phone",
    },
    "PUT /intake/v1/cases/{case}/report": {
        "starting_question": "What next?",
        "insights": [],
        "conclusions": "Teaching suits her.",
        "actions": ["Visit a school."],
    },
    "POST /intake/v1/cases/{case}/reassignment": {"counsellor": "c-next", "reason": "Leave."},
    "POST /planning/v1/plans/{plan}/actions/{action}/products": {
        "kind": "skills_cv",
        "title": "Skills-based CV",
        "date": date.today().isoformat(),
    },
    "POST /planning/v1/plans/{plan}/instruments": {
        "instrument": "riasec",
        "used_on": date.today().isoformat(),
        "result": "S-I-A",
    },
    "PUT /planning/v1/plans/{plan}/products/{product}/status": {
        "status": "interview",
        "on": date.today().isoformat(),
    },
    "POST /planning/v1/plans/{plan}/portfolio/evidence/{evidence}/withdrawal": {
        "reason": "Added by mistake."
    },
    "POST /intake/v1/cases/{case}/budget/approvals": {"extra_hours": 1, "reason": "More."},
    "POST /intake/v1/groups/{group}/participants": {"case_id": "{case}"},
}
CODES = {401: "unauthorized", 403: "forbidden", 404: "not-found"}
EVA = {
    "given_name": "Eva",
    "family_name": "Wouters",
    "birth_date": "1979-11-02",
    "email": "eva.wouters@example.org",
}


@dataclass
class World:
    orgs: dict[str, str]
    ids: dict[str, str]
    callers: dict[str, dict[str, str]]
    clients: dict[str, httpx.AsyncClient]


def caller_headers(token: Any, org_a: str, org_b: str, pa: str, pb: str) -> dict[str, Any]:
    orgs = {"A": org_a, "B": org_b}
    out: dict[str, dict[str, str]] = {}
    for who in CALLERS:
        role, at = who.split("@")
        org, sub = orgs[at], f"{who}-user"
        if role.startswith("auditor["):
            scope = role[len("auditor[") : -1]
            claim: Any = "*" if scope == "*" else [orgs[scope]]
            out[who] = bearer(token("auditor", org=org, sub=sub, audit_scope=claim))
        elif role == "partner":
            partner_id = pa if at == "A" else pb
            out[who] = bearer(token("partner", org=f"partner-{at}", sub=sub, partner_id=partner_id))
        else:
            out[who] = bearer(token(role, org=org, sub=sub))
    return out


@pytest.fixture(scope="module")
async def world(
    intake: tuple[FastAPI, httpx.AsyncClient],
    planning: tuple[FastAPI, httpx.AsyncClient],
    followup: tuple[FastAPI, httpx.AsyncClient],
    referral: tuple[FastAPI, httpx.AsyncClient],
    token: Any,
) -> World:
    api, planning_api, followup_api = intake[1], planning[1], followup[1]
    referral_app, referral_api = referral
    org_a, org_b = new_org(), new_org()
    pa = await a_registered_partner(
        referral_api,
        bearer(token("admin", org=org_a, sub="admin@A-user")),
        capacity=50,
        accepted_categories=CATEGORIES,
    )
    pb = await a_registered_partner(
        referral_api, bearer(token("admin", org=org_b, sub="admin@B-user")), capacity=50
    )
    callers = caller_headers(token, org_a, org_b, pa, pb)
    counsellor = callers["counsellor@A"]
    agreed = await an_agreed_plan(api, planning_api, followup_api, counsellor)
    client_id, case_id = agreed.client_id, agreed.case_id
    pool = referral_app.state.runtime.pool
    await post_consent(
        api, counsellor, client_id, partner_id=pa, data_categories=CATEGORIES, granted=True
    )
    await wait_consent(pool, client_id, pa, True)

    async def proposed() -> bool:
        r = await referral_api.post(
            f"{REFERRAL}/referrals",
            json=proposal(case_id, pa, data_categories=CATEGORIES),
            headers=counsellor,
        )
        return r.status_code == 201

    await eventually(proposed, "a referral of A's case")
    r = await api.post(
        f"{INTAKE}/clients",
        json=EVA,
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    erasable = str(r.json()["client_id"])
    r = await api.post(f"{INTAKE}/clients", json=EVA, headers=counsellor)
    assert r.status_code == 201, r.text
    erased = str(r.json()["client_id"])
    r = await api.post(
        f"{INTAKE}/clients/{erased}/erasure", json={"reason": "Asked to."}, headers=counsellor
    )
    assert r.status_code == 202, r.text
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/complaints", json={"subject": "Late."}, headers=counsellor
    )
    assert r.status_code == 201, r.text
    complaint = str(r.json()["complaint_id"])
    r = await api.post(f"{INTAKE}/cases/{case_id}/report", json={}, headers=counsellor)
    assert r.status_code == 201, r.text
    r = await planning_api.post(
        f"/planning/v1/plans/{agreed.plan_id}/actions/{agreed.action_id}/products",
        json={
            "kind": "application",
            "title": "Application",
            "date": date.today().isoformat(),
            "employer": "De Linde",
            "position": "Care assistant",
            "sent_on": date.today().isoformat(),
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    product = str(r.json()["product_id"])
    r = await planning_api.post(
        f"/planning/v1/plans/{agreed.plan_id}/portfolio/evidence",
        json={"title": "Reference", "kind": "reference", "date": date.today().isoformat()},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    evidence = str(r.json()["evidence_id"])
    r = await api.post(
        f"{INTAKE}/groups",
        json={
            "topic": "Networking",
            "starts_at": "2026-01-06T10:00:00+01:00",
            "minutes": 60,
            "case_ids": [case_id],
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    group = str(r.json()["group_id"])
    r = await api.post(
        f"{INTAKE}/objectives",
        json={
            "metric": "clients_started",
            "target": 10,
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
        },
        headers=callers["team_lead@A"],
    )
    assert r.status_code == 201, r.text
    objective = str(r.json()["objective_id"])
    clients = {"intake": api, "planning": planning_api, "followup": followup_api}
    clients["referral"] = referral_api
    # A supervisor's read in each service: every access log holds a read of A's client.
    for service in SERVICES:
        r = await clients[service].get(
            f"/{service}/v1/audit/cases/{case_id}/events", headers=callers["auditor[*]@B"]
        )
        assert r.status_code == 200, (service, r.text)
    ids = {
        "case": case_id,
        "client": client_id,
        "erasable": erasable,
        "erased": erased,
        "pa": pa,
        "plan": agreed.plan_id,
        "followup": str(agreed.followup["followup_id"]),
        "complaint": complaint,
        "action": agreed.action_id,
        "product": product,
        "evidence": evidence,
        "group": group,
        "objective": objective,
    }
    return World({"A": org_a, "B": org_b}, ids, callers, clients)


def comparable(r: httpx.Response, the_id: str) -> tuple[int, dict[str, Any]]:
    """A problem with its id masked and without `instance`."""
    body = json.loads(r.text.replace(the_id, "{id}"))
    body.pop("instance", None)
    return r.status_code, body


def order(expected: dict[str, int]) -> list[str]:
    """The refused callers first, the allowed ones last (they may change the object)."""
    return sorted(expected, key=lambda who: expected[who] < 300)


def test_the_matrix_gives_every_path_a_status_for_every_caller() -> None:
    assert all(len(row) == len(CALLERS) for row in MATRIX.values())
    assert len(CALLERS) == 16


@pytest.mark.parametrize("path", list(MATRIX))
async def test_each_caller_gets_what_the_matrix_says_and_a_refusal_reveals_nothing(
    path: str, world: World
) -> None:
    method, template = path.split(" ", 1)
    service = template.split("/")[1]
    client = world.clients[service]
    # The first id the path names is the one at stake (a plan's action or product is
    # filled in too, the plan's as it is).
    names = [n for n in world.ids if "{" + n + "}" in template]
    name = names[0] if names else None
    the_id = world.ids[name] if name else ""
    url = template
    for n in names:
        url = url.replace("{" + n + "}", world.ids[n])
    absent = str(uuid.uuid4())
    url_absent = url.replace(the_id, absent)
    body = BODIES.get(path, BODIES.get(method)) if method != "GET" else None
    if body is not None:  # a body may name the world's ids in braces
        text = json.dumps(body)
        for n, v in world.ids.items():
            text = text.replace("{" + n + "}", v)
        body = json.loads(text)
    expected = dict(zip(CALLERS, MATRIX[path], strict=True))
    others = [v for k, v in world.ids.items() if v != the_id and k not in names]

    for who in order(expected):
        headers = world.callers[who]
        r = await client.request(method, url, json=body, headers=headers)
        if expected[who] < 300:
            assert r.status_code == expected[who], (who, r.text)
            continue
        assert_problem(r, expected[who], CODES[expected[who]])
        assert not [i for i in others if i in r.text], (who, r.text)
        if expected[who] == 404:
            # Another organisation's object reads exactly like one that does not exist.
            a = await client.request(method, url_absent, json=body, headers=headers)
            assert comparable(r, the_id) == comparable(a, absent), who


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("who", ["auditor@B", "admin@B"])
async def test_the_whole_access_log_of_another_organisation_lists_none_of_its_reads(
    service: str, who: str, world: World
) -> None:
    r = await world.clients[service].get(
        f"/{service}/v1/audit/access-log", headers=world.callers[who]
    )

    assert r.status_code == 200, r.text
    assert (r.json(), r.headers["x-total-count"]) == ([], "0")


@pytest.mark.parametrize("service", SERVICES)
async def test_an_audit_read_is_recorded_with_the_scope_the_reader_used(
    service: str, world: World
) -> None:
    client, case = world.clients[service], world.ids["case"]
    prefix = f"/{service}/v1/audit"
    r = await client.get(f"{prefix}/cases/{case}/state", headers=world.callers["auditor[A]@B"])
    assert r.status_code == 200, r.text

    r = await client.get(
        f"{prefix}/access-log",
        params={"client_id": world.ids["client"]},
        headers=world.callers["auditor[*]@A"],
    )

    assert r.status_code == 200, r.text
    scopes = {(a["actor"], a["resource"]): a["audit_scope"] for a in r.json()}
    assert scopes[("auditor[A]@B-user", "audit-state")] == [world.orgs["A"]]
    assert scopes[("auditor[*]@B-user", "audit-events")] == ["*"]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_chain_from_before_owners_were_kept_gets_them_once_from_its_events(
    service: str,
    world: World,
    intake: tuple[FastAPI, httpx.AsyncClient],
    planning: tuple[FastAPI, httpx.AsyncClient],
    followup: tuple[FastAPI, httpx.AsyncClient],
    referral: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app = {"intake": intake, "planning": planning, "followup": followup, "referral": referral}
    audit = app[service][0].state.audit
    await audit.caught_up(timeout=5)
    trail = AuditTrail(
        audit.app,
        audit.settings.pg.asyncpg_kwargs(),
        audit.checkpoints,
        subjects=audit.trail.subjects,
    )
    owners = f'SELECT subject_id, organisation FROM "{audit.schema}".audit_owners'
    async with audit.pool.acquire() as conn:
        before = {tuple(r) for r in await conn.fetch(owners)}
        older = conn.transaction()
        await older.start()
        try:
            # The chain as an older version left it: links, but no owners and no mark.
            await conn.execute(f'DELETE FROM "{audit.schema}".audit_owners')
            await conn.execute(f'DELETE FROM "{audit.schema}".audit_meta')
            await trail.setup(conn)
            backfilled = {tuple(r) for r in await conn.fetch(owners)}
            await trail.setup(conn)  # once: the mark stops a second backfill
            again = {tuple(r) for r in await conn.fetch(owners)}
            await conn.execute(f'DELETE FROM "{audit.schema}".audit_owners')
            await trail.setup(conn)
            not_redone = await conn.fetchval(f'SELECT count(*) FROM "{audit.schema}".audit_owners')
        finally:
            await older.rollback()

    case, org_a = uuid.UUID(world.ids["case"]), world.orgs["A"]
    assert (case, org_a) in before
    assert backfilled == before == again
    assert not_redone == 0
