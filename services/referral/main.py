"""Composition root of referral: what it is made of (`shared/service.py` builds it).

The partner directory, referrals and their closed loop, and what referral knows of
clients, cases and plans: read models fed by consumers of intake's and planning's
events; a withdrawn consent reaches the referrals resting on it through an event
consumer; the overdue job marks referrals the partner did not answer in time.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.referral import consumers
from services.referral.api import ROUTERS
from services.referral.application import ReferralApplication
from services.referral.domain import ReferralError
from services.referral.export import gather
from services.referral.jobs import overdue_job, retention_job
from services.referral.projections import SCHEMA_SQL, ReferralProjection
from services.referral.publications import PUBLICATIONS
from shared.service import Erasure, ServiceSpec, service_from
from shared.settings import Settings

SPEC = ServiceSpec(
    name="referral",
    description="The partner directory and closed-loop referrals with consent-limited sharing.",
    application=ReferralApplication,
    error=ReferralError,
    routers=ROUTERS,
    publications=PUBLICATIONS,
    projection=ReferralProjection,
    schema_sql=SCHEMA_SQL,
    reactions=[consumers.CONSENTS],
    read_models=[consumers.INTAKE, consumers.PLANNING, consumers.COUNSELLORS, consumers.HOLDS],
    # What referral's read models hold of a client: dropped when the client is erased.
    erasure=Erasure(
        tuple(
            f"DELETE FROM referral.{table} WHERE client_id = %(client_id)s"
            for table in (
                "consents",
                "cases",
                "sealed_copies",
                "referrals_view",
                "client_languages",
                "statistics_consents",
                "legal_holds",
            )
        )
    ),
    export=gather,
    jobs={"overdue": overdue_job, "retention": retention_job},
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return service_from(SPEC, settings)
