"""Composition root of intake: builds everything once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.intake.api import router
from services.intake.application import PUBLICATIONS, IntakeApplication
from services.intake.consumers import PLAN_PHASE, phase_follows_plan, resumption_noted
from services.intake.domain import IntakeError
from services.intake.projections import IntakeProjection
from shared.errors import install_domain_errors
from shared.http import service_app
from shared.messaging.consumer import EventConsumer
from shared.messaging.relay import Relay
from shared.runtime import Runtime, key_vault
from shared.settings import Settings, get_settings

SERVICE = "intake"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vault = await run_in_threadpool(key_vault, settings)
        intake = await run_in_threadpool(IntakeApplication, settings, vault)
        runtime = Runtime(settings, SERVICE)
        await runtime.start()
        connect = settings.pg.asyncpg_kwargs()
        projection = IntakeProjection(intake, connect, poll_seconds=settings.relay_poll_seconds)
        relay = Relay(
            intake,
            connect,
            runtime.js,
            SERVICE,
            PUBLICATIONS,
            duplicate_window=settings.stream_duplicate_window_seconds,
            replicas=settings.stream_replicas,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        phases = EventConsumer(
            "intake-plan-phase",
            runtime.js,
            intake,
            "planning",
            {t: partial(phase_follows_plan, intake) for t in PLAN_PHASE},
        )
        resumptions = EventConsumer(
            "intake-resumption",
            runtime.js,
            intake,
            "referral",
            {"GuidanceResumed": partial(resumption_noted, intake)},
        )
        runtime.start_background(
            {"projection": projection, "relay": relay},
            {"plan-phase": phases, "resumption": resumptions},
        )
        app.state.intake, app.state.runtime = intake, runtime
        app.state.projection, app.state.relay = projection, relay
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.close()
            intake.close()

    app = service_app(
        SERVICE,
        settings,
        lifespan,
        [router],
        description="Clients, consents, and cases from entry check to the decision.",
    )

    install_domain_errors(app, IntakeError)
    return app
