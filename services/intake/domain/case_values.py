"""The case's value objects: what its events leave on it (immutable; `asdict` gives the
plain form the API and the export show)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class EntryCheck:
    eligible: bool
    notes: str | None
    checked_at: datetime
    actor: str


@dataclass(frozen=True)
class Assessment:
    assessment_id: uuid.UUID
    assessor: str
    scores: dict[str, int]
    recorded_at: datetime
    actor: str


@dataclass(frozen=True)
class Session:
    session_id: uuid.UUID
    kind: str
    held_at: datetime
    minutes: int
    actor: str


@dataclass(frozen=True)
class Decision:
    decision: str
    """`accept`, `refer_out` or `decline`."""
    reason: str | None
    decided_at: datetime
    actor: str


@dataclass(frozen=True)
class Resumption:
    """What the counsellor said in referral about resuming guidance."""

    referral_id: uuid.UUID
    resumes: bool
    resume_on: date | None
    noted_at: datetime


@dataclass(frozen=True)
class Closure:
    """How the case closed: follow-up closed its aftercare (`followup_id`, `rule`,
    `closed_by` from follow-up), or its counsellor closed the file (`closed_by`
    `counsellor`, `rule` `file`, with the closing `summary` and who closed it)."""

    followup_id: uuid.UUID | None
    reason: str
    rule: str
    closed_by: str | None
    closed_at: datetime
    summary: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Reassignment:
    """A team lead handed the case to another counsellor."""

    counsellor: str
    previous: str
    reason: str
    reassigned_at: datetime
    actor: str


@dataclass(frozen=True)
class BudgetExtension:
    """A team lead approved going over the hours budget by `extra_hours`."""

    extra_hours: float
    reason: str
    approved_at: datetime
    actor: str


def plain(value: Any) -> Any:
    """A value object (or a list of them) as plain data; None stays None."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


@dataclass(frozen=True)
class SessionNotes:
    """What a session's notes say (each part optional, at least one written); a later
    record amends the earlier one, which stays in the history (`amendment` 0 = the first)."""

    session_id: uuid.UUID
    discussed: str | None
    insights: str | None
    agreements: str | None
    homework: str | None
    amendment: int
    recorded_at: datetime
    actor: str


@dataclass(frozen=True)
class ReflectionReport:
    """The reflection-and-action report at the end of the intensive phase: the starting
    question, the sessions' insights, the conclusions and the agreed actions (next steps);
    `revision` counts its texts (1 = the draft)."""

    starting_question: str
    insights: list[str]
    conclusions: str
    actions: list[str]
    revision: int
    drafted_at: datetime
    drafted_by: str
    revised_at: datetime
    revised_by: str


@dataclass(frozen=True)
class ReportAgreement:
    """The client read and agreed to revision `revision` of the report (when, and who
    recorded it)."""

    revision: int
    agreed_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class Appointment:
    """An appointment of the case: planned ahead, then held (`session_id` names the session
    it became), cancelled (`cancelled_by` the client or the agency, `cancel_reason` sealed)
    or missed; `reschedules` counts its moves."""

    appointment_id: uuid.UUID
    counsellor: str
    kind: str
    starts_at: datetime
    minutes: int
    channel: str
    place: str | None
    status: str
    planned_at: datetime
    planned_by: str
    reschedules: int = 0
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    session_id: uuid.UUID | None = None
    changed_at: datetime | None = None
    changed_by: str | None = None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class GroupParticipation:
    """The case's client took part in a group session (`present`), or was expected and
    absent: the group's topic and when (not who else was there). A present client's
    session on the case is `session_id` (kind `group`), with their own notes."""

    group_id: uuid.UUID
    session_id: uuid.UUID
    topic: str
    held_at: datetime
    minutes: int
    present: bool
    actor: str
