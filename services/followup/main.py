"""Composition root of follow-up: builds everything once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.followup import statistics
from services.followup.api import router
from services.followup.application import PUBLICATIONS, FollowUpApplication
from services.followup.domain import FollowUpError
from services.followup.export import gather as export_part
from services.followup.jobs import OverdueJob
from services.followup.projections import SCHEMA_SQL, FollowUpProjection, on_case_accepted
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

SERVICE = "followup"
# What follow-up's read models hold of a client: dropped when the client is erased.
ERASABLE = (
    "DELETE FROM followup.checkins_view WHERE followup_id IN (SELECT followup_id FROM "
    "followup.followups_view WHERE client_id = %(client_id)s)",
    "DELETE FROM followup.accepted_cases WHERE case_id IN (SELECT case_id FROM "
    "followup.followups_view WHERE client_id = %(client_id)s)",
    "DELETE FROM followup.followups_view WHERE client_id = %(client_id)s",
    "DELETE FROM followup.statistics_consents WHERE client_id = %(client_id)s",
)
PLAN_NEWS = ("ActionAdded", "ActionCompleted", "ActionCancelled", "PlanRevised")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vault = await run_in_threadpool(key_vault, settings)
        followup = await run_in_threadpool(FollowUpApplication, settings, vault)
        runtime = Runtime(settings, SERVICE)
        await runtime.start()
        await runtime.ensure_tables(SCHEMA_SQL)
        connect = settings.pg.asyncpg_kwargs()
        audit = await start_audit(runtime, followup, SERVICE, settings)
        projection = FollowUpProjection(followup, connect, poll_seconds=settings.relay_poll_seconds)
        relay = service_relay(runtime, followup, PUBLICATIONS)
        plans = EventConsumer(
            "followup-plans",
            runtime.js,
            followup,
            "planning",
            {"PlanAgreed": followup.on_plan_agreed}
            | {kind: followup.on_plan_news for kind in PLAN_NEWS},
        )
        overdue = OverdueJob(
            followup,
            runtime.pool,
            interval_seconds=settings.followup_overdue_interval_seconds,
            grace_days=settings.followup_overdue_grace_days,
        )
        cases = ReadModelConsumer(
            "followup-cases",
            runtime.js,
            runtime.pool,
            SERVICE,
            "intake",
            {"CaseAccepted": on_case_accepted},
        )
        await runtime.ensure_tables(statistics.SCHEMA_SQL)
        statistics_consents = ReadModelConsumer(
            "followup-statistics",
            runtime.js,
            runtime.pool,
            SERVICE,
            "intake",
            statistics.HANDLERS,
        )
        runtime.start_background(
            {"projection": projection, "relay": relay, "audit": audit.trail},
            {
                "plans": plans,
                "cases": cases,
                "statistics": statistics_consents,
                "erasure": erasure_consumer(runtime.js, followup, SERVICE, ERASABLE),
            },
        )
        if runtime.runs_jobs:
            runtime.spawn("overdue", overdue.run)
        app.state.followup, app.state.runtime, app.state.audit = followup, runtime, audit
        app.state.application = followup
        app.state.projection, app.state.relay = projection, relay
        app.state.export = start_export_responder(
            runtime,
            SERVICE,
            lambda client_id: export_part(followup, runtime.pool, client_id, projection),
        )
        app.state.consumers = {"plans": plans, "cases": cases}
        app.state.overdue = overdue
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.close()
            followup.close()

    app = service_app(
        SERVICE,
        settings,
        lifespan,
        [router, audit_router()],
        description="Aftercare: check-ins, contacts, action checks, bottlenecks, outcomes.",
    )
    install_domain_errors(app, FollowUpError)
    return app
