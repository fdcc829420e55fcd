"""Composition root of referral: builds everything once, in the lifespan.

The partner directory, referrals and their closed loop, and what referral knows of
clients, cases and plans: read models fed by consumers of intake's and planning's
events; a withdrawn consent reaches the referrals resting on it through an event
consumer; the overdue job marks referrals the partner did not answer in time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.referral.api import inbox, referrals, router
from services.referral.application import PUBLICATIONS, ReferralApplication
from services.referral.domain import ReferralError
from services.referral.export import gather as export_part
from services.referral.jobs import OverdueJob
from services.referral.knowledge import INTAKE_HANDLERS, PLANNING_HANDLERS
from services.referral.knowledge import SCHEMA_SQL as KNOWLEDGE_SQL
from services.referral.projections import SCHEMA_SQL, ReferralProjection
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

SERVICE = "referral"
# What referral's read models hold of a client: dropped when the client is erased.
ERASABLE = tuple(
    f"DELETE FROM referral.{table} WHERE client_id = %(client_id)s"
    for table in ("consents", "cases", "sealed_copies", "referrals_view", "client_languages")
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vault = await run_in_threadpool(key_vault, settings)
        referral = await run_in_threadpool(ReferralApplication, settings, vault)
        runtime = Runtime(settings, SERVICE)
        await runtime.start()
        await runtime.ensure_tables(SCHEMA_SQL)
        await runtime.ensure_tables(KNOWLEDGE_SQL)
        connect = settings.pg.asyncpg_kwargs()
        audit = await start_audit(runtime, referral, SERVICE, settings)
        projection = ReferralProjection(referral, connect, poll_seconds=settings.relay_poll_seconds)
        relay = service_relay(runtime, referral, PUBLICATIONS)
        # What referral knows of clients, cases and plans: only from their events.
        consumers = {
            "intake": ReadModelConsumer(
                "referral-intake", runtime.js, runtime.pool, SERVICE, "intake", INTAKE_HANDLERS
            ),
            "planning": ReadModelConsumer(
                "referral-planning",
                runtime.js,
                runtime.pool,
                SERVICE,
                "planning",
                PLANNING_HANDLERS,
            ),
        }
        revocations = EventConsumer(
            "referral-consents",
            runtime.js,
            referral,
            "intake",
            {"ConsentWithdrawn": referral.on_consent_withdrawn},
        )
        overdue = OverdueJob(
            referral,
            runtime.pool,
            interval_seconds=settings.referral_overdue_interval_seconds,
            working_days=settings.referral_answer_working_days,
            holidays=settings.referral_holidays,
        )
        runtime.start_background(
            {"projection": projection, "relay": relay, "audit": audit.trail},
            {
                **consumers,
                "consents": revocations,
                "erasure": erasure_consumer(runtime.js, referral, SERVICE, ERASABLE),
            },
        )
        if runtime.runs_jobs:
            runtime.spawn("overdue", overdue.run)
        app.state.overdue = overdue
        app.state.application, app.state.runtime, app.state.audit = referral, runtime, audit
        app.state.projection, app.state.relay = projection, relay
        app.state.export = start_export_responder(
            runtime,
            SERVICE,
            lambda client_id: export_part(referral, runtime.pool, client_id, projection),
        )
        app.state.consumers = {**consumers, "consents": revocations}
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.close()
            referral.close()

    app = service_app(
        SERVICE,
        settings,
        lifespan,
        [router, referrals, inbox, audit_router()],
        description="The partner directory and closed-loop referrals with consent-limited sharing.",
    )
    install_domain_errors(app, ReferralError)
    return app
