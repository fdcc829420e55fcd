"""Intake: clients, their consents, and cases from entry check to the decision; the
record of a client's erasure.

Pure domain: the standard library and eventsourcing.domain only. Rules are small
guard methods raising `IntakeError`s with stable codes; events are explicit,
past-tense facts that carry who (`actor`) and when (the event timestamp). One module
per aggregate: `client.py`, `case.py` (its commands in `case_intake.py`, `case_news.py`,
`case_notes.py`, `case_file.py` and `case_agenda.py`, its words in `case_rules.py`, its values
in `case_values.py`),
`erasure.py`, `complaint.py`, `group.py` (group sessions).
"""

from services.intake.domain.case import Case
from services.intake.domain.case_agenda import (
    APPOINTMENT_STATUSES,
    CANCELLED_BY,
    CHANNELS,
    propose,
)
from services.intake.domain.case_notes import NOTE_PARTS, REPORT_STATUSES
from services.intake.domain.case_rules import (
    ASSESSORS,
    CLOSING_REASONS,
    DECISIONS,
    ENDED,
    GAP_SCORES,
    PLAN_PHASES,
    SESSION_KINDS,
)
from services.intake.domain.case_values import (
    Appointment,
    Assessment,
    Closure,
    Decision,
    EntryCheck,
    GroupParticipation,
    Reassignment,
    ReflectionReport,
    ReportAgreement,
    Resumption,
    Session,
    SessionNotes,
    plain,
)
from services.intake.domain.client import (
    RIGHTS_LANGUAGES,
    Client,
    Consent,
    ConsentChange,
    RightsInformation,
)
from services.intake.domain.complaint import (
    COMPLAINT_STATUSES,
    OPEN_STATUSES,
    Complaint,
    ComplaintAnswer,
)
from services.intake.domain.erasure import ClientErasure, Hold, Refusal, Request
from services.intake.domain.errors import IntakeError
from services.intake.domain.group import GROUP_STATUSES, Attendance, GroupSession
from services.intake.domain.objectives import METRICS, Objective, Objectives

__all__ = [
    "APPOINTMENT_STATUSES",
    "ASSESSORS",
    "CANCELLED_BY",
    "CHANNELS",
    "CLOSING_REASONS",
    "COMPLAINT_STATUSES",
    "DECISIONS",
    "ENDED",
    "GAP_SCORES",
    "GROUP_STATUSES",
    "METRICS",
    "NOTE_PARTS",
    "OPEN_STATUSES",
    "PLAN_PHASES",
    "REPORT_STATUSES",
    "RIGHTS_LANGUAGES",
    "SESSION_KINDS",
    "Appointment",
    "Assessment",
    "Attendance",
    "Case",
    "Client",
    "ClientErasure",
    "Closure",
    "Complaint",
    "ComplaintAnswer",
    "Consent",
    "ConsentChange",
    "Decision",
    "EntryCheck",
    "GroupParticipation",
    "GroupSession",
    "Hold",
    "IntakeError",
    "Objective",
    "Objectives",
    "Reassignment",
    "ReflectionReport",
    "Refusal",
    "ReportAgreement",
    "Request",
    "Resumption",
    "RightsInformation",
    "Session",
    "SessionNotes",
    "plain",
    "propose",
]
