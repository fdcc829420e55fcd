"""A follow-up's checks: check-ins held, contacts, action checks, and the bottlenecks
they raise (by rule and by time, each once)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from services.followup.domain.rules import (
    CHANNELS,
    CHECK_STATUSES,
    FAILED_CONTACTS_LIMIT,
    FollowUpError,
    bottleneck_id_for,
)
from services.followup.domain.state import FollowUpState
from shared.text import guard_text


class Checks(FollowUpState):
    """The commands of checking on the plan (mixed into `FollowUp`)."""

    def _bottleneck(
        self,
        key: str,
        kind: str,
        at: datetime,
        *,
        actor: str,
        action_id: uuid.UUID | None = None,
        checkin_id: uuid.UUID | None = None,
        description: str | None = None,
    ) -> bool:
        """Raise the bottleneck `key` unless it was raised before."""
        if key in self.bottlenecks:
            return False
        self._trigger(
            self.BottleneckDetected,
            at,
            bottleneck_id=bottleneck_id_for(self.id, key),
            key=key,
            kind=kind,
            action_id=action_id,
            checkin_id=checkin_id,
            description=description,
            actor=actor,
        )
        return True

    def complete_checkin(self, *, checkin_id: uuid.UUID, actor: str, at: datetime) -> None:
        """Mark a check-in done; when it is the last one (the latest due of those not done
        before it) the follow-up closes; so does a reopened follow-up's aftercare check-in
        once every other check-in is done."""
        self._require_open()
        checkin = self._checkin(checkin_id)
        if checkin.done:
            raise FollowUpError("checkin-done", "The check-in is already done.", "checkin_id")
        latest = max(c.due_on for c in self.checkins if not c.done)
        self._trigger(
            self.CheckInDone, at, checkin_id=checkin_id, due_on=checkin.due_on, actor=actor
        )
        if checkin.due_on >= latest:
            self._close_completed("last_checkin", "checkin", actor, at)

    def record_contact(
        self,
        *,
        contact_id: uuid.UUID,
        channel: str,
        reached: bool,
        notes: str | None,
        actor: str,
        at: datetime,
    ) -> bool:
        """Record a contact attempt; the third failed one in a row raises a bottleneck."""
        self._require_open()
        guard_text(FollowUpError, multiline=True, notes=notes)
        if any(c.contact_id == contact_id for c in self.contacts):
            return False
        if channel not in CHANNELS:
            raise FollowUpError("invalid", f"Unknown channel {channel!r}.", "channel")
        if not isinstance(reached, bool):
            raise FollowUpError("invalid", "Say whether the client was reached.", "reached")
        self._trigger(
            self.ContactRecorded,
            at,
            contact_id=contact_id,
            channel=channel,
            reached=reached,
            notes=(notes or "").strip() or None,
            actor=actor,
        )
        if self.failed_contacts == FAILED_CONTACTS_LIMIT:
            self._bottleneck(
                f"unreachable:{contact_id}",
                "unreachable",
                at,
                actor=actor,
                description=f"{FAILED_CONTACTS_LIMIT} failed contact attempts in a row.",
            )
        return True

    def check_action(
        self,
        *,
        check_id: uuid.UUID,
        action_id: uuid.UUID,
        status: str,
        bottleneck: str | None,
        actor: str,
        at: datetime,
    ) -> bool:
        """Check whether a plan action was realised; a bottleneck text raises a bottleneck."""
        self._require_open()
        guard_text(FollowUpError, multiline=True, bottleneck=bottleneck)
        if check_id in self.action_checks:
            return False
        action = self._action(action_id)
        if action["status"] == "cancelled":
            raise FollowUpError(
                "action-cancelled", "A cancelled action is not checked.", "action_id"
            )
        if status not in CHECK_STATUSES:
            raise FollowUpError("invalid", f"Unknown check status {status!r}.", "status")
        text = (bottleneck or "").strip() or None
        self._trigger(
            self.ActionChecked,
            at,
            check_id=check_id,
            action_id=action_id,
            status=status,
            bottleneck=text,
            actor=actor,
        )
        if text is not None:
            self._bottleneck(
                f"action-check:{check_id}",
                "action",
                at,
                actor=actor,
                action_id=action_id,
                description=text,
            )
        return True

    def detect_overdue(
        self,
        *,
        today: date,
        checkin_grace_days: int,
        action_grace_days: int = 0,
        actor: str,
        at: datetime,
    ) -> list[str]:
        """Raise, once each, the bottlenecks of time; returns the keys raised by this run.

        A check-in is overdue more than `checkin_grace_days` after its due date and not
        done; a plan action more than `action_grace_days` after its due date while it is
        neither completed, cancelled nor checked as realised. A closed follow-up raises
        nothing.
        """
        raised: list[str] = []
        for key, kind, due_from, ids in self._overdue(checkin_grace_days, action_grace_days):
            if due_from <= today and self._bottleneck(
                key,
                kind,
                at,
                actor=actor,
                checkin_id=ids.get("checkin_id"),
                action_id=ids.get("action_id"),
            ):
                raised.append(key)
        return raised

    def overdue_from(self, *, checkin_grace_days: int, action_grace_days: int = 0) -> date | None:
        """The first day on which `detect_overdue` (with these grace days) would raise a
        bottleneck not raised yet; None when there is none to raise, whatever the day,
        until the follow-up changes. The overdue job looks again only then."""
        days = [
            due_from
            for key, _, due_from, _ in self._overdue(checkin_grace_days, action_grace_days)
            if key not in self.bottlenecks
        ]
        return min(days, default=None)

    def _overdue(
        self, checkin_grace_days: int, action_grace_days: int
    ) -> Iterator[tuple[str, str, date, dict[str, uuid.UUID]]]:
        """What time can make overdue: (key, kind, the first day it is, its ids), check-ins
        first, raised or not."""
        if checkin_grace_days < 0:
            raise FollowUpError("invalid", "The grace days are not negative.", "checkin_grace_days")
        if action_grace_days < 0:
            raise FollowUpError("invalid", "The grace days are not negative.", "action_grace_days")
        if self.status == "closed":
            return
        for checkin in self.checkins:
            if not checkin.done:
                yield (
                    f"checkin-overdue:{checkin.checkin_id}",
                    "checkin_overdue",
                    checkin.due_on + timedelta(days=checkin_grace_days + 1),
                    {"checkin_id": checkin.checkin_id},
                )
        for action in self.actions.values():
            check = action["check"]
            if action["status"] == "open" and not (check and check["status"] == "realised"):
                yield (
                    f"action-overdue:{action['action_id']}",
                    "action_overdue",
                    action["due_date"] + timedelta(days=action_grace_days + 1),
                    {"action_id": action["action_id"]},
                )
