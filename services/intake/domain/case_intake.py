"""A case's intake: the entry check, assessments of the career competences, sessions and
the decision, with what they derive (latest scores, gaps, hours used) (mixed into `Case`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.intake.domain.case_rules import ASSESSORS, ENDED, GAP_SCORES, SESSION_KINDS
from services.intake.domain.case_state import CaseState
from services.intake.domain.errors import IntakeError
from shared.text import guard_text
from shared.vocabulary import COMPETENCES


class Intake(CaseState):
    """The commands of a case's intake, until the decision."""

    def check_entry(self, *, eligible: bool, notes: str | None, actor: str, at: datetime) -> None:
        self._require_open()
        guard_text(IntakeError, multiline=True, notes=notes)
        self.trigger_event(
            self.EntryChecked,
            timestamp=at,
            client_id=self.client_id,
            eligible=eligible,
            notes=notes,
            actor=actor,
        )

    def record_assessment(
        self,
        *,
        assessment_id: uuid.UUID,
        assessor: str,
        scores: dict[str, int],
        actor: str,
        at: datetime,
    ) -> None:
        if self.status in ENDED:
            self._require_open()
        if assessor not in ASSESSORS:
            raise IntakeError("invalid", f"Unknown assessor {assessor!r}.", "assessor")
        missing = [c for c in COMPETENCES if c not in scores]
        unknown = [c for c in scores if c not in COMPETENCES]
        if missing or unknown:
            raise IntakeError(
                "invalid",
                "All five career competences are scored, and only those.",
                f"scores.{(missing or unknown)[0]}",
            )
        for competence, score in scores.items():
            if not 1 <= score <= 4:
                raise IntakeError(
                    "invalid", "A score lies between 1 and 4.", f"scores.{competence}"
                )
        self.trigger_event(
            self.AssessmentRecorded,
            timestamp=at,
            assessment_id=assessment_id,
            client_id=self.client_id,
            assessor=assessor,
            scores={c: scores[c] for c in COMPETENCES},
            actor=actor,
        )

    def hold_session(
        self,
        *,
        session_id: uuid.UUID,
        kind: str,
        held_at: datetime,
        minutes: int,
        actor: str,
        at: datetime,
    ) -> None:
        if self.status in ENDED:
            self._require_open()
        if kind not in SESSION_KINDS:
            raise IntakeError("invalid", f"Unknown session kind {kind!r}.", "kind")
        if not 1 <= minutes <= 600:
            raise IntakeError("invalid", "A session lasts 1 to 600 minutes.", "minutes")
        if held_at > at:
            raise IntakeError("invalid", "A session cannot be recorded ahead.", "held_at")
        self._check_budget(minutes)
        self.trigger_event(
            self.SessionHeld,
            timestamp=at,
            session_id=session_id,
            client_id=self.client_id,
            kind=kind,
            held_at=held_at,
            minutes=minutes,
            actor=actor,
        )

    def decide(
        self,
        *,
        decision: str,
        reason: str | None,
        actor: str,
        at: datetime,
        budget: tuple[str | None, float, str | None] | None = None,
    ) -> None:
        """Decide; an acceptance sets the hours budget `budget` (programme, hours, reason)
        when given (see `case_budget.resolve_budget`)."""
        self._require_open()
        guard_text(IntakeError, multiline=True, reason=reason)
        if budget is not None:
            guard_text(IntakeError, multiline=True, budget_reason=budget[2])
        if decision == "accept":
            if self.entry_check is None or not self.entry_check.eligible:
                raise IntakeError(
                    "case-not-ready",
                    "Accepting needs a passed entry check.",
                    "decision",
                )
            if not self.assessments:
                raise IntakeError(
                    "case-not-ready",
                    "Accepting needs at least one assessment of the career competences.",
                    "decision",
                )
            self.trigger_event(
                self.Accepted,
                timestamp=at,
                client_id=self.client_id,
                organisation=self.organisation,
                gaps=self.gaps,
                scores=self.latest_scores,
                reason=reason,
                actor=actor,
                counsellor=self.counsellor,
                programme=budget[0] if budget else None,
                hours_budget=budget[1] if budget else None,
                budget_reason=budget[2] if budget else None,
            )
        elif decision == "refer_out":
            self.cancel_planned(reason="The case was referred out.", actor=actor, at=at)
            self.trigger_event(
                self.ReferredOut, timestamp=at, client_id=self.client_id, reason=reason, actor=actor
            )
        elif decision == "decline":
            self.cancel_planned(reason="The case was declined.", actor=actor, at=at)
            self.trigger_event(
                self.Declined, timestamp=at, client_id=self.client_id, reason=reason, actor=actor
            )
        else:
            raise IntakeError("invalid", f"Unknown decision {decision!r}.", "decision")

    @property
    def latest_scores(self) -> dict[str, dict[str, int]]:
        """The latest assessment by each assessor."""
        latest: dict[str, dict[str, int]] = {}
        for assessment in self.assessments:
            latest[assessment.assessor] = dict(assessment.scores)
        return latest

    @property
    def gaps(self) -> list[str]:
        """Competences scored 1 or 2 in either view (latest assessment of each assessor)."""
        views = self.latest_scores.values()
        return [c for c in COMPETENCES if any(v.get(c) in GAP_SCORES for v in views)]

    @property
    def hours_used(self) -> float:
        return round(self.minutes_used / 60, 2)
