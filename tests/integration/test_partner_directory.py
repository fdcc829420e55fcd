"""Referral's partner directory (the "social map") against the contract: the admin's
journey, the counsellors' search, inactive partners hidden from counsellors, the events
on NATS, and a table of bad requests for every partner path that must each answer
problem+json and change nothing.

The directory is shared by every organisation and by every test of the session: each
test gives its partners an area (or a service name) of its own and searches within it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.bad_requests import Bad, Worlds, bad_request, command_rows, roles_rows, without
from tests.conftest import stream_messages
from tests.scenarios import a_partner, a_service, unique
from tests.support import INVALID, assert_problem, bearer, eventually

BASE = "/referral/v1"
STREAM = "GUIDANCE_REFERRAL"


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return bearer(token("admin", org="platform", sub="admin-1"))


@pytest.fixture
def counsellor(token: Any) -> dict[str, str]:
    return bearer(token("counsellor", org=f"org-{unique()}", sub="counsellor-1"))


# -- helpers ------------------------------------------------------------------------------------
async def register(
    referral_api: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> str:
    r = await referral_api.post(f"{BASE}/partners", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"' and r.json()["version"] == 1
    assert r.headers["location"].endswith(f"{BASE}/partners/{r.json()['partner_id']}")
    return str(r.json()["partner_id"])


async def send(
    referral_api: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    r = await referral_api.request(method, BASE + path, json=body, headers=headers)
    assert r.status_code == expect, (method, path, r.text)
    out = dict(r.json())
    assert r.headers["etag"] == f'"{out["version"]}"'
    return out


async def search(
    referral_api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[list[str], int]:
    """The names found, in order, and the X-Total-Count."""
    r = await referral_api.get(f"{BASE}/partners", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [p["name"] for p in r.json()], int(r.headers["x-total-count"])


async def event_count(app: Any, partner_id: str | None = None) -> int:
    pool = app.state.runtime.pool
    if partner_id is None:
        return int(await pool.fetchval("SELECT count(*) FROM referral.referral_events"))
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM referral.referral_events WHERE originator_id = $1",
            uuid.UUID(partner_id),
        )
    )


# -- the admin's journey ------------------------------------------------------------------------
async def test_an_admin_registers_updates_fills_and_deactivates_a_partner_and_reactivates_it(
    referral_api: httpx.AsyncClient, admin: dict[str, str], counsellor: dict[str, str]
) -> None:
    area = f"Zone {unique()}"
    partner_id = await register(
        referral_api, admin, a_partner(services=[a_service(area=area, languages=["NL"])])
    )

    r = await referral_api.get(f"{BASE}/partners/{partner_id}", headers=counsellor)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"1"'
    partner = r.json()
    [service] = partner.pop("services")
    uuid.UUID(service.pop("service_id"))
    assert service == {
        "name": "Budget coaching",
        "category": "debt",
        "languages": ["nl"],
        "area": area,
        "eligibility": "Residents with debts",
    }
    for moment in ("created_at", "updated_at"):
        assert partner.pop(moment).endswith(("Z", "+00:00"))
    assert partner == {
        "partner_id": partner_id,
        "name": "CAW Oost-Vlaanderen",
        "description": "General welfare work",
        "accepted_categories": ["identity", "contact", "career_question"],
        "contact_email": "referrals@caw.example.org",
        "open_places": 4,
        "active": True,
        "version": 1,
    }

    # A partial update: only the fields sent change; a kept service id keeps the service.
    kept = r.json()["services"][0]["service_id"]
    updated = await send(
        referral_api,
        "PATCH",
        f"/partners/{partner_id}",
        {**admin, "If-Match": '"1"'},
        {
            "description": None,
            "services": [
                a_service(service_id=kept, area=area, languages=["nl", "ar"]),
                a_service(name="Tenant advice", category="housing", area=area),
            ],
        },
    )
    assert updated["version"] == 2 and updated["description"] is None
    assert updated["name"] == "CAW Oost-Vlaanderen"
    assert [s["name"] for s in updated["services"]] == ["Budget coaching", "Tenant advice"]
    assert updated["services"][0]["service_id"] == kept
    assert updated["services"][0]["languages"] == ["nl", "ar"]

    # Sending the same values again changes nothing (same version).
    same = await send(
        referral_api, "PATCH", f"/partners/{partner_id}", admin, {"name": "CAW Oost-Vlaanderen"}
    )
    assert same["version"] == 2

    full = await send(
        referral_api, "PUT", f"/partners/{partner_id}/capacity", admin, {"open_places": 0}
    )
    assert full["open_places"] == 0 and full["version"] == 3

    gone = await send(referral_api, "POST", f"/partners/{partner_id}/deactivate", admin)
    assert gone["active"] is False and gone["version"] == 4
    again = await send(referral_api, "POST", f"/partners/{partner_id}/deactivate", admin)
    assert again["version"] == 4

    # Counsellors no longer find it; the admin still does.
    r = await referral_api.get(f"{BASE}/partners/{partner_id}", headers=counsellor)
    assert_problem(r, 404, "not-found")
    assert await search(referral_api, counsellor, area=area) == ([], 0)
    assert await search(referral_api, admin, area=area) == ([], 0)
    assert await search(
        referral_api, admin, area=area, service="Tenant advice", include_inactive="true"
    ) == (["CAW Oost-Vlaanderen"], 1)
    r = await referral_api.get(f"{BASE}/partners/{partner_id}", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False

    back = await send(referral_api, "POST", f"/partners/{partner_id}/reactivate", admin)
    assert back["active"] is True and back["version"] == 5
    assert await search(referral_api, counsellor, area=area) == (["CAW Oost-Vlaanderen"], 1)


async def test_the_directory_is_shared_by_every_organisation_and_readable_by_team_leads(
    referral_api: httpx.AsyncClient, admin: dict[str, str], token: Any
) -> None:
    area = f"Zone {unique()}"
    await register(referral_api, admin, a_partner(services=[a_service(area=area)]))
    for who in (
        token("counsellor", org="org-a"),
        token("counsellor", org="org-b"),
        token("team_lead", org="org-c"),
    ):
        assert await search(referral_api, bearer(who), area=area) == (["CAW Oost-Vlaanderen"], 1)


async def test_a_partner_reads_its_own_entry_and_no_other(
    referral_api: httpx.AsyncClient, admin: dict[str, str], token: Any
) -> None:
    mine = await register(referral_api, admin, a_partner(capacity=3))
    other = await register(referral_api, admin, a_partner())
    partner = bearer(token("partner", org="org-p", partner_id=mine))
    r = await referral_api.get(f"{BASE}/partners/{mine}", headers=partner)
    assert (r.status_code, r.json()["open_places"]) == (200, 3), r.text
    assert r.headers["etag"] == '"1"'
    r = await referral_api.get(f"{BASE}/partners/{other}", headers=partner)
    assert_problem(r, 404, "not-found")
    assert r.json()["detail"] == f"No partner {other}."  # as for an id that does not exist
    r = await referral_api.get(f"{BASE}/partners", headers=partner)  # no search
    assert_problem(r, 403, "forbidden")
    r = await referral_api.get(f"{BASE}/partners/{mine}", headers=bearer(token("partner")))
    assert_problem(r, 403, "forbidden")  # a partner token naming no partner


async def test_if_match_with_the_current_version_lets_a_command_through(
    referral_api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    partner_id = await register(referral_api, admin, a_partner())
    for path, body in (
        ("/capacity", {"open_places": 9}),
        ("/deactivate", None),
        ("/reactivate", None),
    ):
        method = "PUT" if body else "POST"
        version = (await send(referral_api, "GET", f"/partners/{partner_id}", admin))["version"]
        out = await send(
            referral_api,
            method,
            f"/partners/{partner_id}{path}",
            {**admin, "If-Match": f'W/"{version}"'},
            body,
        )
        assert out["version"] == version + 1


# -- search -------------------------------------------------------------------------------------
async def test_counsellors_search_by_service_category_language_and_area(
    referral_api: httpx.AsyncClient, admin: dict[str, str], counsellor: dict[str, str]
) -> None:
    tag = unique()
    ghent, antwerp = f"Gent {tag}", f"Antwerpen {tag}"
    for name, services in (
        (
            "A Debt and housing",
            [
                a_service(name="Debt mediation", area=ghent, languages=["nl"]),
                a_service(name="Tenant advice", category="housing", area=ghent, languages=["fr"]),
            ],
        ),
        ("B Job training", [a_service(name="Welding course", category="training", area=antwerp)]),
        (
            "C Psychologist",
            [a_service(name="Career anxiety", category="psychology", area=ghent, languages=["en"])],
        ),
    ):
        await register(referral_api, admin, a_partner(name=name, services=services))

    async def names(**params: Any) -> list[str]:
        found, total = await search(referral_api, counsellor, **params)
        assert total == len(found)
        return found

    everyone = ["A Debt and housing", "B Job training", "C Psychologist"]
    assert await names(area=tag) == everyone
    assert await names(area=ghent.upper()) == ["A Debt and housing", "C Psychologist"]
    assert await names(area=tag, category="housing") == ["A Debt and housing"]
    assert await names(area=tag, service="training") == ["B Job training"]
    assert await names(area=tag, service="WELDING") == ["B Job training"]
    assert await names(area=tag, service="anxiety") == ["C Psychologist"]
    assert await names(area=tag, language="EN") == ["C Psychologist"]
    # One service must meet every filter: A's French service is housing, not debt.
    assert await names(area=tag, category="debt", language="fr") == []
    assert await names(area=tag, category="housing", language="fr") == ["A Debt and housing"]
    assert await names(area=antwerp, language="nl") == ["B Job training"]


async def test_a_service_without_an_area_is_found_in_every_area(
    referral_api: httpx.AsyncClient, admin: dict[str, str], counsellor: dict[str, str]
) -> None:
    name = f"Online help {unique()}"
    partner_id = await register(
        referral_api, admin, a_partner(name=name, services=[a_service(name=name, area=None)])
    )
    try:
        found, _ = await search(referral_api, counsellor, service=name, area=f"Nowhere {unique()}")
        assert found == [name]
    finally:  # it would turn up in every other test's area: take it off the map
        await send(referral_api, "POST", f"/partners/{partner_id}/deactivate", admin)


async def test_the_list_pages_with_limit_offset_a_total_count_and_a_next_link(
    referral_api: httpx.AsyncClient, admin: dict[str, str], counsellor: dict[str, str]
) -> None:
    area = f"Zone {unique()}"
    for letter in "EDCBA":
        await register(
            referral_api,
            admin,
            a_partner(name=f"{letter} partner", services=[a_service(area=area)]),
        )
    r = await referral_api.get(
        f"{BASE}/partners", params={"area": area, "limit": 2, "offset": 1}, headers=counsellor
    )
    assert r.status_code == 200, r.text
    assert [p["name"] for p in r.json()] == ["B partner", "C partner"]
    assert r.headers["x-total-count"] == "5"
    assert 'rel="next"' in r.headers["link"] and "offset=3" in r.headers["link"]
    r = await referral_api.get(
        f"{BASE}/partners", params={"area": area, "offset": 4}, headers=counsellor
    )
    assert [p["name"] for p in r.json()] == ["E partner"] and "link" not in r.headers


# -- events -------------------------------------------------------------------------------------
async def test_registering_and_changing_a_partner_publish_partner_events_on_the_stream(
    referral_api: httpx.AsyncClient, admin: dict[str, str], js: Any
) -> None:
    partner_id = await register(referral_api, admin, a_partner())
    await send(referral_api, "PATCH", f"/partners/{partner_id}", admin, {"name": "CAW Gent"})
    await send(referral_api, "PUT", f"/partners/{partner_id}/capacity", admin, {"open_places": 0})
    await send(referral_api, "POST", f"/partners/{partner_id}/deactivate", admin)

    async def mine() -> list[dict[str, Any]]:
        out = []
        for m in await stream_messages(js, STREAM):
            envelope = json.loads(m.data)
            if envelope["subject"] == partner_id:
                out.append(envelope)
        return out

    async def all_four() -> bool:
        return len(await mine()) == 4

    await eventually(all_four, "four partner events on GUIDANCE_REFERRAL")
    registered, renamed, filled, deactivated = await mine()
    assert [e["type"] for e in (registered, renamed, filled, deactivated)] == [
        "guidance.referral.PartnerRegistered.v1",
        *["guidance.referral.PartnerUpdated.v1"] * 3,
    ]
    assert registered["source"] == "/guidance/referral"
    data = registered["data"]
    assert data["partner_id"] == partner_id and data["actor"] == "admin-1"
    assert data["name"] == "CAW Oost-Vlaanderen" and data["open_places"] == 4
    assert data["services"][0]["category"] == "debt"
    assert data["accepted_categories"] == ["identity", "contact", "career_question"]
    assert renamed["data"]["changed"] == ["name"] and renamed["data"]["name"] == "CAW Gent"
    assert renamed["data"]["services"] is None
    assert filled["data"]["changed"] == ["open_places"] and filled["data"]["open_places"] == 0
    assert deactivated["data"]["changed"] == ["active"] and deactivated["data"]["active"] is False


# -- capacity: absent = no limit -----------------------------------------------------------------
async def test_a_partner_registered_without_capacity_has_no_limit_until_one_is_set(
    referral_api: httpx.AsyncClient, admin: dict[str, str], counsellor: dict[str, str], js: Any
) -> None:
    area = f"area-{unique()}"
    body = a_partner(services=[a_service(area=area)])
    del body["capacity"]
    partner_id = await register(referral_api, admin, body)
    r = await referral_api.get(f"{BASE}/partners/{partner_id}", headers=counsellor)
    assert (r.status_code, r.json()["open_places"]) == (200, None)

    async def found() -> list[dict[str, Any]]:
        r = await referral_api.get(f"{BASE}/partners", params={"area": area}, headers=counsellor)
        assert r.status_code == 200, r.text
        return list(r.json())

    async def listed_as(places: int | None) -> bool:
        return [p["open_places"] for p in await found()] == [places]

    await eventually(lambda: listed_as(None), "the unlimited partner in the directory")
    assert (await search(referral_api, counsellor, service="debt", area=area))[1] == 1

    limited = await send(
        referral_api, "PUT", f"/partners/{partner_id}/capacity", admin, {"open_places": 2}
    )
    assert (limited["open_places"], limited["version"]) == (2, 2)
    await eventually(lambda: listed_as(2), "the limit in the directory")
    unlimited = await send(
        referral_api, "PUT", f"/partners/{partner_id}/capacity", admin, {"open_places": None}
    )
    assert (unlimited["open_places"], unlimited["version"]) == (None, 3)
    await eventually(lambda: listed_as(None), "no limit again in the directory")
    again = await send(
        referral_api, "PUT", f"/partners/{partner_id}/capacity", admin, {"open_places": None}
    )
    assert again["version"] == 3  # no limit already: nothing recorded

    # An explicit null at registration is no limit too.
    explicit = await register(referral_api, admin, a_partner(capacity=None))
    r = await referral_api.get(f"{BASE}/partners/{explicit}", headers=counsellor)
    assert r.json()["open_places"] is None

    async def mine() -> list[dict[str, Any]]:
        return [
            json.loads(m.data)["data"]
            for m in await stream_messages(js, STREAM)
            if json.loads(m.data)["subject"] == partner_id
        ]

    async def all_three() -> bool:
        return len(await mine()) == 3

    await eventually(all_three, "three partner events on GUIDANCE_REFERRAL")
    registered, limit, no_limit = await mine()
    assert "open_places" in registered and registered["open_places"] is None
    assert (limit["changed"], limit["open_places"]) == (["open_places"], 2)
    assert (no_limit["changed"], no_limit["open_places"]) == (["open_places"], None)


# -- bad requests: every path answers a problem and changes nothing ------------------------------


P_PARTNERS = "/partners"
P_PARTNER = "/partners/{partner}"
P_CAPACITY = "/partners/{partner}/capacity"
P_DEACTIVATE = "/partners/{partner}/deactivate"
P_REACTIVATE = "/partners/{partner}/reactivate"
PATCH = {"name": "Renamed"}
CAPACITY = {"open_places": 7}


@dataclass(frozen=True)
class AdminBad(Bad):
    """A row of the directory's table: the admin calls, unless `who` says otherwise."""

    who: str = "admin"


