"""What the console's browser tests share to set up a journey quickly through the APIs
(the steps earlier tests already take in the browser): the dev users' tokens, a partner
in the directory (the dev partner too), a client with an accepted case."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from shared.auth import dev_token
from shared.cli import DEV_PARTNER
from shared.settings import Settings
from tests.console.conftest import System


def agency_today() -> date:
    """Today in the agency's time zone (the console's default): the day a page shows for
    a moment recorded now."""
    return datetime.now(ZoneInfo("Europe/Amsterdam")).date()


SCORES = {
    "quality_reflection": 3,
    "motive_reflection": 2,
    "work_exploration": 2,
    "career_steering": 3,
    "networking": 1,
}


def token_of(
    system: System,
    sub: str,
    roles: list[str],
    org: str = "org-demo",
    partner_id: str | None = None,
) -> str:
    """A dev token of the running system (its own secret)."""
    secret = (system.folder / ".data" / "dev-jwt-secret").read_text().strip()
    return dev_token(
        Settings(auth_mode="dev", jwt_secret=secret),
        sub=sub,
        org=org,
        roles=roles,
        partner_id=uuid.UUID(partner_id) if partner_id else None,
    )


def partner_api(system: System, partner_id: str) -> httpx.Client:
    """The APIs as the partner itself (its pages are the next step's)."""
    token = token_of(system, "p.partner", ["partner"], partner_id=partner_id)
    return httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {token}"})


def counsellor_api(system: System) -> httpx.Client:
    """The APIs as the dev counsellor (the one the browser tests sign in as)."""
    token = token_of(system, "c.jansen", ["counsellor"])
    return httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {token}"})


def post(api: httpx.Client, path: str, body: dict[str, Any], method: str = "POST") -> Any:
    r = api.request(method, path, json=body)
    assert r.status_code in (200, 201, 202), (path, r.text)
    return r.json()


def eventually(api: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    """The first item of a list once there is one (what another service follows)."""
    deadline = time.monotonic() + 20
    while True:
        r = api.get(path, params=params)
        assert r.status_code == 200, r.text
        if r.json():
            return dict(r.json()[0])
        assert time.monotonic() < deadline, f"nothing at {path} {params}"
        time.sleep(0.2)


def register_partner(
    system: System,
    name: str,
    *,
    category: str = "debt",
    service: str = "Budget coaching",
    accepted: tuple[str, ...] = ("identity", "contact", "career_question"),
    capacity: int | None = None,
) -> str:
    """A partner in the directory, as the network's directory admin registers it (the
    admin's pages are the next step's): through the API."""
    admin = token_of(system, "d.directory", ["directory_admin"])
    body: dict[str, Any] = {
        "name": name,
        "services": [{"name": service, "category": category, "languages": ["nl", "en"]}],
        "accepted_categories": list(accepted),
    }
    if capacity is not None:
        body["capacity"] = capacity
    r = httpx.post(
        system.base + "/referral/v1/partners",
        headers={"Authorization": f"Bearer {admin}"},
        json=body,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["partner_id"])


def propose_when_known(
    api: httpx.Client,
    case_id: str,
    partner_id: str,
    categories: tuple[str, ...] = ("identity",),
    reason: str = "Needs help with debts before a course.",
) -> str:
    """A referral of the case to the partner proposed (its id) as soon as referral knows the
    case and the client's consent, which it learns from intake's events within moments."""
    body = {
        "case_id": case_id,
        "partner_id": partner_id,
        "reason": reason,
        "data_categories": list(categories),
    }
    deadline = time.monotonic() + 20
    while True:
        r = api.post("/referral/v1/referrals", json=body)
        if r.status_code == 201:
            return str(r.json()["referral_id"])
        assert r.status_code in (404, 409), r.text
        assert time.monotonic() < deadline, f"referral never knew the case: {r.text}"
        time.sleep(0.2)


def dev_partner_in_directory(system: System) -> str:
    """The dev partner in the directory, under the id its sign-in carries (registered by
    whichever test asks first, the same way; later ones find it there)."""
    admin = token_of(system, "d.directory", ["directory_admin"])
    r = httpx.post(
        system.base + "/referral/v1/partners",
        headers={"Authorization": f"Bearer {admin}"},
        json={
            "partner_id": str(DEV_PARTNER),
            "name": "Leerwerkplaats Demo",
            "services": [{"name": "Work placement", "category": "training", "languages": ["nl"]}],
            "accepted_categories": [
                *("identity", "contact", "career_question", "assessments", "plan")
            ],
        },
    )
    assert r.status_code == 201 or "partner-exists" in r.text, r.text
    return str(DEV_PARTNER)


def accepted_case(
    api: httpx.Client,
    given: str,
    family: str,
    *,
    language: str = "en",
    question: str = "What next?",
    email: str | None = None,
    budget: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """A client with the guidance consent and an accepted case: (client_id, case_id);
    `budget`: the acceptance's hours budget fields (`hours_budget`, `budget_reason`, …)."""
    client_id = post(
        api,
        "/intake/v1/clients",
        {
            "given_name": given,
            "family_name": family,
            "birth_date": "1988-02-03",
            "email": email or f"{given.lower()}.{family.lower()}@example.org",
            "preferred_language": language,
        },
    )["client_id"]
    post(api, f"/intake/v1/clients/{client_id}/consents", {"purpose": "guidance", "granted": True})
    case_id = post(api, "/intake/v1/cases", {"client_id": client_id, "career_question": question})[
        "case_id"
    ]
    post(api, f"/intake/v1/cases/{case_id}/entry-check", {"eligible": True})
    for assessor in ("client", "counsellor"):
        post(
            api, f"/intake/v1/cases/{case_id}/assessments", {"assessor": assessor, "scores": SCORES}
        )
    post(api, f"/intake/v1/cases/{case_id}/decision", {"decision": "accept", **(budget or {})})
    return str(client_id), str(case_id)


def agree_plan(
    api: httpx.Client, case_id: str, goal: dict[str, Any], action: dict[str, Any]
) -> str:
    """The accepted case's plan (once planning has it) as an action plan with one goal
    (`goal`, due in 90 days) and one action (`action`, due in 30), agreed by both: its id."""
    today = date.today()
    plan_id = str(eventually(api, "/planning/v1/plans", case_id=case_id)["plan_id"])
    plan = f"/planning/v1/plans/{plan_id}"
    post(api, f"{plan}/type", {"plan_type": "action"}, "PUT")
    goal_id = post(
        api,
        f"{plan}/goals",
        {"target_date": str(today + timedelta(days=90)), "priority": 1, **goal},
    )["goal_id"]
    post(
        api,
        f"{plan}/goals/{goal_id}/actions",
        {"due_date": str(today + timedelta(days=30)), **action},
    )
    for party in ("client", "counsellor"):
        post(api, f"{plan}/agreement", {"party": party})
    return plan_id


def agreed_plan_of(base: str, token: str) -> tuple[str, str, str]:
    """A client of the counsellor whose token is given, at the system at `base`, with an
    accepted case, a plan agreed and its follow-up opened: (client_id, case_id, plan_id)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
        client_id, case_id = accepted_case(api, "Noor", "Claes")
        plan_id = agree_plan(
            api,
            case_id,
            {
                "title": "Build a network in logistics",
                "specific": "Talk with five planners about their daily work and the way in",
                "measure": "5 conversations held and written up in the portfolio",
                "competences": ["networking"],
            },
            {"description": "Ask two former colleagues for an introduction", "owner": "client"},
        )
        eventually(api, "/followup/v1/followups", case_id=case_id)
    return str(client_id), str(case_id), plan_id


ESCO_FILES = ("skills_en.csv", "skills_nl.csv", "occupations_en.csv")


def esco_imported(system: System) -> None:
    """The test files in ESCO's format (tests/data/esco/) imported into the system's
    database, as `waypoint esco import` does (importing again changes nothing)."""
    from pathlib import Path

    import psycopg

    from services.planning.esco import import_concepts, language_of, read_file
    from shared.settings import PgParams

    data = Path(__file__).resolve().parents[1] / "data" / "esco"
    with psycopg.connect(PgParams.from_url(system.database_url).dsn()) as conn:
        for name in ESCO_FILES:
            path = data / name
            import_concepts(conn, read_file(path), language_of(path))


def evc_standard_imported(system: System) -> None:
    """The test EVC standard imported (tests/data/evc/), as `waypoint evc import-standard`
    does."""
    import psycopg

    from services.planning.evc import import_standards, read_file
    from shared.settings import PgParams
    from tests.scenarios import EVC_STANDARD_FILE

    with psycopg.connect(PgParams.from_url(system.database_url).dsn()) as conn:
        import_standards(conn, read_file(EVC_STANDARD_FILE))
