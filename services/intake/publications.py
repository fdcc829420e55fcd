"""What intake publishes: which of its domain events become which contracts (an
allow-list; other domain events stay internal)."""

from __future__ import annotations

from typing import Any

from services.intake.domain import Case, Client, ClientErasure, Complaint
from shared.contracts import intake as contracts
from shared.contracts import privacy as privacy_contracts
from shared.messaging.relay import Publication
from shared.privacy.erasure import ErasureConfirmation, confirmed_state


def _pick(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: state[n] for n in names if n in state}


def _common(state: dict[str, Any]) -> dict[str, Any]:
    return {"occurred_at": state["timestamp"], "actor": state["actor"]}


def _case(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {
        **_common(state),
        "case_id": state["originator_id"],
        "client_id": state["client_id"],
        **_pick(state, *names),
    }


def _client(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {**_common(state), "client_id": state["originator_id"], **_pick(state, *names)}


def _complaint(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {
        **_common(state),
        "complaint_id": state["originator_id"],
        "client_id": state["client_id"],
        **_pick(state, *names),
    }


def _erasure(state: dict[str, Any], *names: str, **extra: Any) -> dict[str, Any]:
    return {
        "occurred_at": state["timestamp"],
        "actor": state.get("actor", "system:erasure"),
        "erasure_id": state["originator_id"],
        "client_id": state["client_id"],
        **_pick(state, *names),
        **extra,
    }


PUBLICATIONS: dict[type, Publication] = {
    Client.Registered: Publication(
        contracts.ClientRegisteredV1,
        lambda s: _client(
            s,
            "organisation",
            "given_name",
            "family_name",
            "birth_date",
            "email",
            "phone",
            "preferred_language",
        ),
    ),
    Client.ConsentGranted: Publication(
        contracts.ConsentGrantedV1,
        lambda s: _client(
            s, "organisation", "consent_id", "purpose", "partner_id", "data_categories"
        ),
    ),
    Client.ConsentWithdrawn: Publication(
        contracts.ConsentWithdrawnV1,
        lambda s: _client(
            s, "organisation", "consent_id", "purpose", "partner_id", "data_categories"
        ),
    ),
    Case.Opened: Publication(
        contracts.CaseOpenedV1,
        lambda s: _case(s, "organisation", "career_question", "hours_budget"),
    ),
    Case.EntryChecked: Publication(
        contracts.EntryCheckedV1, lambda s: _case(s, "eligible", "notes")
    ),
    Case.AssessmentRecorded: Publication(
        contracts.AssessmentRecordedV1, lambda s: _case(s, "assessment_id", "assessor", "scores")
    ),
    Case.SessionHeld: Publication(
        contracts.SessionHeldV1, lambda s: _case(s, "session_id", "kind", "held_at", "minutes")
    ),
    # Without their text (notes, the report): it stays in intake.
    Case.SessionNotesRecorded: Publication(
        contracts.SessionNotesRecordedV1, lambda s: _case(s, "session_id")
    ),
    Case.ReportDrafted: Publication(contracts.ReflectionReportDraftedV1, lambda s: _case(s)),
    Case.ReportRevised: Publication(contracts.ReflectionReportRevisedV1, lambda s: _case(s)),
    Case.ReportAgreed: Publication(
        contracts.ReflectionReportAgreedV1, lambda s: _case(s, "revision")
    ),
    # Without the cancellation's reason and the place: they stay in intake.
    Case.AppointmentPlanned: Publication(
        contracts.AppointmentPlannedV1,
        lambda s: _case(
            s, "appointment_id", "counsellor", "kind", "starts_at", "minutes", "channel"
        ),
    ),
    Case.AppointmentRescheduled: Publication(
        contracts.AppointmentRescheduledV1,
        lambda s: _case(s, "appointment_id", "starts_at", "minutes", "channel"),
    ),
    Case.AppointmentCancelled: Publication(
        contracts.AppointmentCancelledV1, lambda s: _case(s, "appointment_id", "by")
    ),
    Case.AppointmentMissed: Publication(
        contracts.AppointmentMissedV1, lambda s: _case(s, "appointment_id")
    ),
    Case.AppointmentHeld: Publication(
        contracts.AppointmentHeldV1, lambda s: _case(s, "appointment_id", "session_id")
    ),
    Case.Accepted: Publication(
        contracts.CaseAcceptedV1,
        lambda s: _case(
            s, "organisation", "gaps", "scores", "reason", "counsellor", "programme", "hours_budget"
        ),
    ),
    Case.ReferredOut: Publication(contracts.CaseReferredOutV1, lambda s: _case(s, "reason")),
    Case.Declined: Publication(contracts.CaseDeclinedV1, lambda s: _case(s, "reason")),
    # Without the reason of the handover or the closing summary: they stay in intake.
    Case.Reassigned: Publication(
        contracts.CaseReassignedV1,
        lambda s: _case(s, "counsellor", "previous"),
    ),
    Case.FileClosed: Publication(contracts.CaseFileClosedV1, lambda s: _case(s, "reason")),
    # Without the reason: it stays in intake.
    Case.BudgetExtended: Publication(
        contracts.CaseBudgetExtendedV1, lambda s: _case(s, "extra_hours")
    ),
    Client.InformedOfRights: Publication(
        contracts.ClientInformedOfRightsV1,
        lambda s: _client(s, "organisation", "version", "language"),
    ),
    # Without their text (what about, the answer): it stays in intake.
    Complaint.Registered: Publication(
        contracts.ComplaintRegisteredV1,
        lambda s: _complaint(s, "organisation", "case_id", "deadline"),
    ),
    Complaint.Answered: Publication(
        contracts.ComplaintAnsweredV1, lambda s: _complaint(s, "answered_on")
    ),
    Complaint.Withdrawn: Publication(contracts.ComplaintWithdrawnV1, lambda s: _complaint(s)),
    ClientErasure.Requested: Publication(
        privacy_contracts.ErasureRequestedV1,
        lambda s: _erasure(s, "organisation", "reason", "key_id"),
    ),
    ClientErasure.Refused: Publication(
        privacy_contracts.ErasureRefusedV1,
        lambda s: _erasure(s, "organisation", "reason", "held_cases"),
    ),
    ClientErasure.Completed: Publication(
        privacy_contracts.ErasureCompletedV1,
        lambda s: {**_erasure(s, "services"), "actor": "system:erasure"},
    ),
    ClientErasure.HoldPlaced: Publication(
        privacy_contracts.LegalHoldPlacedV1, lambda s: _erasure(s, "case_id", "reason")
    ),
    ClientErasure.HoldLifted: Publication(
        privacy_contracts.LegalHoldLiftedV1, lambda s: _erasure(s, "case_id")
    ),
}
# Each service confirms an erasure with an event of its own.
PUBLICATIONS[ErasureConfirmation.Confirmed] = Publication(
    privacy_contracts.CONFIRMED["intake"], confirmed_state
)
