"""Intake's HTTP API: clients and their consents (`clients.py`), cases (`cases.py`), legal
holds and erasure (`privacy.py`), the client's export (`export.py`), the team lead's
caseload report (`reports.py`), rights and duties and complaints (`complaints.py`),
session notes and the reflection-and-action report (`notes.py`),
appointments and the counsellor's calendar (`agenda.py`), group sessions (`groups.py`);
request models in
`schemas.py`, answers in `answers.py`, what routes are handed in
`dependencies.py`."""

from services.intake.api.agenda import agenda
from services.intake.api.cases import router as cases
from services.intake.api.clients import clients
from services.intake.api.complaints import complaints
from services.intake.api.export import export
from services.intake.api.groups import groups
from services.intake.api.notes import notes
from services.intake.api.privacy import privacy
from services.intake.api.reports import reports

# In the order its OpenAPI document lists them.
ROUTERS = (clients, cases, notes, agenda, groups, privacy, export, reports, complaints)

__all__ = ["ROUTERS"]
