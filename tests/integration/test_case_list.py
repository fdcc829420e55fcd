"""Intake's case list on the real PostgreSQL and NATS: who (the client's name) and what
(the career question) for the caller's own organisation, the counsellor filter, one
recorded read per listed client and request, and an erased client's case."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"


def auditor(token: Any) -> dict[str, str]:
    return bearer(token("auditor", org="org-audit", sub="r.auditor", audit_scope="*"))


async def open_case(
    api: httpx.AsyncClient, headers: dict[str, str], given: str, family: str, question: str
) -> tuple[str, str]:
    body = {
        "given_name": given,
        "family_name": family,
        "birth_date": "1990-05-17",
        "email": "someone@example.org",
    }
    r = await api.post(f"{INTAKE}/clients", json=body, headers=headers)
    assert r.status_code == 201, r.text
    client_id = str(r.json()["client_id"])
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/consents",
        json={"purpose": "guidance", "granted": True},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = {"client_id": client_id, "career_question": question}
    r = await api.post(f"{INTAKE}/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return client_id, str(r.json()["case_id"])


async def listed(
    api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    r = await api.get(f"{INTAKE}/cases", params=params, headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    assert r.headers["x-total-count"] == str(len(items)) or "limit" in params
    return items


async def reads_of(api: httpx.AsyncClient, token: Any, client_id: str) -> list[dict[str, Any]]:
    r = await api.get(
        f"{INTAKE}/audit/access-log", params={"client_id": client_id}, headers=auditor(token)
    )
    if r.status_code == 404:  # no record of the client at all yet
        return []
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["resource"] == "case-list"]


async def test_the_case_list_shows_the_clients_name_and_question_and_filters_by_counsellor(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="anna.c"))
    bram = bearer(token("counsellor", org=org, sub="bram.c"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    # Another organisation's counsellor with the same sub: never in this list.
    foreign = bearer(token("counsellor", org=new_org(), sub="anna.c"))
    _, a1 = await open_case(api, anna, "Sanne", "de Vries", "Into teaching after retail?")
    _, a2 = await open_case(api, anna, "Piet", "Jansen", "Which training suits me?")
    _, b1 = await open_case(api, bram, "Fatima", "El Amrani", "Back to work after a break?")
    _, f1 = await open_case(api, foreign, "Karel", "Smit", "A foreign question")

    every = await listed(api, lead)
    assert [c["case_id"] for c in every] == [b1, a2, a1]
    by_id = {c["case_id"]: c for c in every}
    assert (by_id[a1]["client_name"], by_id[a1]["career_question"]) == (
        "Sanne de Vries",
        "Into teaching after retail?",
    )
    assert (by_id[b1]["client_name"], by_id[b1]["career_question"]) == (
        "Fatima El Amrani",
        "Back to work after a break?",
    )
    assert {c["case_id"]: c["counsellor"] for c in every} == {
        a1: "anna.c",
        a2: "anna.c",
        b1: "bram.c",
    }

    assert [c["case_id"] for c in await listed(api, lead, counsellor="anna.c")] == [a2, a1]
    assert [c["case_id"] for c in await listed(api, lead, counsellor="bram.c")] == [b1]
    assert [c["case_id"] for c in await listed(api, anna, counsellor="me")] == [a2, a1]
    assert [c["case_id"] for c in await listed(api, bram, counsellor="me")] == [b1]
    assert await listed(api, lead, counsellor="me") == []
    assert await listed(api, lead, counsellor="nobody") == []
    page = await listed(api, lead, counsellor="anna.c", limit=1, offset=1)
    assert [c["case_id"] for c in page] == [a1]

    # The other organisation sees only its own, under any filter.
    assert [c["case_id"] for c in await listed(api, foreign)] == [f1]
    assert [c["case_id"] for c in await listed(api, foreign, counsellor="me")] == [f1]
    assert await listed(api, foreign, counsellor="bram.c") == []


@pytest.mark.parametrize("value", ["", "x" * 201, "anna\nc"])
async def test_a_bad_counsellor_filter_is_a_422_naming_it(
    api: httpx.AsyncClient, counsellor: dict[str, str], value: str
) -> None:
    r = await api.get(f"{INTAKE}/cases", params={"counsellor": value}, headers=counsellor)
    body = assert_problem(r, 422, "validation-error")
    assert any("counsellor" in e["field"] for e in body["errors"]), body


async def test_each_listing_records_one_read_per_listed_client(
    api: httpx.AsyncClient, token: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="anna.c"))
    bram = bearer(token("counsellor", org=org, sub="bram.c"))
    c1, _ = await open_case(api, anna, "Sanne", "de Vries", "Q one?")
    c2, _ = await open_case(api, anna, "Piet", "Jansen", "Q two?")
    c3, _ = await open_case(api, bram, "Fatima", "El Amrani", "Q three?")
    assert await reads_of(api, token, c1) == []

    await listed(api, anna)  # all three
    await listed(api, anna, counsellor="me")  # c1 and c2
    await listed(api, anna, limit=1)  # the newest only: c3

    reads = {c: await reads_of(api, token, c) for c in (c1, c2, c3)}
    assert {c: len(r) for c, r in reads.items()} == {c1: 2, c2: 2, c3: 2}
    for entry in reads[c1]:
        assert (entry["actor"], entry["role"], entry["organisation"]) == (
            "anna.c",
            "counsellor",
            org,
        )
        assert (entry["purpose"], entry["resource"]) == ("guidance", "case-list")
        assert entry["categories"] == ["identity", "career_question"]
    # An empty page records nothing.
    await listed(api, anna, counsellor="nobody")
    assert len(await reads_of(api, token, c1)) == 2


async def test_an_erased_clients_case_stays_listed_without_name_or_question(
    api: httpx.AsyncClient, intake_app: Any, token: Any
) -> None:
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="anna.c"))
    gone, gone_case = await open_case(api, anna, "Sanne", "de Vries", "Into teaching?")
    _, kept_case = await open_case(api, anna, "Piet", "Jansen", "Which training?")

    # The read model keeps the question sealed with the client's key, never in plain text.
    pool = intake_app.state.runtime.pool
    stored = await pool.fetchval(
        "SELECT career_question_sealed::text FROM intake.cases_view WHERE case_id = $1::uuid",
        gone_case,
    )
    assert "$sealed" in stored and "Into teaching" not in stored

    r = await api.post(
        f"{INTAKE}/clients/{gone}/erasure", json={"reason": "The client asked."}, headers=anna
    )
    assert r.status_code == 202, r.text

    async def erased_in_list() -> list[dict[str, Any]] | None:
        items = await listed(api, anna)
        by_id = {c["case_id"]: c for c in items}
        return items if by_id[gone_case]["client_name"] == "ERASED" else None

    items = await eventually(erased_in_list, "the erased client's case in the list")
    by_id = {c["case_id"]: c for c in items}
    assert set(by_id) == {gone_case, kept_case}
    assert (by_id[gone_case]["client_name"], by_id[gone_case]["career_question"]) == (
        "ERASED",
        "ERASED",
    )
    assert by_id[gone_case]["counsellor"] == "anna.c"
    assert "Sanne" not in str(items) and "Into teaching" not in str(items)
    assert (by_id[kept_case]["client_name"], by_id[kept_case]["career_question"]) == (
        "Piet Jansen",
        "Which training?",
    )
    # The erased client's case is listed but nothing of it was shown: no read recorded
    # for it by the listing after the erasure.
    before = len(await reads_of(api, token, gone))
    await listed(api, anna)
    assert len(await reads_of(api, token, gone)) == before
    # The row itself holds no (sealed) question any more.
    assert (
        await pool.fetchval(
            "SELECT career_question_sealed FROM intake.cases_view WHERE case_id = $1::uuid",
            gone_case,
        )
        is None
    )
