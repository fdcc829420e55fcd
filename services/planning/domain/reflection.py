"""A plan's reflective part (the Flemish POP's "beginvraag, reflecties en inzichten,
keuzes, beslissingen" and its support needs): the career question as the plan states it,
insights with their date, choices and decisions with their reasons, and the support the
client needs (mixed into `Plan`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import DECISION_KINDS, SUPPORT_KINDS
from services.planning.domain.state import PlanState
from shared.text import guard_text


def _required(field: str, value: str) -> None:
    if not value.strip():
        raise PlanningError("invalid", f"The {field.replace('_', ' ')} is empty.", field)


class Reflection(PlanState):
    """The commands on a plan's career question, insights, decisions and support needs."""

    def state_career_question(self, *, question: str, actor: str, at: datetime) -> None:
        """The starting question in the plan's own words (intake's is the first draft)."""
        guard_text(PlanningError, multiline=True, question=question)
        _required("question", question)
        if question == self.career_question:
            return
        self._change(self.CareerQuestionStated, at, question=question, actor=actor)

    def record_insight(
        self, *, insight_id: uuid.UUID, text: str, dated: date, actor: str, at: datetime
    ) -> None:
        """A reflection or insight of the client's, on the day it came."""
        self._require_open()
        if any(i.insight_id == insight_id for i in self.insights):
            return  # a redelivery
        guard_text(PlanningError, multiline=True, text=text)
        _required("text", text)
        if dated > at.date():
            raise PlanningError("invalid", "An insight cannot be dated ahead.", "date")
        self._change(
            self.InsightRecorded, at, insight_id=insight_id, text=text, dated=dated, actor=actor
        )

    def record_decision(
        self,
        *,
        decision_id: uuid.UUID,
        kind: str,
        text: str,
        reasons: str,
        actor: str,
        at: datetime,
    ) -> None:
        """A choice (an option taken among others) or a decision, always with its reasons."""
        self._require_open()
        if any(d.decision_id == decision_id for d in self.decisions):
            return  # a redelivery
        if kind not in DECISION_KINDS:
            raise PlanningError("invalid", f"Unknown kind {kind!r}.", "kind")
        guard_text(PlanningError, multiline=True, text=text, reasons=reasons)
        _required("text", text)
        _required("reasons", reasons)
        self._change(
            self.DecisionRecorded,
            at,
            decision_id=decision_id,
            kind=kind,
            text=text,
            reasons=reasons,
            actor=actor,
        )

    def record_support_needs(
        self, *, kinds: list[str], notes: str | None, actor: str, at: datetime
    ) -> None:
        """What support the client needs, as kinds and in words; replaces the former."""
        unknown = [k for k in kinds if k not in SUPPORT_KINDS]
        if unknown:
            raise PlanningError("invalid", f"Unknown kind of support {unknown[0]!r}.", "kinds")
        if len(set(kinds)) != len(kinds):
            raise PlanningError("invalid", "Each kind of support once.", "kinds")
        guard_text(PlanningError, multiline=True, notes=notes)
        if "other" in kinds and not (notes or "").strip():
            raise PlanningError("invalid", "Say what the other support is.", "notes")
        ordered = [k for k in SUPPORT_KINDS if k in kinds]
        now = self.support_needs
        if now is not None and (list(now.kinds), now.notes) == (ordered, notes):
            return
        self._change(self.SupportNeedsRecorded, at, kinds=ordered, notes=notes, actor=actor)
