"""A case: one guidance process of a client, intake until the decision, then its phases
as planning, referral and follow-up report them.

One module although it is longer than ~300 lines: an aggregate's events are nested in
its class (their stored topics are `Case.<Event>`), and the commands and the events
they trigger read best side by side.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.intake.domain.case_values import (
    Assessment,
    Closure,
    Decision,
    EntryCheck,
    Resumption,
    Session,
)
from services.intake.domain.client import Client
from services.intake.domain.errors import IntakeError
from shared.text import guard_text
from shared.vocabulary import COMPETENCES

ASSESSORS = ("client", "counsellor")
SESSION_KINDS = ("intake", "deepening", "synthesis", "aftercare")
DECISIONS = ("accept", "refer_out", "decline")
GAP_SCORES = (1, 2)
PLAN_PHASES = ("deepening", "synthesis", "aftercare")
# Statuses in which a case takes no more intake commands (assessments, sessions).
ENDED = ("referred_out", "declined", "closed")


class Case(Aggregate):
    """One guidance process of a client: intake until the decision, then its phases."""

    class Opened(Aggregate.Created):
        client_id: uuid.UUID
        organisation: str
        career_question: str
        hours_budget: float
        actor: str

    class EntryChecked(Aggregate.Event):
        client_id: uuid.UUID
        eligible: bool
        notes: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.entry_check = EntryCheck(
                eligible=self.eligible,
                notes=self.notes,
                checked_at=self.timestamp,
                actor=self.actor,
            )

    class AssessmentRecorded(Aggregate.Event):
        assessment_id: uuid.UUID
        client_id: uuid.UUID
        assessor: str
        scores: dict[str, int]
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.assessments.append(
                Assessment(
                    assessment_id=self.assessment_id,
                    assessor=self.assessor,
                    scores=dict(self.scores),
                    recorded_at=self.timestamp,
                    actor=self.actor,
                )
            )

    class SessionHeld(Aggregate.Event):
        session_id: uuid.UUID
        client_id: uuid.UUID
        kind: str
        held_at: datetime
        minutes: int
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.sessions.append(
                Session(
                    session_id=self.session_id,
                    kind=self.kind,
                    held_at=self.held_at,
                    minutes=self.minutes,
                    actor=self.actor,
                )
            )
            aggregate.minutes_used += self.minutes

    class Accepted(Aggregate.Event):
        # v2 added `counsellor` (the case's: who opened it), for the other services'
        # lists; acceptances recorded before it name none.
        class_version = 2
        client_id: uuid.UUID
        organisation: str
        gaps: list[str]
        scores: dict[str, dict[str, int]]
        reason: str | None
        actor: str
        counsellor: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["counsellor"] = None

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "accepted"
            aggregate.phase = "deepening"
            aggregate.decision = _decision(self, "accept")

    class ReferredOut(Aggregate.Event):
        client_id: uuid.UUID
        reason: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "referred_out"
            aggregate.phase = "closed"
            aggregate.decision = _decision(self, "refer_out")

    class Declined(Aggregate.Event):
        client_id: uuid.UUID
        reason: str | None
        actor: str

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "declined"
            aggregate.phase = "closed"
            aggregate.decision = _decision(self, "decline")

    class PhaseChanged(Aggregate.Event):
        """The case moved to the phase its plan is in (from planning's events)."""

        client_id: uuid.UUID
        phase: str
        cause: str
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.phase = self.phase
            aggregate.plan_position = self.source_position

    class PlanPositionNoted(Aggregate.Event):
        """Planning's news that left the phase as it was; older news must not undo it."""

        client_id: uuid.UUID
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.plan_position = self.source_position

    class ResumptionNoted(Aggregate.Event):
        """Whether and when guidance resumes after a referral (from referral's events);
        the latest news wins, older news (a lower position) changes nothing."""

        client_id: uuid.UUID
        referral_id: uuid.UUID
        resumes: bool
        resume_on: date | None
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.resumption = Resumption(
                referral_id=self.referral_id,
                resumes=self.resumes,
                resume_on=self.resume_on,
                noted_at=self.timestamp,
            )
            aggregate.resumption_position = self.source_position

    class Closed(Aggregate.Event):
        """Follow-up closed the case's aftercare (from follow-up's `FollowUpClosed`):
        the case is closed; `closed_at` is when follow-up closed it."""

        client_id: uuid.UUID
        followup_id: uuid.UUID
        reason: str
        rule: str
        closed_by: str | None
        closed_at: datetime
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "closed"
            aggregate.phase = "closed"
            aggregate.closure = Closure(
                followup_id=self.followup_id,
                reason=self.reason,
                rule=self.rule,
                closed_by=self.closed_by,
                closed_at=self.closed_at,
            )
            aggregate.closure_position = self.source_position

    class Reopened(Aggregate.Event):
        """The client asked for aftercare on a closed follow-up (from follow-up's
        `AftercareRequested`): the case is accepted again, in aftercare."""

        client_id: uuid.UUID
        followup_id: uuid.UUID
        source_position: int

        def apply(self, aggregate: Case) -> None:
            aggregate.status = "accepted"
            aggregate.phase = "aftercare"
            aggregate.closure = None
            aggregate.closure_position = self.source_position

    def __init__(
        self,
        client_id: uuid.UUID,
        organisation: str,
        career_question: str,
        hours_budget: float,
        actor: str,
    ) -> None:
        self.client_id = client_id
        self.organisation = organisation
        self.career_question = career_question
        self.hours_budget = hours_budget
        self.opened_by = actor
        self.status = "open"
        self.phase = "intake"
        self.entry_check: EntryCheck | None = None
        self.assessments: list[Assessment] = []
        self.sessions: list[Session] = []
        self.minutes_used = 0
        self.decision: Decision | None = None
        self.plan_position = 0
        self.resumption: Resumption | None = None
        self.resumption_position = 0
        self.closure: Closure | None = None
        self.closure_position = 0

    @classmethod
    def open(
        cls,
        *,
        case_id: uuid.UUID,
        client: Client,
        organisation: str,
        career_question: str,
        hours_budget: float,
        actor: str,
        at: datetime,
    ) -> Case:
        if client.organisation != organisation:
            raise IntakeError("not-found", "No such client.", "client_id")
        if not client.has_consent("guidance"):
            raise IntakeError(
                "consent-required",
                "The client has not given a guidance consent; record it first.",
                "client_id",
            )
        guard_text(IntakeError, multiline=True, career_question=career_question)
        if not career_question.strip():
            raise IntakeError(
                "invalid", "The career question must not be blank.", "career_question"
            )
        if hours_budget <= 0:
            raise IntakeError("invalid", "The hours budget must be positive.", "hours_budget")
        return cls._create(
            cls.Opened,
            id=case_id,
            timestamp=at,
            client_id=client.id,
            organisation=organisation,
            career_question=career_question.strip(),
            hours_budget=hours_budget,
            actor=actor,
        )

    # -- guards --------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.status == "closed":
            raise IntakeError(
                "case-decided", "The case is closed (follow-up closed its aftercare).", None
            )
        if self.status != "open":
            raise IntakeError("case-decided", f"The case is already decided ({self.status}).", None)

    # -- commands ------------------------------------------------------------------------
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

    def decide(self, *, decision: str, reason: str | None, actor: str, at: datetime) -> None:
        self._require_open()
        guard_text(IntakeError, multiline=True, reason=reason)
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
                counsellor=self.opened_by,
            )
        elif decision == "refer_out":
            self.trigger_event(
                self.ReferredOut, timestamp=at, client_id=self.client_id, reason=reason, actor=actor
            )
        elif decision == "decline":
            self.trigger_event(
                self.Declined, timestamp=at, client_id=self.client_id, reason=reason, actor=actor
            )
        else:
            raise IntakeError("invalid", f"Unknown decision {decision!r}.", "decision")

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
        older news changes nothing. True when there is something to save."""
        if self.status != "closed" or source_position <= self.closure_position:
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

    # -- derived -------------------------------------------------------------------------
    @property
    def resumed(self) -> bool:
        """Guidance resumes (or resumed) after a referral."""
        return bool(self.resumption and self.resumption.resumes)

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


def _decision(event: Case.Accepted | Case.ReferredOut | Case.Declined, decision: str) -> Decision:
    return Decision(
        decision=decision, reason=event.reason, decided_at=event.timestamp, actor=event.actor
    )


# Events stored before the case moved here (from `services/intake/domain.py`) keep loading.
register_topic("services.intake.domain:Case", Case)
for _name in (
    "Opened",
    "EntryChecked",
    "AssessmentRecorded",
    "SessionHeld",
    "Accepted",
    "ReferredOut",
    "Declined",
    "PhaseChanged",
    "PlanPositionNoted",
    "ResumptionNoted",
    "Closed",
    "Reopened",
):
    register_topic(f"services.intake.domain:Case.{_name}", getattr(Case, _name))
