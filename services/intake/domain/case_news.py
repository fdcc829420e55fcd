"""A case's news from the other services: the phase of its plan (planning), resuming
after a referral (referral), its aftercare closed or reopened (follow-up) (mixed into
`Case`). Older news (a lower source position) changes nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.intake.domain.case_rules import PLAN_PHASES
from services.intake.domain.case_state import CaseState
from services.intake.domain.errors import IntakeError


class News(CaseState):
    """What a case takes from the other services' events."""

    def follow_plan(self, *, phase: str, cause: str, source_position: int, at: datetime) -> bool:
        """Take the phase the plan implies; older news (a lower position) changes nothing.

        True when there is something to save (a new phase, or a newer position)."""
        if phase not in PLAN_PHASES:
            raise IntakeError("invalid", f"Unknown phase {phase!r}.", "phase")
        if self.status != "accepted" or source_position <= self.plan_position:
            return False
        if phase == self.phase:
            self.trigger_event(
                self.PlanPositionNoted,
                timestamp=at,
                client_id=self.client_id,
                source_position=source_position,
            )
            return True
        self.trigger_event(
            self.PhaseChanged,
            timestamp=at,
            client_id=self.client_id,
            phase=phase,
            cause=cause,
            source_position=source_position,
        )
        return True

    def note_followup_closed(
        self,
        *,
        followup_id: uuid.UUID,
        reason: str,
        rule: str,
        closed_by: str | None,
        closed_at: datetime,
        source_position: int,
        at: datetime,
    ) -> bool:
        """Follow-up closed the aftercare: an accepted case closes. Older news (a lower
        position than the last closure or reopening) changes nothing; nor does a closure
        of a case that is not accepted (declined, referred out, already closed). True
        when there is something to save."""
        if self.status != "accepted" or source_position <= self.closure_position:
            return False
        self.cancel_planned(
            reason="Follow-up closed the aftercare.", actor=closed_by or "followup", at=at
        )
        self.trigger_event(
            self.Closed,
            timestamp=at,
            client_id=self.client_id,
            followup_id=followup_id,
            reason=reason,
            rule=rule,
            closed_by=closed_by,
            closed_at=closed_at,
            source_position=source_position,
        )
        return True

    def note_followup_reopened(
        self, *, followup_id: uuid.UUID, source_position: int, at: datetime
    ) -> bool:
        """Follow-up reopened the aftercare: a closed case is accepted again (in aftercare);
        older news changes nothing; nor does it reopen a file its counsellor closed. True
        when there is something to save."""
        if self.status != "closed" or source_position <= self.closure_position:
            return False
        if self.closure is not None and self.closure.followup_id is None:
            return False
        self.trigger_event(
            self.Reopened,
            timestamp=at,
            client_id=self.client_id,
            followup_id=followup_id,
            source_position=source_position,
        )
        return True

    def note_resumption(
        self,
        *,
        referral_id: uuid.UUID,
        resumes: bool,
        resume_on: date | None,
        source_position: int,
        at: datetime,
    ) -> bool:
        """Record what the counsellor said in referral about resuming guidance; True
        when there is something to save."""
        if source_position <= self.resumption_position:
            return False
        self.trigger_event(
            self.ResumptionNoted,
            timestamp=at,
            client_id=self.client_id,
            referral_id=referral_id,
            resumes=resumes,
            resume_on=resume_on,
            source_position=source_position,
        )
        return True

    @property
    def resumed(self) -> bool:
        """Guidance resumes (or resumed) after a referral."""
        return bool(self.resumption and self.resumption.resumes)
