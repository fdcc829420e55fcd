"""A store written before intake's domain became a package still loads and replays.

Its events were stored under the topics of `services/intake/domain.py` and
`services/intake/erasure.py` (`services.intake.domain:Case.Opened`,
`services.intake.erasure:ClientErasure.HoldPlaced`, the aggregate class in each created
event's state): such a store is made here by writing through the application and then
rewriting the stored topics to the old strings. Its aggregates load as before, and the
projection replayed from the start over it builds the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import psycopg
import pytest

from services.intake.application import IntakeApplication
from services.intake.domain import Case, Client, ClientErasure
from services.intake.projections import IntakeProjection
from shared.privacy import KeyVault
from shared.runtime import key_vault
from shared.settings import Settings

ORG = "org-topics"
# New module → the module the events were stored under before the move.
MOVED = {
    "services.intake.domain.client:": "services.intake.domain:",
    "services.intake.domain.case:": "services.intake.domain:",
    "services.intake.domain.erasure:": "services.intake.erasure:",
}


class TopicsTestApp(IntakeApplication):
    name = "topicstest"


@pytest.fixture(scope="module")
def vault(settings: Settings) -> KeyVault:
    return key_vault(settings)


@pytest.fixture(scope="module")
def app(settings: Settings, vault: KeyVault) -> Iterator[TopicsTestApp]:
    application = TopicsTestApp(settings, vault)
    yield application
    application.close()


def a_history(app: IntakeApplication) -> tuple[uuid.UUID, uuid.UUID]:
    """A client with consents, an accepted case in synthesis, and a legal hold placed and
    lifted on it: every kind of aggregate, most kinds of event."""
    client_id = app.register_client(
        organisation=ORG,
        actor="tester",
        given_name="Ria",
        family_name="Topic",
        birth_date=date(1980, 1, 2),
        email="ria@example.org",
    )
    app.record_consent(
        client_id, organisation=ORG, actor="tester", purpose="guidance", granted=True
    )
    app.record_consent(
        client_id, organisation=ORG, actor="tester", purpose="statistics", granted=False
    )
    case_id = app.open_case(
        client_id=client_id, organisation=ORG, actor="tester", career_question="What next?"
    )

    def steps(case: Case, at: datetime) -> None:
        case.check_entry(eligible=True, notes="fine", actor="tester", at=at)
        case.record_assessment(
            assessment_id=uuid.uuid4(),
            assessor="client",
            scores={
                "quality_reflection": 1,
                "motive_reflection": 3,
                "work_exploration": 2,
                "career_steering": 4,
                "networking": 3,
            },
            actor="tester",
            at=at,
        )
        case.hold_session(
            session_id=uuid.uuid4(),
            kind="intake",
            held_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
            minutes=45,
            actor="tester",
            at=at,
        )
        case.decide(decision="accept", reason="suits", actor="tester", at=at)
        case.follow_plan(phase="synthesis", cause="planning.GoalAdded", source_position=7, at=at)

    app.change(lambda: app.case(case_id, ORG), None, steps)
    app.set_legal_hold(case_id, organisation=ORG, hold=True, reason="complaint", actor="lead")
    app.set_legal_hold(case_id, organisation=ORG, hold=False, reason=None, actor="lead")
    return client_id, case_id


def as_seen(app: IntakeApplication, client_id: uuid.UUID, case_id: uuid.UUID) -> dict[str, Any]:
    """What the aggregates hold, read fresh from the store."""
    client = app.repository.get(client_id)
    case = app.repository.get(case_id)
    record = app.repository.get(ClientErasure.id_for(client_id))
    assert isinstance(client, Client) and isinstance(case, Case)
    assert isinstance(record, ClientErasure)
    return {
        "client": (client.version, client.given_name, client.consents, client.consent_history),
        "case": (
            case.version,
            case.status,
            case.phase,
            case.career_question,
            case.entry_check,
            case.assessments,
            case.sessions,
            case.decision,
            case.gaps,
        ),
        "erasure": (record.version, record.receipt(), record.holds),
    }


def rewrite_to_old_topics(settings: Settings, table: str) -> int:
    """The stored topics (and each created event's aggregate topic) as they were before
    the move; the number of events rewritten."""
    with psycopg.connect(settings.pg.dsn()) as conn:
        for new, old in MOVED.items():
            conn.execute(
                f"UPDATE {table} SET topic = replace(topic, %s, %s), "
                "state = convert_to(replace(convert_from(state, 'UTF8'), %s, %s), 'UTF8') "
                "WHERE topic LIKE %s",
                (new, old, new, old, new + "%"),
            )
        old_topics = tuple(f"{old}%" for old in set(MOVED.values()))
        row = conn.execute(
            f"SELECT count(*) FILTER (WHERE topic LIKE ANY(%s)), count(*) FROM {table}",
            (list(old_topics),),
        ).fetchone()
        assert row is not None
        rewritten, total = row
        assert rewritten == total, "every event of the store is under an old topic"
        moved = conn.execute(
            f"SELECT count(*) FROM {table} WHERE convert_from(state, 'UTF8') LIKE %s",
            ("%services.intake.domain.%",),
        ).fetchone()
        assert moved == (0,), "no new topic is left in a stored state"
        return int(rewritten)


async def replay(app: IntakeApplication, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """The projection run from the start over the whole store; its rows of ORG."""
    projection = IntakeProjection(app, settings.pg.asyncpg_kwargs())
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    conn = await asyncpg.connect(**settings.pg.asyncpg_kwargs())
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{projection.schema}"')
        await conn.execute("CREATE SCHEMA IF NOT EXISTS intake")
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{projection.schema}".follower_positions '
            "(name text PRIMARY KEY, position bigint NOT NULL)"
        )
        await projection.setup(conn)
        await conn.execute("DELETE FROM intake.cases_view WHERE organisation = $1", ORG)
        await conn.execute("DELETE FROM intake.clients_view WHERE organisation = $1", ORG)
        await conn.execute("DELETE FROM intake.sessions_view WHERE organisation = $1", ORG)
        await projection.handle(conn, notifications)
        rows = {
            table: [
                {k: v for k, v in dict(r).items() if k != "updated_at"}
                for r in await conn.fetch(
                    f"SELECT * FROM intake.{table} WHERE organisation = $1 ORDER BY 1", ORG
                )
            ]
            for table in ("clients_view", "cases_view", "sessions_view")
        }
    finally:
        await conn.close()
    return rows


async def test_a_store_under_the_old_topics_loads_and_replays_to_the_same_rows(
    app: TopicsTestApp, settings: Settings
) -> None:
    client_id, case_id = a_history(app)
    before = as_seen(app, client_id, case_id)
    rows_before = await replay(app, settings)
    assert len(rows_before["clients_view"]) == 1 and len(rows_before["cases_view"]) == 1
    assert rows_before["cases_view"][0]["phase"] == "synthesis"
    [held] = rows_before["sessions_view"]
    assert (held["held_at"], held["minutes"], held["counsellor"]) == (
        datetime(2026, 1, 5, 10, tzinfo=UTC),
        45,
        "tester",
    )

    rewritten = rewrite_to_old_topics(settings, "topicstest.topicstest_events")

    assert rewritten == 12  # 3 of the client, 6 of the case, 3 of its erasure record
    reopened = TopicsTestApp(settings, app.vault)
    try:
        assert as_seen(reopened, client_id, case_id) == before
        assert await replay(reopened, settings) == rows_before
        # The old store takes new events, and the case keeps its history.
        reopened.change(
            lambda: reopened.case(case_id, ORG),
            None,
            lambda case, at: case.follow_plan(
                phase="aftercare", cause="planning.PlanAgreed", source_position=8, at=at
            ),
        )
        assert reopened.case(case_id, ORG).phase == "aftercare"
    finally:
        reopened.close()
