"""Keyset (cursor) paging and capped counts of the lists (shared/paging.py), on the real
PostgreSQL: paging by cursor returns every row once and in order (also with ties on the
timestamp), filters combine with the cursor, a bad cursor is a 422 naming `cursor`, and
the total stops at the cap (`GUIDANCE_LIST_COUNT_CAP`) with `X-Total-Count-Capped`."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.paging import Column, Order
from tests.support import assert_problem, bearer, new_org

INTAKE = "/intake/v1"
MOMENT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def some_cases(app: FastAPI, org: str) -> list[tuple[datetime, uuid.UUID, str]]:
    """Eleven cases of `org` in its read model (no client: listed as erased), five of them
    opened at the same moment; (opened_at, case_id, status) of each."""
    rows = []
    for i in range(11):
        opened = MOMENT if i < 5 else MOMENT - timedelta(hours=i)
        rows.append((opened, uuid.uuid4(), "declined" if i % 3 == 0 else "open"))
    await app.state.runtime.pool.executemany(
        "INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase, "
        "hours_budget, opened_by, counsellor, opened_at, updated_at, version) "
        "VALUES ($1, $2, $3, $4, 'intake', 12, 'c-1', 'c-1', $5, $5, 1)",
        [(case_id, uuid.uuid4(), org, status, opened) for opened, case_id, status in rows],
    )
    return rows


def newest_first(rows: list[tuple[datetime, uuid.UUID, str]]) -> list[str]:
    return [str(r[1]) for r in sorted(rows, key=lambda r: (r[0], r[1]), reverse=True)]


def next_link(r: httpx.Response) -> str | None:
    link = r.headers.get("link")
    return link.split(">")[0].lstrip("<") if link else None


async def walk(
    api: httpx.AsyncClient, headers: dict[str, str], url: str
) -> tuple[list[str], list[httpx.Response]]:
    """Every page from `url`, following `Link`."""
    seen: list[str] = []
    answers = []
    nxt: str | None = url
    while nxt is not None:
        r = await api.get(nxt, headers=headers)
        assert r.status_code == 200, r.text
        answers.append(r)
        seen += [c["case_id"] for c in r.json()]
        nxt = next_link(r)
        assert len(answers) < 50
    return seen, answers


async def test_paging_by_cursor_returns_every_case_once_in_order_with_ties(
    api: httpx.AsyncClient, intake_app: FastAPI, token: Any
) -> None:
    org = new_org()
    lead = bearer(token("team_lead", org=org))
    rows = await some_cases(intake_app, org)

    seen, answers = await walk(api, lead, f"{INTAKE}/cases?limit=2")
    assert seen == newest_first(rows)
    assert len(answers) == 6
    assert all("cursor=" in r.headers["link"] for r in answers[:-1])
    assert "link" not in answers[-1].headers
    assert {r.headers["x-total-count"] for r in answers} == {"11"}
    assert all("x-total-count-capped" not in r.headers for r in answers)

    # A filter combines with the cursor: the next pages keep it.
    seen, answers = await walk(api, lead, f"{INTAKE}/cases?limit=3&status=declined")
    assert seen == newest_first([r for r in rows if r[2] == "declined"])
    assert all("status=declined" in r.headers["link"] for r in answers[:-1])
    assert {r.headers["x-total-count"] for r in answers} == {"4"}

    # Paged by offset: the same order, and the next page by offset.
    r = await api.get(f"{INTAKE}/cases?limit=4&offset=4", headers=lead)
    assert [c["case_id"] for c in r.json()] == newest_first(rows)[4:8]
    assert "offset=8" in r.headers["link"] and "cursor=" not in r.headers["link"]


async def test_the_total_stops_at_the_cap(
    api: httpx.AsyncClient, intake_app: FastAPI, token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = new_org()
    lead = bearer(token("team_lead", org=org))
    rows = await some_cases(intake_app, org)
    monkeypatch.setattr(intake_app.state.settings, "list_count_cap", 5)

    r = await api.get(f"{INTAKE}/cases?limit=2", headers=lead)
    assert r.headers["x-total-count"] == "5"
    assert r.headers["x-total-count-capped"] == "true"
    # Beyond the cap the pages go on: every case once.
    seen, answers = await walk(api, lead, f"{INTAKE}/cases?limit=4")
    assert seen == newest_first(rows)
    # The pages by cursor carry the first page's total on (they count nothing).
    assert {(r.headers["x-total-count"], r.headers["x-total-count-capped"]) for r in answers} == {
        ("5", "true")
    }
    # Up to the cap the count is exact.
    r = await api.get(f"{INTAKE}/cases?status=declined", headers=lead)
    assert r.headers["x-total-count"] == "4" and "x-total-count-capped" not in r.headers


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


# A well-formed id in the bad cursors (fixed: the two lanes of `pytest -n 2 --dist
# loadgroup` must collect the same ids).
A_CASE_ID = "8a0f26aa-a917-4e26-93ef-4ab5371fef6e"


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%",
        cursor_of(["plans", ["2026-03-02T09:30:00+00:00", A_CASE_ID], 1, False]),
        cursor_of(["cases", ["2026-03-02T09:30:00+00:00"], 1, False]),
        cursor_of(["cases", ["2026-03-02T09:30:00", A_CASE_ID], 1, False]),
        cursor_of(["cases", ["yesterday", A_CASE_ID], 1, False]),
        cursor_of(["cases", [1, A_CASE_ID], 1, False]),
        cursor_of(["cases", ["2026-03-02T09:30:00+00:00", "no-uuid"], 1, False]),
        cursor_of(["cases", ["2026-03-02T09:30:00+00:00", A_CASE_ID], -1, False]),
        cursor_of(["cases", ["2026-03-02T09:30:00+00:00", A_CASE_ID], 1, "no"]),
        cursor_of(["cases", ["2026-03-02T09:30:00+00:00", A_CASE_ID]]),
        cursor_of({"cases": 1}),
        cursor_of("cases"),
        "x" * 1001,
    ],
)
async def test_a_bad_cursor_is_a_422_naming_it(
    api: httpx.AsyncClient, counsellor: dict[str, str], cursor: str
) -> None:
    r = await api.get(f"{INTAKE}/cases", params={"cursor": cursor}, headers=counsellor)
    assert_problem(r, 422, "validation-error")
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]


async def test_a_cursor_with_an_offset_is_a_422_naming_the_cursor(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    good = Order(
        "cases", (Column("v.opened_at", "timestamptz", True), Column("v.case_id", "uuid", True))
    ).encode([MOMENT, uuid.uuid4()], 3, False)
    r = await api.get(f"{INTAKE}/cases?cursor={good}", headers=counsellor)
    assert r.status_code == 200, r.text
    r = await api.get(f"{INTAKE}/cases?cursor={good}&offset=2", headers=counsellor)
    assert_problem(r, 422, "validation-error")
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]


async def refuses_another_lists_cursor(
    http: httpx.AsyncClient, token: Any, paths: list[str]
) -> None:
    lead = bearer(token("team_lead", org=new_org()))
    other = cursor_of(["cases", ["2026-03-02T09:30:00+00:00", str(uuid.uuid4())], 1, False])
    for path in paths:
        r = await http.get(path, params={"cursor": other}, headers=lead)
        assert_problem(r, 422, "validation-error")
        assert [e["field"] for e in r.json()["errors"]] == ["cursor"], path
        r = await http.get(path, params={"limit": 1}, headers=lead)
        assert r.status_code == 200, (path, r.text)


async def test_every_intake_list_refuses_another_lists_cursor(
    api: httpx.AsyncClient, token: Any
) -> None:
    paths = ["clients", "groups", "complaints"]
    await refuses_another_lists_cursor(api, token, [f"{INTAKE}/{p}" for p in paths])


async def test_every_other_services_list_refuses_another_lists_cursor(
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    token: Any,
) -> None:
    await refuses_another_lists_cursor(planning_api, token, ["/planning/v1/plans"])
    await refuses_another_lists_cursor(
        followup_api, token, ["/followup/v1/followups", "/followup/v1/worklist"]
    )
    await refuses_another_lists_cursor(
        referral_api, token, ["/referral/v1/referrals", "/referral/v1/partners"]
    )
