"""Composition root of intake: builds everything once, in the lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.intake import retention
from services.intake.api import router
from services.intake.application import PUBLICATIONS, IntakeApplication
from services.intake.consumers import (
    FOLLOWUP_CLOSURE,
    PLAN_PHASE,
    case_follows_followup,
    phase_follows_plan,
    resumption_noted,
)
from services.intake.domain import IntakeError
from services.intake.export import gather as export_part
from services.intake.export_api import export
from services.intake.privacy_api import privacy
from services.intake.projections import IntakeProjection
from shared.audit.api import audit_router
from shared.audit.chain import Subjects
from shared.audit.context import start_audit
from shared.errors import install_domain_errors
from shared.http import service_app
from shared.messaging.consumer import EventConsumer, ReadModelConsumer
from shared.messaging.envelope import CloudEvent
from shared.messaging.relay import service_relay
from shared.privacy.erasure import SERVICES, erasure_consumer
from shared.privacy.export import start_export_responder
from shared.runtime import Runtime, key_vault
from shared.settings import Settings, get_settings

SERVICE = "intake"
# What intake's read models hold of a client: dropped when the client is erased. A case
# stays listed without its career question (and, its client's row gone, without a name):
# the same case still answers GET /cases/{id}, its personal fields `ERASED`.
ERASABLE = (
    "UPDATE intake.cases_view SET career_question_sealed = NULL "
    "WHERE client_id = %(client_id)s AND career_question_sealed IS NOT NULL",
    "DELETE FROM intake.clients_view WHERE client_id = %(client_id)s",
)


def _confirmation(app: IntakeApplication, source: str, event: CloudEvent) -> list[Any]:
    return list(app.confirm_erasure(source, event.data))


# A Case's id is the case, a Client's the client: their events name neither.
AUDIT_SUBJECTS = Subjects(
    case_topics=("services.intake.domain:Case.",),
    client_topics=("services.intake.domain:Client.",),
)


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
        relay = service_relay(runtime, intake, PUBLICATIONS)
        audit = await start_audit(runtime, intake, SERVICE, settings, subjects=AUDIT_SUBJECTS)
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
        case_closures = EventConsumer(
            "intake-case-closure",
            runtime.js,
            intake,
            "followup",
            {t: partial(case_follows_followup, intake) for t in FOLLOWUP_CLOSURE},
        )
        erasure = erasure_consumer(
            runtime.js,
            intake,
            SERVICE,
            ERASABLE,
            before=lambda e: intake.vault.destroy(
                uuid.UUID(e.data["client_id"]), by=e.data["actor"], reason=e.data["reason"]
            ),
        )
        # The receipt: every service's confirmation, onto the client's erasure record.
        confirmations = {
            f"erasure-{source}": EventConsumer(
                f"intake-erasure-{source}",
                runtime.js,
                intake,
                source,
                {"ErasureConfirmed": partial(_confirmation, intake, source)},
            )
            for source in SERVICES
        }
        await runtime.ensure_tables(retention.SCHEMA_SQL)
        closures = ReadModelConsumer(
            "intake-closures",
            runtime.js,
            runtime.pool,
            SERVICE,
            "followup",
            retention.CLOSURE_HANDLERS,
        )
        retention_job = retention.RetentionJob(
            intake,
            runtime.pool,
            years=settings.retention_years,
            interval_seconds=settings.retention_interval_seconds,
        )
        app.state.retention = retention_job
        if runtime.runs_jobs:
            runtime.spawn("retention", retention_job.run)
        runtime.start_background(
            {"projection": projection, "relay": relay, "audit": audit.trail},
            {
                "plan-phase": phases,
                "resumption": resumptions,
                "case-closure": case_closures,
                "erasure": erasure,
                "closures": closures,
                **confirmations,
            },
        )
        app.state.export = start_export_responder(
            runtime, SERVICE, partial(export_part, intake, runtime.pool, projection=projection)
        )
        app.state.intake, app.state.runtime, app.state.audit = intake, runtime, audit
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
        [router, privacy, export, audit_router()],
        description="Clients, consents, and cases from entry check to the decision.",
    )

    install_domain_errors(app, IntakeError)
    return app
