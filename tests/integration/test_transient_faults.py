"""Faults a request cannot ride out answer 503 with Retry-After, never 500; a connection
that died while idle is not handed to a caller (issue #11, §3)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import date

import psycopg
import pytest

from shared.privacy.keyvault import KeyVault
from shared.settings import PgParams, Settings
from tests.conftest import fresh_database, running
from tests.support import assert_problem, bearer, eventually


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    with fresh_database(database_url, "waypoint_faults") as url:
        yield url


def admin_dsn(url: str) -> str:
    params = PgParams.from_url(url)
    return PgParams(params.host, params.port, params.user, params.password, "postgres").dsn()


def terminate_backends(url: str) -> int:
    """Terminate every connection to the database of `url` (as an operator or a failover
    would); how many."""
    name = PgParams.from_url(url).dbname
    with psycopg.connect(admin_dsn(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


class Outage:
    """A TCP hop in front of PostgreSQL that can go down (every connection cut, new ones
    refused) and come back, as a failed-over or restarted database server would."""

    def __init__(self, target: PgParams) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.target.user}@127.0.0.1:{self.port}/{dbname}"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.target.host, self.target.port)
        self._open.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()
                self._open.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def test_the_key_vault_does_not_hand_out_a_connection_that_died_while_idle(
    own_database: str,
) -> None:
    vault = KeyVault(PgParams.from_url(own_database).dsn(), b"k" * 32, cache_seconds=0)
    try:
        assert vault.key_for(uuid.uuid4(), create=True) is not None
        assert terminate_backends(own_database) >= 1
        # Before: psycopg.errors.AdminShutdown from the pool's dead connection (a 500).
        assert vault.key_for(uuid.uuid4(), create=True) is not None
        assert vault.destruction(uuid.uuid4()) is None
    finally:
        vault.close()


def client_body() -> dict[str, object]:
    return {
        "given_name": "Ada",
        "family_name": "Fault",
        "birth_date": str(date(1990, 1, 1)),
        "email": "ada@example.org",
    }


async def test_a_database_outage_answers_503_with_retry_after_and_recovers(
    settings: Settings,
    own_database: str,
    token: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from services.intake.main import create_app

    outage = Outage(PgParams.from_url(own_database))
    await outage.up()
    own = Settings(
        **{
            **settings.model_dump(),
            "database_url": outage.url(PgParams.from_url(own_database).dbname),
        }
    )
    headers = bearer(token("counsellor", org="org-outage"))
    async with running(create_app(own)) as api:
        r = await api.post("/intake/v1/clients", json=client_body(), headers=headers)
        assert r.status_code == 201, r.text
        await outage.down()
        try:
            caplog.clear()
            keyed = {**headers, "Idempotency-Key": "outage-1"}
            with caplog.at_level(logging.WARNING):
                for method, path, body, sent in (
                    ("POST", "/intake/v1/clients", client_body(), headers),
                    ("GET", "/intake/v1/cases", None, headers),
                    # The key cannot be recorded: the same answer, from the middleware.
                    ("POST", "/intake/v1/clients", client_body(), keyed),
                ):
                    r = await api.request(method, path, json=body, headers=sent)
                    problem = assert_problem(r, 503, "service-unavailable")
                    assert r.headers["retry-after"].isdigit(), r.headers
                    assert "traceback" not in problem["detail"].lower()
            answered = [rec for rec in caplog.records if "answered 503" in rec.getMessage()]
            assert len(answered) == 3, [rec.getMessage() for rec in caplog.records]
            assert all(rec.exc_info is None for rec in answered), "one line, no traceback"
        finally:
            await outage.up()

        async def registered() -> bool:
            r = await api.post("/intake/v1/clients", json=client_body(), headers=headers)
            assert r.status_code in (201, 503), r.text
            return r.status_code == 201

        await eventually(registered, "intake to answer again after the outage", 30)
        await asyncio.sleep(0)
