"""EVC on the real PostgreSQL: `waypoint evc import-standard` loads a standard's
competence items (refusing a bad file naming its line, nothing changed); GET /standards
lists them and /standards/{id} shows the items with their ESCO skills' labels; a plan's
portfolio is compared with the standard item by item: evidence linked to the items it
proves, the counsellor's judgement per item (its comment stored sealed), the comparison in
the plan, and the partly/not-yet items turned into training needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from services.cli import app as cli
from shared.settings import Settings
from tests.scenarios import EVC_STANDARD_FILE, PLANNING, a_draft_plan, get_plan, send
from tests.support import INVALID, assert_problem, bearer, new_org

ESCO = Path(__file__).resolve().parents[1] / "data" / "esco" / "skills_en.csv"
FIRST_AID = "http://data.europa.eu/esco/skill/7a1b2c3d-0000-4000-8000-000000000002"


def waypoint(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"GUIDANCE_DATABASE_URL": settings.database_url})


def items_of(settings: Settings) -> int:
    with psycopg.connect(settings.pg.dsn()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM planning.evc_standard_items WHERE standard_id = 'mbo2-care'"
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def imported(settings: Settings) -> str:
    done = waypoint(settings, "esco", "import", str(ESCO))
    assert done.exit_code == 0, done.output
    done = waypoint(settings, "evc", "import-standard", str(EVC_STANDARD_FILE))
    assert done.exit_code == 0, done.output
    assert "mbo2-care: 3 item(s)" in done.output
    return "mbo2-care"


def test_an_import_again_replaces_and_a_bad_file_changes_nothing(
    settings: Settings, imported: str, tmp_path: Path
) -> None:
    again = waypoint(settings, "evc", "import-standard", str(EVC_STANDARD_FILE))
    assert again.exit_code == 0 and "mbo2-care: 3 item(s)." in again.output
    assert items_of(settings) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "standard,standard_title,item,title\nmbo2-care,MBO 2 care assistant,X1,New\n"
        "mbo2-care,MBO 2 care assistant,not a code,Bad\n"
    )
    refused = waypoint(settings, "evc", "import-standard", str(bad))
    assert refused.exit_code == 1
    assert "line 3: item 'not a code'" in refused.output
    assert items_of(settings) == 3


async def test_standards_are_listed_with_their_items_and_esco_labels(
    planning_api: httpx.AsyncClient, counsellor: dict[str, str], imported: str
) -> None:
    r = await planning_api.get(f"{PLANNING}/standards", headers=counsellor)
    assert r.status_code == 200, r.text
    [listed] = [s for s in r.json() if s["standard_id"] == imported]
    assert (listed["title"], listed["items"]) == ("MBO 2 care assistant", 3)

    r = await planning_api.get(f"{PLANNING}/standards/{imported}?lang=en", headers=counsellor)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["item_id"] for i in items] == ["B1-K1-W1", "B1-K1-W2", "B1-K1-W3"]
    assert items[1]["esco_uris"] == [FIRST_AID]
    assert [s["label"] for s in items[1]["esco_skills"]] == ["provide first aid"]

    r = await planning_api.get(f"{PLANNING}/standards/nothing-here", headers=counsellor)
    assert_problem(r, 404, "not-found")
    r = await planning_api.get(f"{PLANNING}/standards/bad%20code", headers=counsellor)
    assert_problem(r, 422, INVALID, ("standard_id",))
    assert (await planning_api.get(f"{PLANNING}/standards")).status_code == 401


async def test_a_portfolio_is_compared_item_by_item_and_its_gaps_become_training_needs(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    settings: Settings,
    counsellor: dict[str, str],
    token: Any,
    imported: str,
) -> None:
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
    plans = f"/plans/{plan_id}/portfolio"
    evidence = {
        "title": "Reference from the care home",
        "kind": "reference",
        "date": (datetime.now(UTC).date() - timedelta(days=30)).isoformat(),
    }
    evidence_id = (
        await send(planning_api, "POST", f"{plans}/evidence", counsellor, evidence, 201)
    )["evidence_id"]
    # Judging before a standard is chosen: refused.
    r = await planning_api.put(
        f"{PLANNING}{plans}/items/B1-K1-W1/judgement",
        json={"judgement": "proven"},
        headers=counsellor,
    )
    assert r.status_code == 409, r.text

    await send(planning_api, "PUT", f"{plans}/standard", counsellor, {"standard_id": imported})
    await send(
        planning_api,
        "PUT",
        f"{plans}/evidence/{evidence_id}/items",
        counsellor,
        {"items": ["B1-K1-W1", "B1-K1-W2"], "esco_uris": [FIRST_AID]},
    )
    secret = f"Shown at work, no certificate {uuid.uuid4().hex}"
    for item, judgement, comment in (
        ("B1-K1-W1", "proven", None),
        ("B1-K1-W2", "partly", secret),
        ("B1-K1-W3", "not_yet", None),
    ):
        await send(
            planning_api,
            "PUT",
            f"{plans}/items/{item}/judgement",
            counsellor,
            {"judgement": judgement, "comment": comment},
        )
    portfolio = (await get_plan(planning_api, plan_id, counsellor)).json()["portfolio"]
    assert portfolio["standard"]["standard_id"] == imported
    rows = portfolio["comparison"]
    assert [(r["item_id"], r["judgement"]) for r in rows] == [
        ("B1-K1-W1", "proven"),
        ("B1-K1-W2", "partly"),
        ("B1-K1-W3", "not_yet"),
    ]
    assert rows[1]["comment"] == secret
    assert [e["evidence_id"] for e in rows[1]["evidence"]] == [evidence_id]
    assert rows[2]["evidence"] == []
    assert portfolio["evidence"][0]["esco_uris"] == [FIRST_AID]

    # The comment is stored sealed.
    with psycopg.connect(settings.pg.dsn()) as conn:
        rows_found = conn.execute(
            "SELECT count(*) FROM planning.planning_events "
            "WHERE position(convert_to(%s, 'UTF8') in state) > 0",
            (secret[-32:],),
        ).fetchone()
    assert rows_found is not None and rows_found[0] == 0

    turned = await send(planning_api, "POST", f"{plans}/gaps/training-needs", counsellor)
    assert turned["added"] == 2
    analysis = (await get_plan(planning_api, plan_id, counsellor)).json()["competence_analysis"]
    assert [(n["text"], n["esco_uri"]) for n in analysis["training_needs"]] == [
        ("Gives first aid (MBO 2 care assistant, B1-K1-W2)", FIRST_AID),
        (
            "Helps clients with their personal development (MBO 2 care assistant, B1-K1-W3)",
            "http://data.europa.eu/esco/skill/0e47a0c3-a4e6-4841-a000-000000000001",
        ),
    ]
    assert analysis["career_target"] == "MBO 2 care assistant"
    again = await send(planning_api, "POST", f"{plans}/gaps/training-needs", counsellor)
    assert again["added"] == 0

    # Bad input: 422 naming the field, nothing changed; another organisation: 404.
    version = (await get_plan(planning_api, plan_id, counsellor)).json()["version"]
    for method, path, body, field in (
        ("PUT", f"{plans}/standard", {"standard_id": "no-such-standard"}, "standard_id"),
        ("PUT", f"{plans}/standard", {"standard_id": "bad code"}, "standard_id"),
        ("PUT", f"{plans}/evidence/{evidence_id}/items", {"items": ["Z9"]}, "items.0"),
        ("PUT", f"{plans}/evidence/{evidence_id}/items", {"esco_uris": ["x"]}, "esco_uris.0"),
        ("PUT", f"{plans}/items/B1-K1-W1/judgement", {"judgement": "maybe"}, "judgement"),
        ("PUT", f"{plans}/items/B1-K1-W1/judgement", {"judgement": 1}, "judgement"),
    ):
        r = await planning_api.request(method, PLANNING + path, json=body, headers=counsellor)
        assert_problem(r, 422, INVALID, (field,))
    r = await planning_api.put(
        f"{PLANNING}{plans}/items/ZZ/judgement", json={"judgement": "proven"}, headers=counsellor
    )
    assert_problem(r, 404, "not-found")
    other = bearer(token("counsellor", org=new_org(), sub="counsellor-other"))
    r = await planning_api.put(
        f"{PLANNING}{plans}/items/B1-K1-W1/judgement", json={"judgement": "partly"}, headers=other
    )
    assert r.status_code == 404
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["version"] == version


async def test_a_piece_of_evidence_is_withdrawn_with_why_its_links_go_its_judgements_stay(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    settings: Settings,
    counsellor: dict[str, str],
    token: Any,
    imported: str,
) -> None:
    plan_id = (await a_draft_plan(api, planning_api, counsellor))["plan_id"]
    plans = f"/plans/{plan_id}/portfolio"
    dated = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    ids = []
    for title in ("Reference from the care home", "Somebody else's diploma"):
        evidence = {"title": title, "kind": "reference", "date": dated}
        ids.append(
            (await send(planning_api, "POST", f"{plans}/evidence", counsellor, evidence, 201))[
                "evidence_id"
            ]
        )
    kept, mistaken = ids
    await send(planning_api, "PUT", f"{plans}/standard", counsellor, {"standard_id": imported})
    await send(
        planning_api, "PUT", f"{plans}/evidence/{kept}/items", counsellor, {"items": ["B1-K1-W1"]}
    )
    await send(
        planning_api,
        "PUT",
        f"{plans}/evidence/{mistaken}/items",
        counsellor,
        {"items": ["B1-K1-W1", "B1-K1-W2"]},
    )
    await send(
        planning_api,
        "PUT",
        f"{plans}/items/B1-K1-W2/judgement",
        counsellor,
        {"judgement": "proven"},
    )
    before = (await get_plan(planning_api, plan_id, counsellor)).json()

    # Bad input first: nothing changes.
    withdrawal = f"{PLANNING}{plans}/evidence/{mistaken}/withdrawal"
    for body, field in (({"reason": " \n "}, "reason"), ({}, "reason"), ({"reason": 1}, "reason")):
        r = await planning_api.post(withdrawal, json=body, headers=counsellor)
        assert_problem(r, 422, INVALID, (field,))
    r = await planning_api.post(
        f"{PLANNING}{plans}/evidence/{uuid.uuid4()}/withdrawal",
        json={"reason": "Not here."},
        headers=counsellor,
    )
    assert_problem(r, 404, "not-found")
    other = bearer(token("counsellor", org=new_org(), sub="counsellor-other"))
    r = await planning_api.post(withdrawal, json={"reason": "Not mine."}, headers=other)
    assert_problem(r, 404, "not-found")
    r = await planning_api.post(
        withdrawal, json={"reason": "Late."}, headers={**counsellor, "If-Match": '"1"'}
    )
    assert r.status_code == 409, r.text
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["version"] == before[
        "version"
    ]

    # The withdrawal, sent twice with one Idempotency-Key: it takes effect once.
    secret = f"Added by mistake: another client's diploma {uuid.uuid4().hex}"
    headers = {
        **counsellor,
        "Idempotency-Key": str(uuid.uuid4()),
        "If-Match": f'"{before["version"]}"',
    }
    r = await planning_api.post(withdrawal, json={"reason": secret}, headers=headers)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer == {
        "version": before["version"] + 1,
        "status": "draft",
        "revision": before["revision"] + 1,
    }
    assert r.headers["etag"] == f'"{answer["version"]}"'
    again = await planning_api.post(withdrawal, json={"reason": secret}, headers=headers)
    assert (again.status_code, again.json()) == (200, answer)
    assert again.headers["idempotent-replayed"] == "true"

    portfolio = (await get_plan(planning_api, plan_id, counsellor)).json()["portfolio"]
    assert [e["evidence_id"] for e in portfolio["evidence"]] == [kept]
    rows = {r["item_id"]: r for r in portfolio["comparison"]}
    assert [e["evidence_id"] for e in rows["B1-K1-W1"]["evidence"]] == [kept]
    assert rows["B1-K1-W2"]["evidence"] == []
    assert rows["B1-K1-W2"]["judgement"] == "proven"  # to be judged again by the counsellor

    # Withdrawn already: it is no longer in the portfolio.
    r = await planning_api.post(withdrawal, json={"reason": "Again."}, headers=counsellor)
    assert_problem(r, 404, "not-found")

    # The reason is stored sealed.
    with psycopg.connect(settings.pg.dsn()) as conn:
        found = conn.execute(
            "SELECT count(*) FROM planning.planning_events "
            "WHERE position(convert_to(%s, 'UTF8') in state) > 0",
            (secret[-32:],),
        ).fetchone()
        topics = conn.execute(
            "SELECT count(*) FROM planning.planning_events "
            "WHERE originator_id = %s AND topic LIKE %s",
            (plan_id, "%Plan.EvidenceWithdrawn"),
        ).fetchone()
    assert found is not None and found[0] == 0
    assert topics is not None and topics[0] == 1
