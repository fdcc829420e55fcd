"""A case's appointments and the agency's rhythm (mixed into `Case`).

An appointment is planned ahead (when, how long, which kind of session, the channel: in
person, by phone or by video, and the place or link), rescheduled, cancelled (by the client
or the agency, with a reason, sealed), marked missed (a no-show, counted on the case) or
held: holding it records the session (`SessionHeld`, its minutes counted against the hours
budget) and the appointment names it. Only a planned appointment changes.

The rhythm is the agency's: the days between one meeting and the next, the last repeating
(`[7, 7, 7, 14]`: weekly for the first four meetings, then every two weeks). `propose`
gives the next dates from the meetings so far (sessions held, appointments planned)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta, tzinfo

from services.intake.domain.case_rules import ENDED, SESSION_KINDS
from services.intake.domain.case_state import CaseState
from services.intake.domain.case_values import Appointment
from services.intake.domain.errors import IntakeError
from shared.text import guard_text

CHANNELS = ("in_person", "phone", "video")
APPOINTMENT_STATUSES = ("planned", "held", "cancelled", "missed")
CANCELLED_BY = ("client", "agency")
MOST_PLACE = 200


def propose(
    rhythm_days: Sequence[int],
    meetings: Sequence[datetime],
    *,
    now: datetime,
    count: int = 3,
    first_at: time = time(10, 0),
    zone: tzinfo | None = None,
) -> list[datetime]:
    """The next `count` meeting times by the rhythm: after the last of `meetings` (or, with
    none, from `now`), each `rhythm_days[n - 1]` days after the n-th meeting (the last entry
    repeating). A date on a Saturday or Sunday moves to the Monday; a time already past
    moves on by the same interval. Without meetings the first falls `rhythm_days[0]` days
    from today at `first_at` (in `zone`, default `now`'s). Each keeps the last meeting's
    time of day, to the nearest quarter hour, within office hours (starting from 8:00 and
    before 17:00 in `zone`; outside them, at `first_at`)."""
    if not rhythm_days or any(d < 1 for d in rhythm_days):
        raise ValueError("The rhythm is one or more intervals of at least one day.")
    ordered = sorted(meetings)
    n = len(ordered)
    if ordered:
        last = ordered[-1]
    else:
        local = now.astimezone(zone) if zone is not None else now
        last = datetime.combine(local.date(), first_at, tzinfo=local.tzinfo)
        n = 1  # the first proposal follows "meeting 1"'s interval from today
    out: list[datetime] = []
    while len(out) < count:
        step = timedelta(days=rhythm_days[min(n - 1, len(rhythm_days) - 1)])
        nxt = _weekday(_office_time(last + step, first_at, zone))
        n += 1
        last = nxt
        if nxt > now:
            out.append(nxt)
    return out


OFFICE_OPENS = time(8, 0)
OFFICE_CLOSES = time(17, 0)


def _office_time(moment: datetime, first_at: time, zone: tzinfo | None) -> datetime:
    """The moment to the nearest quarter hour; outside office hours, `first_at` that day
    (both in `zone`, default the moment's own)."""
    local = moment.astimezone(zone) if zone is not None else moment
    minutes = round((local.hour * 60 + local.minute + local.second / 60) / 15) * 15
    rounded = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo) + timedelta(
        minutes=minutes
    )
    if not OFFICE_OPENS <= rounded.time() < OFFICE_CLOSES or rounded.date() != local.date():
        rounded = datetime.combine(local.date(), first_at, tzinfo=local.tzinfo)
    return rounded.astimezone(moment.tzinfo)


def _weekday(moment: datetime) -> datetime:
    weekday = moment.weekday()
    return moment + timedelta(days=7 - weekday) if weekday >= 5 else moment


def _place(channel: str, place: str | None) -> str | None:
    if channel not in CHANNELS:
        raise IntakeError("invalid", f"Unknown channel {channel!r}.", "channel")
    guard_text(IntakeError, place=place)
    cleaned = place.strip() if place and place.strip() else None
    if cleaned is not None and len(cleaned) > MOST_PLACE:
        raise IntakeError("invalid", f"At most {MOST_PLACE} characters.", "place")
    if channel == "in_person" and cleaned is None:
        raise IntakeError("invalid", "An appointment in person names its place.", "place")
    return cleaned


def _timing(starts_at: datetime, minutes: int, at: datetime) -> None:
    if starts_at.tzinfo is None:
        raise IntakeError("invalid", "The start needs its offset.", "starts_at")
    if starts_at <= at:
        raise IntakeError("invalid", "An appointment is planned ahead.", "starts_at")
    if not 1 <= minutes <= 600:
        raise IntakeError("invalid", "An appointment lasts 1 to 600 minutes.", "minutes")


class Agenda(CaseState):
    """The commands on a case's appointments."""

    def _appointment(self, appointment_id: uuid.UUID) -> Appointment:
        found = self.appointments.get(appointment_id)
        if found is None:
            raise IntakeError("not-found", f"No appointment {appointment_id} on this case.")
        return found

    def _planned(self, appointment_id: uuid.UUID) -> Appointment:
        found = self._appointment(appointment_id)
        if found.status != "planned":
            raise IntakeError(
                "appointment-not-planned",
                f"The appointment is {found.status}; only a planned one changes.",
                None,
            )
        return found

    def _free(self, starts_at: datetime, minutes: int, but: uuid.UUID | None = None) -> None:
        ends_at = starts_at + timedelta(minutes=minutes)
        for other in self.appointments.values():
            if other.status != "planned" or other.appointment_id == but:
                continue
            if other.starts_at < ends_at and starts_at < other.ends_at:
                raise IntakeError(
                    "appointment-overlaps",
                    f"The case has an appointment then ({other.starts_at.isoformat()}).",
                    "starts_at",
                )

    def plan_appointment(
        self,
        *,
        appointment_id: uuid.UUID,
        kind: str,
        starts_at: datetime,
        minutes: int,
        channel: str,
        place: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Plan an appointment ahead, with the caller as its counsellor."""
        if self.status in ENDED:
            self._require_open()
        if kind not in SESSION_KINDS:
            raise IntakeError("invalid", f"Unknown session kind {kind!r}.", "kind")
        _timing(starts_at, minutes, at)
        where = _place(channel, place)
        self._free(starts_at, minutes)
        self.trigger_event(
            self.AppointmentPlanned,
            timestamp=at,
            appointment_id=appointment_id,
            client_id=self.client_id,
            counsellor=actor,
            kind=kind,
            starts_at=starts_at,
            minutes=minutes,
            channel=channel,
            place=where,
            actor=actor,
        )

    def reschedule_appointment(
        self,
        *,
        appointment_id: uuid.UUID,
        starts_at: datetime,
        minutes: int | None,
        channel: str | None,
        place: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Move a planned appointment (its length, channel and place kept unless given)."""
        if self.status in ENDED:
            self._require_open()
        before = self._planned(appointment_id)
        length = before.minutes if minutes is None else minutes
        _timing(starts_at, length, at)
        how = channel or before.channel
        where = _place(how, place if (place is not None or channel is not None) else before.place)
        self._free(starts_at, length, but=appointment_id)
        self.trigger_event(
            self.AppointmentRescheduled,
            timestamp=at,
            appointment_id=appointment_id,
            client_id=self.client_id,
            starts_at=starts_at,
            minutes=length,
            channel=how,
            place=where,
            actor=actor,
        )

    def cancel_appointment(
        self, *, appointment_id: uuid.UUID, by: str, reason: str, actor: str, at: datetime
    ) -> None:
        """Cancel a planned appointment: who cancelled (the client or the agency) and why."""
        self._planned(appointment_id)
        if by not in CANCELLED_BY:
            raise IntakeError("invalid", f"Unknown canceller {by!r}.", "by")
        guard_text(IntakeError, multiline=True, reason=reason)
        if not reason.strip():
            raise IntakeError("invalid", "Say why the appointment is cancelled.", "reason")
        self.trigger_event(
            self.AppointmentCancelled,
            timestamp=at,
            appointment_id=appointment_id,
            client_id=self.client_id,
            by=by,
            reason=reason.strip(),
            actor=actor,
        )

    def cancel_planned(self, *, reason: str, actor: str, at: datetime) -> None:
        """The case ends: the agency cancels every appointment still planned (`reason`)."""
        planned = [a for a in self.appointments.values() if a.status == "planned"]
        for appointment in sorted(planned, key=lambda a: a.starts_at):
            self.trigger_event(
                self.AppointmentCancelled,
                timestamp=at,
                appointment_id=appointment.appointment_id,
                client_id=self.client_id,
                by="agency",
                reason=reason,
                actor=actor,
            )

    def mark_missed(self, *, appointment_id: uuid.UUID, actor: str, at: datetime) -> None:
        """The client did not come (a no-show, counted on the case); not before its start."""
        found = self._planned(appointment_id)
        if found.starts_at > at:
            raise IntakeError(
                "appointment-ahead", "An appointment not yet begun cannot be missed.", None
            )
        self.trigger_event(
            self.AppointmentMissed,
            timestamp=at,
            appointment_id=appointment_id,
            client_id=self.client_id,
            actor=actor,
        )

    def hold_appointment(
        self,
        *,
        appointment_id: uuid.UUID,
        session_id: uuid.UUID,
        minutes: int | None,
        actor: str,
        at: datetime,
    ) -> None:
        """The appointment took place: the session is recorded (held at its start, its
        minutes the planned ones unless given) and the appointment names it."""
        found = self._planned(appointment_id)
        if found.starts_at > at:
            raise IntakeError(
                "appointment-ahead", "An appointment not yet begun cannot be held.", None
            )
        self.hold_session(
            session_id=session_id,
            kind=found.kind,
            held_at=found.starts_at,
            minutes=found.minutes if minutes is None else minutes,
            actor=actor,
            at=at,
        )
        self.trigger_event(
            self.AppointmentHeld,
            timestamp=at,
            appointment_id=appointment_id,
            client_id=self.client_id,
            session_id=session_id,
            actor=actor,
        )

    # -- queries ----------------------------------------------------------------------------
    @property
    def no_shows(self) -> int:
        """How many appointments the client missed."""
        return sum(1 for a in self.appointments.values() if a.status == "missed")

    def meetings(self) -> list[datetime]:
        """The meetings so far for the rhythm: sessions held and appointments planned."""
        held = [s.held_at for s in self.sessions]
        planned = [a.starts_at for a in self.appointments.values() if a.status == "planned"]
        return sorted(held + planned)
