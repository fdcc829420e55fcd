"""A case's session notes and its reflection-and-action report (mixed into `Case`).

A held session gets notes (what was discussed, insights, agreements, homework), recorded at
the session or afterwards; a new record amends them and the earlier ones stay. At the end of
the intensive phase the counsellor drafts the report from them (the starting question from
the case, the insights from the notes), revises it, and records the client's agreement to a
revision; a revision after an agreement needs a new agreement."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.intake.domain.case_state import CaseState
from services.intake.domain.case_values import SessionNotes
from services.intake.domain.errors import IntakeError
from shared.text import guard_text

NOTE_PARTS = ("discussed", "insights", "agreements", "homework")
# The report's status: drafted, agreed (its current revision), revised after an agreement.
REPORT_STATUSES = ("draft", "agreed", "revised")
MOST_REPORT_ITEMS = 50


def texts(value: Any) -> list[str]:
    """A list of texts as stored (an erased list reads as the one erased marker)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _clean(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _items(name: str, values: list[str]) -> list[str]:
    if len(values) > MOST_REPORT_ITEMS:
        raise IntakeError("invalid", f"At most {MOST_REPORT_ITEMS} items.", name)
    for i, value in enumerate(values):
        guard_text(IntakeError, multiline=True, **{f"{name}.{i}": value})
    return [v.strip() for v in values if v.strip()]


class Notes(CaseState):
    """The commands on a case's session notes and its reflection-and-action report."""

    def record_session_notes(
        self,
        *,
        session_id: uuid.UUID,
        discussed: str | None,
        insights: str | None,
        agreements: str | None,
        homework: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Record the session's notes, or amend them (the earlier record is kept)."""
        if self.status == "closed":
            self._require_open()
        if not any(s.session_id == session_id for s in self.sessions):
            raise IntakeError("not-found", f"No session {session_id} on this case.", None)
        guard_text(
            IntakeError,
            multiline=True,
            discussed=discussed,
            insights=insights,
            agreements=agreements,
            homework=homework,
        )
        parts = {
            "discussed": _clean(discussed),
            "insights": _clean(insights),
            "agreements": _clean(agreements),
            "homework": _clean(homework),
        }
        if not any(parts.values()):
            raise IntakeError(
                "invalid",
                "Write at least one of: what was discussed, insights, agreements, homework.",
                "discussed",
            )
        self.trigger_event(
            self.SessionNotesRecorded,
            timestamp=at,
            session_id=session_id,
            client_id=self.client_id,
            actor=actor,
            **parts,
        )

    def notes_of(self, session_id: uuid.UUID) -> SessionNotes | None:
        """The session's notes as they stand (the latest record), if any."""
        history = self.session_notes.get(session_id)
        return history[-1] if history else None

    def prefilled_insights(self) -> list[str]:
        """The insights of the sessions' notes as they stand, oldest session first."""
        found = []
        for session in sorted(self.sessions, key=lambda s: s.held_at):
            notes = self.notes_of(session.session_id)
            if notes is not None and notes.insights:
                found.append(notes.insights)
        return found

    # -- the reflection-and-action report ----------------------------------------------------
    def _require_intensive(self) -> None:
        if self.status != "accepted":
            raise IntakeError(
                "case-not-accepted",
                "The reflection-and-action report belongs to an accepted case's guidance.",
                None,
            )

    def draft_report(
        self,
        *,
        starting_question: str | None,
        insights: list[str] | None,
        conclusions: str | None,
        actions: list[str] | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Draft the report; what is not given is prefilled: the starting question from the
        case's career question, the insights from the sessions' notes."""
        self._require_intensive()
        if self.report is not None:
            raise IntakeError("report-exists", "The case has its report; revise it instead.", None)
        guard_text(
            IntakeError,
            multiline=True,
            starting_question=starting_question,
            conclusions=conclusions,
        )
        question = _clean(starting_question) or self.career_question
        self.trigger_event(
            self.ReportDrafted,
            timestamp=at,
            client_id=self.client_id,
            starting_question=question,
            insights=(
                _items("insights", insights) if insights is not None else self.prefilled_insights()
            ),
            conclusions=_clean(conclusions) or "",
            actions=_items("actions", actions or []),
            actor=actor,
        )

    def revise_report(
        self,
        *,
        starting_question: str,
        insights: list[str],
        conclusions: str,
        actions: list[str],
        actor: str,
        at: datetime,
    ) -> bool:
        """Replace the report's texts (a new revision; an agreement given lapses); the same
        texts again change nothing (False)."""
        self._require_intensive()
        report = self.report
        if report is None:
            raise IntakeError("no-report", "The case has no report yet; draft it first.", None)
        guard_text(
            IntakeError,
            multiline=True,
            starting_question=starting_question,
            conclusions=conclusions,
        )
        question = _clean(starting_question)
        if question is None:
            raise IntakeError(
                "invalid", "The starting question must not be blank.", "starting_question"
            )
        new = {
            "starting_question": question,
            "insights": _items("insights", insights),
            "conclusions": _clean(conclusions) or "",
            "actions": _items("actions", actions),
        }
        old = {
            "starting_question": report.starting_question,
            "insights": report.insights,
            "conclusions": report.conclusions,
            "actions": report.actions,
        }
        if new == old:
            return False
        self.trigger_event(
            self.ReportRevised, timestamp=at, client_id=self.client_id, actor=actor, **new
        )
        return True

    def agree_report(self, *, revision: int, actor: str, at: datetime) -> None:
        """Record that the client read and agreed to revision `revision` of the report."""
        self._require_intensive()
        report = self.report
        if report is None:
            raise IntakeError("no-report", "The case has no report yet; draft it first.", None)
        if revision != report.revision:
            raise IntakeError(
                "report-changed",
                f"The report is at revision {report.revision}; the client agrees to the "
                "report as it stands.",
                "revision",
            )
        if self.report_status == "agreed":
            raise IntakeError(
                "report-agreed", "The client agreed to this revision already.", "revision"
            )
        if not report.conclusions.strip() or not report.actions:
            raise IntakeError(
                "report-incomplete",
                "A report is agreed with its conclusions and at least one agreed action.",
                "conclusions" if not report.conclusions.strip() else "actions",
            )
        self.trigger_event(
            self.ReportAgreed,
            timestamp=at,
            client_id=self.client_id,
            revision=revision,
            actor=actor,
        )

    @property
    def report_status(self) -> str | None:
        """`draft`, `agreed` (its current revision), `revised` (after an agreement), or
        None without a report."""
        report = self.report
        if report is None:
            return None
        if self.report_agreements and self.report_agreements[-1].revision == report.revision:
            return "agreed"
        return "revised" if self.report_agreements else "draft"
