"""ESCO in planning on the real PostgreSQL: `waypoint esco import` loads the portal's CSV
files (tests/data/esco/, made for the tests in ESCO's format) with their labels per
language, again without duplicates, and refuses a bad file naming its line with nothing
changed; `GET /esco/search` finds concepts by label, best first, in the reader's language
(else English); `GET /esco/concepts` gives the labels of the URIs a plan names; the
competence analysis keeps a skill's URI with its self and counsellor levels (1-4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from services.cli import app as cli
from shared.settings import Settings
from tests.scenarios import PLANNING, a_draft_plan, get_plan, send
from tests.support import INVALID, assert_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "esco"
FILES = ("skills_en.csv", "skills_nl.csv", "occupations_en.csv")
FIRST_AID = "http://data.europa.eu/esco/skill/7a1b2c3d-0000-4000-8000-000000000002"
PERSONAL = "http://data.europa.eu/esco/skill/0e47a0c3-a4e6-4841-a000-000000000001"
HYGIENE = "http://data.europa.eu/esco/skill/7a1b2c3d-0000-4000-8000-000000000003"
NURSING_ASSISTANT = "http://data.europa.eu/esco/occupation/5b3c2d1e-0000-4000-8000-000000000010"
CAREER_ADVISOR = "http://data.europa.eu/esco/occupation/5b3c2d1e-0000-4000-8000-000000000011"
UNKNOWN = "http://data.europa.eu/esco/skill/00000000-0000-4000-8000-0000000000ff"


def counts(settings: Settings) -> tuple[int, int]:
    with psycopg.connect(settings.pg.dsn()) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM planning.esco_concepts), "
            "(SELECT count(*) FROM planning.esco_labels)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def waypoint(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"GUIDANCE_DATABASE_URL": settings.database_url})


@pytest.fixture(scope="module")
def imported(settings: Settings) -> Iterator[tuple[int, int]]:
    """The test files imported with the command line, as an agency would."""
    done = waypoint(settings, "esco", "import", *(str(DATA / f) for f in FILES))
    assert done.exit_code == 0, done.output
    assert "skills_en.csv: 4 concept(s) in en" in done.output
    assert "skills_nl.csv: 2 concept(s) in nl (0 new), 5 label(s)" in done.output
    assert "occupations_en.csv: 2 concept(s) in en" in done.output
    yield counts(settings)


def test_an_import_again_changes_nothing_and_a_bad_file_names_its_line(
    settings: Settings, imported: tuple[int, int]
) -> None:
    concepts, labels = imported
    assert concepts >= 6 and labels >= 21

    again = waypoint(settings, "esco", "import", str(DATA / "skills_en.csv"))
    assert again.exit_code == 0, again.output
    assert "4 concept(s) in en (0 new), 10 label(s)" in again.output
    assert counts(settings) == imported

    bad = waypoint(settings, "esco", "import", str(DATA / "bad_skills_en.csv"))
    assert bad.exit_code == 1
    assert "bad_skills_en.csv: line 4: conceptUri 'http://example.org/not-esco/42'" in bad.output
    assert counts(settings) == imported

    nameless = waypoint(
        settings, "esco", "import", str(DATA / "bad_skills_en.csv"), "--language", "x1"
    )
    assert nameless.exit_code == 1 and "not a language code" in nameless.output


async def search(
    planning_api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    r = await planning_api.get(f"{PLANNING}/esco/search", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_labels_are_found_best_first_in_the_readers_language(
    planning_api: httpx.AsyncClient, counsellor: dict[str, str], imported: tuple[int, int]
) -> None:
    # An alternative label found; the preferred one shown.
    [aid] = await search(planning_api, counsellor, q="give first", lang="en")
    assert (aid["uri"], aid["kind"], aid["label"], aid["matched"], aid["language"]) == (
        FIRST_AID,
        "skill",
        "provide first aid",
        "give first aid",
        "en",
    )
    # A preferred label starting with the words first ("career guidance advisor"), then an
    # alternative one ("care assistant"), then a word inside a label ("personal care of …").
    found = await search(planning_api, counsellor, q="CARE")
    assert [f["uri"] for f in found] == [CAREER_ADVISOR, NURSING_ASSISTANT, HYGIENE]
    assert [f["uri"] for f in await search(planning_api, counsellor, q="care", kind="skill")] == [
        HYGIENE
    ]
    # In Dutch: Dutch labels first; an English one found and shown in Dutch when it has one,
    # in English when it has none.
    [dutch] = await search(planning_api, counsellor, q="eerste hulp", lang="nl")
    assert (dutch["uri"], dutch["label"], dutch["language"]) == (
        FIRST_AID,
        "eerste hulp verlenen",
        "nl",
    )
    [fallback] = await search(planning_api, counsellor, q="first aid", lang="nl")
    assert (fallback["label"], fallback["matched"]) == ("eerste hulp verlenen", "provide first aid")
    r = await planning_api.get(
        f"{PLANNING}/esco/search",
        params={"q": "nursing ass"},
        headers={**counsellor, "Accept-Language": "nl-BE,nl;q=0.9"},
    )
    assert [(f["label"], f["language"]) for f in r.json()] == [("nursing assistant", "en")]
    # LIKE's wildcards are words like any other.
    assert await search(planning_api, counsellor, q="%_") == []

    for params, field in (
        ({"q": "a"}, "q"),
        ({"q": "aid", "kind": "competence"}, "kind"),
        ({"q": "aid", "lang": "english"}, "lang"),
        ({"q": "aid", "limit": "0"}, "limit"),
    ):
        r = await planning_api.get(f"{PLANNING}/esco/search", params=params, headers=counsellor)
        assert_problem(r, 422, INVALID, (field,))
    r = await planning_api.get(f"{PLANNING}/esco/search", params={"q": "aid"})
    assert r.status_code == 401


async def test_a_plans_skills_carry_their_uri_and_levels_and_show_in_the_readers_language(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    counsellor: dict[str, str],
    imported: tuple[int, int],
) -> None:
    plan = await a_draft_plan(api, planning_api, counsellor)
    plan_id = plan["plan_id"]
    aid = {
        "text": "provide first aid",
        "esco_uri": FIRST_AID,
        "self_level": 3,
        "counsellor_level": 2,
    }
    analysis = {
        "career_target": "nursing assistant",
        "career_target_uri": NURSING_ASSISTANT,
        "strengths": [aid],
        "training_needs": [{"text": "personal development", "esco_uri": PERSONAL, "self_level": 1}],
    }
    await send(planning_api, "PUT", f"/plans/{plan_id}/competence-analysis", counsellor, analysis)
    shown = (await get_plan(planning_api, plan_id, counsellor)).json()["competence_analysis"]
    assert shown["career_target_uri"] == NURSING_ASSISTANT
    assert shown["strengths"] == [aid]
    assert shown["training_needs"][0]["self_level"] == 1
    assert shown["training_needs"][0]["counsellor_level"] is None

    r = await planning_api.get(
        f"{PLANNING}/esco/concepts",
        params=[("uri", NURSING_ASSISTANT), ("uri", UNKNOWN), ("uri", FIRST_AID), ("lang", "nl")],
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    assert [(c["uri"], c["kind"], c["label"], c["language"]) for c in r.json()] == [
        (NURSING_ASSISTANT, "occupation", "nursing assistant", "en"),
        (FIRST_AID, "skill", "eerste hulp verlenen", "nl"),
    ]

    # The printed plan: the labels in its language (English where ESCO has none), the levels.
    r = await planning_api.get(
        f"{PLANNING}/plans/{plan_id}/document", params={"lang": "nl"}, headers=counsellor
    )
    assert r.status_code == 200, r.text
    for words in ("Competentieanalyse", "nursing assistant", "eerste hulp verlenen", "3: weet hoe"):
        assert words in r.text, words
    assert "klanten helpen bij persoonlijke ontwikkeling" in r.text
    assert "niet beoordeeld" in r.text  # the counsellor's level of that training need

    version = shown and (await get_plan(planning_api, plan_id, counsellor)).json()["version"]
    for body, field in (
        ({**analysis, "strengths": [{**aid, "self_level": 5}]}, "strengths.0.self_level"),
        (
            {**analysis, "strengths": [{**aid, "counsellor_level": "3"}]},
            "strengths.0.counsellor_level",
        ),
        (
            {
                **analysis,
                "strengths": [{"text": "a", "esco_uri": NURSING_ASSISTANT, "self_level": 2}],
            },
            "strengths.0.self_level",
        ),
        ({**analysis, "career_target_uri": FIRST_AID}, "career_target_uri"),
    ):
        r = await planning_api.put(
            f"{PLANNING}/plans/{plan_id}/competence-analysis", json=body, headers=counsellor
        )
        assert_problem(r, 422, INVALID, (field,))
    assert (await get_plan(planning_api, plan_id, counsellor)).json()["version"] == version
