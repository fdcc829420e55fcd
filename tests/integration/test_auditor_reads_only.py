"""An auditor reads the audit views and changes nothing anywhere.

Every route of the four services that changes something (POST, PUT, PATCH, DELETE) is
sent by an auditor, with a plausible body, twice: with fresh ids in its path, and with
the real ids of objects of the auditor's own organisation (a client, cases, a plan with
a goal and actions, a follow-up with its check-ins, a partner, a referral). Each must
answer 403 problem+json, and no service's event store may hold one event more
afterwards (the recorded reads of personal data aside). The same requests, sent by the
role that may make them, go through: the 403 is the auditor's, not the request's.

Every GET under `/audit/` answers the auditor (200, or 404 for an unknown case) and
refuses a counsellor (403). Offenders are listed all at once.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from eventsourcing.utils import get_topic
from fastapi import FastAPI

from services.referral.queries import case_info
from shared.audit.access import DataAccess
from shared.audit.queries import events_table
from tests.scenarios import (
    CLIENT_SCORES,
    a_goal,
    a_partner,
    a_service,
    agree_both,
    an_accepted_case,
    an_action,
    days,
    wait_consent,
    wait_for_plan,
)
from tests.support import PROBLEM_BASE, bearer, eventually, new_org

SERVICES = ("intake", "planning", "followup", "referral")
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACCESS_TOPIC = get_topic(DataAccess.Recorded)
CATEGORIES = ["identity", "contact", "career_question"]
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def routes_of(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every HTTP route of the app, routers included at any
    depth (newer FastAPI keeps included routers unflattened in `app.routes`)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes is flat
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for route in contexts:
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if path is not None and method not in ("HEAD", "OPTIONS"):
                yield method, path


def all_routes(apps: dict[str, FastAPI]) -> list[tuple[str, str, str]]:
    """(service, method, path) of every route; checked against the OpenAPI documents, so
    a route the walk missed fails the test instead of going untested."""
    out = []
    for service, app in apps.items():
        found = set(routes_of(app))
        documented = {
            (method.upper(), path)
            for path, item in app.openapi()["paths"].items()
            for method in item
            if method.upper() in CHANGING | {"GET"}
        }
        assert documented <= found, (service, sorted(documented - found))
        out += [(service, method, path) for method, path in sorted(found)]
    return out


def fill(path: str, ids: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"no id for path parameter {name!r} of {path}"
        return ids[name]

    return PARAM.sub(one, path)


def now_minus(hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


# A plausible body for each changing route (None: the route takes none), from the ids
# the path was filled with.
Body = Callable[[dict[str, str]], Any]
BODIES: dict[tuple[str, str], Body] = {
    # intake
    ("POST", "/intake/v1/clients"): lambda i: {
        "given_name": "Ada",
        "family_name": "Auditor",
        "birth_date": "1980-01-01",
        "email": "ada.auditor@example.org",
    },
    ("POST", "/intake/v1/clients/{client_id}/consents"): lambda i: {
        "purpose": "statistics",
        "granted": True,
    },
    ("POST", "/intake/v1/cases"): lambda i: {
        "client_id": i["client_id"],
        "career_question": "What comes next?",
    },
    ("POST", "/intake/v1/cases/{case_id}/entry-check"): lambda i: {
        "eligible": True,
        "notes": "Meets the conditions",
    },
    ("POST", "/intake/v1/cases/{case_id}/assessments"): lambda i: {
        "assessor": "counsellor",
        "scores": CLIENT_SCORES,
    },
    ("POST", "/intake/v1/cases/{case_id}/sessions"): lambda i: {
        "kind": "deepening",
        "held_at": now_minus(1),
        "minutes": 30,
    },
    ("POST", "/intake/v1/cases/{case_id}/decision"): lambda i: {
        "decision": "decline",
        "reason": "Not now",
    },
    ("POST", "/intake/v1/cases/{case_id}/closure"): lambda i: {
        "reason": "client_withdrew",
        "summary": "Moved abroad.",
    },
    ("POST", "/intake/v1/cases/{case_id}/reassignment"): lambda i: {
        "counsellor": "counsellor-2",
        "reason": "Leave.",
    },
    ("POST", "/intake/v1/cases/{case_id}/budget/approvals"): lambda i: {
        "extra_hours": 2,
        "reason": "Two more sessions.",
    },
    ("POST", "/intake/v1/reassignments"): lambda i: {
        "from_counsellor": "counsellor-ro",
        "to_counsellor": "counsellor-2",
        "reason": "Leave.",
    },
    ("POST", "/intake/v1/clients/{client_id}/erasure"): lambda i: {
        "reason": "Asked by the client (request A-1)."
    },
    ("PUT", "/intake/v1/cases/{case_id}/legal-hold"): lambda i: {"reason": "Court order A-1"},
    ("POST", "/intake/v1/clients/{client_id}/rights-information"): lambda i: {
        "version": "2026-01",
        "language": "nl",
    },
    ("POST", "/intake/v1/cases/{case_id}/sessions/{session_id}/notes"): lambda i: {
        "discussed": "Values."
    },
    ("POST", "/intake/v1/cases/{case_id}/report"): lambda i: {},
    ("POST", "/intake/v1/cases/{case_id}/appointments"): lambda i: {
        "kind": "deepening",
        "starts_at": now_minus(-24 * 20),
        "channel": "phone",
    },
    ("PUT", "/intake/v1/cases/{case_id}/appointments/{appointment_id}"): lambda i: {
        "starts_at": now_minus(-24 * 21)
    },
    ("POST", "/intake/v1/cases/{case_id}/appointments/{appointment_id}/cancellation"): lambda i: {
        "by": "client",
        "reason": "Ill.",
    },
    ("POST", "/intake/v1/cases/{case_id}/appointments/{appointment_id}/no-show"): lambda i: {},
    ("POST", "/intake/v1/cases/{case_id}/appointments/{appointment_id}/held"): lambda i: {},
    ("PUT", "/intake/v1/cases/{case_id}/report"): lambda i: {
        "starting_question": "What next?",
        "insights": [],
        "conclusions": "Teaching suits her.",
        "actions": ["Visit a school."],
    },
    ("POST", "/intake/v1/cases/{case_id}/report/agreement"): lambda i: {"revision": 1},
    ("POST", "/intake/v1/clients/{client_id}/complaints"): lambda i: {"subject": "Too slow."},
    ("POST", "/intake/v1/complaints/{complaint_id}/assignment"): lambda i: {"team_lead": "lead"},
    ("POST", "/intake/v1/complaints/{complaint_id}/handling"): lambda i: None,
    ("POST", "/intake/v1/complaints/{complaint_id}/answer"): lambda i: {"answer": "Sorry."},
    ("POST", "/intake/v1/complaints/{complaint_id}/withdrawal"): lambda i: None,
    ("DELETE", "/intake/v1/cases/{case_id}/legal-hold"): lambda i: None,
    ("POST", "/intake/v1/groups"): lambda i: {
        "topic": "Networking",
        "starts_at": now_minus(3),
        "minutes": 60,
        "case_ids": [i["case_id"]],
    },
    ("POST", "/intake/v1/groups/{group_id}/participants"): lambda i: {"case_id": i["case_id"]},
    ("DELETE", "/intake/v1/groups/{group_id}/participants/{case_id}"): lambda i: None,
    ("POST", "/intake/v1/groups/{group_id}/cancellation"): lambda i: None,
    ("POST", "/intake/v1/groups/{group_id}/held"): lambda i: {
        "attendance": [{"case_id": i["case_id"], "present": True}]
    },
    ("POST", "/intake/v1/objectives"): lambda i: {
        "metric": "clients_started",
        "target": 10,
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
    },
    ("POST", "/intake/v1/objectives/{objective_id}/withdrawal"): lambda i: None,
    # planning
    ("PUT", "/planning/v1/plans/{plan_id}/type"): lambda i: {"plan_type": "action"},
    ("POST", "/planning/v1/plans/{plan_id}/goals"): lambda i: a_goal(priority=1),
    ("PUT", "/planning/v1/plans/{plan_id}/priorities"): lambda i: {"order": [i["goal_id"]]},
    ("POST", "/planning/v1/plans/{plan_id}/goals/{goal_id}/actions"): lambda i: an_action(),
    ("POST", "/planning/v1/plans/{plan_id}/actions/{action_id}/complete"): lambda i: None,
    ("POST", "/planning/v1/plans/{plan_id}/actions/{action_id}/cancel"): lambda i: {
        "reason": "No longer needed"
    },
    ("PUT", "/planning/v1/plans/{plan_id}/competence-analysis"): lambda i: {
        "career_target": "Teacher",
        "strengths": [{"text": "Explaining"}],
        "weaknesses": [],
        "training_needs": [{"text": "Pedagogy"}],
    },
    ("POST", "/planning/v1/plans/{plan_id}/portfolio/evidence"): lambda i: {
        "title": "Diploma",
        "kind": "diploma",
        "date": days(-300),
    },
    ("PUT", "/planning/v1/plans/{plan_id}/portfolio/assessment"): lambda i: {
        "standard": "EVC teacher",
        "comparison": "Meets most of it",
        "advice": "continue",
    },
    ("PUT", "/planning/v1/plans/{plan_id}/portfolio/standard"): lambda i: {
        "standard_id": "mbo2-care"
    },
    ("PUT", "/planning/v1/plans/{plan_id}/portfolio/evidence/{evidence_id}/items"): lambda i: {
        "items": ["B1-K1-W1"]
    },
    ("POST", "/planning/v1/plans/{plan_id}/portfolio/evidence/{evidence_id}/withdrawal"): (
        lambda i: {"reason": "Added by mistake."}
    ),
    ("PUT", "/planning/v1/plans/{plan_id}/portfolio/items/{item_id}/judgement"): lambda i: {
        "judgement": "proven"
    },
    ("POST", "/planning/v1/plans/{plan_id}/portfolio/gaps/training-needs"): lambda i: None,
    ("PUT", "/planning/v1/plans/{plan_id}/career-question"): lambda i: {
        "question": "Which work suits me?"
    },
    ("POST", "/planning/v1/plans/{plan_id}/insights"): lambda i: {
        "text": "I like explaining",
        "date": days(-1),
    },
    ("POST", "/planning/v1/plans/{plan_id}/decisions"): lambda i: {
        "kind": "decision",
        "text": "Teach",
        "reasons": "Explaining suits me",
    },
    ("PUT", "/planning/v1/plans/{plan_id}/support-needs"): lambda i: {
        "kinds": ["mobility"],
        "notes": "No car",
    },
    ("POST", "/planning/v1/plans/{plan_id}/actions/{action_id}/products"): lambda i: {
        "kind": "skills_cv",
        "title": "Skills-based CV",
        "date": days(-1),
    },
    ("PUT", "/planning/v1/plans/{plan_id}/products/{product_id}/status"): lambda i: {
        "status": "interview",
        "on": days(0),
        "answer": "Thursday",
    },
    ("POST", "/planning/v1/plans/{plan_id}/instruments"): lambda i: {
        "instrument": "riasec",
        "used_on": days(-1),
        "result": "S-I-A",
    },
    ("PUT", "/planning/v1/plans/{plan_id}/instruments/{use_id}/interpretation"): lambda i: {
        "interpretation": "Care work fits"
    },
    ("POST", "/planning/v1/plans/{plan_id}/close"): lambda i: {"reason": "Guidance ended"},
    ("POST", "/planning/v1/plans/{plan_id}/agreement"): lambda i: {"party": "client"},
    # follow-up
    ("POST", "/followup/v1/followups/{followup_id}/contacts"): lambda i: {
        "channel": "phone",
        "reached": True,
        "notes": "Called",
    },
    ("POST", "/followup/v1/followups/{followup_id}/action-checks"): lambda i: {
        "action_id": i["action_id"],
        "status": "realised",
    },
    ("POST", "/followup/v1/followups/{followup_id}/checkins/{checkin_id}/complete"): lambda i: None,
    ("POST", "/followup/v1/followups/{followup_id}/outcome"): lambda i: {
        "outcome": "employed",
        "on": days(0),
    },
    ("POST", "/followup/v1/followups/{followup_id}/feedback"): lambda i: {
        "satisfaction": 4,
        "self_knowledge_improved": True,
        "confidence_improved": True,
        "comments": "Helpful",
    },
    ("POST", "/followup/v1/followups/{followup_id}/todos"): lambda i: {
        "goal_id": i["goal_id"],
        "description": "Call the school",
        "owner": "client",
        "due_date": days(10),
    },
    ("POST", "/followup/v1/followups/{followup_id}/close"): lambda i: {"reason": "other"},
    ("POST", "/followup/v1/followups/{followup_id}/aftercare-requests"): lambda i: {
        "due_on": days(20)
    },
    # referral
    ("POST", "/referral/v1/partners"): lambda i: a_partner(capacity=2),
    ("PATCH", "/referral/v1/partners/{partner_id}"): lambda i: {"description": "Updated"},
    ("PUT", "/referral/v1/partners/{partner_id}/capacity"): lambda i: {"open_places": 7},
    ("POST", "/referral/v1/partners/{partner_id}/deactivate"): lambda i: None,
    ("POST", "/referral/v1/partners/{partner_id}/reactivate"): lambda i: None,
    ("POST", "/referral/v1/referrals"): lambda i: {
        "case_id": i["case_id"],
        "partner_id": i["partner_id"],
        "reason": "Debts stand in the way",
        "data_categories": CATEGORIES,
    },
    ("POST", "/referral/v1/referrals/{referral_id}/send"): lambda i: None,
    ("POST", "/referral/v1/referrals/{referral_id}/withdraw"): lambda i: {"reason": "Not needed"},
    ("POST", "/referral/v1/referrals/{referral_id}/close"): lambda i: {"note": "Done"},
    ("POST", "/referral/v1/referrals/{referral_id}/resumption"): lambda i: {"resumes": False},
    ("POST", "/referral/v1/referrals/{referral_id}/acknowledge"): lambda i: None,
    ("POST", "/referral/v1/referrals/{referral_id}/accept"): lambda i: None,
    ("POST", "/referral/v1/referrals/{referral_id}/decline"): lambda i: {"reason": "Full"},
    ("POST", "/referral/v1/referrals/{referral_id}/outcome"): lambda i: {
        "outcome": "completed",
        "notes": "Went well",
    },
}
for _service in SERVICES:
    BODIES[("POST", f"/{_service}/v1/audit/checkpoints")] = lambda i: None
    BODIES[("POST", f"/{_service}/v1/admin/dead-letters/{{letter_id}}/redrive")] = lambda i: None


def store_of(app: FastAPI, service: str) -> Any:
    """The service's application (the lifespan of `shared/service.py` keeps it there)."""
    return app.state.application


