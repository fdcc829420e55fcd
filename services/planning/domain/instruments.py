"""Instruments and their results (seed 003: "beroepsoriëntatietest"; "Interpreteert de
resultaten van verschillende instrumenten"): which instrument of the agency's list was used
and when, its result (in words and/or as scores), the counsellor's interpretation, and the
career competences and goals of the plan it informs. Like a product, a record of the
guidance, not content both parties agree to: no new revision (mixed into `Plan`)."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime
from typing import Any

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import MAX_SCORES
from services.planning.domain.state import PlanState
from shared.text import guard_field, guard_text
from shared.vocabulary import COMPETENCES


def _scores(scores: dict[str, Any] | None) -> dict[str, float] | None:
    if scores is None:
        return None
    if len(scores) > MAX_SCORES:
        raise PlanningError("invalid", f"At most {MAX_SCORES} scores.", "scores")
    out: dict[str, float] = {}
    for name, value in scores.items():
        guard_field(PlanningError, "scores", name)
        if not name.strip() or len(name) > 100:
            raise PlanningError("invalid", "A score's name is 1-100 characters.", "scores")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise PlanningError("invalid", "A score is a number.", "scores")
        out[name.strip()] = value
    return out


class Instruments(PlanState):
    """The commands on the instruments used in a plan."""

    def record_instrument(
        self,
        *,
        use_id: uuid.UUID,
        instrument: str,
        instrument_name: str,
        used_on: date,
        result: str | None,
        scores: dict[str, Any] | None,
        interpretation: str | None,
        competences: list[str],
        goal_ids: list[uuid.UUID],
        actor: str,
        at: datetime,
    ) -> None:
        """An instrument of the agency's list (`instrument_name` is its name now, kept
        with the record) used on a day, with its result in words and/or as scores."""
        self._require_open()
        if use_id in self.instrument_uses:
            return  # a redelivery
        if used_on > at.date():
            raise PlanningError("invalid", "An instrument cannot be used ahead.", "used_on")
        guard_text(PlanningError, multiline=True, result=result, interpretation=interpretation)
        result = (result or "").strip() or None
        interpretation = (interpretation or "").strip() or None
        kept = _scores(scores)
        if result is None and not kept:
            raise PlanningError("invalid", "Give the result in words or as scores.", "result")
        unknown = [c for c in competences if c not in COMPETENCES]
        if unknown or len(set(competences)) != len(competences):
            raise PlanningError("invalid", "Name each career competence once.", "competences")
        missing = [g for g in goal_ids if g not in self.goals]
        if missing or len(set(goal_ids)) != len(goal_ids):
            raise PlanningError("invalid", "Name each goal of this plan once.", "goal_ids")
        self.trigger_event(
            self.InstrumentUsed,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            use_id=use_id,
            instrument=instrument,
            instrument_name=instrument_name,
            used_on=used_on,
            result=result,
            scores=kept,
            interpretation=interpretation,
            competences=list(competences),
            goal_ids=list(goal_ids),
            actor=actor,
        )

    def interpret_instrument(
        self, *, use_id: uuid.UUID, interpretation: str, actor: str, at: datetime
    ) -> None:
        """The counsellor's interpretation of a result, replacing the former one."""
        self._require_open()
        use = self.instrument_uses.get(use_id)
        if use is None:
            raise PlanningError("not-found", f"No instrument use {use_id} in this plan.", "use_id")
        guard_text(PlanningError, multiline=True, interpretation=interpretation)
        if not interpretation.strip():
            raise PlanningError("invalid", "The interpretation is empty.", "interpretation")
        if interpretation.strip() == use.interpretation:
            return
        self.trigger_event(
            self.InstrumentInterpreted,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            use_id=use_id,
            interpretation=interpretation.strip(),
            actor=actor,
        )