def partner_command_rows(name: str, method: str, path: str, body: Any) -> dict[str, Bad]:
    """The rows every command on a partner (at version 2) shares: version, existence, token
    and roles, and an id that is not a uuid."""
    return {
        **command_rows(
            name,
            method,
            path,
            body,
            stale='"1"',
            absent={"unknown-partner": path.replace("{partner}", "{missing}")},
            refused=("counsellor", "team_lead", "partner", "auditor"),
            who="admin",
        ),
        f"{name}/not-a-uuid": AdminBad(
            method, path.replace("{partner}", "caw"), 422, INVALID, body, fields=("partner_id",)
        ),
    }


BAD: dict[str, Bad] = {
    # POST /partners
    "register/no-body": AdminBad("POST", P_PARTNERS, 422, INVALID),
    "register/empty": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body={},
        fields=("name", "services", "accepted_categories"),
    ),
    "register/missing-services": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=without(a_partner(), "services"),
        fields=("services",),
    ),
    "register/unknown-field": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(website="x"), fields=("website",)
    ),
    "register/name-not-a-string": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(name=7), fields=("name",)
    ),
    "register/blank-name": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(name="   "), fields=("name",)
    ),
    "register/no-services": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(services=[]), fields=("services",)
    ),
    "register/services-not-a-list": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(services=a_service()), fields=("services",)
    ),
    "register/service-unknown-field": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(colour="red")]),
        fields=("services.0.colour",),
    ),
    "register/service-missing-category": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[without(a_service(), "category")]),
        fields=("services.0.category",),
    ),
    "register/service-unknown-category": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(category="legal")]),
        fields=("services.0.category",),
    ),
    "register/language-not-two-letters": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(languages=["dutch"])]),
        fields=("services.0.languages",),
    ),
    "register/language-not-iso-639-1": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(languages=["nl", "xx"])]),
        fields=("services.0.languages",),
    ),
    "register/languages-not-a-list": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(languages="nl")]),
        fields=("services.0.languages",),
    ),
    "register/same-service-name-twice": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(), a_service(name="BUDGET coaching ")]),
        fields=("services.1.name",),
    ),
    "register/foreign-service-id": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(services=[a_service(service_id=str(uuid.uuid4()))]),
        fields=("services.0.service_id",),
    ),
    "register/unknown-data-category": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(accepted_categories=["identity", "medical"]),
        fields=("accepted_categories",),
    ),
    "register/categories-not-a-list": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(accepted_categories="identity"),
        fields=("accepted_categories",),
    ),
    "register/partner-id-not-a-uuid": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(partner_id="p-1"), fields=("partner_id",)
    ),
    "register/negative-capacity": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(capacity=-1), fields=("capacity",)
    ),
    "register/capacity-a-string": AdminBad(
        "POST", P_PARTNERS, 422, INVALID, body=a_partner(capacity="4"), fields=("capacity",)
    ),
    "register/bad-email": AdminBad(
        "POST",
        P_PARTNERS,
        422,
        INVALID,
        body=a_partner(contact_email="caw at example"),
        fields=("contact_email",),
    ),
    "register/invalid-json": AdminBad("POST", P_PARTNERS, 422, INVALID, raw='{"name": caw}'),
    "register/json-array": AdminBad("POST", P_PARTNERS, 422, INVALID, body=[a_partner()]),
    **roles_rows(
        "register", "POST", P_PARTNERS, a_partner(), "counsellor", "team_lead", "partner", "auditor"
    ),
    # GET /partners
    **roles_rows("search", "GET", P_PARTNERS, None, "partner", "auditor"),
    "search/unknown-category": AdminBad(
        "GET", "/partners?category=legal", 422, INVALID, fields=("category",)
    ),
    "search/language-not-two-letters": AdminBad(
        "GET", "/partners?language=dutch", 422, INVALID, fields=("language",)
    ),
    "search/empty-service": AdminBad(
        "GET", "/partners?service=", 422, INVALID, fields=("service",)
    ),
    "search/limit-0": AdminBad("GET", "/partners?limit=0", 422, INVALID, fields=("limit",)),
    "search/limit-too-big": AdminBad(
        "GET", "/partners?limit=1000", 422, INVALID, fields=("limit",)
    ),
    "search/negative-offset": AdminBad(
        "GET", "/partners?offset=-1", 422, INVALID, fields=("offset",)
    ),
    "search/inactive-for-a-counsellor": AdminBad(
        "GET", "/partners?include_inactive=true", 403, "forbidden", who="counsellor"
    ),
    # GET /partners/{id}
    **roles_rows("read", "GET", P_PARTNER, None, "auditor"),
    # (a partner reads its own entry, and another partner's reads as absent)
    "read/another-partner-by-a-partner": AdminBad(
        "GET", "/partners/{inactive}", 404, "not-found", who="partner"
    ),
    "read/unknown-partner": AdminBad("GET", "/partners/{missing}", 404, "not-found"),
    "read/not-a-uuid": AdminBad("GET", "/partners/caw", 422, INVALID, fields=("partner_id",)),
    "read/inactive-for-a-counsellor": AdminBad(
        "GET", "/partners/{inactive}", 404, "not-found", who="counsellor"
    ),
    "read/inactive-for-a-team-lead": AdminBad(
        "GET", "/partners/{inactive}", 404, "not-found", who="team_lead"
    ),
    # PATCH /partners/{id}
    "update/no-body": AdminBad("PATCH", P_PARTNER, 422, INVALID),
    "update/empty": AdminBad("PATCH", P_PARTNER, 422, INVALID, body={}, fields=("body",)),
    "update/unknown-field": AdminBad(
        "PATCH", P_PARTNER, 422, INVALID, body={"capacity": 3}, fields=("capacity",)
    ),
    "update/active-is-not-patched": AdminBad(
        "PATCH", P_PARTNER, 422, INVALID, body={"active": False}, fields=("active",)
    ),
    "update/null-name": AdminBad(
        "PATCH", P_PARTNER, 422, INVALID, body={"name": None}, fields=("name",)
    ),
    "update/null-services": AdminBad(
        "PATCH", P_PARTNER, 422, INVALID, body={"services": None}, fields=("services",)
    ),
    "update/no-services": AdminBad(
        "PATCH", P_PARTNER, 422, INVALID, body={"services": []}, fields=("services",)
    ),
    "update/service-unknown-category": AdminBad(
        "PATCH",
        P_PARTNER,
        422,
        INVALID,
        body={"services": [a_service(category="legal")]},
        fields=("services.0.category",),
    ),
    "update/foreign-service-id": AdminBad(
        "PATCH",
        P_PARTNER,
        422,
        INVALID,
        body={"services": [a_service(service_id="{missing}")]},
        fields=("services.0.service_id",),
    ),
    "update/unknown-data-category": AdminBad(
        "PATCH",
        P_PARTNER,
        422,
        INVALID,
        body={"accepted_categories": ["plan", "medical"]},
        fields=("accepted_categories",),
    ),
    "update/bad-email": AdminBad(
        "PATCH",
        P_PARTNER,
        422,
        INVALID,
        body={"contact_email": "nobody"},
        fields=("contact_email",),
    ),
    "update/name-not-a-string": AdminBad(
        "PATCH", P_PARTNER, 422, INVALID, body={"name": ["CAW"]}, fields=("name",)
    ),
    "update/invalid-json": AdminBad("PATCH", P_PARTNER, 422, INVALID, raw='{"name": }'),
    **partner_command_rows("update", "PATCH", P_PARTNER, PATCH),
    # PUT /partners/{id}/capacity
    "capacity/no-body": AdminBad("PUT", P_CAPACITY, 422, INVALID),
    "capacity/empty": AdminBad("PUT", P_CAPACITY, 422, INVALID, body={}, fields=("open_places",)),
    "capacity/negative": AdminBad(
        "PUT", P_CAPACITY, 422, INVALID, body={"open_places": -1}, fields=("open_places",)
    ),
    "capacity/a-string": AdminBad(
        "PUT", P_CAPACITY, 422, INVALID, body={"open_places": "3"}, fields=("open_places",)
    ),
    "capacity/a-fraction": AdminBad(
        "PUT", P_CAPACITY, 422, INVALID, body={"open_places": 1.5}, fields=("open_places",)
    ),
    "capacity/unknown-field": AdminBad(
        "PUT",
        P_CAPACITY,
        422,
        INVALID,
        body={**CAPACITY, "waiting_list": 2},
        fields=("waiting_list",),
    ),
    **{
        k: v
        for k, v in partner_command_rows("capacity", "PUT", P_CAPACITY, CAPACITY).items()
        if k != "capacity/partner"  # a partner sets its own open places
    },
    "capacity/another-partner": AdminBad(
        "PUT", P_CAPACITY, 404, "not-found", CAPACITY, who="another-partner"
    ),
    # POST /partners/{id}/deactivate and /reactivate
    **partner_command_rows("deactivate", "POST", P_DEACTIVATE, None),
    **partner_command_rows("reactivate", "POST", P_REACTIVATE, None),
}


