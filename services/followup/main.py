"""Composition root of follow-up: what it is made of (`SPEC`); `shared/service.py` builds it."""

from __future__ import annotations

from fastapi import FastAPI

from services.followup import consumers
from services.followup.api import ROUTERS
from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUpError
from services.followup.export import gather
from services.followup.jobs import OVERDUE_SQL, overdue_job, statistics_retention_job
from services.followup.projections import SCHEMA_SQL, FollowUpProjection
from services.followup.publications import PUBLICATIONS
from shared.service import ServiceSpec, service_from
from shared.settings import Settings

SPEC = ServiceSpec(
    name="followup",
    description="Aftercare: check-ins, contacts, action checks, bottlenecks, outcomes.",
    application=FollowUpApplication,
    error=FollowUpError,
    routers=ROUTERS,
    publications=PUBLICATIONS,
    projection=FollowUpProjection,
    schema_sql=SCHEMA_SQL + OVERDUE_SQL,
    reactions=[consumers.PLANS],
    read_models=[consumers.CASES, consumers.STATISTICS, consumers.COUNSELLORS],
    erasure=consumers.ERASURE,
    export=gather,
    jobs={"overdue": overdue_job, "retention": statistics_retention_job},
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return service_from(SPEC, settings)
