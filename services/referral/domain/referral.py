"""A referral's closed loop, from the counsellor's proposal to its closing.

Pure domain: the standard library and eventsourcing.domain only; ids and times are
passed in.

    proposed ──send──▶ sent ──acknowledge──▶ acknowledged
                        │                        │
                        └──accept / decline──────┴──▶ accepted ──outcome──▶ outcome_reported
                                                      declined                    │
                                    declined / outcome_reported ──close──▶ closed ◀┘

The counsellor can withdraw a referral until an outcome is reported. Once it ended
(declined, closed or withdrawn) for the agency's `referral_packet` retention period,
retention removes its packet (`PacketRemoved`, a tombstone): the packet and letter are
no longer served and the texts the partner received (the reason, the decline reason,
the outcome's notes) read `REMOVED`; ids, dates, status and outcome code stay. Beside the status
a referral carries two marks that never go away once set: `overdue` (the partner did not
answer within the allowed working days of its sending) and `consent_revoked` (the client
withdrew the consent the referral rests on: from then on nothing of the client is shared
under it). The counsellor records whether and when guidance resumes after the referral.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.referral.domain.referral_rules import (
    AWAITING_ANSWER,
    CLOSABLE,
    ENDED,
    OUTCOMES,
    REMOVED,
    SHARED,
    WITHDRAWABLE,
    Outcome,
    Resumption,
    add_working_days,
    check_reason,
)
from services.referral.domain.rules import ReferralError, _text
from shared.text import guard_text
from shared.vocabulary import DATA_CATEGORIES


class Referral(Aggregate):
    """A counsellor's referral of a client to a partner, resting on the client's consent.

    The reasons, notes and the outcome's notes are the client's (sealed with their key);
    the data categories are those the consent `consent_id` covers for exactly this
    partner.
    """

    class Proposed(Aggregate.Created):
        case_id: uuid.UUID
        client_id: uuid.UUID
        organisation: str
        partner_id: uuid.UUID
        reason: str
        data_categories: list[str]
        consent_id: uuid.UUID
        actor: str

    class Event(Aggregate.Event):
        case_id: uuid.UUID
        client_id: uuid.UUID
        actor: str

    class Sent(Event):
        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "sent"
            aggregate.sent_at = self.timestamp

    class Acknowledged(Event):
        partner_id: uuid.UUID

        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "acknowledged"
            aggregate.acknowledged_at = self.timestamp

    class Accepted(Event):
        partner_id: uuid.UUID

        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "accepted"
            aggregate.acknowledged_at = aggregate.acknowledged_at or self.timestamp
            aggregate.answered_at = self.timestamp

    class Declined(Event):
        partner_id: uuid.UUID
        reason: str

        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "declined"
            aggregate.acknowledged_at = aggregate.acknowledged_at or self.timestamp
            aggregate.answered_at = self.timestamp
            aggregate.decline_reason = self.reason

    class OutcomeReported(Event):
        partner_id: uuid.UUID
        outcome: str
        notes: str | None

        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "outcome_reported"
            aggregate.outcome = Outcome(self.outcome, self.notes, self.timestamp)

    class Closed(Event):
        note: str | None

        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "closed"
            aggregate.closed_at = self.timestamp
            aggregate.closing_note = self.note

    class Withdrawn(Event):
        reason: str

        def apply(self, aggregate: Referral) -> None:
            aggregate.status = "withdrawn"
            aggregate.withdrawal_reason = self.reason
            aggregate.closed_at = self.timestamp

    class BecameOverdue(Event):
        partner_id: uuid.UUID
        due_on: date

        def apply(self, aggregate: Referral) -> None:
            aggregate.overdue = True
            aggregate.overdue_since = self.due_on

    class ConsentRevoked(Event):
        consent_id: uuid.UUID
        partner_id: uuid.UUID

        def apply(self, aggregate: Referral) -> None:
            aggregate.consent_revoked = True
            aggregate.consent_revoked_at = self.timestamp

    class ResumptionRecorded(Event):
        resumes: bool
        resume_on: date | None
        note: str | None

        def apply(self, aggregate: Referral) -> None:
            aggregate.resumption = Resumption(
                self.resumes, self.resume_on, self.note, self.timestamp
            )

    class PacketRemoved(Event):
        """Retention removed the packet: `rule` names the period, `ended_at` when the
        referral ended (no personal data: the tombstone itself)."""

        rule: str
        ended_at: datetime

        def apply(self, aggregate: Referral) -> None:
            aggregate.packet_removed_at = self.timestamp
            aggregate.packet_removal_rule = self.rule
            aggregate.reason = REMOVED
            if aggregate.decline_reason is not None:
                aggregate.decline_reason = REMOVED
            o = aggregate.outcome
            if o is not None and o.notes is not None:
                aggregate.outcome = Outcome(o.outcome, REMOVED, o.reported_at)

    def __init__(
        self,
        case_id: uuid.UUID,
        client_id: uuid.UUID,
        organisation: str,
        partner_id: uuid.UUID,
        reason: str,
        data_categories: list[str],
        consent_id: uuid.UUID,
        actor: str,
    ) -> None:
        self.case_id = case_id
        self.client_id = client_id
        self.organisation = organisation
        self.partner_id = partner_id
        self.reason = reason
        self.data_categories = data_categories
        self.consent_id = consent_id
        self.proposed_by = actor
        self.status = "proposed"
        self.sent_at: datetime | None = None
        self.acknowledged_at: datetime | None = None
        self.answered_at: datetime | None = None
        self.decline_reason: str | None = None
        self.outcome: Outcome | None = None
        self.closed_at: datetime | None = None
        self.closing_note: str | None = None
        self.withdrawal_reason: str | None = None
        self.overdue = False
        self.overdue_since: date | None = None
        self.consent_revoked = False
        self.consent_revoked_at: datetime | None = None
        self.resumption: Resumption | None = None
        self.packet_removed_at: datetime | None = None
        self.packet_removal_rule: str | None = None

    @classmethod
    def propose(
        cls,
        *,
        referral_id: uuid.UUID,
        case_id: uuid.UUID,
        client_id: uuid.UUID,
        organisation: str,
        partner_id: uuid.UUID,
        reason: str,
        data_categories: list[str],
        consent_id: uuid.UUID,
        actor: str,
        at: datetime,
    ) -> Referral:
        """A new referral in `proposed`; the facts (case, partner, consent) were checked
        by the caller, the referral's own fields here."""
        text = check_reason(reason)
        unknown = [c for c in data_categories if c not in DATA_CATEGORIES]
        if unknown:
            raise ReferralError(
                "invalid", f"Unknown data category {unknown[0]!r}.", "data_categories"
            )
        if not data_categories:
            raise ReferralError(
                "invalid", "Name at least one data category to share.", "data_categories"
            )
        categories = [c for c in DATA_CATEGORIES if c in data_categories]
        return cls._create(
            cls.Proposed,
            id=referral_id,
            timestamp=at,
            case_id=case_id,
            client_id=client_id,
            organisation=organisation,
            partner_id=partner_id,
            reason=text,
            data_categories=categories,
            consent_id=consent_id,
            actor=actor,
        )

    def _event(self, cls: type[Event], at: datetime, actor: str, **fields: Any) -> None:
        self.trigger_event(
            cls, timestamp=at, case_id=self.case_id, client_id=self.client_id, actor=actor, **fields
        )

    def _require(self, allowed: tuple[str, ...], code: str, doing: str) -> None:
        if self.status not in allowed:
            raise ReferralError(
                code,
                f"The referral is {self.status}; {doing} needs it {' or '.join(allowed)}.",
            )

    # -- the counsellor ------------------------------------------------------------------
    def send(self, *, actor: str, at: datetime) -> None:
        """Send the proposed referral to the partner."""
        self._require(("proposed",), "not-proposed", "sending")
        if self.consent_revoked:
            raise ReferralError(
                "consent-revoked", "The client withdrew the consent this referral rests on."
            )
        self._event(self.Sent, at, actor)

    def withdraw(self, *, reason: str, actor: str, at: datetime) -> None:
        """Withdraw the referral, until the partner reports an outcome."""
        text = check_reason(reason)
        self._require(WITHDRAWABLE, "not-withdrawable", "withdrawing")
        self._event(self.Withdrawn, at, actor, reason=text)

    def close(self, *, note: str | None, actor: str, at: datetime) -> None:
        """Close the loop once the partner declined or reported an outcome."""
        self._require(CLOSABLE, "not-closable", "closing")
        guard_text(ReferralError, multiline=True, note=note)
        self._event(self.Closed, at, actor, note=_text(note))

    def record_resumption(
        self, *, resumes: bool, resume_on: date | None, note: str | None, actor: str, at: datetime
    ) -> None:
        """Whether and when guidance resumes after the referral (again: the latest wins);
        not before the day (UTC) the referral was sent."""
        if self.sent_at is None:
            raise ReferralError(
                "not-sent", "The referral was never sent; there is nothing to resume from."
            )
        guard_text(ReferralError, multiline=True, note=note)
        if resumes and resume_on is None:
            raise ReferralError("invalid", "Say when guidance resumes.", "resume_on")
        if not resumes and resume_on is not None:
            raise ReferralError(
                "invalid", "Guidance that does not resume has no date.", "resume_on"
            )
        sent_on = self.sent_at.date()
        if resume_on is not None and resume_on < sent_on:
            # It resumes *after* the referral: a date before its sending contradicts the
            # case's history (a later date, even in the future, is a plan and fine).
            raise ReferralError(
                "invalid",
                f"Guidance resumes after the referral: {resume_on.isoformat()} lies before "
                f"the referral was sent on {sent_on.isoformat()}.",
                "resume_on",
            )
        self._event(
            self.ResumptionRecorded,
            at,
            actor,
            resumes=resumes,
            resume_on=resume_on,
            note=_text(note),
        )

    # -- the partner ---------------------------------------------------------------------
    def acknowledge(self, *, actor: str, at: datetime) -> bool:
        """The partner saw the referral; False (no event) if it had already."""
        if self.status == "acknowledged":
            return False
        self._require(("sent",), "not-sent", "acknowledging")
        self._event(self.Acknowledged, at, actor, partner_id=self.partner_id)
        return True

    def accept(self, *, actor: str, at: datetime) -> None:
        self._require(AWAITING_ANSWER, "not-awaiting-answer", "accepting")
        self._event(self.Accepted, at, actor, partner_id=self.partner_id)

    def decline(self, *, reason: str, actor: str, at: datetime) -> None:
        text = check_reason(reason)
        self._require(AWAITING_ANSWER, "not-awaiting-answer", "declining")
        self._event(self.Declined, at, actor, partner_id=self.partner_id, reason=text)

    def report_outcome(self, *, outcome: str, notes: str | None, actor: str, at: datetime) -> None:
        if outcome not in OUTCOMES:
            raise ReferralError("invalid", f"Unknown outcome {outcome!r}.", "outcome")
        guard_text(ReferralError, multiline=True, notes=notes)
        self._require(("accepted",), "not-accepted", "reporting an outcome")
        self._event(
            self.OutcomeReported,
            at,
            actor,
            partner_id=self.partner_id,
            outcome=outcome,
            notes=_text(notes),
        )

    # -- the system ----------------------------------------------------------------------
    def answer_due_on(self, working_days: int, holidays: Iterable[date] = ()) -> date | None:
        """The last day for the partner's answer, or None when none is awaited."""
        if self.status not in AWAITING_ANSWER or self.sent_at is None:
            return None
        return add_working_days(self.sent_at.date(), working_days, holidays)

    def detect_overdue(
        self,
        *,
        today: date,
        working_days: int,
        holidays: Iterable[date] = (),
        actor: str,
        at: datetime,
    ) -> bool:
        """Mark the referral overdue once the answer is late; True if it was marked now."""
        due = self.answer_due_on(working_days, holidays)
        if self.overdue or due is None or today <= due:
            return False
        self._event(self.BecameOverdue, at, actor, partner_id=self.partner_id, due_on=due)
        return True

    def revoke_consent(self, *, consent_id: uuid.UUID, actor: str, at: datetime) -> bool:
        """The client withdrew the consent: nothing more is shared. True if marked now."""
        if self.consent_revoked or self.status in ("withdrawn", "closed"):
            return False
        self._event(
            self.ConsentRevoked, at, actor, consent_id=consent_id, partner_id=self.partner_id
        )
        return True

    @property
    def ended_at(self) -> datetime | None:
        """When the referral ended (declined, closed or withdrawn); None while it runs."""
        if self.status not in ENDED:
            return None
        return self.answered_at if self.status == "declined" else self.closed_at

    def remove_packet(self, *, ended_before: datetime, rule: str, actor: str, at: datetime) -> bool:
        """Retention: remove the packet of a referral that ended before `ended_before`;
        True if removed now (False: still running, ended since, or removed already)."""
        ended = self.ended_at
        if self.packet_removed_at is not None or ended is None or ended >= ended_before:
            return False
        self._event(self.PacketRemoved, at, actor, rule=rule, ended_at=ended)
        return True

    # -- views ---------------------------------------------------------------------------
    @property
    def shares_data(self) -> bool:
        """Whether the partner may read the client's data now (status and consent)."""
        return self.status in SHARED and not self.consent_revoked and self.packet_removed_at is None


EVENTS = (
    "Proposed",
    "Sent",
    "Acknowledged",
    "Accepted",
    "Declined",
    "OutcomeReported",
    "Closed",
    "Withdrawn",
    "BecameOverdue",
    "ConsentRevoked",
    "ResumptionRecorded",
)
# Events stored before the loop moved: first in `domain.py`, then in `lifecycle.py`.
for _name in ("Proposed", "Sent", "Withdrawn"):
    register_topic(f"services.referral.domain:Referral.{_name}", getattr(Referral, _name))
register_topic("services.referral.domain:Referral", Referral)
for _name in EVENTS:
    register_topic(f"services.referral.lifecycle:Referral.{_name}", getattr(Referral, _name))
register_topic("services.referral.lifecycle:Referral", Referral)
