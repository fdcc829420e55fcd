"""`waypoint rebuild` on the real PostgreSQL and NATS: intake's projection rebuilt on the
running service gives the rows the live model has, reads answer all along, an erased
client stays gone, the projection goes on from where the rebuild stopped; the command's
exit codes and messages."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from shared.cli import app as cli
from shared.messaging.follower import follower_lock_key
from shared.messaging.projection import SetBased
from shared.messaging.reproject import erasure_sql, projections_of, rebuild_service, service_spec
from shared.runtime import key_vault
from shared.settings import Settings
from tests.scenarios import an_accepted_case, an_open_case
from tests.support import eventually

INTAKE = "/intake/v1"
TABLES = (
    "clients_view",
    "cases_view",
    "caseload_open",
    "caseload_days",
    "sessions_view",
    "complaints_view",
    "appointments_view",
    "groups_view",
)


async def rows_of(pool: Any, org: str) -> dict[str, list[tuple[Any, ...]]]:
    """The organisation's rows of every rebuilt table, in a stable order (`updated_at` of a
    case is when the projection applied its event, so it is left out)."""
    out = {}
    for table in TABLES:
        rows = await pool.fetch(f"SELECT * FROM intake.{table} WHERE organisation = $1", org)
        out[table] = sorted(
            (tuple((k, str(v)) for k, v in dict(r).items() if k != "updated_at") for r in rows),
        )
    return out


async def test_a_rebuild_on_the_running_service_gives_the_same_rows_and_keeps_erased_clients_out(
    api: httpx.AsyncClient,
    intake_app: Any,
    counsellor: dict[str, str],
    org: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Even two rows of one statement go set-based (over unnest), as thousands do.
    monkeypatch.setattr(SetBased, "min_rows", 2)
    used: list[bool] = []
    run = SetBased.run

    async def counted(self: SetBased, conn: Any, sql: str, many: Any) -> bool:
        done = await run(self, conn, sql, many)
        used.append(done)
        return done

    monkeypatch.setattr(SetBased, "run", counted)
    pool = intake_app.state.runtime.pool
    projection = intake_app.state.projection
    _, kept_case = await an_accepted_case(api, counsellor, given_name="Kees")
    erased, erased_case = await an_accepted_case(api, counsellor, given_name="Eva")
    await an_open_case(api, counsellor)
    for case in (kept_case, erased_case):
        r = await api.post(
            f"{INTAKE}/cases/{case}/sessions",
            json={"kind": "deepening", "held_at": "2026-03-02T10:00:00+01:00", "minutes": 45},
            headers=counsellor,
        )
        assert r.status_code == 201, r.text
    r = await api.post(
        f"{INTAKE}/clients/{erased}/erasure", json={"reason": "asked"}, headers=counsellor
    )
    assert r.status_code == 202, r.text

    async def erased_from_the_live_model() -> bool:
        n = await pool.fetchval(
            "SELECT count(*) FROM intake.clients_view WHERE client_id = $1", uuid.UUID(erased)
        )
        return n == 0

    await eventually(erased_from_the_live_model, "the live model's erasure")

    async def caught_up() -> bool:
        return bool(projection.caught_up.is_set())

    await eventually(caught_up, "the projection caught up")
    before = await rows_of(pool, org)
    assert len(before["cases_view"]) == 3 and len(before["clients_view"]) == 2
    assert len(before["sessions_view"]) == 1

    # Reads answer while the rebuild runs (and across the swap).
    answers: list[int] = []
    done = asyncio.Event()

    async def read_meanwhile() -> None:
        while not done.is_set():
            r = await api.get(f"{INTAKE}/cases", headers=counsellor)
            assert r.status_code == 200, r.text
            assert len(r.json()) == 3
            answers.append(r.status_code)
            await asyncio.sleep(0.01)

    reader = asyncio.create_task(read_meanwhile())
    progress: list[tuple[int, int, int]] = []
    try:
        rebuilt = await rebuild_service(
            "intake",
            "projection",
            settings,
            batch_size=40,  # several batches, several cases' events in each
            wait_seconds=10,
            progress=lambda *p: progress.append(p),
        )
    finally:
        done.set()
        await reader
    assert len(answers) >= 2
    assert any(used), "no statement went set-based"
    assert rebuilt.events > 0 and rebuilt.erased_clients >= 1
    assert len(progress) >= 2 and progress[-1][1] == rebuilt.position

    after = await rows_of(pool, org)
    assert after == before
    # The erased client: no row again (the events are all still there).
    for table in ("clients_view", "sessions_view", "appointments_view", "complaints_view"):
        n = await pool.fetchval(
            f"SELECT count(*) FROM intake.{table} WHERE client_id = $1", uuid.UUID(erased)
        )
        assert n == 0, table
    sealed = await pool.fetchval(
        "SELECT career_question_sealed FROM intake.cases_view WHERE case_id = $1",
        uuid.UUID(erased_case),
    )
    assert sealed is None
    # Vacuumed before the swap (its pages marked all-visible where no older snapshot
    # still needs their rows), so the lists' capped counts can be index-only scans before
    # autovacuum comes by.
    assert await pool.fetchval(
        "SELECT last_vacuum IS NOT NULL FROM pg_stat_all_tables "
        "WHERE relid = 'intake.cases_view'::regclass"
    )
    # Indexes came with the tables; no shadow schema is left.
    indexes = await pool.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'intake' AND tablename = 'cases_view'"
    )
    assert indexes >= 6
    assert not await pool.fetchval(
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'intake_rebuild'"
    )
    # The position is where the rebuild stopped; the live projection goes on from there.
    stored = await pool.fetchval(
        "SELECT position FROM intake.follower_positions WHERE name = 'projection'"
    )
    assert stored >= rebuilt.position
    new_case = await an_open_case(api, counsellor)
    r = await api.get(f"{INTAKE}/cases", headers=counsellor)
    assert r.status_code == 200, r.text
    assert new_case in r.text and kept_case in r.text
    # The open cases' counters came with the tables, and their triggers work again on the
    # tables now in place (the new case counted).
    counted = await pool.fetchval(
        "SELECT sum(cases) FROM intake.caseload_open WHERE organisation = $1", org
    )
    recounted = await pool.fetchval(
        "SELECT count(*) FROM intake.cases_view WHERE organisation = $1 "
        "AND status IN ('open', 'accepted')",
        org,
    )
    assert counted == recounted == 4
    opened = await pool.fetchval(
        "SELECT sum(opened) FROM intake.caseload_days WHERE organisation = $1", org
    )
    assert opened == await pool.fetchval(
        "SELECT count(*) FROM intake.cases_view WHERE organisation = $1", org
    )


def waypoint(settings: Settings, *args: str) -> tuple[int, str]:
    env = {
        "GUIDANCE_DATABASE_URL": settings.database_url,
        "GUIDANCE_AUTH_MODE": "dev",
        "COLUMNS": "300",
    }
    result = CliRunner().invoke(cli, ["rebuild", *args], env=env)
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


def test_the_command_names_its_choices_and_refuses_what_it_cannot_do(settings: Settings) -> None:
    code, out = waypoint(settings, "nosuch", "projection")
    assert code == 2 and "one of intake, planning, followup, referral" in out
    code, out = waypoint(settings, "intake", "nosuch")
    assert code == 2 and "intake has no projection 'nosuch': one of projection" in out
    code, out = waypoint(settings, "intake")
    assert code == 2 and "name the projection" in out
    code, out = waypoint(settings, "intake", "--list")
    assert code == 0 and "projection: intake.clients_view, intake.cases_view" in out
    code, out = waypoint(settings, "followup", "--list")
    assert code == 0 and "statistics_archive" not in out

    # A projection that keeps its lease (here: a session that holds it and never answers):
    # the rebuild gives up after --wait, leaving the live model as it was.
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        held = conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (follower_lock_key("intake", "projection"),)
        ).fetchone()
        assert held is not None  # held here, or by the session's intake (idle meanwhile)
        code, out = waypoint(settings, "intake", "projection", "--wait", "0.3")
        shadow = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'intake_rebuild'"
        ).fetchone()
    assert code == 1, out
    assert "did not hand its lease over within 0.3 s" in out
    assert shadow == (0,)


async def test_every_other_services_projection_rebuilds_to_the_rows_it_had(
    settings: Settings,
) -> None:
    """Planning's, follow-up's and referral's projections (their shadow DDL, their handlers'
    statements rewritten, their erasure): every row the live model had of an aggregate in
    the log, once rid of the clients erased by earlier tests, is there again (by its key),
    no erased client's row is, and a second rebuild gives the same rows. (Not "the same
    count": earlier tests drop rows of clients straight from the live tables, as an
    erasure consumer would, without destroying their keys; a rebuild brings those back, as
    it should.)"""
    conn = await asyncpg.connect(**settings.pg.asyncpg_kwargs())
    erased = await asyncio.to_thread(key_vault(settings).destroyed_clients)

    async def keys(service: str, table: str) -> set[Any]:
        if not await conn.fetchval("SELECT to_regclass($1)", f"{service}.{table}"):
            return set()
        return {r[0] for r in await conn.fetch(f"SELECT * FROM {service}.{table}")}

    try:
        for service in ("planning", "followup", "referral"):
            tables = projections_of(service)["projection"]
            # What the erasure consumers (which may not have run in this process) do for
            # the clients erased by earlier tests: the live tables without them.
            spec = service_spec(service)
            statements, _ = erasure_sql(service, spec.projection, spec.erasure.statements, service)
            for sql in statements:
                # (Run alone, a service's tables may not exist yet: the rebuild makes them.)
                with contextlib.suppress(asyncpg.UndefinedTableError):
                    await conn.execute(sql, erased)
            # Rows of aggregates in the service's log (some tests insert read-model rows by
            # SQL, as report benchmarks do: no rebuild can bring those back).
            stored = (
                {
                    r[0]
                    for r in await conn.fetch(
                        f"SELECT DISTINCT originator_id FROM {service}.{service}_events"
                    )
                }
                if await conn.fetchval("SELECT to_regclass($1)", f"{service}.{service}_events")
                else set()
            )
            live = {t: await keys(service, t) & stored for t in tables}
            rebuilt = await rebuild_service(service, "projection", settings, wait_seconds=10)
            assert rebuilt.tables == tables
            first = {t: await keys(service, t) for t in tables}
            await rebuild_service(service, "projection", settings, wait_seconds=10)
            for table in tables:
                assert live[table] <= first[table], (service, table)
                assert await keys(service, table) == first[table], (service, table)
                has_client = await conn.fetchval(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 "
                    "AND table_name = $2 AND column_name = 'client_id'",
                    service,
                    table,
                )
                if has_client and erased:
                    assert not await conn.fetchval(
                        f"SELECT count(*) FROM {service}.{table} WHERE client_id = ANY($1::uuid[])",
                        erased,
                    ), (service, table)
        # What the schema's SQL keeps beside the tables is there again after the swap: the
        # referral packets' extended statistics (without them the retention query scans).
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'referrals_view_ended_stats' "
            "AND stxnamespace = 'referral'::regnamespace"
        )
        assert not await conn.fetchval("SELECT to_regnamespace('referral_rebuild')")
    finally:
        await conn.close()


def test_a_second_rebuild_of_one_projection_is_refused_and_leaves_the_first_ones_shadow(
    settings: Settings,
) -> None:
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        guard = follower_lock_key("intake", "projection:rebuild")
        conn.execute("SELECT pg_advisory_lock(%s)", (guard,))
        conn.execute("CREATE SCHEMA intake_rebuild")  # the first one's, being built
        try:
            code, out = waypoint(settings, "intake", "projection")
            kept = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'intake_rebuild'"
            ).fetchone()
        finally:
            conn.execute("DROP SCHEMA IF EXISTS intake_rebuild CASCADE")
            conn.execute("SELECT pg_advisory_unlock(%s)", (guard,))
    assert code == 1 and "a rebuild of intake's projection is already running" in out, out
    assert kept == (1,)
