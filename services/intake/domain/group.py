"""A group session: guidance given to several clients (cases) of one organisation at once.

A counsellor plans it (topic, when, how long, where) and adds its participants (cases of
the organisation still in guidance); holding it records who was present and who absent.
The group's own record holds only case ids and non-personal facts (topic, date, place):
what each participant said or was noted about stays on their own case (a session of kind
`group`, with their own notes, sealed there), so no client's file shows another's data
and erasing one client leaves the group and the others as they were."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import Aggregate

from services.intake.domain.errors import IntakeError
from shared.text import guard_text

GROUP_STATUSES = ("planned", "held", "cancelled")
MOST_PARTICIPANTS = 30
MOST_MINUTES = 600


def session_id_for(group_id: uuid.UUID, case_id: uuid.UUID) -> uuid.UUID:
    """The id of the session a group session leaves on one participant's case (the same
    for the same group and case, so holding it twice cannot count it twice)."""
    return uuid.uuid5(group_id, str(case_id))


@dataclass(frozen=True)
class Attendance:
    """How one participant took part: present or absent (their notes stay on their case)."""

    case_id: uuid.UUID
    present: bool


def check_minutes(minutes: int, field: str = "minutes") -> None:
    if not 1 <= minutes <= MOST_MINUTES:
        raise IntakeError("invalid", f"A group session lasts 1 to {MOST_MINUTES} minutes.", field)


def _text(name: str, value: str, required: bool) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise IntakeError("invalid", f"The {name} must not be blank.", name)
    if len(cleaned) > 200:
        raise IntakeError("invalid", f"The {name} is at most 200 characters.", name)
    return cleaned


class GroupSession(Aggregate):
    """A group session of an organisation: planned, its participants, held (or cancelled)."""

    class Planned(Aggregate.Created):
        organisation: str
        topic: str
        starts_at: datetime
        minutes: int
        place: str
        actor: str

    class ParticipantAdded(Aggregate.Event):
        case_id: uuid.UUID
        actor: str

        def apply(self, aggregate: GroupSession) -> None:
            aggregate.participants.append(self.case_id)

    class ParticipantRemoved(Aggregate.Event):
        case_id: uuid.UUID
        actor: str

        def apply(self, aggregate: GroupSession) -> None:
            aggregate.participants.remove(self.case_id)

    class Held(Aggregate.Event):
        """Held at `held_at` for `minutes`: `present` and `absent` name the cases."""

        held_at: datetime
        minutes: int
        present: list[uuid.UUID]
        absent: list[uuid.UUID]
        actor: str

        def apply(self, aggregate: GroupSession) -> None:
            aggregate.status = "held"
            aggregate.held_at = self.held_at
            aggregate.minutes = self.minutes
            aggregate.attendance = [Attendance(c, True) for c in self.present] + [
                Attendance(c, False) for c in self.absent
            ]
            aggregate.held_by = self.actor

    class Cancelled(Aggregate.Event):
        actor: str

        def apply(self, aggregate: GroupSession) -> None:
            aggregate.status = "cancelled"

    def __init__(
        self,
        organisation: str,
        topic: str,
        starts_at: datetime,
        minutes: int,
        place: str,
        actor: str,
    ) -> None:
        self.organisation = organisation
        self.topic = topic
        self.starts_at = starts_at
        self.minutes = minutes
        self.place = place
        self.counsellor = actor
        self.status = "planned"
        self.participants: list[uuid.UUID] = []
        self.held_at: datetime | None = None
        self.held_by: str | None = None
        self.attendance: list[Attendance] = []

    @classmethod
    def plan(
        cls,
        *,
        group_id: uuid.UUID,
        organisation: str,
        topic: str,
        starts_at: datetime,
        minutes: int,
        place: str,
        actor: str,
        at: datetime,
    ) -> GroupSession:
        """Plan a group session (its topic and place are not about any one client)."""
        guard_text(IntakeError, topic=topic, place=place)
        topic = _text("topic", topic, required=True)
        place = _text("place", place, required=False)
        check_minutes(minutes)
        return cls._create(
            cls.Planned,
            id=group_id,
            timestamp=at,
            organisation=organisation,
            topic=topic,
            starts_at=starts_at,
            minutes=minutes,
            place=place,
            actor=actor,
        )

    def _require_planned(self) -> None:
        if self.status != "planned":
            raise IntakeError("group-not-planned", f"The group session is {self.status}.", None)

    def add_participant(self, *, case_id: uuid.UUID, actor: str, at: datetime) -> bool:
        """Add a case (the caller checked it is of this organisation and in guidance); one
        already taking part changes nothing (False)."""
        self._require_planned()
        if case_id in self.participants:
            return False
        if len(self.participants) >= MOST_PARTICIPANTS:
            raise IntakeError(
                "invalid", f"A group has at most {MOST_PARTICIPANTS} participants.", "case_id"
            )
        self.trigger_event(self.ParticipantAdded, timestamp=at, case_id=case_id, actor=actor)
        return True

    def remove_participant(self, *, case_id: uuid.UUID, actor: str, at: datetime) -> None:
        self._require_planned()
        if case_id not in self.participants:
            raise IntakeError("not-found", f"Case {case_id} does not take part.", None)
        self.trigger_event(self.ParticipantRemoved, timestamp=at, case_id=case_id, actor=actor)

    def hold(
        self,
        *,
        held_at: datetime,
        minutes: int,
        present: list[uuid.UUID],
        actor: str,
        at: datetime,
    ) -> list[uuid.UUID]:
        """Record the session held: `present` names the participants who came (the others
        were absent); the absent ones."""
        self._require_planned()
        if not self.participants:
            raise IntakeError("invalid", "The group session has no participants.", "attendance")
        check_minutes(minutes)
        if held_at > at:
            raise IntakeError("invalid", "A session cannot be recorded ahead.", "held_at")
        strangers = [c for c in present if c not in self.participants]
        if strangers:
            raise IntakeError("invalid", f"Case {strangers[0]} does not take part.", "attendance")
        absent = [c for c in self.participants if c not in present]
        self.trigger_event(
            self.Held,
            timestamp=at,
            held_at=held_at,
            minutes=minutes,
            present=[c for c in self.participants if c in present],
            absent=absent,
            actor=actor,
        )
        return absent

    def cancel(self, *, actor: str, at: datetime) -> None:
        self._require_planned()
        self.trigger_event(self.Cancelled, timestamp=at, actor=actor)
