"""One composition for every service: a `ServiceSpec` says what a service is made of, and
`service_from(spec)` builds its FastAPI app and the lifespan that starts it.

Each service's `main.py` is its spec and nothing else; what starts, in which order and
on which process role is decided here, once:

1. the key vault and the application (its event store) off the loop;
2. the runtime (PostgreSQL pool, NATS, JetStream), the read-model tables;
3. the followers of its own log: the projection, the relay (outbox to NATS), the audit
   trail; the consumers of other services' events: reactions, read models and the
   erasure of a client; on roles that run them, the periodic jobs;
4. the export responder.

What the lifespan built is on `app.state`: `application`, `runtime`, `projection`,
`relay`, `audit`, `export`, `consumers` (by name) and `jobs` (by name).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from shared.audit.api import audit_router
from shared.audit.chain import Subjects
from shared.audit.context import start_audit
from shared.errors import install_domain_errors
from shared.eventstore import ServiceApplication
from shared.http import service_app
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import CloudEvent
from shared.messaging.follower import LogFollower
from shared.messaging.reactions import Reactions, ReadModel
from shared.messaging.relay import service_relay
from shared.privacy import KeyVault
from shared.privacy.broadcast import KeyBroadcast
from shared.privacy.erasure import erasure_consumer
from shared.privacy.export import start_export_responder
from shared.runtime import Runtime, key_vault
from shared.settings import Settings, get_settings


class Job(Protocol):
    """A periodic job: runs until `stop` is set (only on roles that run jobs)."""

    def run(self, stop: asyncio.Event) -> Coroutine[Any, Any, None]: ...


# (application, settings) -> the job; it reads and writes through the application's pool.
JobFactory = Callable[[Any, asyncpg.Pool, Settings], Job]
# (application, pool, client_id, projection) -> the service's part of a client's export.
Exporter = Callable[[Any, asyncpg.Pool, Any, LogFollower], Awaitable[Any]]


@dataclass(frozen=True)
class Erasure:
    """What erasing a client means in this service's read models."""

    statements: Sequence[str]
    """SQL run with `%(client_id)s` in one transaction with the confirmation."""
    before: Callable[[Any, CloudEvent], object] | None = None
    """`(application, request)`, run first (intake destroys the client's key there)."""


@dataclass(frozen=True)
class ServiceSpec:
    """What one service is made of."""

    name: str
    """`intake`, `planning`, …: its schema, its stream, its path prefix."""
    description: str
    """One line for its OpenAPI document."""
    application: Callable[[Settings, KeyVault], ServiceApplication]
    """Its application (event store and use cases)."""
    error: type[Exception]
    """Its domain error: mapped once to problem+json."""
    routers: Sequence[APIRouter]
    """Its HTTP API (the audit routes are added to every service)."""
    publications: Mapping[type, Any]
    """Which domain events become which contracts (`publications.py`)."""
    projection: Callable[..., LogFollower]
    """Its read models' follower (`projections.py`, a `shared.messaging.projection.Projection`):
    `(application, connect kwargs, poll_seconds=…)`."""
    schema_sql: str = ""
    """Its read models' tables (idempotent DDL)."""
    reactions: Sequence[Reactions] = ()
    """Its reactions to other services' events (`consumers.py`)."""
    read_models: Sequence[ReadModel] = ()
    """Its copies of other services' facts (`consumers.py`)."""
    erasure: Erasure = field(default_factory=lambda: Erasure(()))
    export: Exporter | None = None
    """Its part of a client's export (`export.py`)."""
    jobs: Mapping[str, JobFactory] = field(default_factory=dict)
    """Its periodic jobs (`jobs.py`), by name."""
    audit_subjects: Subjects | None = None
    """Which of its aggregates are cases and clients, for the audit trail."""


def service_from(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    """The service's FastAPI app, its lifespan building everything once."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vault = await run_in_threadpool(key_vault, settings)
        application = await run_in_threadpool(spec.application, settings, vault)
        runtime = Runtime(settings, spec.name)
        broadcast: KeyBroadcast | None = None
        try:
            await runtime.start()
            assert runtime.nc is not None
            # Every replica forgets a key destroyed anywhere (and announces its own).
            broadcast = KeyBroadcast(
                vault, runtime.nc, settings.key_invalidation_subject, service=spec.name
            )
            await broadcast.start()
            for sql in (spec.schema_sql, *(r.schema_sql for r in spec.read_models)):
                if sql:
                    await runtime.ensure_tables(sql)
            audit = await start_audit(
                runtime, application, spec.name, settings, subjects=spec.audit_subjects
            )
            projection = spec.projection(
                application, settings.pg.asyncpg_kwargs(), poll_seconds=settings.relay_poll_seconds
            )
            relay = service_relay(runtime, application, spec.publications)
            consumers: dict[str, Consumer] = {}
            for reactions in spec.reactions:
                consumers[reactions.name] = reactions.consumer(runtime.js, application)
            for read_model in spec.read_models:
                consumers[read_model.name] = read_model.consumer(
                    runtime.js, runtime.pool, spec.name
                )
            before = spec.erasure.before
            consumers[f"{spec.name}-erasure"] = erasure_consumer(
                runtime.js,
                application,
                spec.name,
                spec.erasure.statements,
                before=None if before is None else lambda e: before(application, e),
            )
            jobs = {
                name: make(application, runtime.pool, settings) for name, make in spec.jobs.items()
            }
            runtime.start_background(
                {"projection": projection, "relay": relay, "audit": audit.trail}, consumers
            )
            if runtime.runs_jobs:
                for name, job in jobs.items():
                    runtime.spawn(name, job.run)
            export = spec.export
            if export is not None:
                app.state.export = start_export_responder(
                    runtime,
                    spec.name,
                    lambda client_id: export(application, runtime.pool, client_id, projection),
                )
            app.state.application, app.state.runtime, app.state.audit = (
                application,
                runtime,
                audit,
            )
            app.state.projection, app.state.relay = projection, relay
            app.state.consumers, app.state.jobs = consumers, jobs
            yield
        finally:
            app.state.runtime = None
            if broadcast is not None:
                await broadcast.stop()
            await runtime.close()
            application.close()

    app = service_app(
        spec.name,
        settings,
        lifespan,
        [*spec.routers, audit_router()],
        description=spec.description,
    )
    install_domain_errors(app, spec.error)
    return app