def forbidden(r: httpx.Response) -> str | None:
    """None for a 403 problem+json of type `forbidden`; else what is wrong."""
    if r.status_code != 403:
        return f"{r.status_code} {r.text[:200]}"
    if not r.headers.get("content-type", "").startswith("application/problem+json"):
        return f"403 but {r.headers.get('content-type')}"
    body = r.json()
    if body.get("type") != PROBLEM_BASE + "forbidden" or body.get("status") != 403:
        return f"403 but {body}"
    return None


async def event_counts(apps: dict[str, FastAPI]) -> dict[str, int]:
    """Events in each service's store, recorded reads of personal data excluded."""
    out = {}
    for service, app in apps.items():
        schema, table = events_table(store_of(app, service))
        out[service] = int(
            await app.state.runtime.pool.fetchval(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE topic <> $1', ACCESS_TOPIC
            )
        )
    return out


async def settled_counts(apps: dict[str, FastAPI]) -> dict[str, int]:
    """The counts once every relay and audit chain caught up and nothing moved for ~1 s
    (the services still react to each other's events for a moment after a command)."""
    last: dict[str, int] | None = None
    stable = 0
    deadline = asyncio.get_running_loop().time() + 30
    while stable < 4:
        counts = await event_counts(apps)
        caught_up = all([await app.state.audit.caught_up(timeout=0.5) for app in apps.values()])
        stable = stable + 1 if counts == last and caught_up else 0
        last = counts
        assert asyncio.get_running_loop().time() < deadline, f"never settled: {counts}"
        await asyncio.sleep(0.25)
    assert last is not None
    return last


