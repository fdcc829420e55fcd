"""Composition root of planning: what it is made of (`shared/service.py` builds it)."""

from __future__ import annotations

from fastapi import FastAPI

from services.planning.api import ROUTERS
from services.planning.application import PlanningApplication
from services.planning.consumers import REACTIONS, READ_MODELS
from services.planning.domain import PlanningError
from services.planning.esco import SCHEMA_SQL as ESCO_SQL
from services.planning.evc import SCHEMA_SQL as EVC_SQL
from services.planning.export import gather
from services.planning.projections import SCHEMA_SQL, PlanningProjection
from services.planning.publications import PUBLICATIONS
from shared.service import Erasure, ServiceSpec, service_from
from shared.settings import Settings

SPEC = ServiceSpec(
    name="planning",
    description="The personal development plan (POP): goals, actions, agreement, revisions.",
    application=PlanningApplication,
    error=PlanningError,
    routers=ROUTERS,
    publications=PUBLICATIONS,
    projection=PlanningProjection,
    schema_sql=SCHEMA_SQL + ESCO_SQL + EVC_SQL,
    reactions=REACTIONS,
    read_models=READ_MODELS,
    # What planning's read models hold of a client: dropped when the client is erased.
    erasure=Erasure(
        (
            "DELETE FROM planning.plans_view WHERE client_id = %(client_id)s",
            "DELETE FROM planning.clients_view WHERE client_id = %(client_id)s",
            "DELETE FROM planning.cases_view WHERE client_id = %(client_id)s",
        )
    ),
    export=gather,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return service_from(SPEC, settings)
