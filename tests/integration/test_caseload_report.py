"""The team lead's caseload report, from intake's read models (cases and sessions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from shared.settings import Settings
from tests.counters import CASELOAD_DAYS, CASELOAD_OPEN
from tests.scenarios import an_accepted_case, an_open_case, days, post_case
from tests.support import INVALID, assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"


def session(days_ago: int, minutes: int) -> dict[str, Any]:
    held = datetime.now(UTC) - timedelta(days=days_ago)
    return {"kind": "intake", "held_at": held.isoformat(), "minutes": minutes}


async def test_the_caseload_counts_each_counsellors_cases_and_sessions(
    api: httpx.AsyncClient, intake_app: Any, token: Any
) -> None:
    """Known answers: open cases per phase, a declined case (closed in the period), a
    session outside the period, a client who withdrew the `statistics` consent (counted:
    workload is not statistics), another organisation's cases not counted."""
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="c-anna"))
    bert = bearer(token("counsellor", org=org, sub="c-bert"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    elsewhere = bearer(token("counsellor", org=new_org(), sub="c-anna"))

    # Anna: one open case in intake with two sessions (one 60 days ago, outside the
    # period), one accepted (deepening), one declined today.
    in_intake = await an_open_case(api, anna)
    await post_case(api, anna, in_intake, "sessions", session(2, 60), 201)
    await post_case(api, anna, in_intake, "sessions", session(60, 30), 201)
    await an_accepted_case(api, anna)
    declined = await an_open_case(api, anna)
    await post_case(api, anna, declined, "decision", {"decision": "decline"}, 200)
    # Bert: one open case whose client withdrew the statistics consent, one session.
    bert_case = await an_open_case(api, bert)
    client = (await api.get(f"{INTAKE}/cases/{bert_case}", headers=bert)).json()["client_id"]
    r = await api.post(
        f"{INTAKE}/clients/{client}/consents",
        json={"purpose": "statistics", "granted": False},
        headers=bert,
    )
    assert r.status_code == 201, r.text
    await post_case(api, bert, bert_case, "sessions", session(1, 90), 201)
    # Another organisation's case and session.
    other = await an_open_case(api, elsewhere)
    await post_case(api, elsewhere, other, "sessions", session(1, 45), 201)
    budget = (await api.get(f"{INTAKE}/cases/{in_intake}", headers=anna)).json()["hours_budget"]

    period = {"from": days(-30), "to": days(0)}

    async def report() -> dict[str, Any] | None:
        r = await api.get(f"{INTAKE}/reports/caseload", params=period, headers=lead)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        rows = found["counsellors"]
        settled = [c["sessions"] for c in rows] == [1, 1] and rows[0]["cases_closed"] == 1
        return found if settled else None

    found = await eventually(report, "the caseload with every case and session")

    assert found["from"] == f"{days(-30)}T00:00:00Z" and found["to"] == f"{days(1)}T00:00:00Z"
    assert found["counsellors"] == [
        {
            "counsellor": "c-anna",
            "open_cases": 2,
            "cases_by_phase": {"intake": 1, "deepening": 1},
            "cases_opened": 3,
            "cases_closed": 1,
            "hours_budget": 2 * budget,
            "hours_used": 1.0,
            "sessions": 1,
        },
        {
            "counsellor": "c-bert",
            "open_cases": 1,
            "cases_by_phase": {"intake": 1},
            "cases_opened": 1,
            "cases_closed": 0,
            "hours_budget": budget,
            "hours_used": 1.5,
            "sessions": 1,
        },
    ]
    # A period of long ago: the open cases still count (they are open now), nothing else.
    r = await api.get(
        f"{INTAKE}/reports/caseload",
        params={"from": "2020-01-01", "to": "2020-12-31"},
        headers=lead,
    )
    assert [
        (c["open_cases"], c["cases_opened"], c["sessions"]) for c in r.json()["counsellors"]
    ] == [
        (2, 0, 0),
        (1, 0, 0),
    ]
    # The session 60 days ago counts in a period that holds it.
    r = await api.get(
        f"{INTAKE}/reports/caseload", params={"from": days(-61), "to": days(-59)}, headers=lead
    )
    anna_then = r.json()["counsellors"][0]
    assert (anna_then["sessions"], anna_then["hours_used"]) == (1, 0.5)


async def test_the_caseload_is_for_team_leads_and_needs_a_proper_period(
    api: httpx.AsyncClient, token: Any
) -> None:
    lead = bearer(token("team_lead"))
    path = f"{INTAKE}/reports/caseload"
    period = {"from": "2026-01-01", "to": "2026-02-01"}
    assert_problem(
        await api.get(path, params=period, headers=bearer(token("counsellor"))), 403, "forbidden"
    )
    r = await api.get(path, params={"from": "2026-02-01", "to": "2026-01-01"}, headers=lead)
    assert_problem(r, 422, INVALID, ("from",))
    r = await api.get(path, params={"from": "2026-01-01", "to": "today"}, headers=lead)
    assert_problem(r, 422, INVALID, ("to",))
    r = await api.get(path, params={"from": "2026-01-01T00:00:00"}, headers=lead)
    assert_problem(r, 422, INVALID, ("from",))
    assert (await api.get(path, params=period)).status_code == 401


async def test_the_open_cases_counted_as_they_change_equal_a_recount(
    api: httpx.AsyncClient, token: Any, settings: Settings
) -> None:
    """The report's open cases come from counters kept as cases change (a trigger on
    `cases_view`), not from a scan of every case. After a hand-over, an acceptance, a
    closure and a declined case, they equal a count of the cases themselves: for this
    organisation through the report, and for every organisation the session's other tests
    made, in the database."""
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="c-anna"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    handed = await an_open_case(api, anna)
    _, accepted = await an_accepted_case(api, anna)
    _, closed = await an_accepted_case(api, anna)
    declined = await an_open_case(api, anna)
    await post_case(api, anna, declined, "decision", {"decision": "decline"}, 200)
    await post_case(
        api, lead, handed, "reassignment", {"counsellor": "c-bert", "reason": "Leave."}, 200
    )
    await post_case(
        api,
        anna,
        closed,
        "closure",
        {"reason": "client_withdrew", "summary": "The client moved abroad."},
        200,
    )
    budget = (await api.get(f"{INTAKE}/cases/{accepted}", headers=anna)).json()["hours_budget"]

    async def report() -> list[dict[str, Any]] | None:
        r = await api.get(
            f"{INTAKE}/reports/caseload",
            params={"from": days(-1), "to": days(0)},
            headers=lead,
        )
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["counsellors"]
        done = [(c["counsellor"], c["open_cases"], c["cases_closed"]) for c in rows]
        return rows if done == [("c-anna", 1, 2), ("c-bert", 1, 0)] else None

    rows = await eventually(report, "the hand-over, the closure and the decline counted")
    assert [(c["cases_by_phase"], c["hours_budget"]) for c in rows] == [
        ({"deepening": 1}, budget),
        ({"intake": 1}, budget),
    ]
    async with await psycopg.AsyncConnection.connect(settings.pg.dsn()) as conn:
        counted, recounted = [await (await conn.execute(sql)).fetchall() for sql in CASELOAD_OPEN]
    assert counted == recounted
    assert any(r[0] == org for r in counted)
    async with await psycopg.AsyncConnection.connect(settings.pg.dsn()) as conn:
        by_day, by_day_recounted = [
            await (await conn.execute(sql)).fetchall() for sql in CASELOAD_DAYS
        ]
    assert by_day == by_day_recounted
    assert (org, datetime.now(UTC).date(), "c-bert", 1, 0) in by_day


# The cases opened and closed in [start, end), counted from the cases themselves.
MOVED = (
    "SELECT counsellor, count(*) FILTER (WHERE opened_at >= %(start)s AND opened_at < %(end)s), "
    "count(*) FILTER (WHERE closed_at >= %(start)s AND closed_at < %(end)s) "
    "FROM intake.cases_view WHERE organisation = %(org)s GROUP BY 1 HAVING "
    "count(*) FILTER (WHERE opened_at >= %(start)s AND opened_at < %(end)s) > 0 OR "
    "count(*) FILTER (WHERE closed_at >= %(start)s AND closed_at < %(end)s) > 0 ORDER BY 1"
)


async def test_cases_opened_and_closed_in_any_period_equal_a_count_of_the_cases(
    api: httpx.AsyncClient, token: Any, settings: Settings
) -> None:
    """The report counts a period's whole days from the per-day counters and its part-days
    by time: for periods given as dates, as times in the middle of days, within one day,
    and ending now (the default), its figures equal a count of the cases themselves."""
    org = new_org()
    anna = bearer(token("counsellor", org=org, sub="c-anna"))
    lead = bearer(token("team_lead", org=org, sub="lead-1"))
    await an_open_case(api, anna)
    declined = await an_open_case(api, anna)
    await post_case(api, anna, declined, "decision", {"decision": "decline"}, 200)
    handed = await an_open_case(api, anna)
    await post_case(
        api, lead, handed, "reassignment", {"counsellor": "c-bert", "reason": "Leave."}, 200
    )
    # Cases opened on earlier days: their rows moved back in time (the projection keeps
    # what the events say; a case cannot be opened in the past through the API).
    async with await psycopg.AsyncConnection.connect(settings.pg.dsn(), autocommit=True) as conn:
        for back, hours in ((1, 3), (3, 20)):
            case = await an_open_case(api, anna)
            await eventually_row(conn, case)
            await conn.execute(
                "UPDATE intake.cases_view SET opened_at = opened_at - %s::interval "
                "WHERE case_id = %s",
                (f"{back} days {hours} hours", case),
            )
    now = datetime.now(UTC)

    def at(**delta: float) -> str:
        return (now + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    periods: list[dict[str, str]] = [
        {},  # the last 90 days, ending now
        {"from": days(-5), "to": days(0)},
        {"from": at(days=-4, hours=-7), "to": at()},
        {"from": at(days=-2, hours=-5), "to": days(-1)},
        {"from": at(minutes=-30), "to": at(minutes=5)},
        {"from": at(minutes=5), "to": at(hours=1)},
    ]
    found: dict[str, list[tuple[str, int, int]]] = {}
    async with await psycopg.AsyncConnection.connect(settings.pg.dsn()) as conn:
        for params in periods:
            r = await api.get(f"{INTAKE}/reports/caseload", params=params, headers=lead)
            assert r.status_code == 200, r.text
            body = r.json()
            got = [
                (c["counsellor"], c["cases_opened"], c["cases_closed"])
                for c in body["counsellors"]
                if c["cases_opened"] or c["cases_closed"]
            ]
            bounds = {"org": org, "start": body["from"], "end": body["to"]}
            expected = await (await conn.execute(MOVED, bounds)).fetchall()
            assert got == [tuple(row) for row in expected], params
            found[str(params)] = got
    # Known answers for the five days given as dates: Anna opened four (one declined
    # today), Bert carries the case handed over to him.
    assert found[str(periods[1])] == [("c-anna", 4, 1), ("c-bert", 1, 0)]
    assert found[str(periods[-1])] == []


async def eventually_row(conn: psycopg.AsyncConnection[Any], case: str) -> None:
    async def projected() -> bool | None:
        cur = await conn.execute("SELECT 1 FROM intake.cases_view WHERE case_id = %s", (case,))
        return True if await cur.fetchone() else None

    await eventually(projected, "the case projected")