@dataclass
class World:
    """A partner at version 2 (registered, then its capacity set) and an inactive one."""

    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(referral_api: httpx.AsyncClient, token: Any) -> World:
    h = bearer(token("admin", org="platform", sub="admin-1"))
    area = f"Zone {unique()}"
    partner = await register(referral_api, h, a_partner(services=[a_service(area=area)]))
    await send(referral_api, "PUT", f"/partners/{partner}/capacity", h, {"open_places": 2})
    inactive = await register(referral_api, h, a_partner(services=[a_service(area=area)]))
    await send(referral_api, "POST", f"/partners/{inactive}/deactivate", h)
    ids = {"partner": partner, "inactive": inactive, "missing": str(uuid.uuid4())}
    return World(h, ids)


def caller(who: str, world: World, token: Any) -> dict[str, str]:
    if who == "admin":
        return world.headers
    if who == "none":
        return {}
    if who == "garbage":
        return {"Authorization": "Bearer not.a.jwt"}
    if who == "another-partner":
        return bearer(token("partner", org="partner-org", partner_id=uuid.uuid4()))
    if who == "partner":
        return bearer(
            token("partner", org="partner-org", partner_id=uuid.UUID(world.ids["partner"]))
        )
    return bearer(token(who, org="org-a"))


async def snapshot(referral_api: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    """Everything a failed request must leave as it was."""
    state: dict[str, Any] = {"events": await event_count(app)}
    for name in ("partner", "inactive"):
        r = await referral_api.get(f"{BASE}/partners/{world.ids[name]}", headers=world.headers)
        assert r.status_code == 200, r.text
        state[name], state[f"etag:{name}"] = r.json(), r.headers["etag"]
    r = await referral_api.get(
        f"{BASE}/partners",
        params={"area": state["partner"]["services"][0]["area"], "include_inactive": "true"},
        headers=world.headers,
    )
    mine = set(world.ids.values())  # a partner without an area is listed in every area
    state["listed"] = [p for p in r.json() if p["partner_id"] in mine]
    return state


@pytest.fixture(scope="module")
def worlds() -> Worlds[World]:
    """The rows share one world (built once, rebuilt after a row that fails)."""
    return Worlds()


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad, worlds: Worlds[World], referral_api: httpx.AsyncClient, referral_app: Any, token: Any
) -> None:
    async with worlds.use("directory", lambda: build_world(referral_api, token)) as world:
        before = await snapshot(referral_api, referral_app, world)
        assert before["partner"]["version"] == 2 and before["etag:partner"] == '"2"'
        assert before["inactive"]["active"] is False
        assert len(before["listed"]) == 2

        r = await bad_request(referral_api, BASE, bad, caller(bad.who, world, token), world.ids)

        assert_problem(r, bad.status, bad.code, bad.fields)
        assert await snapshot(referral_api, referral_app, world) == before


