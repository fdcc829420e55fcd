"""Intake's client search on the real PostgreSQL and NATS: by the words of a name or an
e-mail address, or a date of birth, within the caller's organisation only; LIKE's own
characters taken literally; one recorded read per found client; an erased client not
found; a bad query a 422 naming it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"


def auditor(token: Any) -> dict[str, str]:
    return bearer(token("auditor", org="org-audit", sub="r.auditor", audit_scope="*"))


async def register(
    api: httpx.AsyncClient, headers: dict[str, str], given: str, family: str, **more: str
) -> str:
    body = {
        "given_name": given,
        "family_name": family,
        "birth_date": more.get("birth_date", "1990-05-17"),
        "email": more.get("email", f"{given.lower()}@example.org"),
    }
    r = await api.post(f"{INTAKE}/clients", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["client_id"])


async def found(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    r = await api.get(f"{INTAKE}/clients", params=params, headers=headers)
    assert r.status_code == 200, r.text
    items = r.json()
    assert "limit" in params or r.headers["x-total-count"] == str(len(items))
    return [f"{c['given_name']} {c['family_name']}" for c in items]


async def test_clients_are_found_by_name_email_or_birth_date_in_the_own_organisation_only(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="anna.c"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    foreign = bearer(token("counsellor", org=new_org(), sub="anna.c"))
    await register(api, anna, "Sanne", "de Vries", birth_date="1985-03-15")
    await register(api, anna, "Piet", "Jansen", email="p.jansen@mail.example")
    await register(api, anna, "Jan", "Pietersen")
    await register(api, anna, "Anna", "100%_Zeker")
    await register(api, foreign, "Sanne", "de Vries")

    # By family name, then given name; every word must occur somewhere.
    assert await found(api, anna) == [
        "Anna 100%_Zeker",
        "Sanne de Vries",
        "Piet Jansen",
        "Jan Pietersen",
    ]
    assert await found(api, anna, q="piet") == ["Piet Jansen", "Jan Pietersen"]
    assert await found(api, anna, q="JAN piet") == ["Piet Jansen", "Jan Pietersen"]
    assert await found(api, anna, q="sanne vries") == ["Sanne de Vries"]
    assert await found(api, lead, q="mail.example") == ["Piet Jansen"]
    assert await found(api, anna, q="1985-03-15") == ["Sanne de Vries"]
    assert await found(api, anna, q="1985-03-16") == []
    # LIKE's wildcards are letters like any other.
    assert await found(api, anna, q="%") == ["Anna 100%_Zeker"]
    assert await found(api, anna, q="0%_z") == ["Anna 100%_Zeker"]
    assert await found(api, anna, q="_") == ["Anna 100%_Zeker"]
    # Paging: the total counts every match.
    r = await api.get(f"{INTAKE}/clients", params={"q": "piet", "limit": 1}, headers=anna)
    assert r.headers["x-total-count"] == "2" and len(r.json()) == 1
    # The other organisation finds only its own.
    assert await found(api, foreign, q="sanne") == ["Sanne de Vries"]
    assert await found(api, foreign, q="piet") == []


async def test_each_search_records_one_read_per_found_client(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="anna.c"))
    sanne = await register(api, anna, "Sanne", "Zoekbaar")
    piet = await register(api, anna, "Piet", "Onvindbaar")

    async def reads(client_id: str) -> list[dict[str, Any]]:
        r = await api.get(
            f"{INTAKE}/audit/access-log", params={"client_id": client_id}, headers=auditor(token)
        )
        if r.status_code == 404:
            return []
        assert r.status_code == 200, r.text
        return [a for a in r.json() if a["resource"] == "client-search"]

    assert await found(api, anna, q="zoekbaar") == ["Sanne Zoekbaar"]
    [entry] = await reads(sanne)
    assert (entry["actor"], entry["role"], entry["organisation"]) == ("anna.c", "counsellor", org)
    assert entry["categories"] == ["identity", "contact"]
    assert await reads(piet) == []
    # Nothing found: nothing recorded.
    assert await found(api, anna, q="niemand") == []
    assert len(await reads(sanne)) == 1


async def test_an_erased_client_is_not_found(api: httpx.AsyncClient, token: Any) -> None:
    anna = bearer(token("counsellor", org=new_org(), sub="anna.c"))
    gone = await register(api, anna, "Sanne", "Vergeten")
    r = await api.post(
        f"{INTAKE}/clients/{gone}/erasure", json={"reason": "The client asked."}, headers=anna
    )
    assert r.status_code == 202, r.text

    async def not_found() -> bool:
        return await found(api, anna, q="vergeten") == []

    await eventually(not_found, "the erased client gone from the search")


async def test_a_bad_query_is_a_422_naming_it(api: httpx.AsyncClient, token: Any) -> None:
    anna = bearer(token("counsellor", org=new_org(), sub="anna.c"))
    for q in ("a\x00b", "line\nbreak", "x" * 201):
        r = await api.get(f"{INTAKE}/clients", params={"q": q}, headers=anna)
        assert_problem(r, 422, "validation-error", ("q",))
    # Partners and auditors do not search clients.
    partner = bearer(token("partner", org=new_org(), sub="p1", partner_id=str(uuid.uuid4())))
    r = await api.get(f"{INTAKE}/clients", params={"q": "x"}, headers=partner)
    assert r.status_code == 403, r.text


async def test_clients_are_found_by_their_ids_within_the_own_organisation(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="anna.c"))
    foreign = bearer(token("counsellor", org=new_org(), sub="anna.c"))
    sanne = await register(api, anna, "Sanne", "de Vries")
    piet = await register(api, anna, "Piet", "Jansen")
    await register(api, anna, "Jan", "Pietersen")
    theirs = await register(api, foreign, "Karel", "Smit")

    ids = [sanne, piet, theirs, str(uuid.uuid4())]
    assert await found(api, anna, client_id=ids) == ["Sanne de Vries", "Piet Jansen"]
    assert await found(api, anna, client_id=ids, q="piet") == ["Piet Jansen"]
    assert await found(api, foreign, client_id=ids) == ["Karel Smit"]
    r = await api.get(f"{INTAKE}/clients", params={"client_id": "not-an-id"}, headers=anna)
    assert_problem(r, 422, "validation-error", ("client_id",))
    r = await api.get(
        f"{INTAKE}/clients", params={"client_id": [str(uuid.uuid4())] * 201}, headers=anna
    )
    assert_problem(r, 422, "validation-error", ("client_id",))