async def new_events(apps: dict[str, FastAPI], since: dict[str, int]) -> dict[str, list[Any]]:
    """Events stored after the positions `since` (recorded reads excluded), per service."""
    out: dict[str, list[Any]] = {}
    for service, app in apps.items():
        schema, table = events_table(store_of(app, service))
        rows = await app.state.runtime.pool.fetch(
            f'SELECT notification_id, topic, state FROM "{schema}"."{table}" '
            "WHERE notification_id > $1 AND topic <> $2 ORDER BY notification_id",
            since[service],
            ACCESS_TOPIC,
        )
        if rows:
            out[service] = [
                (r["notification_id"], r["topic"], bytes(r["state"])[:200]) for r in rows
            ]
    return out


async def heads(apps: dict[str, FastAPI]) -> dict[str, int]:
    out = {}
    for service, app in apps.items():
        schema, table = events_table(store_of(app, service))
        out[service] = int(
            await app.state.runtime.pool.fetchval(
                f'SELECT coalesce(max(notification_id), 0) FROM "{schema}"."{table}"'
            )
        )
    return out


async def world(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_pool: Any,
    admin: dict[str, str],
    token: Any,
    org: str,
) -> dict[str, str]:
    """Real objects of `org`: a client with an accepted case and its agreed plan (a goal,
    an action), the follow-up, a partner and a sent referral, a complaint; their ids by
    path name."""
    counsellor = bearer(token("counsellor", org=org, sub="counsellor-ro"))
    client_id, case_id = await an_accepted_case(api, counsellor)
    plan = await wait_for_plan(planning_api, counsellor, case_id)
    plan_id = plan["plan_id"]
    base = f"/planning/v1/plans/{plan_id}"
    r = await planning_api.put(f"{base}/type", json={"plan_type": "combined"}, headers=counsellor)
    assert r.status_code == 200, r.text
    r = await planning_api.post(f"{base}/goals", json=a_goal(), headers=counsellor)
    assert r.status_code == 201, r.text
    goal_id = r.json()["goal_id"]
    r = await planning_api.post(
        f"{base}/goals/{goal_id}/actions", json=an_action(), headers=counsellor
    )
    assert r.status_code == 201, r.text
    action_id = r.json()["action_id"]
    await agree_both(planning_api, counsellor, plan_id)
    r = await planning_api.post(
        f"{base}/actions/{action_id}/products",
        json={
            "kind": "application",
            "title": "Application",
            "date": days(-2),
            "employer": "De Linde",
            "position": "Care assistant",
            "sent_on": days(-1),
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    product_id = r.json()["product_id"]
    r = await planning_api.post(
        f"{base}/instruments",
        json={"instrument": "riasec", "used_on": days(-1), "result": "S-I-A"},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    use_id = r.json()["use_id"]

    async def the_followup() -> Any:
        r = await followup_api.get(
            "/followup/v1/followups", params={"case_id": case_id}, headers=counsellor
        )
        assert r.status_code == 200, r.text
        return r.json()

    [followup] = await eventually(the_followup, "the follow-up")

    r = await referral_api.post(
        "/referral/v1/partners",
        json=a_partner(
            name=f"Partner {uuid.uuid4().hex[:8]}",
            services=[a_service(area=f"area-{uuid.uuid4().hex[:8]}")],
            accepted_categories=CATEGORIES,
            capacity=5,
        ),
        headers=admin,
    )
    assert r.status_code == 201, r.text
    partner_id = r.json()["partner_id"]
    r = await api.post(
        f"/intake/v1/clients/{client_id}/consents",
        json={
            "purpose": "referral",
            "partner_id": partner_id,
            "data_categories": CATEGORIES,
            "granted": True,
        },
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    await wait_consent(referral_pool, client_id, partner_id, True)
    await eventually(lambda: case_info(referral_pool, uuid.UUID(case_id)), "the case in referral")
    r = await referral_api.post(
        "/referral/v1/referrals",
        json=BODIES[("POST", "/referral/v1/referrals")](
            {"case_id": case_id, "partner_id": partner_id}
        ),
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    referral_id = r.json()["referral_id"]
    r = await referral_api.post(f"/referral/v1/referrals/{referral_id}/send", headers=counsellor)
    assert r.status_code == 200, r.text
    r = await api.post(
        f"/intake/v1/clients/{client_id}/complaints", json={"subject": "Late"}, headers=counsellor
    )
    assert r.status_code == 201, r.text
    complaint_id = r.json()["complaint_id"]
    r = await api.post(
        f"/intake/v1/cases/{case_id}/sessions",
        json={"kind": "deepening", "held_at": now_minus(2), "minutes": 30},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    session_id = r.json()["session_id"]
    r = await api.post(
        f"/intake/v1/cases/{case_id}/appointments",
        json={"kind": "deepening", "starts_at": now_minus(-24 * 10), "channel": "phone"},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    appointment_id = r.json()["appointment_id"]
    r = await api.post(
        "/intake/v1/groups",
        json={"topic": "Networking", "starts_at": now_minus(3), "minutes": 60},
        headers=counsellor,
    )
    assert r.status_code == 201, r.text
    group_id = r.json()["group_id"]
    return {
        "client_id": client_id,
        "case_id": case_id,
        "plan_id": plan_id,
        "goal_id": goal_id,
        "action_id": action_id,
        "product_id": product_id,
        "use_id": use_id,
        "followup_id": followup["followup_id"],
        "checkin_id": followup["checkins"][0]["checkin_id"],
        "partner_id": partner_id,
        "referral_id": referral_id,
        "complaint_id": complaint_id,
        "session_id": session_id,
        "appointment_id": appointment_id,
        # (No evidence nor standard in this world: an auditor is refused before either is
        # looked up.)
        "evidence_id": str(uuid.uuid4()),
        "item_id": "B1-K1-W1",
        "group_id": group_id,
        # (No objective in this world: an auditor is refused before one is looked up.)
        "objective_id": str(uuid.uuid4()),
        # (No dead letter in this world: an auditor is refused before it is looked up.)
        "letter_id": "1",
    }


def fresh_ids(real: dict[str, str]) -> dict[str, str]:
    return {name: str(uuid.uuid4()) for name in real}


def clients_by_service(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
) -> dict[str, httpx.AsyncClient]:
    return dict(zip(SERVICES, (api, planning_api, followup_api, referral_api), strict=True))


async def test_an_auditor_changes_nothing_through_any_route_of_any_service(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    intake_app: FastAPI,
    planning_app: FastAPI,
    followup_app: FastAPI,
    referral_app: FastAPI,
    admin: dict[str, str],
    token: Any,
) -> None:
    apps = dict(zip(SERVICES, (intake_app, planning_app, followup_app, referral_app), strict=True))
    clients = clients_by_service(api, planning_api, followup_api, referral_api)
    org = new_org()
    real = await world(
        api,
        planning_api,
        followup_api,
        referral_api,
        referral_app.state.runtime.pool,
        admin,
        token,
        org,
    )
    auditor = bearer(token("auditor", org=org, sub="auditor-ro"))
    changing = [(s, m, p) for s, m, p in all_routes(apps) if m in CHANGING]
    unknown = [(m, p) for _, m, p in changing if (m, p) not in BODIES]
    assert not unknown, f"changing routes without a plausible body here (add one): {unknown}"
    assert len(changing) >= 45, len(changing)

    before = await settled_counts(apps)
    start = await heads(apps)
    offenders = []
    for ids, kind in ((fresh_ids(real), "fresh ids"), (real, "real ids")):
        for service, method, path in changing:
            url = fill(path, ids)
            body = BODIES[(method, path)](ids)
            kw: dict[str, Any] = {} if body is None else {"json": body}
            r = await clients[service].request(method, url, headers=auditor, **kw)
            wrong = forbidden(r)
            if wrong:
                offenders.append(f"{method} {url} ({kind}): {wrong}")
    after = await settled_counts(apps)

    assert not offenders, "an auditor was not refused:\n" + "\n".join(offenders)
    assert after == before, (before, after, await new_events(apps, start))

    # The same requests with real ids, by the role that may make them, go through: the
    # refusals above were the auditor's.
    counsellor = bearer(token("counsellor", org=org, sub="counsellor-ro"))
    partner = bearer(token("partner", org="partner-org", sub="p-ro", partner_id=real["partner_id"]))
    lead = bearer(token("team_lead", org=org, sub="lead-ro"))
    controls: list[tuple[str, str, str, dict[str, str], int]] = [
        ("intake", "POST", "/intake/v1/clients/{client_id}/consents", counsellor, 201),
        ("intake", "POST", "/intake/v1/complaints/{complaint_id}/assignment", lead, 200),
        (
            "intake",
            "POST",
            "/intake/v1/cases/{case_id}/sessions/{session_id}/notes",
            counsellor,
            201,
        ),
        ("intake", "POST", "/intake/v1/cases/{case_id}/report", counsellor, 201),
        (
            "intake",
            "POST",
            "/intake/v1/cases/{case_id}/appointments/{appointment_id}/cancellation",
            counsellor,
            200,
        ),
        ("intake", "POST", "/intake/v1/groups/{group_id}/participants", counsellor, 200),
        ("intake", "PUT", "/intake/v1/cases/{case_id}/legal-hold", lead, 200),
        ("intake", "POST", "/intake/v1/cases/{case_id}/reassignment", lead, 200),
        ("intake", "POST", "/intake/v1/cases/{case_id}/budget/approvals", lead, 200),
        ("intake", "DELETE", "/intake/v1/cases/{case_id}/legal-hold", lead, 200),
        ("planning", "PUT", "/planning/v1/plans/{plan_id}/competence-analysis", counsellor, 200),
        (
            "planning",
            "PUT",
            "/planning/v1/plans/{plan_id}/products/{product_id}/status",
            counsellor,
            200,
        ),
        ("followup", "POST", "/followup/v1/followups/{followup_id}/contacts", counsellor, 201),
        ("referral", "PUT", "/referral/v1/partners/{partner_id}/capacity", admin, 200),
        ("referral", "POST", "/referral/v1/referrals/{referral_id}/acknowledge", partner, 200),
        ("planning", "POST", "/planning/v1/audit/checkpoints", admin, 201),
    ]
    failed = []
    for service, method, path, headers, status in controls:
        body = BODIES[(method, path)](real)
        kw = {} if body is None else {"json": body}
        r = await clients[service].request(method, fill(path, real), headers=headers, **kw)
        if r.status_code != status:
            failed.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert not failed, "the control requests failed:\n" + "\n".join(failed)


async def test_every_audit_view_answers_the_auditor_and_refuses_a_counsellor(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    intake_app: FastAPI,
    planning_app: FastAPI,
    followup_app: FastAPI,
    referral_app: FastAPI,
    admin: dict[str, str],
    token: Any,
) -> None:
    apps = dict(zip(SERVICES, (intake_app, planning_app, followup_app, referral_app), strict=True))
    clients = clients_by_service(api, planning_api, followup_api, referral_api)
    org = new_org()
    real = await world(
        api,
        planning_api,
        followup_api,
        referral_api,
        referral_app.state.runtime.pool,
        admin,
        token,
        org,
    )
    auditor = bearer(token("auditor", org=org, sub="auditor-views"))
    counsellor = bearer(token("counsellor", org=org, sub="counsellor-views"))
    views = [(s, p) for s, m, p in all_routes(apps) if m == "GET" and "/audit/" in p]
    assert len(views) == 6 * len(SERVICES), views
    for app in apps.values():
        await app.state.audit.caught_up(timeout=5)

    offenders = []
    answered: dict[tuple[str, str], int] = {}
    for ids, kind in ((real, "real ids"), (fresh_ids(real), "fresh ids")):
        params = {"client_id": ids["client_id"]}
        for service, path in views:
            url = fill(path, ids)
            client = clients[service]
            r = await client.get(url, params=params, headers=auditor)
            answered[(service, f"{path} ({kind})")] = r.status_code
            if r.status_code not in (200, 404):
                offenders.append(f"auditor GET {url} ({kind}): {r.status_code} {r.text[:200]}")
            if kind == "real ids" and r.status_code != 200:
                offenders.append(f"auditor GET {url} ({kind}): {r.status_code}, not 200")
            r = await client.get(url, params=params, headers=counsellor)
            wrong = forbidden(r)
            if wrong:
                offenders.append(f"counsellor GET {url} ({kind}): {wrong}")
    assert not offenders, "\n".join(offenders)
    # An unknown case is absent, not refused.
    unknown = {k: v for k, v in answered.items() if "fresh ids" in k[1] and "/cases/" in k[1]}
    assert set(unknown.values()) == {404}, unknown