async def test_an_unknown_path_under_a_partner_is_a_problem_too(
    referral_api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    r = await referral_api.get(f"{BASE}/partners/{uuid.uuid4()}/nonsense", headers=admin)
    assert_problem(r, 404, "not-found")
    r = await referral_api.delete(f"{BASE}/partners/{uuid.uuid4()}", headers=admin)
    assert_problem(r, 405, "method-not-allowed")


def test_the_bad_request_table_covers_every_partner_path() -> None:
    from services.referral.api.directory import router

    def shape(path: str) -> str:
        path = path.split("?")[0]
        return re.sub(r"\{[a-z_0-9]+\}|(?<=/partners/)caw", "{}", path)

    routes = {
        (method, shape(getattr(route, "path", "")))
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    rows = {(bad.method, shape(bad.path)) for bad in BAD.values()}
    assert routes <= rows, routes - rows
    # Every admin command refuses every other role (a partner may set its own capacity,
    # not another's).
    for method, path in routes - {("GET", "/partners"), ("GET", "/partners/{}")}:
        refused = {b.who for b in BAD.values() if (b.method, shape(b.path)) == (method, path)}
        partner = "another-partner" if path.endswith("/capacity") else "partner"
        assert {"none", "counsellor", "team_lead", partner, "auditor"} <= refused, (method, path)


async def test_a_partner_keeps_the_id_its_tokens_carry(
    referral_api: httpx.AsyncClient, referral_app: Any, admin: dict[str, str], token: Any
) -> None:
    """Registered with the id its identity provider gives it, a partner's token works at
    once; that id taken already is a conflict and changes nothing."""
    own = str(uuid.uuid4())
    assert await register(referral_api, admin, a_partner(partner_id=own)) == own
    partner = bearer(token("partner", org="partner-org", partner_id=uuid.UUID(own)))
    r = await referral_api.put(
        f"{BASE}/partners/{own}/capacity", json={"open_places": 5}, headers=partner
    )
    assert r.status_code == 200 and r.json()["open_places"] == 5, r.text
    before = await event_count(referral_app)
    r = await referral_api.post(
        f"{BASE}/partners", json=a_partner(partner_id=own, name="Another"), headers=admin
    )
    assert_problem(r, 409, "partner-exists")
    assert await event_count(referral_app) == before
    r = await referral_api.get(f"{BASE}/partners/{own}", headers=admin)
    assert r.json()["name"] != "Another" and r.json()["version"] == 2
