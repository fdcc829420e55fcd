"""A case's file: closing it with a summary (the client referred out, declined, or
withdrawn) and handing it to another counsellor (mixed into `Case`)."""

from __future__ import annotations

from datetime import datetime

from services.intake.domain.case_rules import CLOSING_REASONS
from services.intake.domain.case_state import CaseState
from services.intake.domain.errors import IntakeError
from shared.text import guard_text

# Which closing reasons each status allows: a case in intake is decided first (referred
# out or declined), an accepted one closes when the client withdraws or is referred to
# another provider for good.
CLOSABLE: dict[str, tuple[str, ...]] = {
    "open": ("client_withdrew",),
    "accepted": ("client_withdrew", "referred_out"),
    "referred_out": ("referred_out", "client_withdrew"),
    "declined": ("declined",),
}
# The statuses whose case a counsellor still carries (a team lead hands them over).
CARRIED = ("open", "accepted")


class FileCare(CaseState):
    """Closing the file, and the counsellor who carries the case."""

    def close_file(self, *, reason: str, summary: str, actor: str, at: datetime) -> None:
        """Close the case with the counsellor's closing summary (sealed) and a reason code."""
        if self.status == "closed":
            raise IntakeError("case-decided", "The case is closed already.", None)
        if reason not in CLOSING_REASONS:
            raise IntakeError("invalid", f"Unknown closing reason {reason!r}.", "reason")
        if reason not in CLOSABLE[self.status]:
            allowed = ", ".join(CLOSABLE[self.status])
            raise IntakeError(
                "invalid",
                f"A case that is {self.status} closes only as: {allowed} (decide first to "
                "refer out or decline a case in intake).",
                "reason",
            )
        guard_text(IntakeError, multiline=True, summary=summary)
        if not summary.strip():
            raise IntakeError("invalid", "The closing summary must not be blank.", "summary")
        self.cancel_planned(reason="The case's file was closed.", actor=actor, at=at)
        self.trigger_event(
            self.FileClosed,
            timestamp=at,
            client_id=self.client_id,
            reason=reason,
            summary=summary.strip(),
            actor=actor,
        )

    def reassign(self, *, counsellor: str, reason: str, actor: str, at: datetime) -> bool:
        """Hand the case to `counsellor` (a team lead's decision, with why). A case that
        ended is not handed over; handing it to its own counsellor changes nothing (False)."""
        guard_text(IntakeError, multiline=False, counsellor=counsellor)
        guard_text(IntakeError, multiline=True, reason=reason)
        if not counsellor.strip():
            raise IntakeError("invalid", "Name the counsellor to hand the case to.", "counsellor")
        if not reason.strip():
            raise IntakeError("invalid", "Say why the case is handed over.", "reason")
        if self.status not in CARRIED:
            raise IntakeError(
                "case-decided", f"The case has ended ({self.status}); it is not handed over.", None
            )
        if counsellor.strip() == self.counsellor:
            return False
        self.trigger_event(
            self.Reassigned,
            timestamp=at,
            client_id=self.client_id,
            counsellor=counsellor.strip(),
            previous=self.counsellor,
            reason=reason.strip(),
            actor=actor,
        )
        return True
