"""Composition root of intake: what it is made of (`shared/service.py` builds it)."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.api import ROUTERS
from services.intake.application import IntakeApplication
from services.intake.consumers import REACTIONS, READ_MODELS
from services.intake.domain import IntakeError
from services.intake.export import gather
from services.intake.jobs import JOBS
from services.intake.projections import IntakeProjection
from services.intake.publications import PUBLICATIONS
from shared.audit.chain import Subjects
from shared.contracts.privacy import ErasureRequestedV1
from shared.messaging.envelope import CloudEvent
from shared.service import Erasure, ServiceSpec, service_from
from shared.settings import Settings

# A Case's id is the case, a Client's the client: their events name neither (under the
# topics before the domain became a package, too).
AUDIT_SUBJECTS = Subjects(
    case_topics=("services.intake.domain.case:Case.", "services.intake.domain:Case."),
    client_topics=("services.intake.domain.client:Client.", "services.intake.domain:Client."),
)


def _destroy_key(app: IntakeApplication, event: CloudEvent) -> None:
    """Before confirming, the client's key is destroyed (should the request's process
    have died between recording the erasure and destroying it)."""
    request = ErasureRequestedV1.model_validate(event.data)
    app.vault.destroy(request.client_id, by=request.actor, reason=request.reason)


SPEC = ServiceSpec(
    name="intake",
    description="Clients, consents, and cases from entry check to the decision.",
    application=IntakeApplication,
    error=IntakeError,
    routers=ROUTERS,
    publications=PUBLICATIONS,
    projection=IntakeProjection,
    reactions=REACTIONS,
    read_models=READ_MODELS,
    # What intake's read models hold of a client: dropped when the client is erased. A
    # case stays listed without its career question (and, its client's row gone, without
    # a name): the same case still answers GET /cases/{id}, its personal fields `ERASED`;
    # its sessions leave the caseload figures, its complaints the complaint figures,
    # its appointments the counsellors' calendars.
    erasure=Erasure(
        (
            "UPDATE intake.cases_view SET career_question_sealed = NULL "
            "WHERE client_id = %(client_id)s AND career_question_sealed IS NOT NULL",
            "DELETE FROM intake.clients_view WHERE client_id = %(client_id)s",
            "DELETE FROM intake.sessions_view WHERE client_id = %(client_id)s",
            "DELETE FROM intake.complaints_view WHERE client_id = %(client_id)s",
            "DELETE FROM intake.appointments_view WHERE client_id = %(client_id)s",
        ),
        before=_destroy_key,
    ),
    export=gather,
    jobs=JOBS,
    audit_subjects=AUDIT_SUBJECTS,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return service_from(SPEC, settings)
