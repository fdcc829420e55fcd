"""Composition root of planning: builds everything once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.planning.api import router
from services.planning.application import PUBLICATIONS, PlanningApplication
from services.planning.domain import PlanningError
from services.planning.export import gather as export_part
from services.planning.projections import (
    SCHEMA_SQL,
    PlanningProjection,
    on_case_opened,
    on_client_registered,
)
from shared.audit.api import audit_router
from shared.audit.context import start_audit
from shared.errors import install_domain_errors
from shared.http import service_app
from shared.messaging.consumer import EventConsumer, ReadModelConsumer
from shared.messaging.relay import service_relay
from shared.privacy.erasure import erasure_consumer
from shared.privacy.export import start_export_responder
from shared.runtime import Runtime, key_vault
from shared.settings import Settings, get_settings

SERVICE = "planning"
# What planning's read models hold of a client: dropped when the client is erased.
ERASABLE = (
    "DELETE FROM planning.plans_view WHERE client_id = %(client_id)s",
    "DELETE FROM planning.clients_view WHERE client_id = %(client_id)s",
    "DELETE FROM planning.cases_view WHERE client_id = %(client_id)s",
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vault = await run_in_threadpool(key_vault, settings)
        planning = await run_in_threadpool(PlanningApplication, settings, vault)
        runtime = Runtime(settings, SERVICE)
        await runtime.start()
        await runtime.ensure_tables(SCHEMA_SQL)
        connect = settings.pg.asyncpg_kwargs()
        audit = await start_audit(runtime, planning, SERVICE, settings)
        projection = PlanningProjection(planning, connect, poll_seconds=settings.relay_poll_seconds)
        relay = service_relay(runtime, planning, PUBLICATIONS)
        plans = EventConsumer(
            "planning-case-accepted",
            runtime.js,
            planning,
            "intake",
            {"CaseAccepted": planning.on_case_accepted},
        )
        clients = ReadModelConsumer(
            "planning-clients",
            runtime.js,
            runtime.pool,
            SERVICE,
            "intake",
            {"ClientRegistered": on_client_registered},
        )
        # The career question, printed on the client's plan.
        cases = ReadModelConsumer(
            "planning-cases",
            runtime.js,
            runtime.pool,
            SERVICE,
            "intake",
            {"CaseOpened": on_case_opened},
        )
        todos = EventConsumer(
            "planning-todos",
            runtime.js,
            planning,
            "followup",
            {"ToDoAgreed": planning.on_todo_agreed},
        )
        runtime.start_background(
            {"projection": projection, "relay": relay, "audit": audit.trail},
            {
                "plans": plans,
                "clients": clients,
                "cases": cases,
                "todos": todos,
                "erasure": erasure_consumer(runtime.js, planning, SERVICE, ERASABLE),
            },
        )
        app.state.application, app.state.runtime, app.state.audit = planning, runtime, audit
        app.state.projection, app.state.relay = projection, relay
        app.state.export = start_export_responder(
            runtime,
            SERVICE,
            lambda client_id: export_part(planning, runtime.pool, client_id, projection),
        )
        app.state.consumers = {
            "plans": plans,
            "clients": clients,
            "cases": cases,
            "todos": todos,
        }
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.close()
            planning.close()

    app = service_app(
        SERVICE,
        settings,
        lifespan,
        [router, audit_router()],
        description="The personal development plan (POP): goals, actions, agreement, revisions.",
    )
    install_domain_errors(app, PlanningError)
    return app
