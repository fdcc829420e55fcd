"""A case's hours budget: set at acceptance (the programme's hours, or the agency's default,
or another figure with a reason), used by its sessions and its aftercare contacts, and
extended by a team lead's approval (mixed into `Case`). The rules are plain functions."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.intake.domain.case_state import CaseState
from services.intake.domain.errors import IntakeError
from shared.text import guard_text

BUDGET_STATES = ("ok", "warning", "exhausted", "over")


@dataclass(frozen=True)
class Budget:
    """The budget as its reader sees it: hours (set plus approved extra), hours used
    and left, and its state."""

    hours: float
    used: float
    left: float
    state: str
    programme: str | None


def budget_state(hours: float, used: float, warning_share: float) -> str:
    """`over` past the budget, `exhausted` at it, `warning` from the warning share on,
    else `ok`."""
    if used > hours + 1e-9:
        return "over"
    if used >= hours - 1e-9:
        return "exhausted"
    if used >= hours * warning_share - 1e-9:
        return "warning"
    return "ok"


def budget_of(
    hours: float, minutes_used: int, warning_share: float, programme: str | None
) -> Budget:
    used = round(minutes_used / 60, 2)
    return Budget(
        hours=round(hours, 2),
        used=used,
        left=round(max(hours - used, 0), 2),
        state=budget_state(hours, minutes_used / 60, warning_share),
        programme=programme,
    )


def resolve_budget(
    programmes: Mapping[str, float],
    default: float,
    *,
    programme: str | None,
    hours: float | None,
    reason: str | None,
) -> tuple[str | None, float, str | None]:
    """The budget an acceptance sets: the programme's hours (a programme the agency does
    not know is refused naming `programme`), or the default; other hours need a reason
    (`budget_reason`)."""
    if programme is not None and programme not in programmes:
        known = ", ".join(sorted(programmes)) or "none"
        raise IntakeError(
            "invalid", f"Unknown programme {programme!r} (known: {known}).", "programme"
        )
    standard = programmes[programme] if programme is not None else default
    if hours is None or abs(hours - standard) < 1e-9:
        return programme, float(standard), None
    if not 0 < hours <= 500:
        raise IntakeError("invalid", "The hours budget lies between 0 and 500.", "hours_budget")
    if reason is None or not reason.strip():
        raise IntakeError(
            "invalid",
            f"Another budget than the programme's {standard:g} hours needs a reason.",
            "budget_reason",
        )
    return programme, float(hours), reason.strip()


class BudgetCare(CaseState):
    """The hours budget's commands and what it derives."""

    def approve_extra_hours(
        self, *, extra_hours: float, reason: str, actor: str, at: datetime
    ) -> None:
        """A team lead approves going over the budget by `extra_hours`, saying why (sealed)."""
        if self.status not in ("open", "accepted"):
            self._require_open()
        if not 0 < extra_hours <= 100:
            raise IntakeError("invalid", "Approve between 0 and 100 extra hours.", "extra_hours")
        guard_text(IntakeError, multiline=True, reason=reason)
        if not reason.strip():
            raise IntakeError("invalid", "Say why the case needs more hours.", "reason")
        self.trigger_event(
            self.BudgetExtended,
            timestamp=at,
            client_id=self.client_id,
            extra_hours=float(extra_hours),
            reason=reason.strip(),
            actor=actor,
        )

    def count_aftercare_contact(
        self, *, contact_id: uuid.UUID, minutes: int, source_position: int, at: datetime
    ) -> bool:
        """An aftercare contact (follow-up's, the client reached) counts `minutes` against
        the budget, once; True when there is something to save."""
        if minutes <= 0 or contact_id in self.aftercare_contacts:
            return False
        self.trigger_event(
            self.AftercareContactCounted,
            timestamp=at,
            client_id=self.client_id,
            contact_id=contact_id,
            minutes=minutes,
            source_position=source_position,
        )
        return True

    def _check_budget(self, minutes: int) -> None:
        """A session that would take the case past its budget is refused (409
        `over-budget`) until a team lead approves more hours."""
        if (self.minutes_used + minutes) / 60 > self.budget_hours + 1e-9:
            left = max(self.budget_hours - self.minutes_used / 60, 0)
            raise IntakeError(
                "over-budget",
                f"The session would go over the case's hours budget ({self.budget_hours:g} "
                f"hours, {left:.2f} left): ask your team lead to approve more hours.",
                "minutes",
            )

    @property
    def budget_hours(self) -> float:
        """The hours set plus the hours a team lead approved."""
        return self.hours_budget + sum(e.extra_hours for e in self.budget_extensions)

    def budget(self, warning_share: float) -> Budget:
        return budget_of(self.budget_hours, self.minutes_used, warning_share, self.programme)
